"""Execution contexts for `comp.call()` and `Task`, with the names Nagare 0.5 applications import.

Nagare 0.5 ran each `Task.go` and each action in an execution context (a Stackless tasklet) that
`comp.call()` could suspend until the component called answers. Applications look at
`has_continuation` to choose the features they offer, and wrap code that calls in
`Continuation(f, ...)`:

    from nagare.continuation import has_continuation, Continuation

    if has_continuation:
        Continuation(comp.call, Wizard())
    else:
        comp.becomes(Form())

Our continuation engine is not written yet (`comp.call()` raises `ContinuationError`), so
`has_continuation` is False, `Continuation` and `call_wrapper` call `f` at once, and the current
context's `switch()` raises `ContinuationUnavailable`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

from nagare.errors import ContinuationUnavailable

__all__ = ["has_continuation", "Continuation", "call_wrapper", "get_current", "ExecutionContext"]

P = ParamSpec("P")
R = TypeVar("R")

#: Whether `comp.call()` and `Task` can suspend the running code and resume it with the answer.
#: The one value the continuation engine changes: the rest of this module follows it.
has_continuation: bool = False

UNAVAILABLE = (
    "comp.call() is not available yet: Nagare has no continuation engine so far; "
    "show the component with comp.becomes(other) and handle its answer with other.on_answer(f)"
)


def Continuation(f: Callable[P, R], *args: P.args, **kw: P.kwargs) -> R:  # noqa: N802 (the Nagare 0.5 name)
    """Run `f(*args, **kw)` in a new execution context; without continuations, just call it."""
    return f(*args, **kw)


def call_wrapper(f: Callable[P, R], *args: P.args, **kw: P.kwargs) -> R:
    """Run `f(*args, **kw)` where `comp.call()` may suspend it; without continuations, just call it."""
    return f(*args, **kw)


class ExecutionContext:
    """The running execution context, as `get_current()` returns it."""

    def switch(self, *args: object, **kw: object) -> NoReturn:
        """Suspend the running code (what `comp.call()` does): not available without continuations."""
        raise ContinuationUnavailable(UNAVAILABLE)

    def __repr__(self) -> str:
        return "<ExecutionContext main>"


# Stateless: without an engine there is one context, the code running; nothing to keep per request.
_MAIN = ExecutionContext()


def get_current() -> ExecutionContext:
    """The current execution context."""
    return _MAIN
