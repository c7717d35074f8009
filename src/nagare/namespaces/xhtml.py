"""The XHTML renderer: HTML tags, actions, the head and asynchronous rendering.

    h = xhtml.Renderer(callbacks=callbacks, session_params={'_s': sid, '_c': cid})
    h.head << h.head.title('Counter')
    h.head.css('counter', '.counter { color: red }')
    with h.div(class_='counter'):
        h << h.span(self.value)
        h << h.a('++').action(self.increment)      # href="?_action4NNNNN&_s=...&_c=..."
        h << h.a('7').action(self.digit, 7)        # extra arguments bound: digit(7)
    with h.form:                                   # method=post, hidden _s and _c
        h << h.input(value=self.value).action(self.set_value)   # called with the value typed
        h << h.input(type='submit', value='Set').action(self.save)
    body = h.page(h.root)                          # bytes of the whole page

Every `.action(f, *args, with_request=False, permissions=None, subject=None, **kw)` binds the
extra arguments into a `nagare.partial.Partial` and registers it into `renderer.callbacks` with
the priorities of `nagare.callbacks` (those of Nagare 0.5): a form's pre_action 0, values
(inputs, textareas, selects) 1, radio buttons 2, a form's post_action 3, links, images and submit
buttons 4, image inputs 5. A link or button calls `f(*args, **kw)`, a field `f(*args, value, **kw)`;
`with_request` adds `request, response` before the value (first of all for a textarea and a
multiple select, as in 0.5). `permissions` (and `subject`, by default the object of the
component being rendered) are kept with the callback, checked before it runs (`Callbacks.run`).
In an asynchronous renderer (`h.AsyncRenderer()`), and for an `ajax.Update` action, links and
submit buttons register `update.bind(renderer)` and get the attribute `data-nagare-async` that
`static/nagare.js` looks for to send them as XHR; a field with an `ajax.Update` gets
`data-nagare-async="<url>"` and is sent as XHR when it changes.

This module serialises as XHTML 1.0 Strict written so that browsers can parse it as text/html;
`xhtml5` is the HTML5 renderer (the default).
"""

from __future__ import annotations

import html as _html
import os
import re
import secrets
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict, cast
from urllib.parse import urlencode

import webob
from lxml import etree

from nagare import ajax
from nagare.callbacks import IMAGE, LINK, POST_ACTION, PRE_ACTION, RADIO, SUBMIT, VALUE, Callbacks
from nagare.namespaces import xml
from nagare.partial import Partial

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from nagare.component import Component
    from nagare.types import Action, Child

    #: What the action of an image returns: the bytes of the image (a string is UTF-8 encoded), or
    #: a whole response.
    ImageData = bytes | bytearray | memoryview | str | webob.Response

XHTML_NS = "http://www.w3.org/1999/xhtml"

#: The tags of the renderer, those of HTML 4.01 (`h.<name>`; any other name is an AttributeError,
#: `h.makeelement(name)` makes any tag).
TAGS = (
    "a abbr acronym address applet area b base basefont bdo big blockquote body br button caption "
    "center cite code col colgroup dd del dfn dir div dl dt em fieldset font form frame frameset "
    "h1 h2 h3 h4 h5 h6 hr html i iframe img input ins isindex kbd label legend li link map menu meta "
    "noframes noscript object ol optgroup option p param pre q s samp script select small span "
    "strike strong style sub sup table tbody td textarea tfoot th thead title tr tt u ul var"
).split()

#: The tags that `page()` moves from the body to the head (not from inside these containers).
_HEAD_TAGS = ("script", "style")
_KEEPS_ITS_HEAD_TAGS = frozenset(("svg", "math", "template", "noscript"))

#: The elements a label is for, when it contains one (HTML's labelable elements).
_LABELABLE = ("input", "select", "textarea", "button", "meter", "output", "progress")

#: Elements that never have content (serialised without an end tag).
VOID_ELEMENTS = frozenset(
    "area base basefont br col embed frame hr img input isindex keygen link meta param source track wbr".split()
)

#: Attributes that are present or absent: True renders `name="name"`, False omits them.
BOOLEAN_ATTRIBUTES = frozenset(
    "allowfullscreen async autofocus autoplay checked compact controls declare default defer "
    "disabled formnovalidate hidden inert ismap itemscope loop multiple muted nohref nomodule "
    "noresize noshade novalidate nowrap open playsinline readonly required reversed selected".split()
)

_SUBMIT_TYPES = frozenset(("submit", "button", "reset"))
_URL = re.compile(r"^(https?|ftp)://", re.IGNORECASE)
_FETCH_TIMEOUT = 30  # seconds: a template read over the network while a page is rendered
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_UNSET = object()


# What `urlencode` (`quote_plus`) leaves as it is.
_QUERY_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")


def _query(params: Mapping[str, str]) -> str:
    """`urlencode(params)`: the session parameters of every link (ids: nothing to quote, as a rule)."""
    safe = _QUERY_SAFE.fullmatch
    parts = []
    for key, value in params.items():
        key, value = str(key), str(value)
        if safe(key) is None or safe(value) is None:
            return urlencode([(str(k), str(v)) for k, v in params.items()])
        parts.append(f"{key}={value}")
    return "&".join(parts)


def absolute_url(url: str, base: str) -> str:
    """`url` resolved against `base` when relative (absolute paths, full URLs, '?...' untouched)."""
    if not url or not base or url[0] in "/?#" or _SCHEME.match(url):
        return url
    return base + url if base.endswith("/") else base + "/" + url


def link_url(href: str, base: str) -> str:
    """The `href` of a link made absolute against `base`, the application URL plus the components' urls.

    Absolute paths, full URLs and `#fragment`s alone are kept; an empty href is `base` itself,
    a query alone (`?sort=name`) goes on `base`.
    """
    # The hot path of every link with an href: the common cases first, the regex last.
    if not href:
        return base
    first = href[0]
    if first == "/" or first == "#" or not base:
        return href
    if first == "?":
        return base + href
    if ":" in href and _SCHEME.match(href):
        return href
    return base + href if base[-1] == "/" else base + "/" + href


