"""Components: an object plus the view it is shown with, that can be replaced in place.

A `Component` wraps any Python object `o` and renders it with the view `model` registered by
`presentation.render_for`. `becomes()` replaces what is shown, `on_answer()`/`answer()` let a
component hand a result to whoever embedded it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from nagare import presentation
from nagare.errors import ContinuationError

_CALL_UNSUPPORTED = (
    "comp.call() and Task need continuations, which CPython does not have; "
    "use comp.becomes(other) with other.on_answer(...) instead"
)


class Component:
    """A replaceable view of an object."""

    def __init__(self, o: Any = None, model: str | None = None, url: str | None = None) -> None:
        if isinstance(o, Component):
            o, model = o.o, model or o.model
        self.o = o
        self.model = model
        self.url = url
        self._on_answer: Callable[[Any], Any] | None = None
        self._dom_id: str | None = None

    def __call__(self) -> Any:
        """The object shown."""
        return self.o

    def __repr__(self) -> str:
        return f"<Component {type(self.o).__qualname__} model={self.model!r}>"

    @property
    def dom_id(self) -> str:
        """A stable id for the element an asynchronous renderer wraps this component in."""
        if self._dom_id is None:
            self._dom_id = "nagare-" + secrets.token_hex(6)
        return self._dom_id

    def render(self, renderer: Any, model: object = 0) -> Any:
        """Render the object with the view `model` (0: this component's own model)."""
        if model == 0:
            model = self.model
        renderer = renderer.new()
        renderer.start_rendering(self, model)
        output = presentation.render(self.o, renderer, self, model)
        return renderer.end_rendering(output)

    def becomes(self, o: Any, model: str | None = None, url: str | None = None) -> "Component":
        """Show `o` (with its view `model`) in place of the current object."""
        if isinstance(o, Component):
            o, model = o.o, model if model is not None else o.model
        self.o = o
        self.model = model
        self.url = url
        return self

    def on_answer(self, f: Callable[..., Any], *args: Any, **kw: Any) -> "Component":
        """Call `f(*args, answer, **kw)` when this component answers."""
        self._on_answer = partial(f, *args, **kw) if args or kw else f
        return self

    def answer(self, r: Any = None) -> Any:
        """Hand `r` to the `on_answer` callable, if any."""
        if self._on_answer is not None:
            return self._on_answer(r)
        return None

    def call(self, o: Any, model: str | None = None, url: str | None = None) -> Any:
        """Not available on CPython: raise a clear error (see `becomes` and `on_answer`)."""
        raise ContinuationError(_CALL_UNSUPPORTED)

    def init(self, url: Sequence[str], http_method: str, request: Any) -> Any:
        """Hand the URL segments to the object's initialiser (`presentation.init_for`)."""
        return presentation.init(self.o, url, self, http_method, request)


class Task:
    """A component driven by a sequential `go(comp)`: needs continuations, not available."""

    def go(self, comp: Component) -> None:
        raise NotImplementedError

    def __init__(self, *args: Any, **kw: Any) -> None:
        raise ContinuationError(_CALL_UNSUPPORTED)


@presentation.render_for(Task)
def _render_task(self: Task, renderer: Any, comp: Any, model: object) -> Any:
    # A Task whose __init__ does not call Task.__init__ gets here: the same clear error.
    raise ContinuationError(_CALL_UNSUPPORTED)


@presentation.render_for(Component)
def _render_component(self: Component, renderer: Any, comp: Any, model: object) -> Any:
    # A component inside a component (Component(Component(x))) renders the inner one.
    return self.render(renderer, model)
