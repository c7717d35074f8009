"""The shapes that Nagare's modules share, for the annotations.

- WSGI (PEP 3333): `Environ`, `StartResponse`, `WSGIApplication`, `ExcInfo`, `OptExcInfo`,
  those of the standard library's `wsgiref.types`;
- `Action`: a callable registered on a tag, `h.a('++').action(f)`;
- `Child`: what a tag or a renderer accepts as a child, `tag(child)`, `h << child`;
- `View`, `Init`: a view and a URL initialiser (`presentation.render_for`, `init_for`);
- `Renderer`: what a component needs of the renderer it is rendered with (`Component.render`);
- `RendererOptions`: the keyword arguments of a renderer.

Aliases, a protocol and a `TypedDict` only: nothing here runs when a page is rendered. The
renderer imports this module only for the type checker, so that its dependencies stay those of
docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeAlias, TypedDict
from wsgiref.types import StartResponse, WSGIApplication
from wsgiref.types import WSGIEnvironment as Environ

if TYPE_CHECKING:
    from typing import Self

    from webob import Request, Response

    from nagare.callbacks import Callbacks
    from nagare.component import Component

__all__ = [
    "Action",
    "Child",
    "Environ",
    "ExcInfo",
    "Init",
    "OptExcInfo",
    "Renderer",
    "RendererOptions",
    "StartResponse",
    "View",
    "WSGIApplication",
]

#: What `sys.exc_info()` returns while an exception is handled: the third argument of a
#: `start_response` that reports an error (PEP 3333).
ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType]
OptExcInfo: TypeAlias = ExcInfo | tuple[None, None, None]

#: A callable registered on a tag (`.action(f)`) or directly into `nagare.callbacks.Callbacks`.
#: A link, a submit button, a form's pre/post action is called with no argument; an input, a
#: textarea or a select with the value submitted (a string, a list of strings, an uploaded file).
#: Registered `with_request`, it gets the WebOb request and response first. What it returns goes
#: back to the application: a `webob.Response` is sent as it is, an `ajax.Rendering` is rendered.
#: The arguments differ with the tag, hence `...`.
Action: TypeAlias = Callable[..., object]

#: A child of a tag or a renderer: a string (escaped when serialised), bytes (UTF-8), a number,
#: an lxml element, None (ignored), a list, tuple, generator or any other iterable (flattened), a
#: component (`comp.render(h)`), any object with a view (`presentation.render`). Every object
#: qualifies, so it is `object`: the alias says what the parameter is for.
Child: TypeAlias = object

#: A view: `view(o, renderer, comp, model)` returns what `o` renders to. Its first parameter is of
#: the class it is registered for, hence `...`.
View: TypeAlias = Callable[..., Child]

#: An initialiser: `init(o, url, comp, http_method, request)` handles the segments of a RESTful
#: URL (`presentation.init_for`). Its first parameter is of the class it is registered for.
Init: TypeAlias = Callable[..., object]


class Renderer(Protocol):
    """What a component needs of the renderer it is rendered with (see `Component.render`).

    The renderers of `nagare.namespaces` have these methods; a view is typed with the concrete
    renderer it gets (`xhtml5.Renderer`, ...), for its tags.
    """

    def new(self) -> Self:
        """A child renderer: the component's view renders with it."""
        ...

    def start_rendering(self, comp: Component, model: object) -> None:
        """Before the view of `comp` with the model `model` runs."""
        ...

    def end_rendering(self, output: Child) -> Child:
        """After the view: what the component renders to, given what the view returned."""
        ...


class RendererOptions(TypedDict, total=False):
    """The keyword arguments of a renderer (`xml.Renderer`: what they mean)."""

    session: object
    request: Request | None
    response: Response | None
    static_url: str
    static_path: str
    url: str
    callbacks: Callbacks | None
    session_params: dict[str, str] | None
    nagare_static_url: str