def _fetch(url: str) -> bytes:
    """The bytes at `url` (`parse_html` of a URL); a failure is one line, naming the URL."""
    try:
        with urllib.request.urlopen(url, timeout=_FETCH_TIMEOUT) as answer:
            data: bytes = answer.read()
            return data
    except OSError as exc:
        raise OSError(f"cannot read {url}: {exc}") from None


def _matches(value: str, wanted: object) -> bool:
    """Does the string `value` match `wanted` (a value, or a list/tuple/set of values)?"""
    if wanted is None or isinstance(wanted, bool):
        return bool(wanted)
    if isinstance(wanted, (list, tuple, set, frozenset)):
        return any(not isinstance(w, bool) and w is not None and str(w) == value for w in wanted)
    return str(wanted) == value


# --- picklable wrappers of actions (they are stored with the state) ---------------------------


def bind(action: Action, args: tuple[object, ...], kw: Mapping[str, object]) -> Action:
    """`action` with the extra arguments of `.action()` bound (itself when there are none)."""
    if args or kw:
        return Partial(action, *args, **kw)
    return action


class FieldAction:
    """The action of a textarea or a multiple select: `action(request, response, *args, value, **kw)`.

    Nagare 0.5 passes these two fields' request and response first, before the bound arguments,
    where every other tag passes them after; `convert` gives the value as 0.5 did.
    """

    __slots__ = ("action", "args", "kw")

    def __init__(self, action: Action, args: tuple[object, ...] = (), kw: Mapping[str, object] | None = None) -> None:
        self.action = action
        self.args = args
        self.kw = dict(kw) if kw else None

    def __call__(self, *args: object) -> object:
        *first, value = args  # (request, response,) value
        kw = self.kw
        if kw:
            return self.action(*first, *self.args, self.convert(value), **kw)
        return self.action(*first, *self.args, self.convert(value))

    def __reduce__(self) -> tuple[object, ...]:
        # The arguments only: __slots__ objects would otherwise pickle their slot names too.
        return type(self), (self.action, self.args, self.kw)

    @staticmethod
    def convert(value: object) -> object:
        return value


class TextAreaAction(FieldAction):
    """A textarea's action: the text without its carriage returns (browsers send CRLF)."""

    __slots__ = ()

    @staticmethod
    def convert(value: object) -> object:
        return value.replace("\r", "") if isinstance(value, str) else value


class MultipleSelectAction(FieldAction):
    """A multiple select's action: the values chosen, always a tuple (even of one)."""

    __slots__ = ()

    @staticmethod
    def convert(value: object) -> object:
        return tuple(value) if isinstance(value, list) else (value,)


class ImageResponse:
    """Answer the bytes `action()` returns as an image (`h.img.action(action)`)."""

    def __init__(self, action: Callable[..., ImageData], content_type: str | None = None) -> None:
        self.action = action
        self.content_type = content_type

    def __call__(self, *args: object) -> webob.Response:
        data = self.action(*args)
        if isinstance(data, webob.Response):
            return data
        if isinstance(data, str):
            data = data.encode("utf-8")
        content_type = self.content_type or guess_image_type(data)
        # charset=None: no charset in the Content-Type (WebOb's stubs allow only a string)
        return webob.Response(body=bytes(data), content_type=content_type, charset=None)  # type: ignore[arg-type]


def guess_image_type(data: bytes | bytearray | memoryview) -> str:
    """The MIME type of the image `data`, from its first bytes."""
    head = bytes(data[:512])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "image/x-icon"
    if head.startswith(b"BM"):
        return "image/bmp"
    if head[4:12] in (b"ftypavif", b"ftypavis"):
        return "image/avif"
    text = head.lstrip()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in head):
        return "image/svg+xml"
    return "application/octet-stream"


class RadioAction:
    """The one action of a group of radio buttons: called with the value of the chosen one."""

    def __init__(self, action: Action | None = None, with_request: bool = False) -> None:
        self.action = action
        self.with_request = with_request

    def __call__(self, value: object, request: webob.Request | None, response: webob.Response | None) -> object:
        if self.action is None:
            return None
        if self.with_request:
            return self.action(request, response, value)
        return self.action(value)


def radio_group_name() -> str:
    """A name for radio buttons that have none (never `_action…`: a radio's value is its id)."""
    return "nagare-radio-" + secrets.token_hex(6)


class RadioGroup:
    """Radio buttons sharing one name: `g = h.radio_group(f)`, then `g.radio('a')`, `g.radio('b')`.

    `h.input(type='radio', value='c').action(g)` joins the group too. The action is called with
    the value of the radio button checked (each button's own callback calls it with its value).
    """

    def __init__(self, renderer: "Renderer", action: Action | None = None, with_request: bool = False) -> None:
        self.renderer = renderer
        self._action = RadioAction(action, with_request)
        self.name = radio_group_name()

    def action(self, action: Action, with_request: bool = False) -> "RadioGroup":
        """Set the action of the group; return the group."""
        self._action.action = action
        self._action.with_request = with_request
        return self

    def radio(self, value: object, **attributes: object) -> Input:
        """A radio button of the group with the value `value`."""
        return self.renderer.input(type="radio", value=value, **attributes).action(self)

    def _register(self, value: object) -> str:
        # Registered with the request so that RadioAction chooses what to pass at call time.
        return self.renderer.register(RADIO, Partial(self._action, value), True)


# --- the tags ------------------------------------------------------------------------------


