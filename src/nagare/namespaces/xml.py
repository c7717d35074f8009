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

lxml creates the Python object of an element on demand and forgets the Python attributes set on it
when that object is garbage-collected. A tag keeps its renderer in such an attribute, so every tag
a renderer creates is kept alive by a list shared by all the renderers of one rendering.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Callable, Iterable, Mapping
from types import GeneratorType, TracebackType
from typing import TYPE_CHECKING, TypeVar
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

_TagT = TypeVar("_TagT", bound="Tag")
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
    if isinstance(o, _component()):
        if renderer is None:
            raise TypeError(f"cannot render {o!r} into a tag that was not created by a renderer")
        return o.render(renderer)
    if isinstance(o, bytes):
        return o.decode("utf-8")
    if presentation.find_view(type(o)) is None and hasattr(o, "__iter__"):
        return list(o)  # any other iterable (map, range, dict views, ...) without its own view
    if renderer is None:
        raise TypeError(f"cannot render {o!r} into a tag that was not created by a renderer")
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


def _add(parent: _Element, children: Iterable[Child], renderer: Renderer | None) -> None:
    """Append `children` to the element `parent` (`renderer` renders components; None: the tag's)."""
    for child in children:
        if isinstance(child, str):
            if child:
                _add_text(parent, child)
        elif isinstance(child, _Element):
            parent.append(child)
        elif child is None:
            continue
        elif isinstance(child, _SEQUENCES):
            _add(parent, child, renderer)
        elif isinstance(child, _NUMBERS):
            _add_text(parent, str(child))
        else:
            if renderer is None:
                renderer = getattr(parent, "_renderer", None)
            _add(parent, (render_object(child, renderer),), renderer)


def _add_to_list(items: list[str | _Element], children: Iterable[Child], renderer: Renderer | None) -> None:
    """Append `children`, flattened and rendered, to the list `items` (a renderer's root)."""
    for child in children:
        if isinstance(child, str):
            if child:
                items.append(child)
        elif isinstance(child, _Element):
            items.append(child)
        elif child is None:
            continue
        elif isinstance(child, _SEQUENCES):
            _add_to_list(items, child, renderer)
        elif isinstance(child, _NUMBERS):
            items.append(str(child))
        else:
            _add_to_list(items, (render_object(child, renderer),), renderer)


def _set_special(element: _Element, name: str, value: str) -> None:
    if name.startswith("xml:"):
        name = _XML_NS + name[4:]
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

    __slots__ = ("_renderer",)
    _renderer: Renderer

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


class Renderer:
    """A renderer of tags of any name (see the module docstring)."""

    content_type = "text/xml; charset=utf-8"

    _parser: etree.XMLParser[Tag] = _xml_parser
    _makeelement: Callable[[str], Tag] = _xml_parser.makeelement

    def __init__(
        self,
        parent: "Renderer | None" = None,
        *,
        callbacks: Callbacks | None = None,
        session_params: dict[str, str] | None = None,
        static_url: str = "",
        nagare_static_url: str = "/static/nagare/",
        url: str = "",
        request: Request | None = None,
        response: Response | None = None,
    ) -> None:
        self.parent = parent
        if parent is None:
            self.callbacks = callbacks
            self.session_params = {} if session_params is None else session_params
            self.static_url = static_url
            self.nagare_static_url = nagare_static_url
            self.url = url
            self.request = request
            self.response = response
            self._tags: list[_Element] = []
            self.component: Component | None = None
            self.model: object = None
            self.async_component: Component | None = None
            self.async_model: object = None
        else:
            # A child shares everything with its parent; an argument given explicitly overrides.
            self.callbacks = parent.callbacks if callbacks is None else callbacks
            self.session_params = parent.session_params if session_params is None else session_params
            self.static_url = static_url or parent.static_url
            self.nagare_static_url = (
                parent.nagare_static_url if nagare_static_url == "/static/nagare/" else nagare_static_url
            )
            self.url = url or parent.url
            self.request = parent.request if request is None else request
            self.response = parent.response if response is None else response
            self._tags = parent._tags
            self.component = parent.component
            self.model = parent.model
            self.async_component = parent.async_component
            self.async_model = parent.async_model
        self._root: list[str | _Element] = []
        self._stack: list[Tag] = []

    # --- tags -------------------------------------------------------------------------------

    def makeelement(self, tag: str) -> Tag:
        """A new tag named `tag`, owned (and kept alive) by this renderer."""
        element = self._makeelement(tag)
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

    def processing_instruction(self, target: str, text: str | None = None) -> etree._ProcessingInstruction:
        return etree.ProcessingInstruction(target, text)

    def __lshift__(self, child: Child) -> Self:
        """Add `child` to the innermost `with` tag, or to the root; return the renderer."""
        stack = self._stack
        if stack:
            parent: _Element = stack[-1]
            if isinstance(child, _Element):  # the common cases first, without a tuple
                parent.append(child)
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

    def parse_xmlstring(
        self, text: str | bytes, fragment: bool = False, no_leading_text: bool = False
    ) -> Tag | list[str | _Element]:
        """The tree of the XML `text`; with `fragment`, the list of its top-level nodes."""
        if fragment:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            wrapper = etree.fromstring("<fragment>" + text + "</fragment>", self._parser)
            return self._fragment_of(wrapper, no_leading_text)
        if isinstance(text, str) and text.lstrip().startswith("<?xml"):
            text = text.encode("utf-8")
        return self._adopt(etree.fromstring(text, self._parser))

    def parse_xml(
        self, source: Source, fragment: bool = False, no_leading_text: bool = False
    ) -> Tag | list[str | _Element]:
        """Parse the XML file `source` (a path or a file object)."""
        if fragment:
            return self.parse_xmlstring(_read(source), True, no_leading_text)
        return self._adopt(etree.parse(source, self._parser).getroot())

    # --- serialisation ----------------------------------------------------------------------

    def _serialize(self, element: _Element) -> str:
        return etree.tostring(element, encoding="unicode")

    def fragment(self, output: Child) -> str:
        """`output` (a tag, a string, a list...) serialised as a string, strings escaped."""
        items: list[str | _Element] = []
        _add_to_list(items, (output,), self)
        escape = _html.escape
        return "".join(
            escape(item, quote=False) if isinstance(item, str) else self._serialize(item) for item in items
        )


def _read(source: Source) -> str:
    if hasattr(source, "read"):
        data = source.read()
    else:
        with open(source, "rb") as f:
            data = f.read()
    return data.decode("utf-8") if isinstance(data, bytes) else data
