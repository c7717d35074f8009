"""Components: an object plus the view it is shown with, that can be replaced in place.

A `Component` wraps any Python object `o` and renders it with the view `model` registered by
`presentation.render_for`. `becomes()` replaces what is shown, `on_answer()`/`answer()` let a
component hand a result to whoever embedded it.
"""

from __future__ import annotations

import reprlib
import secrets
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from nagare import presentation
from nagare.errors import ContinuationError
from nagare.errors import AnswerWithoutCall as AnswerWithoutCall  # the 0.5 name: component.AnswerWithoutCall

if TYPE_CHECKING:
    from webob import Request

    from nagare.types import Child, Renderer

_CALL_UNSUPPORTED = (
    "comp.call() and Task need continuations, which CPython does not have; "
    "use comp.becomes(other) with other.on_answer(...) instead"
)


#: `becomes()` without an object: the same object, another view.
_SAME: Any = object()


class Component:
    """A replaceable view of an object.

    `url` is a path fragment that the renderer adds to the URLs of the links (and forms) of its
    views, after the application URL and the `url` of every enclosing component.
    """

    #: The object shown; `Any`: it changes with `becomes()`, and who holds the component knows what it is.
    o: Any
    model: str | None

    def __init__(self, o: object = None, model: str | None = None, url: str | None = None) -> None:
        if isinstance(o, Component):
            # `o` last: mypy checks the pairs in order, and `o.model` needs `o` still a Component.
            model, o = model or o.model, o.o
        self.o = o
        self.model = model
        self.url = url
        self._on_answer: Callable[[object], object] | None = None
        self._dom_id: str | None = None

    def __call__(self) -> Any:
        """The object shown (`Any`, as `self.o`)."""
        return self.o

    def __repr__(self) -> str:
        return f"<Component {type(self.o).__qualname__} model={self.model!r}>"

    @property
    def dom_id(self) -> str:
        """A stable id for the element an asynchronous renderer wraps this component in."""
        if self._dom_id is None:
            self._dom_id = "nagare-" + secrets.token_hex(6)
        return self._dom_id

    def render(self, renderer: Renderer, model: object = 0) -> Child:
        """Render the object with the view `model` (0: this component's own model)."""
        if model == 0:
            model = self.model
        renderer = renderer.new()
        renderer.start_rendering(self, model)
        output = presentation.render(self.o, renderer, self, model)
        return renderer.end_rendering(output)

    def becomes(self, o: object = _SAME, model: str | Literal[0] | None = 0, url: str | None = None) -> "Component":
        """Show `o` (by default the same object) with its view `model` in place of the current one.

        `model` 0 or None is the default view, whatever the component showed (and whatever the
        view of `o` when it is a component: its object is shown). `url` None keeps the current
        `url`. `comp.becomes(model='edit')` shows another view of the same object. Returns the
        component.
        """
        if o is not _SAME:
            self.o = o.o if isinstance(o, Component) else o
        self.model = None if isinstance(model, int) else model
        if url is not None:
            self.url = url
        return self

    def on_answer(self, f: Callable[..., object], *args: object, **kw: object) -> "Component":
        """Call `f(*args, answer, **kw)` when this component answers."""
        self._on_answer = partial(f, *args, **kw) if args or kw else f
        return self

    def answer(self, r: object = None) -> object:
        """Hand `r` to the `on_answer` callable; `AnswerWithoutCall` when there is none.

        With continuations, `answer` would also resume a pending `call()`: there is none today.
        """
        if self._on_answer is not None:
            return self._on_answer(r)
        raise AnswerWithoutCall(f"{self!r} answered {reprlib.repr(r)} but nobody listens: give it an on_answer(f) first")

    def call(self, o: object, model: str | None = None, url: str | None = None) -> NoReturn:
        """Not available on CPython: raise a clear error (see `becomes` and `on_answer`)."""
        raise ContinuationError(_CALL_UNSUPPORTED)

    def init(self, url: Sequence[str], http_method: str, request: Request | None) -> object:
        """Hand the URL segments to the object's initialiser (`presentation.init_for`)."""
        return presentation.init(self.o, url, self, http_method, request)


class Task:
    """A component driven by a sequential `go(comp)`: needs continuations, not available."""

    def go(self, comp: Component) -> None:
        raise NotImplementedError

    def __init__(self, *args: object, **kw: object) -> None:
        raise ContinuationError(_CALL_UNSUPPORTED)


@presentation.render_for(Task)
def _render_task(self: Task, renderer: Renderer, comp: Component | None, model: object) -> NoReturn:
    # A Task whose __init__ does not call Task.__init__ gets here: the same clear error.
    raise ContinuationError(_CALL_UNSUPPORTED)


@presentation.render_for(Component)
def _render_component(self: Component, renderer: Renderer, comp: Component | None, model: object) -> Child:
    # A component inside a component (Component(Component(x))) renders the inner one.
    return self.render(renderer, model)