class HTMLTag(xml.Tag):
    """An HTML element."""

    __slots__ = ()
    _data_dashes = True

    if TYPE_CHECKING:  # tags with actions belong to an XHTML renderer; the head's have none
        _renderer: Renderer

        def _owner(self) -> Renderer: ...

    def _boolean(self, name: str, value: bool) -> str | None:
        if name in BOOLEAN_ATTRIBUTES:
            return name if value else None
        return "true" if value else "false"

    def action(
        self,
        action: Action,
        *args: object,
        with_request: bool = False,
        permissions: object = None,
        subject: object = None,
        **kw: object,
    ) -> "HTMLTag":
        """Register `action` (with `args` and `kw` bound) as what this tag triggers; return the tag."""
        raise TypeError(
            f"<{self.tag!s}> has no action: links, images, form inputs, buttons, selects and textareas have"
        )

    def selected(self, value: object) -> "HTMLTag":
        raise TypeError(f"<{self.tag!s}> cannot be selected: options, selects, radio buttons and checkboxes can")

    def error(self, msg: Child) -> Self:
        """Mark this element as in error (`msg` None: not in error); return this same element.

        Wherever it is added, the element is shown decorated by the renderer's `decorate_error`:
        `div.nagare-error-field` holding `div.nagare-error-input` (the element) and
        `div.nagare-error-message` (`msg`). An element already added is decorated in place.
        """
        previous = getattr(self, "_stand_in", None)
        if msg is None and previous is None:
            return self
        current: xml._Element = xml.placed(self)  # what stands in the tree for this element
        parent = current.getparent()
        index, tail = 0, current.tail
        if parent is not None:
            index = parent.index(current)
            current.tail = None  # the tail is the parent's text, it stays where it is
            parent.remove(current)
        if current is not self:
            container = self.getparent()
            if container is not None:
                container.remove(self)
        decorated = self if msg is None else self._owner().decorate_error(self, msg)
        self._stand_in = decorated if decorated is not self else None  # type: ignore[assignment]
        if parent is not None:
            parent.insert(index, decorated)
            decorated.tail = tail
        return self


class A(HTMLTag):
    """A link: its action is called when it is followed; a relative href is made absolute."""

    __slots__ = ()

    def __call__(self, *children: Child, **attributes: object) -> "A":
        if attributes:
            href = attributes.get("href")
            if href and isinstance(href, str) and href[0] not in "/#":
                attributes["href"] = link_url(href, self._renderer.url)  # a dict of this call only
            xml._set_attributes(self, attributes)
        if children:
            xml._add(self, children, None)
        return self

    def action(
        self,
        action: Action,
        *args: object,
        with_request: bool = False,
        permissions: object = None,
        subject: object = None,
        **kw: object,
    ) -> "A":
        """Call `action(*args, **kw)` when the link is followed."""
        renderer = self._owner()
        name, is_async = renderer._register_action(LINK, action, args, kw, with_request, permissions, subject)
        self.set("href", renderer.action_url(name, self.get("href")))
        if is_async:
            self.set("data-nagare-async", "")
        return self


class Area(A):
    __slots__ = ()


def _static_src(tag: HTMLTag, attributes: Mapping[str, object]) -> None:
    """A relative `src` given to an image (or an image input) names a static file of the application."""
    if "src" in attributes:
        src = tag.get("src")
        if src:
            tag.set("src", absolute_url(src, tag._renderer.static_url))


class Img(HTMLTag):
    """An image: a relative `src` is a static file; `.action(f)` serves the bytes `f()` returns."""

    __slots__ = ()

    def __call__(self, *children: Child, **attributes: object) -> "Img":
        xml.Tag.__call__(self, *children, **attributes)
        _static_src(self, attributes)
        return self

    def action(  # type: ignore[override]  # narrower than HTMLTag's: the action returns the image
        self,
        action: Callable[..., ImageData],
        *args: object,
        with_request: bool = False,
        permissions: object = None,
        subject: object = None,
        content_type: str | None = None,
        **kw: object,
    ) -> "Img":
        """Serve what `action(*args, **kw)` returns as the image (`content_type`: guessed if None)."""
        renderer = self._owner()
        image = ImageResponse(cast("Callable[..., ImageData]", bind(action, args, kw)), content_type)
        name = renderer.register(LINK, image, with_request, permissions, subject)
        self.set("src", renderer.action_url(name))
        return self


class Form(HTMLTag):
    """A form posting to the page, with the session parameters as hidden inputs."""

    __slots__ = ()

    def _setup(self, renderer: "Renderer") -> None:
        # An empty action would post to the current URL, query string (a link's action) included.
        set_ = self.set
        set_("action", renderer.url or "?")
        set_("method", "post")
        set_("enctype", "multipart/form-data")
        set_("accept-charset", "utf-8")
        for name, value in renderer.session_params.items():
            etree.SubElement(self, "input", type="hidden", name=str(name), value=str(value))

    def _hidden_action(
        self,
        priority: int,
        action: Action,
        args: tuple[object, ...],
        kw: dict[str, object],
        with_request: bool,
        permissions: object,
        subject: object,
    ) -> "Form":
        name = self._owner().register(priority, bind(action, args, kw), with_request, permissions, subject)
        etree.SubElement(self, "input", type="hidden", name=name, value="")
        return self

    def pre_action(
        self,
        action: Action,
        *args: object,
        with_request: bool = False,
        permissions: object = None,
        subject: object = None,
        **kw: object,
    ) -> "Form":
        """Call `action(*args, **kw)` first when the form is submitted, before any value action."""
        return self._hidden_action(PRE_ACTION, action, args, kw, with_request, permissions, subject)

    def post_action(
        self,
        action: Action,
        *args: object,
        with_request: bool = False,
        permissions: object = None,
        subject: object = None,
        **kw: object,
    ) -> "Form":
        """Call `action(*args, **kw)` after the value actions, before the submit button's action."""
        return self._hidden_action(POST_ACTION, action, args, kw, with_request, permissions, subject)

    def action(
        self,
        action: Action,
        *args: object,
        with_request: bool = False,
        permissions: object = None,
        subject: object = None,
        **kw: object,
    ) -> "Form":
        """A form has no action of its own: raises `TypeError`."""
        raise TypeError("a form has no action: use .pre_action(), .post_action() or a submit button's .action()")


