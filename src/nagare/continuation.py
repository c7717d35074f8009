"""Execution contexts for `comp.call()` and `Task`, with the names Nagare 0.5 applications import.

Nagare 0.5 ran each `Task.go` and each action in an execution context (a Stackless tasklet) that
`comp.call()` could suspend until the component called answers. We do the same on CPython with
the continuation engine of `nagare.flow`: a suspended flow is data kept in the page state, so it
resumes in any process. Applications look at `has_continuation` to choose the features they
offer, and wrap code that calls in `Continuation(f, ...)`:

    from nagare.continuation import has_continuation, Continuation

    if has_continuation:
        Continuation(comp.call, Wizard())
    else:
        comp.becomes(Form())

Actions and `Task.go` already run in a context of their own: `Continuation` is needed only where
code that calls runs outside them (`init_for` functions, a component's constructor).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from nagare.errors import ContinuationUnavailable
from nagare.flow import engine
from nagare.flow.normaliser import resumable

__all__ = ["has_continuation", "Continuation", "call_wrapper", "get_current", "ExecutionContext", "resumable"]

#: Whether `comp.call()` and `Task` can suspend the running code and resume it with the answer.
has_continuation: bool = True


def Continuation(f: Callable[..., object], *args: object, **kw: object) -> object:  # noqa: N802 (the Nagare 0.5 name)
    """Run `f(*args, **kw)` in a new execution context, where `comp.call()` can suspend it.

    Returns what `f` returned, or None when it suspended (it goes on when the component called
    answers).
    """
    result = engine.run(f, args, kw)
    return None if result is engine.SUSPENDED else result


def call_wrapper(f: Callable[..., object], *args: object, **kw: object) -> object:
    """Run `f(*args, **kw)` where `comp.call()` may suspend it (as `Continuation`)."""
    return Continuation(f, *args, **kw)


class ExecutionContext:
    """The running execution context, as `get_current()` returns it."""

    def switch(self, *args: object, **kw: object) -> NoReturn:
        """Stackless' tasklet switch: flows suspend through `comp.call()`, not by switching."""
        raise ContinuationUnavailable(
            "get_current().switch() is Stackless' own: suspend a flow with comp.call(component), "
            "which resumes when the component answers"
        )

    def __repr__(self) -> str:
        return "<ExecutionContext main>"


_MAIN = ExecutionContext()


def get_current() -> ExecutionContext:
    """The current execution context."""
    return _MAIN
