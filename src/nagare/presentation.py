"""Views and URL initialisers, registered per class.

`@render_for(cls, model=None)` registers a view `view(self, h, comp, model)`; `render()` finds the
view of an object by walking its class's MRO. `@init_for(cls, cond)` registers what a component
does with the path segments of a RESTful URL when a session starts.

The registries are filled at import time by the decorators, as in Nagare 0.5: they describe
code, not requests, so they are the one process-wide state of the framework.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from webob import Request

    from nagare.component import Component
    from nagare.types import Child, Init, Renderer, View

ViewT = TypeVar("ViewT", bound="View")
InitT = TypeVar("InitT", bound="Init")

_views: dict[tuple[type, str | None], View] = {}
_inits: dict[type, list[tuple[Callable[..., bool], Init]]] = {}


class NotFound(LookupError):
    """No initialiser accepts the URL: the request answers 404."""


def _model_key(model: object) -> str | None:
    return None if model in (None, 0, "") else str(model)


def render_for(cls: type, model: str | None = None) -> Callable[[ViewT], ViewT]:
    """Register the decorated function as the view `model` of the instances of `cls`."""

    def register(view: ViewT) -> ViewT:
        _views[(cls, _model_key(model))] = view
        return view

    return register


def find_view(cls: type, model: object = None) -> View | None:
    key = _model_key(model)
    for klass in cls.__mro__:
        view = _views.get((klass, key))
        if view is not None:
            return view
    return None


def render(o: object, renderer: Renderer | None, comp: Component | None = None, model: object = None) -> Child:
    """Render `o` with its view `model`: `view(o, renderer, comp, model)`."""
    view = find_view(type(o), model)
    if view is None:
        name = type(o).__qualname__
        what = f"view {model!r}" if _model_key(model) else "default view"
        raise LookupError(f"no {what} registered for {name} (use @presentation.render_for({name}))")
    return view(o, renderer, comp, model)


def _condition(cond: Callable[..., bool] | str | None) -> Callable[..., bool]:
    if cond is None:
        return lambda self, url, comp, http_method, request: True
    if isinstance(cond, str):
        # Nagare 0.5 accepted conditions as Python expressions on these names.
        code = compile(cond, f"<init_for condition {cond!r}>", "eval")

        def evaluate(
            self: object, url: Sequence[str], comp: Component | None, http_method: str, request: Request | None
        ) -> bool:
            names = {"self": self, "url": url, "comp": comp, "http_method": http_method, "request": request}
            return bool(eval(code, {"__builtins__": __builtins__}, names))

        return evaluate
    return cond


def init_for(cls: type, cond: Callable[..., bool] | str | None = None) -> Callable[[InitT], InitT]:
    """Register the decorated `init(self, url, comp, http_method, request)` for `cls`.

    `cond` (a callable with the same arguments, or a Python expression on `url`, `http_method`,
    `request`, `self`, `comp`) chooses among several initialisers; the first registered that
    accepts the URL runs.
    """

    def register(init: InitT) -> InitT:
        _inits.setdefault(cls, []).append((_condition(cond), init))
        return init

    return register


def init(o: object, url: Sequence[str], comp: Component | None, http_method: str, request: Request | None) -> object:
    """Run the initialiser of `o` that accepts `url`; raise `NotFound` when none does."""
    url = tuple(url)
    for klass in type(o).__mro__:
        for cond, initialiser in _inits.get(klass, ()):
            if cond(o, url, comp, http_method, request):
                return initialiser(o, url, comp, http_method, request)
    raise NotFound("/".join(url))
