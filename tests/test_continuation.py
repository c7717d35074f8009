"""nagare.continuation: the names 0.5 applications import, backed by the continuation engine."""

import pytest

from nagare import component, continuation
from nagare.errors import ContinuationError, NagareError


def test_has_continuation_tells_the_truth():
    # comp.call() works: applications that test the flag offer their call/answer features
    assert continuation.has_continuation is True


def test_continuation_runs_a_call_that_resumes_when_the_component_answers():
    comp = component.Component("start")
    assert continuation.Continuation(comp.call, "asked") is None  # suspended
    assert comp() == "asked"
    comp.answer(42)
    assert comp() == "start"  # the call returned: the component shows what it showed


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


def test_switch_of_the_current_context_points_to_comp_call():
    current = continuation.get_current()
    assert current is continuation.get_current()
    with pytest.raises(ContinuationError) as info:
        current.switch()
    message = str(info.value)
    assert "comp.call(component)" in message and "Stackless" in message and "\n" not in message
    # one line for the user (a NagareError), and what 0.5.1 raised on CPython for the same call
    assert isinstance(info.value, NagareError) and isinstance(info.value, NotImplementedError)
    with pytest.raises(NotImplementedError):
        current.switch("an answer")
