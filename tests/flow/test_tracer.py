"""The engine resumes under a trace function of its own: the one in place before (a debugger, coverage) is put back.

Each test sets its tracer with sys.settrace around one answer (the resume) and removes it before
asserting, so that pytest itself never runs traced.
"""

from __future__ import annotations

import bdb
import sys

import pytest

from nagare.flow import engine
from nagare.flow.analysis import UnsupportedSuspension
from tests.flow import constructs as c
from tests.flow.conftest import Finished, Flow


class Recorder:
    """A trace function recording the functions called (and, locally, the lines they run)."""

    def __init__(self, lines=False):
        self.calls = []
        self.lines = []
        self.trace_lines = lines

    def __call__(self, frame, event, arg):
        if event == "call":
            self.calls.append(frame.f_code.co_name)
            return self.local if self.trace_lines else None
        return None

    def local(self, frame, event, arg):
        if event == "line":
            self.lines.append((frame.f_code.co_name, frame.f_lineno))
        return self.local


def traced(tracer, f, *args):
    """`f(*args)` with `tracer` installed; (what f returned or raised, the tracer installed after)."""
    sys.settrace(tracer)
    try:
        try:
            result = f(*args)
        except Exception as error:
            result = error
        after = sys.gettrace()
    finally:
        sys.settrace(None)
    return result, after


@pytest.fixture
def traced_flow(no_tracer):
    c.TRACERS.clear()
    flow = Flow(c.Traced())
    assert flow.msg == "traced"
    return flow


def test_a_tracer_set_before_a_resume_is_the_one_set_after(traced_flow):
    recorder = Recorder()
    result, after = traced(recorder, traced_flow.answer, "5")
    assert result is None and after is recorder
    assert traced_flow.msg == "got 5"


def test_a_tracer_set_before_a_resume_is_in_place_in_the_flow_after_the_call(traced_flow):
    recorder = Recorder()
    traced(recorder, traced_flow.answer, "5")
    assert c.TRACERS == [recorder]  # sys.gettrace() in go, right after its call resumed


def test_a_tracer_set_before_a_resume_sees_the_calls_made_after_it(traced_flow):
    recorder = Recorder()
    traced(recorder, traced_flow.answer, "5")
    assert "note_tracer" in recorder.calls and "after_resume" in recorder.calls
    assert recorder.calls.index("note_tracer") < recorder.calls.index("after_resume")


def test_a_tracer_sees_the_lines_of_the_functions_called_after_the_resume(traced_flow):
    recorder = Recorder(lines=True)
    traced(recorder, traced_flow.answer, "5")
    assert ("after_resume", line_of("after_resume", 'return "after"')) in recorder.lines


def test_a_tracer_sees_the_lines_of_the_resumed_frame_after_the_call(traced_flow):
    recorder = Recorder(lines=True)
    traced(recorder, traced_flow.answer, "5")
    assert ("go", line_of("Traced", "number = int(got)")) in recorder.lines


def test_a_tracer_is_put_back_when_the_resumed_flow_raises(traced_flow):
    recorder = Recorder()
    result, after = traced(recorder, traced_flow.answer, "five")
    assert isinstance(result, ValueError) and after is recorder
    assert "after_resume" in recorder.calls


def test_a_tracer_set_before_the_first_run_is_the_one_set_after(no_tracer):
    recorder = Recorder()
    result, after = traced(recorder, Flow, c.Traced())
    assert isinstance(result, Flow) and after is recorder


class Breakpoints(bdb.Bdb):
    """A debugger as pdb is one: it stops at its breakpoints, and records where."""

    def __init__(self):
        super().__init__()
        self.stops = []

    def user_line(self, frame):
        if self.break_here(frame):
            self.stops.append((frame.f_code.co_name, frame.f_lineno))
        self.set_continue()  # with breakpoints set, it keeps tracing


def test_a_bdb_debugger_is_in_place_after_the_resume_and_stops_at_a_breakpoint_after_it(traced_flow):
    debugger = Breakpoints()
    line = line_of("after_resume", 'return "after"')
    assert debugger.set_break(c.__file__, line) is None
    debugger.runcall(traced_flow.answer, "5")
    assert debugger.stops == [("after_resume", line)]
    assert c.TRACERS == [debugger.trace_dispatch]
    assert sys.gettrace() is None  # runcall removes it
    assert traced_flow.msg == "got 5"


def test_a_bdb_debugger_stops_at_a_breakpoint_before_the_resume_too(traced_flow):
    debugger = Breakpoints()
    line = line_of("after_resume", 'return "after"')
    debugger.set_break(c.__file__, line)
    debugger.runcall(traced_flow.answer, "5")
    debugger.runcall(traced_flow.answer, "6")  # the Task answers: the Host's listener runs
    assert debugger.stops == [("after_resume", line)]
    assert traced_flow.shown == Finished(5)


# --- no tracer set: none left --------------------------------------------------------------------------


def test_no_tracer_is_left_after_a_resume(traced_flow):
    traced_flow.answer("5")
    assert sys.gettrace() is None
    assert c.TRACERS == [None]
    traced_flow.answer("6")
    assert sys.gettrace() is None and traced_flow.result == 5


def test_no_tracer_is_left_when_the_resumed_flow_raises(traced_flow):
    with pytest.raises(ValueError, match="five"):
        traced_flow.answer("five")
    assert sys.gettrace() is None


def test_no_tracer_is_left_when_the_resume_finds_a_function_changed(no_tracer):
    # A nested function is checked when it is called (its fingerprint is not found in advance).
    flow = Flow(c.NestedHelper())
    pending = flow.comp._on_answer
    frames = list(pending.continuation.frames)
    module, qualname, _, lasti, saved = frames[1]
    assert "<locals>" in qualname
    frames[1] = (module, qualname, b"changed!", lasti, saved)
    pending.continuation.frames = tuple(frames)
    with pytest.raises(engine.CodeChanged):
        engine.resume(pending.continuation, "x")
    assert sys.gettrace() is None


def test_no_tracer_is_left_when_two_calls_in_one_statement_are_refused(no_tracer):
    flow = Flow(c.Page(), host=False)
    flow.act(c.two_calls_in_one_statement)
    flow.answer("first")
    with pytest.raises(UnsupportedSuspension):
        flow.answer("second")
    assert sys.gettrace() is None


def test_no_tracer_is_left_when_a_call_through_c_code_is_refused(no_tracer):
    flow = Flow(c.Page(), host=False)
    flow.act(c.through_map)
    with pytest.raises(UnsupportedSuspension):
        flow.answer("1")
    assert sys.gettrace() is None


def test_a_tracer_is_put_back_when_two_calls_in_one_statement_are_refused(no_tracer):
    flow = Flow(c.Page(), host=False)
    flow.act(c.two_calls_in_one_statement)
    flow.answer("first")
    recorder = Recorder()
    result, after = traced(recorder, flow.answer, "second")
    assert isinstance(result, UnsupportedSuspension) and after is recorder


def test_a_tracer_is_put_back_when_a_call_through_c_code_is_refused(no_tracer):
    flow = Flow(c.Page(), host=False)
    flow.act(c.through_map)
    recorder = Recorder()
    result, after = traced(recorder, flow.answer, "1")
    assert isinstance(result, UnsupportedSuspension) and after is recorder


def line_of(owner, text):
    """The line of constructs.py holding `text`, the first after the definition of `owner`."""
    with open(c.__file__) as f:
        lines = f.read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith((f"def {owner}(", f"class {owner}(")))
    return 1 + next(i for i in range(start, len(lines)) if text in lines[i])