class Input(HTMLTag):
    """An input: a value action, or a submit action for the submit/image/button types."""

    __slots__ = ()

    def __call__(self, *children: Child, **attributes: object) -> "Input":
        xml.Tag.__call__(self, *children, **attributes)
        _static_src(self, attributes)
        return self

    def action(
        self,
        action: Action | RadioGroup,
        *args: object,
        with_request: bool = False,
        permissions: object = None,
        subject: object = None,
        **kw: object,
    ) -> "Input":
        """A submit button or an image input: `action(*args, **kw)`; an image input calls it twice,
        `action(*args, False, x, **kw)` then `action(*args, True, y, **kw)`; a radio button
        `action(*args, **kw)` when it is the one chosen; any other input `action(*args, value, **kw)`.
        """
        renderer = self._owner()
        kind = (self.get("type") or "text").lower()
        if kind in _SUBMIT_TYPES or kind == "image":
            priority = IMAGE if kind == "image" else SUBMIT
            name, is_async = renderer._register_action(priority, action, args, kw, with_request, permissions, subject)
            if is_async:
                self.set("data-nagare-async", "")
        elif kind == "radio":
            self._radio(renderer, action, args, kw, with_request, permissions, subject)
            return self
        else:
            name, url = renderer._register_value(action, args, kw, with_request, permissions, subject)
            if url is not None:
                self.set("data-nagare-async", url)
        self.set("name", name)
        return self

    def _radio(
        self,
        renderer: "Renderer",
        action: object,
        args: tuple[object, ...],
        kw: dict[str, object],
        with_request: bool,
        permissions: object,
        subject: object,
    ) -> None:
        # Nagare 0.5's protocol: the application's name groups the buttons, the value is the id
        # of the callback, called with no value when its button is the one submitted.
        if isinstance(action, RadioGroup):
            self.set("name", action.name)
            self.set("value", action._register(self.get("value")))
            return
        if self.get("name") is None:  # grouped by action, as they would be by name
            self.set("name", renderer._radio_name(action, with_request))
        value, url = renderer._register_value(action, args, kw, with_request, permissions, subject, RADIO)
        self.set("value", value)
        if url is not None:
            self.set("data-nagare-async", url)

    def selected(self, value: object) -> "Input":
        """Check a radio button/checkbox when `value` is true, or matches (or contains) its value."""
        own = self.get("value")
        if own is None and not isinstance(value, (list, tuple, set, frozenset)):
            checked = bool(value)
        else:  # a value attribute, or a list of the values to check
            checked = _matches("on" if own is None else own, value)
        if checked:
            self.set("checked", "checked")
        elif self.get("checked") is not None:
            del self.attrib["checked"]
        return self


class Button(HTMLTag):
    """A button: its action is a submit action."""

    __slots__ = ()

    def action(
        self,
        action: Action,
        *args: object,
        with_request: bool = False,
        permissions: object = None,
        subject: object = None,
        **kw: object,
    ) -> "Button":
        """Call `action(*args, **kw)` when the button submits its form (after the values)."""
        renderer = self._owner()
        name, is_async = renderer._register_action(SUBMIT, action, args, kw, with_request, permissions, subject)
        self.set("name", name)
        if is_async:
            self.set("data-nagare-async", "")
        return self


class TextArea(HTMLTag):
    """A textarea: its action is called with the text submitted."""

    __slots__ = ()

    def action(
        self,
        action: Action,
        *args: object,
        with_request: bool = False,
        permissions: object = None,
        subject: object = None,
        **kw: object,
    ) -> "TextArea":
        """Call `action(*args, text, **kw)` with the text submitted, its `\\r` removed; with
        `with_request`, `action(request, response, *args, text, **kw)` (as in Nagare 0.5)."""
        renderer = self._owner()
        name, url = renderer._register_value(action, args, kw, with_request, permissions, subject, VALUE, TextAreaAction)
        self.set("name", name)
        if url is not None:
            self.set("data-nagare-async", url)
        return self


class Option(HTMLTag):
    __slots__ = ()

    def selected(self, value: object) -> "Option":
        """Select the option when its value (or text) equals `value` (or is in `value`, a list)."""
        own = self.get("value")
        if _matches(own if own is not None else (self.text or ""), value):
            self.set("selected", "selected")
        elif self.get("selected") is not None:
            del self.attrib["selected"]
        return self


class Select(HTMLTag):
    """A select: its action is called with the value chosen (always a tuple when `multiple`)."""

    __slots__ = ("_selection",)
    _selection: object

    def action(
        self,
        action: Action,
        *args: object,
        with_request: bool = False,
        permissions: object = None,
        subject: object = None,
        **kw: object,
    ) -> "Select":
        """Call `action(*args, value, **kw)` with the value chosen; a multiple select with the
        tuple of the values chosen, and with `with_request` as `action(request, response, *args,
        values, **kw)` (as in Nagare 0.5)."""
        renderer = self._owner()
        wrapper = MultipleSelectAction if self.get("multiple") is not None else None
        name, url = renderer._register_value(action, args, kw, with_request, permissions, subject, VALUE, wrapper)
        self.set("name", name)
        if url is not None:
            self.set("data-nagare-async", url)
        return self

    def selected(self, value: object) -> "Select":
        """Select the options whose value equals `value` or is in `value` (also those added later
        inside `with`)."""
        self._selection = value
        self._select()
        return self

    def _select(self) -> None:
        value = self._selection
        for option in self.iter("option"):
            option.selected(value)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        xml.Tag.__exit__(self, exc_type, exc, tb)
        if getattr(self, "_selection", _UNSET) is not _UNSET:
            self._select()


TAG_CLASSES: dict[str, type[HTMLTag]] = {
    "a": A,
    "area": Area,
    "img": Img,
    "form": Form,
    "input": Input,
    "button": Button,
    "textarea": TextArea,
    "select": Select,
    "option": Option,
}

_xml_parser, _html_parser, _lookup = xml.make_parsers(HTMLTag, TAG_CLASSES)


