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
from typing import TYPE_CHECKING, Any, Literal

from nagare import presentation
from nagare.flow import engine, normaliser
from nagare.errors import ContinuationError
from nagare.errors import AnswerWithoutCall as AnswerWithoutCall  # the 0.5 name: component.AnswerWithoutCall

if TYPE_CHECKING:
    from webob import Request

    from nagare.types import Child, Renderer

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
        `url`. `comp.becomes(model='edit')` shows another view of the same object. A pending
        `call()` is dropped: its flow will not resume. Returns the component.
        """
        while isinstance(self._on_answer, PendingCall):
            self._on_answer = self._on_answer.listener
        return self._show(o, model, url)

    def _show(self, o: object, model: str | Literal[0] | None, url: str | None) -> "Component":
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
        """Resume the pending `call()` with `r`, or hand `r` to the `on_answer` function.

        `AnswerWithoutCall` when nobody listens.
        """
        if self._on_answer is not None:
            return self._on_answer(r)
        raise AnswerWithoutCall(f"{self!r} answered {reprlib.repr(r)} but nobody listens: give it an on_answer(f) first")

    @engine.suspension_point
    def call(self, o: object = _SAME, model: str | Literal[0] | None = 0, url: str | None = None) -> Any:
        """Show `o` (by default the same object, with the view `model`) until it answers; return the answer.

        The code calling stops here and resumes, with the answer, on the request where `o` calls
        `comp.answer(value)`, in whatever process serves it: the suspended flow is kept in the
        page state. Then the component shows again what it showed before. See docs/guide.md,
        "Flows", for the rules the calling code follows.
        """
        pending = PendingCall(self, o, model, url)
        if pending is not None:
            raise engine.Suspended(pending)
        return engine.answer()

    def init(self, url: Sequence[str], http_method: str, request: Request | None) -> object:
        """Hand the URL segments to the object's initialiser (`presentation.init_for`)."""
        return presentation.init(self.o, url, self, http_method, request)


class PendingCall:
    """A `call()` waiting for its answer: what the component showed before, and the flow to resume.

    It is the component's answer listener while the callee is shown, so `comp.answer(r)` comes
    here: the component shows its previous object again and the flow resumes with `r`.
    """

    __slots__ = ("component", "o", "model", "url", "listener", "continuation")

    def __init__(self, comp: Component, o: object, model: str | Literal[0] | None, url: str | None) -> None:
        if not engine.active():
            raise ContinuationError(
                "comp.call() outside an action, a Task.go() or a Continuation(): nothing could resume it "
                "(in a view, register an action that calls, or make the component a Task)"
            )
        self.component = comp
        self.o, self.model, self.url, self.listener = comp.o, comp.model, comp.url, comp._on_answer
        self.continuation: engine.Continuation | None = None
        comp._show(o, model, url)
        comp._on_answer = self

    def cancel(self) -> None:
        """Show again what the component showed before the call, as if it had not been made."""
        comp = self.component
        comp.o, comp.model, comp.url, comp._on_answer = self.o, self.model, self.url, self.listener

    def __call__(self, answer: object) -> object:
        comp = self.component
        if comp._on_answer is not self:
            return None  # answered twice from the same page: the call already resumed
        self.cancel()
        continuation, self.continuation = self.continuation, None
        if continuation is None:
            return None
        try:
            result = engine.resume(continuation, answer)
        except engine.FlowBroken as broken:
            return _flow_broken(comp, continuation, broken)
        return None if result is engine.SUSPENDED else result

    def __repr__(self) -> str:
        return f"<PendingCall {self.continuation!r}>"


def _flow_broken(comp: Component, continuation: engine.Continuation, error: engine.FlowBroken) -> object:
    """A suspended flow cannot resume (a deploy changed one of its functions).

    The component already shows again what it showed before the call (a Task starts its `go`
    again when rendered); the application's `on_flow_broken` hook is told, or, outside an
    application, a warning is logged.
    """
    from nagare.wsgi.app import current_app  # the framework above this module: imported when needed

    app = current_app.get()
    if app is not None:
        return app.on_flow_broken(comp, continuation, error)
    log_flow_broken(continuation, error)
    return None


def log_flow_broken(continuation: engine.Continuation, error: engine.FlowBroken) -> None:
    """The default of `WSGIApp.on_flow_broken`: one warning in the log."""
    engine.log.warning("a suspended flow starts again (%s): %s", continuation.where, error)


class Task:
    """A component whose life is the sequential code of `go(comp)`.

    Rendering a Task starts `go(comp)`: each `comp.call(x)` in it shows `x` in the Task's place
    until `x` answers. When `go` returns, the Task answers what it returned, or, when nobody
    listens (a root Task), starts `go` again. `go` is normalised at import (see
    `nagare.flow.normaliser`): ordinary Python resumes there, `for` loops included.
    """

    def go(self, comp: Component) -> object:
        raise NotImplementedError(f"{type(self).__name__}.go(self, comp) is not written")

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        go = cls.__dict__.get("go")
        if go is not None:
            normaliser.normalise(go)

    def _start(self, comp: Component) -> object:
        return engine.run(self.go, (comp,), finish=partial(_task_finished, self, comp))


def _task_finished(task: Task, comp: Component, result: object, resumed: bool) -> object:
    if comp._on_answer is not None:
        return comp.answer(result)
    if not resumed:
        raise ContinuationError(
            f"{type(task).__name__}.go() returned without calling anything, and nobody listens to its "
            "answer: as a root Task it would start again for ever"
        )
    return task._start(comp)


@presentation.render_for(Task)
def _render_task(self: Task, renderer: Renderer, comp: Component | None, model: object) -> Child:
    if comp is None:
        raise ContinuationError(f"{self!r} is a Task: render it in a component (component.Component(task))")
    self._start(comp)
    if comp.o is self:
        return ""  # go() ended and answered: whoever listened shows something else
    # The renderer is already the component's (its url, its asynchronous wrapper): the callee's
    # view goes in it, as if the component had shown the callee from the start.
    return presentation.render(comp.o, renderer, comp, comp.model)


@presentation.render_for(Component)
def _render_component(self: Component, renderer: Renderer, comp: Component | None, model: object) -> Child:
    # A component inside a component (Component(Component(x))) renders the inner one.
    return self.render(renderer, model)
