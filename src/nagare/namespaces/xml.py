"""The generic tag renderer: builds lxml trees with any tag name.

    h = xml.Renderer()
    with h.catalog(version=2):
        h << h.book(h.title('Dune'), isbn='0441013597')
    h.fragment(h.root)   # '<catalog version="2"><book isbn="0441013597"><title>Dune</title></book></catalog>'

- `h.<name>` creates a tag (an lxml element); a trailing underscore is dropped (`h.del_`);
- `tag(*children, **attributes)` adds children and sets attributes, and returns the tag;
- `h << x` adds `x` to the tag of the innermost `with`, or to `h.root` at top level;
- children: strings (escaped when serialised), numbers, tags, lists/tuples/generators (flattened),
  None (ignored), components (`comp.render(h)`) and any object with a view
  (`presentation.render(o, h, None, None)`);
- attributes: a trailing underscore is dropped (`class_`, `for_`), None omits the attribute,
  numbers and other objects are converted with `str()`, booleans are handled by `_boolean`.

Tags also have Nagare 0.5's meld3-style templating (`meld_id`, `findmeld`, `repeat`, `fill`,
`replace`, `append_text`) and serialisation (`write_xmlstring`, `write_htmlstring`): the meld id
of an element is its attribute `id` in meld3's namespace (`MELD_NS`, written `meld:id`), the one
the templates of meld3 and Nagare 0.5 use.

A tag can have a *stand-in*: the element added in its place wherever it is added, as long as the
tag is inside it (`xhtml`'s `.error(msg)` decoration wraps the tag this way).

lxml creates the Python object of an element on demand and forgets the Python attributes set on it
when that object is garbage-collected. A tag keeps its renderer in such an attribute, so every tag
a renderer creates is kept alive by a list shared by all the renderers of one rendering.
"""

from __future__ import annotations

import copy
import html as _html
import itertools
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import GeneratorType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from lxml import etree

from nagare import presentation

if TYPE_CHECKING:
    from typing import Self

    from _typeshed import StrOrBytesPath, SupportsRead
    from webob import Request, Response

    from nagare.callbacks import Callbacks
    from nagare.component import Component
    from nagare.types import Child

    #: What `parse_xml()` reads: a path or a file object.
    Source = StrOrBytesPath | SupportsRead[str] | SupportsRead[bytes]

_Element = etree._Element
_SEQUENCES = (list, tuple, GeneratorType)
_NUMBERS = (int, float)
_XML_NS = "{http://www.w3.org/XML/1998/namespace}"
# The characters a path segment may hold as they are (RFC 3986, 3.3), besides letters and digits.
_PATH_SAFE = "/!$&'()*+,;=:@"

# Characters that XML (so lxml) refuses: control characters, surrogates, U+FFFE/U+FFFF.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

#: The namespace of meld ids: meld3's, so that templates written for meld3 and Nagare 0.5 work.
MELD_NS = "http://www.plope.com/software/meld3"
MELD_ID = f"{{{MELD_NS}}}id"
# In a template read by the HTML parser (no namespaces), the attribute as written.
_HTML_MELD_ID = "meld:id"
# Elements that get a meld id are written with the prefix `meld`, not lxml's `ns0`.
etree.register_namespace("meld", MELD_NS)

_TagT = TypeVar("_TagT", bound="Tag")
_T = TypeVar("_T")
_ElementT = TypeVar("_ElementT", bound=_Element)

_component_class: type[Component] | None = None


def _component() -> type[Component]:
    # `nagare.component` imports nothing from here; imported lazily to keep the renderer's
    # dependencies to `presentation` (see docs/architecture.md).
    global _component_class
    if _component_class is None:
        from nagare.component import Component

        _component_class = Component
    return _component_class