class _TagFactory:
    """`renderer.<name>`: a new tag (a descriptor, faster than `__getattr__`)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, renderer: xml.Renderer | None, cls: type | None = None) -> xml.Tag | Self:
        if renderer is None:
            return self
        element = renderer._makeelement(self.name)
        element._renderer = renderer
        renderer._tags.append(element)
        return element


class _FormFactory(_TagFactory):
    __slots__ = ()

    def __get__(self, renderer: xml.Renderer | None, cls: type | None = None) -> xml.Tag | Self:
        if renderer is None:
            return self
        return renderer.makeelement("form")


class _LabelFactory(_TagFactory):
    """`h.label`: a label with a generated `for` (the id of the field it holds, see `Renderer`)."""

    __slots__ = ()

    def __get__(self, renderer: xml.Renderer | None, cls: type | None = None) -> xml.Tag | Self:
        element = _TagFactory.__get__(self, renderer, cls)
        if isinstance(renderer, Renderer) and isinstance(element, xml.Tag):
            generated = renderer.generate_id()
            element.set("for", generated)
            renderer._labels.append((element, generated))
        return element


class _HeadTagFactory(_TagFactory):
    """`h.script`, `h.style` of the body renderer: `page()` moves them to the head."""

    __slots__ = ()

    def __get__(self, renderer: xml.Renderer | None, cls: type | None = None) -> xml.Tag | Self:
        element = _TagFactory.__get__(self, renderer, cls)
        if isinstance(renderer, Renderer) and isinstance(element, xml.Tag):
            renderer._to_head.append(element)
        return element


_FACTORIES: dict[str, type[_TagFactory]] = {"form": _FormFactory}


def add_tag_factories(cls: type, names: Iterable[str], factories: Mapping[str, type[_TagFactory]] = _FACTORIES) -> None:
    """Give `cls` a fast factory attribute per tag name (names it already defines are skipped).

    `factories`: the factory class of some names (`_TagFactory` for the others).
    """
    for name in names:
        attribute = name + "_" if name == "del" else name
        existing = getattr(cls, attribute, None)
        if existing is None or isinstance(existing, _TagFactory):
            setattr(cls, attribute, factories.get(name, _TagFactory)(name))


class _Missing:
    """A tag the renderer does not have (an obsolete tag of HTML5): `h.<name>` is an AttributeError."""

    __slots__ = ("name", "reason")

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def __get__(self, renderer: object, cls: type | None = None) -> Self:
        if renderer is None:
            return self
        # Python then asks `__getattr__`, which says why (a descriptor cannot end the lookup).
        raise AttributeError(f"<{self.name}> {self.reason}")


def remove_tags(cls: type, names: Iterable[str], reason: str) -> None:
    """`cls.<name>` raises AttributeError(`<name> reason`) for each of `names`."""
    for name in names:
        setattr(cls, name, _Missing(name, reason))


# --- the head --------------------------------------------------------------------------------


class HeadAssets(TypedDict):
    """The CSS and JavaScript of a head, in the JSON answer of an XHR request (see `ajax`)."""

    css: list[list[str]]  #: [name, text] pairs
    css_url: list[str]
    js: list[list[str]]  #: [name, text] pairs
    js_url: list[str]


class HeadRenderer(xml.Renderer):
    """`h.head`: what goes into the page's `<head>`.

    `css(name, text)`, `css_url(url)`, `javascript(name, text)`, `javascript_url(url)` are kept
    once per name/url, in order of first use; other tags are added with `h.head << h.head.meta(...)`.
    Calling it, `h.head(...)`, creates a `<head>` element. Its tags: base, head, link, meta,
    noscript, script, style, title.
    """

    _parser = _xml_parser
    _makeelement = _xml_parser.makeelement
    _lookup = _lookup
    _one_document = False  # its `<head>`, a title: a document of its own would cost more

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> HTMLTag: ...

    else:

        def __getattr__(self, name: str) -> HTMLTag:
            raise AttributeError(f"the head renderer has no {name!r} (its tags: {', '.join(_HEAD_RENDERER_TAGS)})")

    def _inherit(self, parent: xml.Renderer | None) -> None:
        self._css: dict[str, tuple[str, dict[str, object]]] = {}
        self._css_url: dict[str, dict[str, object]] = {}
        self._js: dict[str, tuple[str, dict[str, object]]] = {}
        self._js_url: dict[str, dict[str, object]] = {}

    def __call__(self, *children: Child, **attributes: object) -> xml.Tag:
        return self.makeelement("head")(*children, **attributes)

    def css(self, name: str, text: str, **attributes: object) -> str:
        """Add the style sheet `text`, once per `name`."""
        if name not in self._css:
            self._css[name] = (text, attributes)
        return ""

    def css_url(self, url: str, **attributes: object) -> str:
        """Add a link to the style sheet `url` (relative: a static file), once per url."""
        url = absolute_url(url, self.static_url)
        if url not in self._css_url:
            self._css_url[url] = attributes
        return ""

    def javascript(self, name: str, text: str, **attributes: object) -> str:
        """Add the script `text`, once per `name`."""
        if name not in self._js:
            self._js[name] = (text, attributes)
        return ""

    def javascript_url(self, url: str, **attributes: object) -> str:
        """Add the script `url` (relative: a static file), once per url."""
        url = absolute_url(url, self.static_url)
        if url not in self._js_url:
            self._js_url[url] = attributes
        return ""

    def assets(self) -> HeadAssets:
        """The CSS and JavaScript added, in the JSON form of an XHR answer (see `ajax`)."""
        return {
            "css": [[name, text] for name, (text, _) in self._css.items()],
            "css_url": list(self._css_url),
            "js": [[name, text] for name, (text, _) in self._js.items()],
            "js_url": list(self._js_url),
        }


_HEAD_RENDERER_TAGS = ("base", "head", "link", "meta", "noscript", "script", "style", "title")
add_tag_factories(HeadRenderer, _HEAD_RENDERER_TAGS)


# --- the renderer ----------------------------------------------------------------------------


class Renderer(xml.Renderer):
    """The XHTML renderer (see the module docstring)."""

    content_type = "text/html; charset=utf-8"
    doctype = (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">'
    )
    head_renderer_class = HeadRenderer
    _script_type: str | None = "text/javascript"  # required by XHTML 1.0, omitted in HTML5
    _style_type: str | None = "text/css"

    _parser = _xml_parser
    _html_parser = _html_parser
    _makeelement = _xml_parser.makeelement
    _lookup = _lookup

    if TYPE_CHECKING:
        callbacks: Callbacks  # a Callbacks() when none is given

        # The tags made by `add_tag_factories()`, with the classes of `TAG_CLASSES`.
        a: A
        area: Area
        img: Img
        form: Form
        input: Input
        button: Button
        textarea: TextArea
        select: Select
        option: Option

        def __getattr__(self, name: str) -> HTMLTag: ...

    else:

        def __getattr__(self, name: str) -> HTMLTag:
            # Only the declared tags (a mistyped name or a 0.5 service must not become a tag).
            missing = getattr(type(self), name, None)
            if isinstance(missing, _Missing):
                raise AttributeError(f"<{name}> {missing.reason}")
            raise AttributeError(
                f"{type(self).__module__}.{type(self).__qualname__} has no tag or attribute {name!r}"
                f" (h.makeelement({name!r}) makes any tag)"
            )

    #: The classes `AsyncRenderer(...)` and `SyncRenderer(...)` make with arguments.
    _async_class: type[Renderer]
    _sync_class: type[Renderer]

    def _inherit(self, parent: xml.Renderer | None) -> None:
        if not isinstance(parent, Renderer):
            if self.callbacks is None:
                self.callbacks = Callbacks()
            self._head = self.head_renderer_class(static_url=self.static_url)
            self._radio_groups: dict[tuple[object, ...], tuple[str, object]] = {}
            self._async = False
            self._labels: list[tuple[xml.Tag, str]] = []
            self._to_head: list[xml.Tag] = []
            self._session_query = _query(self.session_params)
            return
        self._head = parent._head
        self._radio_groups = parent._radio_groups
        self._async = parent._async
        self._labels = parent._labels
        self._to_head = parent._to_head
        if self.session_params is parent.session_params:
            self._session_query = parent._session_query
        else:
            self._session_query = _query(self.session_params)

    @property
    def head(self) -> HeadRenderer:
        """The head renderer shared by all the renderers of the page."""
        return self._head

    @property
    def is_async(self) -> bool:
        """True when the actions of links and submit buttons are asynchronous updates."""
        return self._async

    def makeelement(self, tag: str) -> HTMLTag:
        element = self._makeelement(tag)
        element._renderer = self
        self._tags.append(element)
        if tag == "form":
            cast(Form, element)._setup(self)  # a Form (TAG_CLASSES); the cast runs once per form
        return element

    # --- child renderers --------------------------------------------------------------------

    def AsyncRenderer(self, *args: Any, **kw: Any) -> "Renderer":  # noqa: N802 (the Nagare 0.5 name)
        """A child renderer whose components can be updated in place by their actions.

        With arguments, a new asynchronous renderer made with them (those of the constructor:
        no parent, a new root).
        """
        if args or kw:
            return self._async_class(*args, **kw)
        renderer = self.new()
        renderer._async = True
        return renderer

    def SyncRenderer(self, *args: Any, **kw: Any) -> "Renderer":  # noqa: N802
        """A child renderer whose actions render the whole page again (with arguments: a new one)."""
        if args or kw or isinstance(self, self._async_class):
            # an asynchronous class makes asynchronous children: the synchronous one instead
            renderer = self._sync_class(*(args or (self,)), **kw)
        else:
            renderer = self.new()
        renderer._async = False
        return renderer

    def start_rendering(self, comp: Component, model: object) -> None:
        super().start_rendering(comp, model)
        if self._async:
            self.async_component = comp
            self.async_model = model

    def end_rendering(self, output: Child) -> Child:
        """The output of the view; wrapped in `<div id="{comp.dom_id}">` when asynchronous."""
        if self._async and self.component is not None:
            return self.makeelement("div")(output, id=self.component.dom_id)
        return output

    # --- actions ----------------------------------------------------------------------------

    def register(
        self, priority: int, action: object, with_request: bool = False, permissions: object = None, subject: object = None
    ) -> str:
        """Register `action` into the callbacks; return the name of the parameter that triggers it.

        With `permissions` (not None), they are checked before the action runs, on `subject`, by
        default the object of the component being rendered (see `Callbacks.run`).
        What is not callable raises `TypeError`: checked here at run time, and by the type of the
        tags' `.action()` statically (`Input.action` also takes a `RadioGroup`, hence `object`).
        """
        if not callable(action):
            raise TypeError(f"an action must be callable, not {action!r}")
        if permissions is None:
            return self.callbacks.register(priority, action, with_request)
        if subject is None and self.component is not None:
            subject = self.component()
        return self.callbacks.register(priority, action, with_request, permissions, subject)

    def action_url(self, name: str, href: str | None = None) -> str:
        """The URL that triggers the action `name`: `href` with the action and session parameters.

        `href` is made absolute (`link_url`); None or empty is the URL of the component being
        rendered. Its `#fragment` stays at the end.
        """
        fragment = ""
        if href:
            hash_ = href.find("#")
            if hash_ != -1:
                href, fragment = href[:hash_], href[hash_:]
            url = link_url(href, self.url)
        else:
            url = self.url
        query = self._session_query
        params = name + "&" + query if query else name
        return url + ("&" if "?" in url else "?") + params + fragment

    def add_sessionid_in_url(self, u: str = "", params: Iterable[str] | None = None, sep: str = "&") -> str:
        """`u` with `params` (strings `name=value`, URL-encoded) and the session parameters in its query.

        `sep` joins them (`'&amp;'` for a URL written in HTML by hand); a `#fragment` stays last.
        """
        fragment = ""
        hash_ = u.find("#")
        if hash_ != -1:
            u, fragment = u[:hash_], u[hash_:]
        query = [*(params or ()), *(self._session_query.split("&") if self._session_query else ())]
        if not query:
            return u + fragment
        return u + ("&" if "?" in u else "?") + sep.join(query) + fragment

    def add_sessionid_in_form(self, form: xml._Element) -> xml._Element:
        """Add the session parameters to `form` as hidden inputs (a form not made by `h.form`); return it."""
        for name, value in self.session_params.items():
            etree.SubElement(form, "input", type="hidden", name=str(name), value=str(value))
        return form

    def register_callback(self, priority: int, f: Action, with_request: bool = False, render: object = None) -> str:
        """Register `f` with `priority`; return the name of the parameter that calls it.

        With `render` (a view name or a `render(h)` callable), `f` is an asynchronous update of
        the component being rendered, as an `ajax.Update(render, f)` would be.
        """
        if render is not None:
            return self.register(priority, ajax.Update(render, f).bind(self), with_request)  # type: ignore[arg-type]
        return self.register(priority, f, with_request)

    def decorate_error(self, element: xml._Element, error: Child) -> xml._Element:
        """`element` shown with the error message `error` (None: `element` itself).

        `div.nagare-error-field` holding `div.nagare-error-input` (the element) and
        `div.nagare-error-message`. A subclass may decorate otherwise; `tag.error(msg)` uses it.
        """
        if error is None:
            return element
        make = self.makeelement
        return make("div")(
            make("div")(element, class_="nagare-error-input"),
            make("div")(error, class_="nagare-error-message"),
            class_="nagare-error-field",
        )

    def _register_action(
        self,
        priority: int,
        action: object,
        args: tuple[object, ...],
        kw: dict[str, object],
        with_request: bool,
        permissions: object,
        subject: object,
    ) -> tuple[str, bool]:
        """Register the action of a link or submit button; (name, asynchronous?)."""
        if isinstance(action, ajax.Update):
            update = action.bind(self, args, kw)
            with_request = with_request or action.with_request
            if permissions is None:
                permissions, subject = action.permissions, action.subject
        elif self._async:
            if not callable(action):
                raise TypeError(f"an action must be callable, not {action!r}")
            update = ajax.Update(action=bind(action, args, kw)).bind(self)
        else:
            if args or kw:
                if not callable(action):
                    raise TypeError(f"an action must be callable, not {action!r}")
                action = Partial(action, *args, **kw)
            return self.register(priority, action, with_request, permissions, subject), False
        return self.register(priority, update, with_request, permissions, subject), True

    def _register_value(
        self,
        action: object,
        args: tuple[object, ...],
        kw: dict[str, object],
        with_request: bool,
        permissions: object,
        subject: object,
        priority: int = VALUE,
        wrapper: type[FieldAction] | None = None,
    ) -> tuple[str, str | None]:
        """Register the action of a field; (name, the URL of its XHR when it is an `ajax.Update`).

        `wrapper` (a textarea, a multiple select) takes the bound arguments itself: it puts the
        request first and converts the value.
        """
        url = None
        if isinstance(action, ajax.Update):
            with_request = with_request or action.with_request
            if permissions is None:
                permissions, subject = action.permissions, action.subject
            if wrapper is None:
                action = action.bind(self, args, kw)
            else:
                # The wrapper goes inside the Update, around the user's action, so that the
                # request still comes before the arguments bound by the Update and the tag.
                update = action.bind(self)
                inner = update.action
                if isinstance(inner, Partial):
                    args, kw = inner.args + args, {**inner.keywords, **kw}
                    inner = inner.func
                update.action = wrapper(inner, args, kw)
                action = update
            url = self.url + "?" + self._session_query  # nagare.js posts the value there on change
        elif not callable(action):
            raise TypeError(f"an action must be callable, not {action!r}")
        elif wrapper is not None:
            action = wrapper(action, args, kw)
        elif args or kw:
            action = Partial(action, *args, **kw)
        return self.register(priority, action, with_request, permissions, subject), url

    def _radio_name(self, action: object, with_request: bool) -> str:
        """The name shared by the radio buttons that have none and share their action."""
        try:
            key: tuple[object, ...] = (hash(action), action, with_request)
            hash(key)
        except TypeError:  # unhashable (a Var): the same object
            key = ("id", id(action), with_request)
        entry = self._radio_groups.get(key)
        if entry is None:
            entry = (radio_group_name(), action)
            self._radio_groups[key] = entry
        return entry[0]

    def radio_group(self, action: Action | None = None, with_request: bool = False) -> RadioGroup:
        """A group of radio buttons sharing one name (see `RadioGroup`)."""
        return RadioGroup(self, action, with_request)

    # --- parsing (trusted markup only: nothing is escaped) ------------------------------------

    def _adopt(self, tree: xml._ElementT) -> xml._ElementT:
        super()._adopt(tree)
        self._to_head.extend(element for element in tree.iter(*_HEAD_TAGS) if isinstance(element, xml.Tag))
        return tree

    def _parser_with(self, options: Mapping[str, Any]) -> etree.HTMLParser[HTMLTag]:
        """The HTML parser; with `options`, a new one made with them (those of lxml's `HTMLParser`)."""
        if not options:
            return self._html_parser
        parser: etree.HTMLParser[HTMLTag] = etree.HTMLParser(**{"no_network": True, **options})
        parser.set_element_class_lookup(self._lookup)
        return parser

    def parse_htmlstring(
        self, text: str | bytes, fragment: bool = False, no_leading_text: bool = False, xhtml: bool = False, **kw: Any
    ) -> xml.Tag | list[str | xml._Element]:
        """The tree of the HTML `text`; with `fragment`, the list of its top-level nodes.

        `kw` are options of lxml's parser (`remove_blank_text=True`, ...); `xhtml`: parsed as XML.
        """
        if xhtml:
            return self.parse_xmlstring(text, fragment, no_leading_text, **kw)
        parser = self._parser_with(kw)
        if fragment:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            document = etree.fromstring("<html><body>" + text + "</body></html>", parser)
            body = document.find("body")
            return self._fragment_of(body, no_leading_text) if body is not None else []
        return self._adopt(etree.fromstring(text, parser))

    def parse_html(
        self, source: xml.Source, fragment: bool = False, no_leading_text: bool = False, xhtml: bool = False, **kw: Any
    ) -> xml.Tag | list[str | xml._Element]:
        """Parse the file `source`: a file name (relative: in `static_path`), a file object, a URL.

        A string holding markup (a `<`) is parsed as it is. `kw`: see `parse_htmlstring`.
        """
        if isinstance(source, (str, bytes)) and ("<" in source if isinstance(source, str) else b"<" in source):
            text: str | bytes = source
        elif isinstance(source, str) and _URL.match(source):
            text = _fetch(source)
        else:
            if isinstance(source, str) and self.static_path:
                source = os.path.join(self.static_path, source)  # an absolute name stays as it is
            text = xml._read(source)
        return self.parse_htmlstring(text, fragment, no_leading_text, xhtml, **kw)

    # --- the page ---------------------------------------------------------------------------

    def head_assets(self) -> HeadAssets:
        """The CSS and JavaScript of the head, for the JSON answer of an XHR request."""
        return self._head.assets()

    def _head_elements(self) -> list[str | xml._Element]:
        head = self._head
        static_url = self.static_url
        make = self.makeelement
        elements: list[str | xml._Element] = []
        for item in head._root:
            if isinstance(item, xml._Element):
                for attribute in ("href", "src"):
                    value = item.get(attribute)
                    if value:
                        item.set(attribute, absolute_url(value, static_url))
            elements.append(item)
        for url, attributes in head._css_url.items():
            elements.append(make("link")(rel="stylesheet", type=self._style_type, href=url, **attributes))
        for name, (text, attributes) in head._css.items():
            style = make("style")(text, type=self._style_type, **attributes)
            style.set("data-nagare-name", name)
            elements.append(style)
        if self.nagare_static_url is not None:
            elements.append(make("script")(type=self._script_type, src=self.nagare_static_url + "nagare.js"))
        for url, attributes in head._js_url.items():
            elements.append(make("script")(type=self._script_type, src=url, **attributes))
        for name, (text, attributes) in head._js.items():
            script = make("script")(text, type=self._script_type, **attributes)
            script.set("data-nagare-name", name)
            elements.append(script)
        return elements

    def _release(self) -> None:
        super()._release()
        self._head._release()

    def _prepare_head(self, head: xml._Element) -> None:
        """Last touches to the `<head>` of a page (a charset declaration in HTML5)."""

    def _complete(self) -> None:
        """Before serialising: a label made with a generated `for` that holds a field is for it.

        The field gets the generated id, or the label the field's own id. A label that holds no
        field keeps its generated `for`: the view may have given it to the field as its id.
        """
        labels = self._labels
        for label, generated in labels:
            if label.get("for") != generated:
                continue  # given by the view
            for field in label.iter(*_LABELABLE):
                if field.get("type") == "hidden":
                    continue
                own = field.get("id")
                if own:
                    label.set("for", own)
                else:
                    field.set("id", generated)
                break
        labels.clear()

    def _move_to_head(self, html: xml._Element, head: xml._Element) -> None:
        """The `<script>` and `<style>` of the body go to the end of the head, in their order."""
        body = html.find("body")
        for element in self._to_head:
            for ancestor in element.iterancestors():
                if ancestor is body:
                    xml.detach(element)
                    head.append(element)
                    break
                if ancestor.tag in _KEEPS_ITS_HEAD_TAGS or ancestor is head:
                    break
        self._to_head.clear()

    def page(self, output: Child, always_html: bool = True) -> bytes:
        """The page of `output` as bytes, the head assets (and nagare.js) merged into its `<head>`.

        `output` is an `<html>` element (its head is completed) or what goes into `<body>`; the
        `<script>` and `<style>` tags of the body are moved to the head. With `always_html=False`,
        or when a view set a content type other than HTML on `h.response`, an output that is not
        an `<html>` element is serialised alone (as XML for an XML type, strings unescaped for
        a type that is not markup).
        """
        html = _html_element(output)
        if html is None:
            content_type = self.view_content_type
            if content_type is not None and "html" not in content_type:
                return self._document(output, content_type)
            if not always_html:
                return self.fragment(output).encode("utf-8")
        elements = self._head_elements()
        head: xml._Element | None
        if html is None:
            head = self._head(*elements)
            html = self.makeelement("html")(head, self.makeelement("body")(output))
        else:
            head = html.find("head")
            if head is None:
                head = self.makeelement("head")
                html.insert(0, head)
            xml._add(head, elements, self)
        if self._to_head:
            self._move_to_head(html, head)
        self._prepare_head(head)
        if self._labels:
            self._complete()
        return self._serialize_page(html)

    def _document(self, output: Child, content_type: str) -> bytes:
        """`output` alone, for the content type `content_type` a view chose (not HTML)."""
        items: list[str | xml._Element] = []
        xml._add_to_list(items, (output,), self)
        if self._labels:
            self._complete()
        if "xml" in content_type:
            return "".join(
                _html.escape(item, quote=False) if isinstance(item, str) else etree.tostring(item, encoding="unicode")
                for item in items
            ).encode("utf-8")
        return "".join(item if isinstance(item, str) else self._serialize(item) for item in items).encode("utf-8")

    def _doctype(self) -> str:
        """The doctype of the page: the renderer's, or the one a view set on `h.response.doctype`."""
        doctype = getattr(self.response, "doctype", None)
        return doctype if isinstance(doctype, str) else self.doctype

    def _serialize_page(self, html: xml._Element) -> bytes:
        if html.get("xmlns") is None:
            html.set("xmlns", XHTML_NS)
        return (self._doctype() + "\n" + self._serialize(html)).encode("utf-8")

    def _serialize(self, element: xml._Element) -> str:
        """XML serialisation that browsers also parse as text/html: no `<div/>`, raw scripts."""
        raw: list[tuple[xml._Element, str, str]] = []
        for node in element.iter(etree.Element):
            tag = node.tag
            text = node.text
            if tag in ("script", "style"):
                if text and ("<" in text or "&" in text or ">" in text):
                    marker = f"\ue000{len(raw)}\ue001"
                    raw.append((node, marker, text))
                    node.text = marker
                elif text is None:
                    node.text = ""
            elif text is None and tag not in VOID_ELEMENTS and not len(node):
                node.text = ""
        try:
            serialized = etree.tostring(element, encoding="unicode")
        finally:
            for node, _, text in raw:
                node.text = text
        for node, marker, text in raw:
            if node.tag == "script":
                text = "//<![CDATA[\n" + text + "\n//]]>"
            else:
                text = "/*<![CDATA[*/\n" + text + "\n/*]]>*/"
            serialized = serialized.replace(marker, text, 1)
        return serialized


def _html_element(output: Child) -> xml._Element | None:
    if isinstance(output, (list, tuple)) and len(output) == 1:
        output = output[0]
    if isinstance(output, xml._Element) and output.tag == "html":
        return output
    return None


add_tag_factories(Renderer, TAGS, {**_FACTORIES, "label": _LabelFactory, "script": _HeadTagFactory, "style": _HeadTagFactory})


class AsyncRenderer(Renderer):
    """An asynchronous renderer (the same as `Renderer(...).AsyncRenderer()`), with its children."""

    def _inherit(self, parent: xml.Renderer | None) -> None:
        super()._inherit(parent)
        self._async = True


Renderer._async_class = AsyncRenderer
Renderer._sync_class = Renderer
