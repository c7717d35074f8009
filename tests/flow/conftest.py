"""Drive flows in process, as requests would: render, pickle the state, answer, render again.

A `Flow` is one session without HTTP. Its root component is pickled with the session pickler
after every step and unpickled before the next (the stateless objects apart, in their own blob,
as `nagare.sessions.serializer` does), so every resume starts from a state that went through
bytes, as it does when the next request is served by another process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nagare import component
from nagare.flow import engine
from tests.support.pickling import dumps, loads

#: A stored state: the component tree's bytes (the shared objects are the session's, apart).
State = bytes


class Host:
    """An object embedding a flow in a child component and listening to its answer."""

    def __init__(self, o: object) -> None:
        self.child = component.Component(o).on_answer(self.done)
        self.results: list[object] = []

    def done(self, result: object) -> None:
        self.results.append(result)
        self.child.becomes(Finished(result))


class Finished:
    """What a Host's child shows once its Task answered."""

    def __init__(self, result: object) -> None:
        self.result = result

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Finished) and other.result == self.result

    def __repr__(self) -> str:
        return f"Finished({self.result!r})"


class Flow:
    """One session: a root component, its stored states, the component that shows the callees.

    `Flow(task)` hosts the Task in a component listening to its answer (`flow.result`);
    `Flow(task, host=False)` makes it the root (nobody listens: it starts again when `go` ends).
    The first page is rendered and stored at once, unless `start=False` (then `flow.start()`:
    the test can look at the page when that first rendering fails).
    """

    def __init__(self, o: object, host: bool = True, start: bool = True) -> None:
        self.hosted = host
        self.root = component.Component(Host(o) if host else o)
        self.shared_blob = dumps({})
        self.shared: dict[int, tuple[str, Any]] = {}
        self.states: list[State] = []
        if start:
            self.start()

    def start(self) -> None:
        """The first request: the page rendered (a Task starts), its state stored."""
        self._step(lambda: None)

    # -- what the page shows -------------------------------------------------------------------

    @property
    def comp(self) -> component.Component:
        """The component the flow runs in: it shows the callees."""
        return self.root.o.child if self.hosted else self.root

    @property
    def shown(self) -> Any:
        return self.comp.o

    @property
    def msg(self) -> Any:
        """The message of the Ask or Confirm shown."""
        return self.shown.msg

    @property
    def result(self) -> object:
        """What the hosted Task answered (AssertionError while it has not)."""
        results = self.root.o.results
        assert len(results) == 1, f"the task answered {results!r}"
        return results[0]

    # -- requests ------------------------------------------------------------------------------

    def answer(self, value: object = None) -> object:
        """The callee shown answers `value` (an action, run as a flow), then the page renders."""
        return self._step(lambda: engine.run(self.comp.answer, (value,)))

    def act(self, f: Callable[..., object], *args: object) -> object:
        """Run the action `f(comp, *args)` as a flow (as callbacks.py does), then render."""
        return self._step(lambda: engine.run(f, (self.comp, *args)))

    def answers(self, *values: object) -> list[Any]:
        """Answer each of `values` in turn: the messages shown after each."""
        shown = []
        for value in values:
            self.answer(value)
            shown.append(getattr(self.shown, "msg", self.shown))
        return shown

    @property
    def state(self) -> State:
        """The last stored state (to come back to it, as the back button does)."""
        return self.states[-1]

    def back(self, state: State) -> None:
        """Load `state` again (the back button): the session's shared objects stay the latest."""
        objects = loads(self.shared_blob)
        self.shared = {id(o): (pid, o) for pid, o in objects.items()}
        self.root = loads(state, objects)
        self.states.append(state)

    def _step(self, action: Callable[[], object]) -> object:
        # An error leaves `self.root` as the action left it (nothing stored), for the test to see.
        result = action()
        self.render()
        state_blob = dumps(self.root, self.shared)
        self.shared_blob = dumps({pid: o for pid, o in self.shared.values()})
        self.states.append(state_blob)
        self.back(self.states.pop())
        return result

    def render(self) -> None:
        """What rendering the page does to a flow: a Task shown by its default view starts its `go`."""
        comp = self.comp
        # As _render_task does: start the Task, then render what the component shows now (a
        # Task called by the first starts in turn), unless go ended and answered.
        while isinstance(comp.o, component.Task) and comp.model is None:
            task = comp.o
            task._start(comp)
            if comp.o is task:
                break


@pytest.fixture
def no_tracer() -> Iterator[None]:
    """No trace function installed during the test (coverage's is put back after)."""
    previous = sys.gettrace()
    sys.settrace(None)
    try:
        yield
    finally:
        sys.settrace(previous)