def render_object(o: object, renderer: Renderer | None) -> Child:
    """What `o` renders to: a component renders itself, other objects through their view."""
    if isinstance(o, _component_class or _component()):
        if renderer is None:
            raise TypeError(f"cannot render {o!r} into a tag that was not created by a renderer")
        return o.render(renderer)
    if isinstance(o, bytes):
        return o.decode("utf-8")
    view = presentation.find_view(type(o))
    if view is None and hasattr(o, "__iter__"):
        return list(o)  # any other iterable (map, range, dict views, ...) without its own view
    if renderer is None:
        raise TypeError(f"cannot render {o!r} into a tag that was not created by a renderer")
    if view is not None and not presentation._cond_views:
        return view(o, renderer, None, None)  # what presentation.render finds, not looked up again
    return presentation.render(o, renderer, None, None)


def join_url(base: str, path: str) -> str:
    """The URL of the path fragment `path` (a component's `url`) under `base`.

    `path` is quoted, so that what `init_for` receives from that URL is `path` again; its
    slashes separate segments. `join_url('/app/', 'users')` is '/app/users'.
    """
    path = quote(path.strip("/"), safe=_PATH_SAFE)
    if not path:
        return base
    if not base:
        return path
    return base + path if base[-1] == "/" else base + "/" + path


def _add_text(parent: _Element, text: str) -> None:
    try:
        if len(parent):
            last = parent[-1]
            tail = last.tail
            last.tail = tail + text if tail else text
        else:
            current = parent.text
            parent.text = current + text if current else text
    except ValueError:
        cleaned = _INVALID_XML.sub("", text)
        if cleaned == text:
            raise
        _add_text(parent, cleaned)


def _meld_id_of(element: _Element) -> str | None:
    attrib = element.attrib
    return attrib.get(MELD_ID) or attrib.get(_HTML_MELD_ID)


def _insert_text(parent: _Element, previous: _Element | None, text: str) -> None:
    """Add `text` after the child `previous` of `parent` (None: at the start of `parent`)."""
    if previous is None:
        parent.text = (parent.text or "") + text
    else:
        previous.tail = (previous.tail or "") + text


def placed(element: _ElementT) -> _ElementT:
    """What is added in place of `element`: its stand-in while it is inside it, else `element`.

    Only an element that already has a parent can be inside a stand-in, so the callers test
    `getparent()` first: a fresh element costs nothing more.
    """
    stand_in = getattr(element, "_stand_in", None)
    if stand_in is not None:
        for ancestor in element.iterancestors():
            if ancestor is stand_in:
                return stand_in
    return element


