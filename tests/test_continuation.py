"""nagare.continuation: the names 0.5 applications import, true to an engine without continuations."""

import pytest

from nagare import continuation
from nagare.errors import ContinuationError, NagareError


def test_has_continuation_tells_the_truth():
    # comp.call() still raises: the flag must say so, so that applications offer what works
    assert continuation.has_continuation is False
    assert isinstance(continuation.has_continuation, bool)


def test_continuation_and_call_wrapper_call_at_once():
    calls = []

    def f(*args, **kw):
        calls.append((args, kw))
        return len(calls)

    assert continuation.Continuation(f, 1, 2, key="k") == 1
    assert continuation.call_wrapper(f, 3) == 2
    assert calls == [((1, 2), {"key": "k"}), ((3,), {})]


def test_continuation_lets_errors_through():
    def fail():
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        continuation.Continuation(fail)
    with pytest.raises(KeyError, match="inside"):
        continuation.call_wrapper(fail)


def test_switch_of_the_current_context_says_comp_call_is_not_available():
    current = continuation.get_current()
    assert current is continuation.get_current()
    with pytest.raises(ContinuationError) as info:
        current.switch()
    message = str(info.value)
    assert "comp.call()" in message and "not available" in message and "\n" not in message
    # one line for the user (a NagareError), and what 0.5.1 raised on CPython for the same call
    assert isinstance(info.value, NagareError) and isinstance(info.value, NotImplementedError)
    with pytest.raises(NotImplementedError):
        current.switch("an answer")
