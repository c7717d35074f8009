"""Which way the engine re-enters a flow: local sys.monitoring events on CPython 3.12 and later,
sys.settrace on 3.11 and for a flow through a nested function (it cannot be found by name)."""

from __future__ import annotations

import sys

import pytest

from nagare.flow import engine
from tests.flow import constructs as c
from tests.flow.conftest import Finished, Flow

MONITORING = sys.version_info >= (3, 12)


@pytest.fixture
def settrace_calls(monkeypatch):
    """Every sys.settrace() the engine makes while the test runs."""
    calls = []
    real = sys.settrace

    def spy(function):
        calls.append(function)
        real(function)

    monkeypatch.setattr(engine.sys, "settrace", spy)
    return calls


def test_a_flow_found_by_name_resumes_without_sys_settrace_on_3_12_and_later(settrace_calls):
    flow = Flow(c.Statements())
    first = flow.msg
    flow.answer("1")
    assert flow.msg != first  # it did resume
    if MONITORING:
        assert settrace_calls == []  # sys.settrace would re-instrument every frame on the stack
        assert engine._enabled == {}  # and the local events are all switched off again
    else:
        assert settrace_calls and settrace_calls[-1] is None  # on, then back to no tracer


def test_a_flow_through_a_nested_function_resumes_with_sys_settrace(settrace_calls):
    flow = Flow(c.NestedHelper())
    assert flow.answers("a", "b") == ["a again", Finished(("a", "b"))]
    assert settrace_calls and settrace_calls[-1] is None


@pytest.mark.skipif(not MONITORING, reason="sys.monitoring is CPython 3.12's")
def test_the_engine_takes_a_sys_monitoring_tool_id_that_debuggers_coverage_and_profilers_leave_free():
    Flow(c.Statements()).answer("1")
    tool = engine._TOOL
    assert tool not in (sys.monitoring.DEBUGGER_ID, sys.monitoring.COVERAGE_ID, sys.monitoring.PROFILER_ID)
    assert sys.monitoring.get_tool(tool) == "nagare flows"