def detach(element: _Element) -> None:
    """Take `element` out of its parent, leaving its tail (the text after it) in place."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    if tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
        element.tail = None
    parent.remove(element)


def _add(parent: _Element, children: Iterable[Child], renderer: Renderer | None) -> None:
    """Append `children` to the element `parent` (`renderer` renders components; None: the tag's)."""
    for child in children:
        if isinstance(child, str):
            if child:
                _add_text(parent, child)
        elif isinstance(child, _Element):
            parent.append(child if child.getparent() is None else placed(child))
        elif child is None:
            continue
        elif isinstance(child, _SEQUENCES):
            _add(parent, child, renderer)
        elif isinstance(child, _NUMBERS):
            _add_text(parent, str(child))
        else:
            if renderer is None:
                renderer = getattr(parent, "_renderer", None)
            rendered = render_object(child, renderer)
            if rendered.__class__ is str:  # what most views of objects return (a translation)
                if rendered:
                    _add_text(parent, rendered)
            else:
                _add(parent, (rendered,), renderer)


def _add_to_list(items: list[str | _Element], children: Iterable[Child], renderer: Renderer | None) -> None:
    """Append `children`, flattened and rendered, to the list `items` (a renderer's root)."""
    for child in children:
        if isinstance(child, str):
            if child:
                items.append(child)
        elif isinstance(child, _Element):
            items.append(child if child.getparent() is None else placed(child))
        elif child is None:
            continue
        elif isinstance(child, _SEQUENCES):
            _add_to_list(items, child, renderer)
        elif isinstance(child, _NUMBERS):
            items.append(str(child))
        else:
            _add_to_list(items, (render_object(child, renderer),), renderer)


def _set_special(element: _Element, name: str, value: str) -> None:
    """Set what `element.set` refused: `prefix:name` attributes, values with invalid characters."""
    if name.startswith("xml:"):
        name = _XML_NS + name[4:]
    elif ":" in name:
        prefix, _, local = name.partition(":")
        renderer = getattr(element, "_renderer", None)
        uri = (renderer.namespaces or {}).get(prefix) if renderer is not None else None
        if uri is not None:
            name = f"{{{uri}}}{local}"
    try:
        element.set(name, value)
    except ValueError:
        cleaned = _INVALID_XML.sub("", value)
        if cleaned == value:
            raise
        element.set(name, cleaned)


def _set_attributes(element: Tag, attributes: Mapping[str, object]) -> None:
    set_ = element.set
    for name, value in attributes.items():
        if name[-1:] == "_":
            name = name[:-1]
        if name[:5] == "data_" and element._data_dashes:
            name = name.replace("_", "-")  # `data_foo=` is the HTML attribute `data-foo`
        if value.__class__ is not str:  # a string, the usual value, goes straight to set_
            if value is None:
                if element.get(name) is not None:
                    del element.attrib[name]
                continue
            if value is True or value is False:
                value = element._boolean(name, value)
                if value is None:
                    if element.get(name) is not None:
                        del element.attrib[name]
                    continue
            elif not isinstance(value, str):
                value = str(value)
        try:
            set_(name, value)
        except ValueError:
            _set_special(element, name, value)


class Tag(etree.ElementBase):
    """An element created by a renderer: callable to add children and attributes, a `with` context."""

    __slots__ = ("_renderer", "_stand_in")
    _renderer: Renderer
    _stand_in: _Element

    #: Write the attribute `data_foo=` as `data-foo` (HTML's data attributes).
    _data_dashes = False

    def __call__(self, *children: Child, **attributes: object) -> Self:
        if attributes:
            _set_attributes(self, attributes)
        if children:
            _add(self, children, None)
        return self

    def _boolean(self, name: str, value: bool) -> str | None:
        """The value of attribute `name` set to True/False (None: omit it)."""
        return "true" if value else "false"

    @property
    def renderer(self) -> Renderer | None:
        """The renderer that created this tag (None for a tag created otherwise)."""
        return getattr(self, "_renderer", None)

    def add_child(self, child: Child) -> Self:
        """Append `child` (anything a tag accepts as a child); return this tag."""
        _add(self, (child,), None)
        return self

    def set_attributes(self, **attributes: object) -> Self:
        """Set attributes with the same conversions as `tag(**attributes)`; return this tag."""
        _set_attributes(self, attributes)
        return self

    # --- serialisation and meld3-style templating (Nagare 0.5's API) -----------------------

    def write_xmlstring(self, encoding: str = "utf-8", pipeline: bool = True, **kw: Any) -> str | bytes:
        """This tree serialised as XML by lxml's `tostring` (`kw`: its options).

        Bytes, or a string for `encoding='unicode'`; `pipeline=False` leaves out the meld ids.
        """
        return etree.tostring(self._without_meld_ids(pipeline), encoding=encoding, **kw)

    def write_htmlstring(self, encoding: str = "utf-8", pipeline: bool = True, **kw: Any) -> str | bytes:
        """This tree serialised as HTML by lxml's `tostring` (see `write_xmlstring`)."""
        return etree.tostring(self._without_meld_ids(pipeline), encoding=encoding, method="html", **kw)

    def _without_meld_ids(self, pipeline: bool) -> _Element:
        """This tree, or with `pipeline` False a copy without meld ids (the template stays intact)."""
        if pipeline or not any(_meld_id_of(element) is not None for element in self.iter(etree.Element)):
            return self
        tree = copy.deepcopy(self)
        for element in tree.iter(etree.Element):
            attrib = element.attrib
            attrib.pop(MELD_ID, None)
            attrib.pop(_HTML_MELD_ID, None)
        etree.cleanup_namespaces(tree, top_nsmap={}, keep_ns_prefixes=())
        return tree

    def meld_id(self, id: str) -> Self:  # noqa: A002 (the Nagare 0.5 name)
        """Give this tag the meld id `id` (found by `findmeld`); return this tag."""
        self.set(MELD_ID, id)
        return self

    def findmeld(self, id: str, default: _T | None = None) -> Tag | _T | None:  # noqa: A002
        """The first element of this tree (this tag included) with the meld id `id`, else `default`."""
        for element in self.iter(etree.Element):
            if _meld_id_of(element) == id and isinstance(element, Tag):
                return element
        return default

    def repeat(self, iterable: Iterable[_T], childname: str | None = None) -> list[tuple[Tag, _T]]:
        """One copy of this tag (or of its element with the meld id `childname`) per item.

        The copies take the place of the model in its parent, in order; the result is the list
        of the pairs (copy, item) to fill. No item: the model is just removed.
        """
        model: Tag | None = self if childname is None else self.findmeld(childname)
        if model is None:
            raise ValueError(f"<{self.tag!s}> has no element with the meld id {childname!r}")
        parent = model.getparent()
        index = 0 if parent is None else parent.index(model)
        items = list(iterable)
        if not items:
            detach(model)
            return []
        if parent is not None:
            parent.remove(model)  # the tail goes with it: each copy has it
        renderer: Renderer | None = getattr(model, "_renderer", None)
        pairs: list[tuple[Tag, _T]] = []
        for item in items:
            clone = copy.deepcopy(model)
            if renderer is not None:
                renderer._adopt(clone)  # copies forget their renderer (see the module docstring)
            if parent is not None:
                parent.insert(index, clone)
                index += 1
            pairs.append((clone, item))
        return pairs

    def fill(self, *children: Child, **attrib: object) -> Self:
        """Replace the content of this tag by `children` and set `attrib`; return this tag."""
        self.text = None
        del self[:]
        self(*children, **attrib)
        return self

    def replace(self, *children: Any) -> None:
        """Put `children` (anything a tag accepts) in place of this tag in its parent.

        lxml's `element.replace(old_child, new_element)` keeps its meaning when called so (lxml's
        own modules use it): two elements, the first a child of this tag.
        """
        if len(children) == 2:
            old, new = children
            if isinstance(old, _Element) and isinstance(new, _Element) and old.getparent() is self:
                _Element.replace(self, old, new)
                return
        current = placed(self)
        parent = current.getparent()
        if parent is None:
            raise ValueError(f"<{self.tag!s}> has no parent to be replaced in")
        # The children are built in a scratch element, then moved where this tag was.
        scratch = self.makeelement("scratch")
        _add(scratch, children, getattr(self, "_renderer", None))
        index = parent.index(current)
        tail = current.tail
        current.tail = None
        parent.remove(current)
        if scratch.text:
            previous = parent[index - 1] if index else None
            _insert_text(parent, previous, scratch.text)
        last: _Element | None = parent[index - 1] if index else None
        for child in list(scratch):
            parent.insert(index, child)
            index += 1
            last = child
        if tail:
            _insert_text(parent, last, tail)

    def append_text(self, text: str) -> None:
        """Add `text` at the end of this tag's content (after its last child)."""
        if text:
            _add_text(self, text)

    def _owner(self) -> Renderer:
        renderer: Renderer | None = getattr(self, "_renderer", None)
        if renderer is None:
            raise TypeError(f"<{self.tag!s}> was not created by a renderer")
        return renderer

    def __enter__(self) -> Self:
        renderer = self._owner()
        renderer << self
        renderer._stack.append(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._renderer._stack.pop()


def make_parsers(
    tag_class: type[_TagT], classes: Mapping[str, type[_TagT]]
) -> tuple[etree.XMLParser[_TagT], etree.HTMLParser[_TagT], etree.ElementNamespaceClassLookup]:
    """(XML parser, HTML parser, lookup) creating `classes[tag]` elements, `tag_class` otherwise."""
    lookup = etree.ElementNamespaceClassLookup(etree.ElementDefaultClassLookup(element=tag_class))
    namespace = lookup.get_namespace(None)
    namespace.update(classes)
    xml_parser: etree.XMLParser[_TagT] = etree.XMLParser(resolve_entities=False, no_network=True)
    xml_parser.set_element_class_lookup(lookup)
    html_parser: etree.HTMLParser[_TagT] = etree.HTMLParser(no_network=True)
    html_parser.set_element_class_lookup(lookup)
    return xml_parser, html_parser, lookup


_xml_parser, _html_parser, _lookup = make_parsers(Tag, {})


def _maker(makeelement: Callable[[str], _TagT]) -> Callable[[str], _TagT]:
    """What makes the tags of one rendering: `makeelement` once, for a document; the tags in it.

    A parser's `makeelement` makes every element in a document of its own, which lxml moves into
    its parent's when it is added (a document made, walked and freed for every tag); an
    element's `makeelement` makes it in the element's document. The first element is the root
    of that document, and stays out of what the renderer outputs: a tag not yet added anywhere
    is not the root of a tree of its own (`getroottree()`, absolute XPaths: use `.//` paths).
    """
    document = makeelement("nagare-rendering")
    return document.makeelement


class Renderer:
    """A renderer of tags of any name (see the module docstring).

    The positional parameters are those of Nagare 0.5 (`xhtml.Renderer(parent, session, request,
    response, static_url, static_path, url)`); a child (`parent` given) shares everything with
    its parent but what is given explicitly.

    - `session`: the session of the request, kept for the views (`h.session`);
    - `static_url`: the URL of the application's static files (relative `src`, head assets);
    - `static_path`: their folder (relative file names of `parse_html`);
    - `url`: the URL of the application, extended by the `url` of each component rendered;
    - `callbacks`, `session_params`: the registry of the actions and the parameters (`_s`, `_c`)
      that the URLs of the actions carry;
    - `nagare_static_url`: the URL of Nagare's own static files (`nagare.js`).
    """

    content_type = "text/xml; charset=utf-8"

    #: Namespace URIs by prefix; `default_namespace` (one of the prefixes) is that of the tags
    #: made, and attributes named `prefix:name` are in the namespace of `prefix`.
    namespaces: dict[str, str] | None = None
    default_namespace: str | None = None

    _parser: etree.XMLParser[Tag] = _xml_parser
    _makeelement: Callable[[str], Tag] = _xml_parser.makeelement
    _lookup: etree.ElementNamespaceClassLookup = _lookup
    #: The tags made in one document (`_maker`); off for a renderer that makes a tag or two.
    _one_document = True

    # Made on first use, at the root renderer (see `generate_id`) and per renderer (`id`).
    _ids: tuple[str, Iterator[int]] | None = None
    _id: str | None = None

    def __init__(
        self,
        parent: Renderer | None = None,
        session: object = None,
        request: Request | None = None,
        response: Response | None = None,
        static_url: str = "",
        static_path: str = "",
        url: str = "",
        *,
        callbacks: Callbacks | None = None,
        session_params: dict[str, str] | None = None,
        nagare_static_url: str = "/static/nagare/",
    ) -> None:
        self.parent = parent
        if parent is None:
            self.callbacks = callbacks
            self.session = session
            self.session_params = {} if session_params is None else session_params
            self.static_url = static_url
            self.static_path = static_path
            self.nagare_static_url = nagare_static_url
            self.url = url
            self.request = request
            self.response = response
            # What the response said before any view ran (see `view_content_type`).
            self._content_type_header = None if response is None else response.headers.get("Content-Type")
            self._tags: list[Tag] = []
            if self._one_document:
                self._makeelement = _maker(type(self)._makeelement)
            self.component: Component | None = None
            self.model: object = None
            self.async_component: Component | None = None
            self.async_model: object = None
        else:
            # A child shares everything with its parent; an argument given explicitly overrides.
            self.callbacks = parent.callbacks if callbacks is None else callbacks
            self.session = parent.session if session is None else session
            self.session_params = parent.session_params if session_params is None else session_params
            self.static_url = static_url or parent.static_url
            self.static_path = static_path or parent.static_path
            self.nagare_static_url = (
                parent.nagare_static_url if nagare_static_url == "/static/nagare/" else nagare_static_url
            )
            self.url = url or parent.url
            self.request = parent.request if request is None else request
            self.response = parent.response if response is None else response
            self._tags = parent._tags
            if parent._parser is self._parser:
                self._makeelement = parent._makeelement  # the tags of one rendering in one document
            elif self._one_document:
                self._makeelement = _maker(type(self)._makeelement)
            self.component = parent.component
            self.model = parent.model
            self.async_component = parent.async_component
            self.async_model = parent.async_model
            if parent.namespaces is not self.namespaces:
                self.namespaces = parent.namespaces
            if parent.default_namespace is not self.default_namespace:
                self.default_namespace = parent.default_namespace
        self._root: list[str | _Element] = []
        self._stack: list[Tag] = []
        self._inherit(parent)

    def _inherit(self, parent: Renderer | None) -> None:
        """What a subclass adds to `__init__`: made at the root, shared with the `parent` otherwise."""

    # --- tags -------------------------------------------------------------------------------

    def makeelement(self, tag: str) -> Tag:
        """A new tag named `tag`, owned (and kept alive) by this renderer."""
        if self.default_namespace is None:
            element = self._makeelement(tag)
        else:
            namespaces = self.namespaces or {}
            uri = namespaces[self.default_namespace]
            element = self._parser.makeelement(f"{{{uri}}}{tag}", nsmap=namespaces)
        element._renderer = self
        self._tags.append(element)
        return element

    def __getattr__(self, name: str) -> Tag:
        if name[:1] == "_":
            raise AttributeError(name)
        return self.makeelement(name[:-1] if name[-1] == "_" else name)

    def comment(self, text: str = "") -> etree._Comment:
        """An XML/HTML comment, to be added as a child."""
        return etree.Comment(text)

    def processing_instruction(
        self, target: str, text: str | None = None, **attributes: object
    ) -> etree._ProcessingInstruction:
        """A processing instruction; `attributes` are written after `text` as pseudo-attributes.

        `h.processing_instruction('xml-stylesheet', href='s.css', type='text/css')` is
        `<?xml-stylesheet href="s.css" type="text/css"?>`.
        """
        if attributes:
            pseudo = " ".join(
                f'{name[:-1] if name[-1:] == "_" else name}="{_html.escape(str(value))}"'
                for name, value in attributes.items()
                if value is not None
            )
            text = f"{text} {pseudo}" if text else pseudo
        return etree.ProcessingInstruction(target, text)

    # --- services of the renderer ---------------------------------------------------------------

    def generate_id(self, prefix: str = "") -> str:
        """An id unique in the page, and across the XHR updates of the page: `prefix` (or 'id') + a random part + a number."""
        root = self
        while root.parent is not None:
            root = root.parent
        ids = root._ids
        if ids is None:
            # One random part per rendering: the ids of an XHR update never meet those of the page.
            ids = root._ids = (secrets.token_hex(3), itertools.count(1))
        return f"{prefix or 'id'}{ids[0]}-{next(ids[1])}"

    @property
    def id(self) -> str:
        """An id of this renderer, made on first use (`generate_id`)."""
        if self._id is None:
            self._id = self.generate_id()
        return self._id

    @property
    def view_content_type(self) -> str | None:
        """The content type a view set on `h.response` (without parameters), None when no view did.

        The response goes out with it instead of `content_type`.
        """
        root = self
        while root.parent is not None:
            root = root.parent
        response = root.response
        if response is None or response.headers.get("Content-Type") == root._content_type_header:
            return None
        return response.content_type

    def __lshift__(self, child: Child) -> Self:
        """Add `child` to the innermost `with` tag, or to the root; return the renderer."""
        stack = self._stack
        if stack:
            parent: _Element = stack[-1]
            if isinstance(child, _Element):  # the common cases first, without a tuple
                parent.append(child if child.getparent() is None else placed(child))
            elif isinstance(child, str):
                if child:
                    _add_text(parent, child)
            else:
                _add(parent, (child,), self)
        else:
            _add_to_list(self._root, (child,), self)
        return self

    @property
    def root(self) -> str | _Element | list[str | _Element]:
        """What was added at top level: one item, a list of several, '' when nothing was."""
        root = self._root
        if len(root) == 1:
            return root[0]
        return list(root) if root else ""

    # --- components -------------------------------------------------------------------------

    def new(self) -> Self:
        """A child renderer of the same class, sharing everything but the root."""
        return self.__class__(self)

    def start_rendering(self, comp: Component, model: object) -> None:
        """Before the view of `comp` runs: the component's `url` extends this renderer's."""
        self.component = comp
        self.model = model
        if comp.url:
            self.url = join_url(self.url, comp.url)

    def end_rendering(self, output: Child) -> Child:
        return output

    # --- parsing (trusted markup only: nothing is escaped) ------------------------------------

    def _adopt(self, tree: _ElementT) -> _ElementT:
        tags = self._tags
        for element in tree.iter():
            if isinstance(element, Tag):
                element._renderer = self
                tags.append(element)
        return tree

    def _fragment_of(self, wrapper: _Element, no_leading_text: bool) -> list[str | _Element]:
        result: list[str | _Element] = []
        if wrapper.text and not no_leading_text:
            result.append(wrapper.text)
        for child in wrapper:
            result.append(self._adopt(child))
        return result

    def _xml_parser(self, options: Mapping[str, Any]) -> etree.XMLParser[Tag]:
        """The XML parser of this renderer; with `options`, a new one made with them (lxml's names)."""
        if not options:
            return self._parser
        # Entities stay unresolved and the network closed unless asked (the markup may be a user's).
        parser: etree.XMLParser[Tag] = etree.XMLParser(**{"resolve_entities": False, "no_network": True, **options})
        parser.set_element_class_lookup(self._lookup)
        return parser

    def parse_xmlstring(
        self, text: str | bytes, fragment: bool = False, no_leading_text: bool = False, **kw: Any
    ) -> Tag | list[str | _Element]:
        """The tree of the XML `text`; with `fragment`, the list of its top-level nodes.

        `kw` are options of lxml's `XMLParser` (`remove_blank_text=True`, ...).
        """
        parser = self._xml_parser(kw)
        if fragment:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            wrapper = etree.fromstring("<fragment>" + text + "</fragment>", parser)
            return self._fragment_of(wrapper, no_leading_text)
        if isinstance(text, str) and text.lstrip().startswith("<?xml"):
            text = text.encode("utf-8")
        return self._adopt(etree.fromstring(text, parser))

    def parse_xml(
        self, source: Source, fragment: bool = False, no_leading_text: bool = False, **kw: Any
    ) -> Tag | list[str | _Element]:
        """Parse the XML file `source` (a path or a file object); `kw`: see `parse_xmlstring`."""
        if fragment:
            return self.parse_xmlstring(_read(source), True, no_leading_text, **kw)
        return self._adopt(etree.parse(source, self._xml_parser(kw)).getroot())

    def _release(self) -> None:
        """Once the output is serialised: the tags made forget their renderers, and the list that kept
        them alive is emptied (every renderer of the rendering shares it).

        A tag and its renderer refer to each other: without this, a rendering would be garbage that
        only the cyclic garbage collector frees, hundreds of objects a page, collected a few pages
        later at a cost higher than the reference counting that frees them now.
        """
        tags = self._tags
        for tag in tags:
            tag._renderer = None  # type: ignore[assignment]  # nothing reads it any more
        tags.clear()

    # --- serialisation ----------------------------------------------------------------------

    def _serialize(self, element: _Element) -> str:
        return etree.tostring(element, encoding="unicode")

    def _complete(self) -> None:
        """Last changes to the tree before it is serialised (`fragment`, a subclass's `page`)."""

    def fragment(self, output: Child) -> str:
        """`output` (a tag, a string, a list...) serialised as a string, strings escaped."""
        items: list[str | _Element] = []
        _add_to_list(items, (output,), self)
        self._complete()
        escape = _html.escape
        return "".join(
            escape(item, quote=False) if isinstance(item, str) else self._serialize(item) for item in items
        )


#: The names Nagare 0.5 gave these classes (applications subclass them for their own renderers).
XmlRenderer = Renderer
_Tag = Tag


def _read(source: Source) -> str:
    if hasattr(source, "read"):
        data = source.read()
    else:
        with open(source, "rb") as f:
            data = f.read()
    return data.decode("utf-8") if isinstance(data, bytes) else data
