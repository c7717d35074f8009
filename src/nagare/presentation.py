"""Views and URL initialisers, registered per class.

`@render_for(cls, model=None)` registers a view `view(self, h, comp, model)`; `render()` finds the
view of an object by walking its class's MRO. `@render_for_cond(cond)` registers a view under a
condition of its own, tried before the views of the classes. `@init_for(cls, cond)` registers
what a component does with the path segments of a RESTful URL when a session starts.

A condition given as a string is a Python expression, evaluated in the namespace of the module
that decorates (as in Nagare 0.5): it may name the module's classes and globals. An initialiser
may raise `HTTPNotFound` (WebOb's, re-exported here) or any other WebOb HTTP exception: the
request answers with it.

The registries are filled at import time by the decorators, as in Nagare 0.5: they describe
code, not requests, so they are the one process-wide state of the framework.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from webob.exc import HTTPNotFound as HTTPNotFound  # re-exported: 0.5 applications raise it from here

if TYPE_CHECKING:
    from webob import Request

    from nagare.component import Component
    from nagare.types import Child, Init, Renderer, View

ViewT = TypeVar("ViewT", bound="View")
InitT = TypeVar("InitT", bound="Init")

_views: dict[tuple[type, str | None], View] = {}
_cond_views: list[tuple[Callable[..., object], View]] = []
_inits: dict[type, list[tuple[Callable[..., object], Init]]] = {}


class NotFound(LookupError):
    """No initialiser accepts the URL: the request answers 404."""


class ModelError(LookupError):
    """No view is registered for the object and the model asked for."""


def _model_key(model: object) -> str | None:
    return None if model in (None, 0, "") else str(model)


def render_for(cls: type, model: str | None = None) -> Callable[[ViewT], ViewT]:
    """Register the decorated function as the view `model` of the instances of `cls`."""

    def register(view: ViewT) -> ViewT:
        _views[(cls, _model_key(model))] = view
        return view

    return register


def render_for_cond(cond: Callable[..., object] | str) -> Callable[[ViewT], ViewT]:
    """Register the decorated view for the objects that meet `cond`.

    `cond` is a callable `cond(self, h, comp, model)` or a Python expression on `self`,
    `renderer` (or `h`), `comp` and `model`. These views are tried before the views registered
    by class, in the order they were registered: the first whose condition is true renders.
    """
    # `h` too: the name views give the renderer (an inner lambda: one parameter, two names)
    test = _compile(cond, "self, renderer, comp, model", sys._getframe(1).f_globals, "render_for_cond", "h=renderer")

    def register(view: ViewT) -> ViewT:
        _cond_views.append((test, view))
        return view

    return register


def find_view(cls: type, model: object = None) -> View | None:
    """The view `model` registered for `cls` or the nearest of its bases (conditional views aside)."""
    key = _model_key(model)
    for klass in cls.__mro__:
        view = _views.get((klass, key))
        if view is not None:
            return view
    return None


def render(o: object, renderer: Renderer | None, comp: Component | None = None, model: object = None) -> Child:
    """Render `o` with its view `model`: `view(o, renderer, comp, model)`; `ModelError` if none."""
    if _cond_views:  # empty unless an application uses render_for_cond: one test per rendering
        for cond, view in _cond_views:
            if cond(o, renderer, comp, model):
                return view(o, renderer, comp, model)
    found = find_view(type(o), model)
    if found is None:
        name = type(o).__qualname__
        what = f"view {model!r}" if _model_key(model) else "default view"
        raise ModelError(f"no {what} registered for {name} (use @presentation.render_for({name}))")
    return found(o, renderer, comp, model)


def _compile(
    cond: Callable[..., object] | str, parameters: str, namespace: dict[str, Any], what: str, alias: str = ""
) -> Callable[..., object]:
    """`cond` itself, or the function of `parameters` that evaluates the expression `cond`.

    `alias` (`"name=parameter"`) gives the expression one of the parameters under another name.

    The expression becomes the body of a lambda compiled in `namespace` (the decorating module's
    globals): the module's names are seen as they are when it runs, and `parameters` are real
    variables, which a generator expression in the condition can use (with `eval(code, globals,
    locals)` they would not be). The line breaks let the condition end with a comment.
    """
    if not isinstance(cond, str):
        return cond
    body = f"(\n{cond}\n)"
    if alias:
        name, parameter = alias.split("=")
        body = f"(lambda {name}: {body})({parameter})"
    code = compile(f"lambda {parameters}: {body}", f"<{what} condition {cond!r}>", "eval")
    function: Callable[..., object] = eval(code, namespace)
    return function


def _always(self: object, url: Sequence[str], comp: Component | None, http_method: str, request: Request | None) -> bool:
    return True


def init_for(cls: type, cond: Callable[..., object] | str | None = None) -> Callable[[InitT], InitT]:
    """Register the decorated `init(self, url, comp, http_method, request)` for `cls`.

    `cond` (a callable with the same arguments, or a Python expression on `url`, `http_method`,
    `request`, `self`, `comp` and the names of the decorating module) chooses among several
    initialisers; the first registered that accepts the URL runs.
    """
    if cond is None:
        test: Callable[..., object] = _always
    else:
        test = _compile(cond, "self, url, comp, http_method, request", sys._getframe(1).f_globals, "init_for")

    def register(init: InitT) -> InitT:
        _inits.setdefault(cls, []).append((test, init))
        return init

    return register


def init(o: object, url: Sequence[str], comp: Component | None, http_method: str, request: Request | None) -> object:
    """Run the initialiser of `o` that accepts `url`; raise `NotFound` when none does.

    What the initialiser raises goes through: a WebOb HTTP exception becomes the response.
    """
    url = tuple(url)
    for klass in type(o).__mro__:
        for cond, initialiser in _inits.get(klass, ()):
            if cond(o, url, comp, http_method, request):
                return initialiser(o, url, comp, http_method, request)
    raise NotFound("/".join(url))
