"""The construct matrix: each construct of the design note around a comp.call() resumes right, or is refused loudly.

Every flow here runs through `Flow` (conftest.py): the component graph is pickled with the
session pickler and unpickled between every two steps, as it is between two requests.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
import textwrap
import uuid

import pytest

from nagare import component
from nagare.errors import AnswerWithoutCall, ContinuationError
from nagare.flow import engine
from nagare.flow.analysis import UnsupportedSuspension
from nagare.util import Ask, Confirm
from tests.flow import constructs as c
from tests.flow.conftest import Finished, Flow


def line_of(function, text):
    """The line of constructs.py holding `text`, the first after the definition of `function`.

    Read from the file: the code of a normalised function runs from another (pseudo) file.
    """
    lines = pathlib.Path(c.__file__).read_text().splitlines()
    name = function.__qualname__.rsplit(".", 1)[-1]
    owner = function.__qualname__.split(".")[0]
    start = next(i for i, line in enumerate(lines) if line.startswith((f"def {owner}(", f"class {owner}(", f"class {owner}:")))
    start = next(i for i in range(start, len(lines)) if f"def {name}(" in lines[i])
    return 1 + next(i for i in range(start, len(lines)) if text in lines[i])


def test_every_step_resumes_from_a_state_unpickled_from_bytes():
    flow = Flow(c.Statements())
    before = flow.root, flow.comp, flow.comp._on_answer.continuation
    flow.answer("a")
    after = flow.root, flow.comp, flow.comp._on_answer.continuation
    assert all(x is not y for x, y in zip(before, after))
    assert len(flow.states) == 2 and all(isinstance(s, bytes) for s in flow.states)


# --- works: plain statements, if, while --------------------------------------------------------


def test_plain_statements_resume_with_each_answer():
    flow = Flow(c.Statements())
    assert flow.msg == "first"
    assert flow.answers("a", "b") == ["second", Finished("ab")]
    assert flow.result == "ab"


@pytest.mark.parametrize(("which", "question"), [("1", "one"), ("2", "two"), ("3", "other")])
def test_if_elif_else_resumes_in_the_branch_taken(which, question):
    flow = Flow(c.Branches())
    flow.answer(which)
    assert flow.msg == question
    flow.answer("yes")
    assert flow.result == (int(which), "yes")


def test_while_loop_with_a_call_in_its_body_counts_the_tries():
    flow = Flow(c.WhileBody())
    assert flow.answers("1", "2", "3") == ["try #1", "try #2", "try #3"]
    flow.answer("7")
    assert flow.result == 4


def test_while_loop_with_a_call_in_its_condition():
    flow = Flow(c.WhileCondition())
    assert flow.msg == "more after 0?"
    assert flow.answers("yes", "yes", "no") == ["more after 1?", "more after 2?", Finished(2)]


# --- works: for loops ------------------------------------------------------------------------------

ITEMS = {
    "list": ["a", "b", "c"],
    "tuple": ["a", "b", "c"],
    "range": [0, 1, 2],
    "dict": ["a", "b", "c"],
    "zip": [("a", 1), ("b", 2), ("c", 3)],
    "enumerate": [(0, "a"), (1, "b"), (2, "c")],
}


@pytest.mark.parametrize("kind", ITEMS)
def test_for_loop_runs_to_its_else(kind):
    items = ITEMS[kind]
    flow = Flow(c.ForLoop(kind))
    assert flow.msg == f"item {items[0]!r}"
    assert flow.answers("x", "y") == [f"item {items[1]!r}", f"item {items[2]!r}"]
    flow.answer("z")
    assert flow.result == [(items[0], "x"), (items[1], "y"), (items[2], "z"), "else"]


@pytest.mark.parametrize("kind", ITEMS)
def test_for_loop_continue_skips_an_item(kind):
    items = ITEMS[kind]
    flow = Flow(c.ForLoop(kind))
    flow.answers("x", "skip", "z")
    assert flow.result == [(items[0], "x"), (items[2], "z"), "else"]


@pytest.mark.parametrize("kind", ITEMS)
def test_for_loop_break_leaves_without_its_else(kind):
    items = ITEMS[kind]
    flow = Flow(c.ForLoop(kind))
    assert flow.answers("x", "stop") == [f"item {items[1]!r}", Finished([(items[0], "x")])]


def test_nested_for_and_while_loops():
    flow = Flow(c.NestedLoops())
    assert flow.msg == "0x"
    assert flow.answers(*"abcdef") == ["0y", "row 0 done?", "1x", "1y", "row 1 done?", Finished(list("abcdef"))]


def test_for_else_with_a_call_and_a_break_of_an_inner_loop():
    flow = Flow(c.ForElseBreakingOuter())
    assert flow.answers("x", "y") == ["else", Finished(["x", "y"])]


# --- works: several calls in one statement ------------------------------------------------------------


def test_two_calls_in_a_tuple_as_tic_tac_toe_writes_them():
    flow = Flow(c.Players())
    assert flow.msg == "Player #1"
    assert flow.answers("Alice", "Bob") == ["Player #2", Finished(("Alice", "Bob"))]


def test_a_call_in_the_arguments_of_a_call():
    flow = Flow(c.NestedCalls())
    assert flow.msg == "question?"
    assert flow.answers("why", "because") == ["why?", Finished("because")]


def test_calls_in_an_f_string():
    flow = Flow(c.FString())
    assert flow.answers("l", "r") == ["right", Finished("l-r")]


def test_calls_in_a_return():
    flow = Flow(c.InReturn())
    assert flow.answers("4", "2") == ["b", Finished(42)]


def test_calls_as_positional_and_keyword_arguments():
    flow = Flow(c.CallArguments())
    assert flow.answers("value", "key") == ["y", Finished({"key": "value"})]


# --- works: try/except --------------------------------------------------------------------------------


def test_try_except_around_a_call_when_nothing_is_raised():
    flow = Flow(c.TryExcept())
    flow.answer("12")
    assert flow.result == 12


def test_try_except_catches_what_the_resumed_code_raises():
    flow = Flow(c.TryExcept())
    flow.answer("twelve")
    assert flow.result == "not a number: invalid literal for int() with base 10: 'twelve'"


@pytest.mark.parametrize(("key", "result"), [("a", ("found", 1)), ("b", "missing")])
def test_try_except_else_around_a_call_and_the_statement_after_it(key, result):
    flow = Flow(c.TryExceptLater())
    flow.answer(key)
    assert flow.result == result


# --- works: helpers ----------------------------------------------------------------------------------


def test_a_plain_helper_called_by_go_suspends_and_resumes():
    flow = Flow(c.PlainHelper())
    assert flow.msg == "helper 1"
    assert flow.answers("a", "b") == ["helper 2", Finished(("before", "ab"))]


def test_a_resumable_helper_with_a_for_loop_called_in_a_for_loop():
    flow = Flow(c.ResumableHelper())
    assert flow.msg == "a"
    assert flow.answers("1", "2", "3") == ["b", "c", Finished([["1", "2"], ["3"]])]


def test_a_nested_helper_defined_in_go_suspends_and_resumes():
    flow = Flow(c.NestedHelper())
    assert flow.msg == "nested"
    assert flow.answers("a", "b") == ["a again", Finished(("a", "b"))]


def test_a_plain_helper_in_a_for_loop_of_go_is_refused_at_the_call():
    # The normaliser sees no suspending call in the loop (the helper is not @resumable), so it
    # leaves go as it is: the capture refuses the for loop, naming it.
    flow = Flow(c.PlainHelperInLoop(), start=False)
    with pytest.raises(UnsupportedSuspension, match="inside a for loop cannot resume .*@resumable") as info:
        flow.start()
    assert (info.value.filename, info.value.lineno) == (c.__file__, line_of(c.PlainHelperInLoop.go, "results.append(ask_twice"))
    assert isinstance(flow.shown, c.PlainHelperInLoop)  # shows again what it showed before the call


def test_a_plain_helper_in_a_for_loop_of_a_rewritten_go_is_refused_at_the_call():
    # go is rewritten (it holds a for loop around a comp.call) but the loop around the helper is
    # not: the capture says that the normaliser did not see that call suspend.
    flow = Flow(c.PlainHelperInLoopOfNormalisedGo())
    with pytest.raises(UnsupportedSuspension, match="the normaliser did not see this call suspend") as info:
        flow.answer("a")
    # Named in the file and at the line it was written at, not in the rewritten source of go.
    assert (info.value.filename, info.value.lineno) == (
        c.__file__,
        line_of(c.PlainHelperInLoopOfNormalisedGo.go, "results.append(ask_twice"),
    )
    assert "results.append(ask_twice(comp, question))" in info.value.text
    assert isinstance(flow.shown, c.PlainHelperInLoopOfNormalisedGo)


# --- works: Tasks -----------------------------------------------------------------------------------


def test_a_task_calling_a_task_gets_its_answer():
    flow = Flow(c.Outer())
    assert flow.msg == "inner"
    assert flow.answers("deep") == ["inner answered deep"]
    flow.answer(None)
    assert flow.result == ("outer", "deep")


def test_a_task_answers_what_go_returns_to_its_listener():
    flow = Flow(c.Statements())
    flow.answers("x", "y")
    assert flow.root.o.results == ["xy"]
    assert flow.shown == Finished("xy")


def test_a_root_task_starts_again_when_go_ends():
    flow = Flow(c.Rounds(), host=False)
    assert flow.msg == "round 1: name?"
    assert flow.answers("Ann", None) == ["hello Ann", "round 1: name?"]  # fresh locals
    assert flow.answers("Bob") == ["hello Bob"]


def test_a_root_task_that_returns_without_calling_is_an_error():
    class Returns(component.Task):
        def go(self, comp):
            return 1

    with pytest.raises(ContinuationError, match="returned without calling anything"):
        Flow(Returns(), host=False)


def test_call_with_a_model_shows_another_view_of_the_same_object():
    flow = Flow(c.OtherView())
    task = flow.shown
    assert isinstance(task, c.OtherView) and flow.comp.model == "edit"
    assert task.title == "untitled"
    flow.answer("My title")
    assert flow.msg == "title My title"
    flow.answer(None)
    assert flow.result == "My title"


def drop(comp):
    """An action that replaces the Ask a flow called, keeping what the test looks at after."""
    pending = comp._on_answer
    comp.becomes(c.Page({"task": pending.o, "ask": comp.o, "pending": pending}))


def test_becomes_drops_the_pending_call_its_flow_does_not_resume():
    flow = Flow(c.Dropped(), host=False)
    assert isinstance(flow.shown, Ask)
    flow.act(drop)
    kept = flow.shown.title
    assert flow.comp._on_answer is None
    # The Ask that was shown answers: nobody listens any more (the root had no listener).
    with pytest.raises(AnswerWithoutCall):
        flow.act(lambda comp: comp.o.title["ask"].ok(comp))
    assert not flow.shown.title["task"].went_on
    # The call's own record, answered, does not resume the flow either.
    flow.act(lambda comp: comp.o.title["pending"]("late"))
    assert not flow.shown.title["task"].went_on
    assert isinstance(flow.shown, c.Page) and kept.keys() == flow.shown.title.keys()


def test_becomes_gives_the_answer_back_to_the_listener_not_the_dropped_flow():
    flow = Flow(c.Dropped())
    flow.act(drop)
    flow.act(lambda comp: comp.o.title["ask"].ok(comp))
    assert flow.root.o.results == [""]  # the Ask's empty input, handed to the Host
    assert flow.shown == Finished("")  # not the next question of go


def test_continuation_of_comp_call_in_an_init_like_function():
    flow = Flow(c.Page(), host=False)
    flow.act(c.init_like)
    assert flow.msg == "from init"
    flow.answer("done")
    assert flow.shown.title == "start"  # shows its object again


def test_continuation_of_a_function_that_calls_in_an_init_like_function():
    flow = Flow(c.Page(), host=False)
    flow.act(c.init_with_flow)
    assert flow.msg == "title from init"
    flow.answer("From init")
    assert flow.shown.title == "From init"


def test_a_call_from_a_plain_action_callback():
    flow = Flow(c.Page(), host=False)
    flow.act(c.edit_title)
    assert flow.msg == "new title"
    flow.answer("Edited")
    assert isinstance(flow.shown, c.Page) and flow.shown.title == "Edited"


def test_a_call_from_a_helper_of_a_plain_action_callback():
    flow = Flow(c.Page(), host=False)
    flow.act(c.edit_title_with_helper)
    assert flow.msg == "title?"
    flow.answer("loud")
    assert flow.shown.title == "LOUD"


def test_recursion_with_a_call_in_the_recursive_function():
    flow = Flow(c.Recursion())
    assert flow.msg == "count 2"
    assert flow.answers("a", "b", "c", "d") == ["count 1", "plain 2", "plain 1", Finished((["a", "b"], ["c", "d"]))]


def test_recursion_in_a_plain_action():
    flow = Flow(c.Page(), host=False)
    flow.act(c.recursive_action)
    assert flow.msg == "plain 3"
    assert flow.answers("x", "y") == ["plain 2", "plain 1"]
    flow.answer("z")
    assert isinstance(flow.shown, c.Page) and flow.shown.title == ["x", "y", "z"]


# --- works: locals --------------------------------------------------------------------------------------


def test_cells_of_a_nested_function_defined_before_the_call():
    flow = Flow(c.Cells())
    assert flow.answers("pre", "fix") == ["middle", Finished("prefix")]


def test_a_closure_made_before_a_call_keeps_the_cell_it_had_at_the_call():
    # A difference with Stackless the design note states: after the resume, go has new cells.
    flow = Flow(c.CellAssignedAfter())
    flow.answer(None)
    assert flow.result == ("after", "before")


def test_default_arguments_args_and_kw():
    flow = Flow(c.Arguments())
    assert flow.msg == "hi who"
    assert flow.answers("you", "1", "2") == ["a", "b", Finished(("/", ("hi you!", (1, 2), {"mode": "x"}), {"a": "1", "B": "2"}))]


# --- works: multi-shot, randomness, stateless objects -------------------------------------------------------


def test_going_back_and_answering_differently_forks_the_flow():
    flow = Flow(c.WhileBody())
    flow.answers("1", "2")
    page2 = flow.state  # "try #2"
    flow.answers("3", "4")
    first_branch = flow.state  # "try #4"
    flow.back(page2)
    assert flow.msg == "try #2"
    flow.answer("7")
    assert flow.result == 3
    flow.back(first_branch)
    assert flow.msg == "try #4"
    flow.answer("5")
    assert flow.msg == "try #5"
    flow.answer("7")
    assert flow.result == 6
    flow.back(page2)  # the page is still there, and forks again
    flow.answer("0")
    assert flow.msg == "try #3"


def test_random_values_drawn_in_go_are_kept_across_resumes_and_forks():
    flow = Flow(c.Secret())
    first = flow.msg
    secret = float(first.rsplit(" ", 1)[1])
    start = flow.state
    flow.answer("a")
    assert flow.msg == f"guess 2 of {secret!r}"
    flow.answer("b")
    assert flow.result == (secret, ["a", "b"])
    flow.back(start)
    flow.answers("c", "d")
    assert flow.root.o.results == [(secret, ["c", "d"])]


def test_stateless_objects_are_shared_by_the_states_and_not_rolled_back():
    flow = Flow(c.CannotCheat())
    assert flow.msg == "tries 0, tally 0"
    start = flow.state
    assert flow.answers("1", "2") == ["tries 1, tally 1", "tries 2, tally 2"]
    flow.back(start)  # the local count rolls back, the shared tally does not
    assert flow.answers("3") == ["tries 1, tally 3"]
    flow.answer("7")
    assert flow.result == (2, 4)


def test_code_between_two_calls_runs_once_the_calls_statement_again_at_resume():
    flow = Flow(c.SideEffects())
    flow.answers("a", "b")
    assert flow.result == ("a", "b")
    [log] = [o for _, o in flow.shared.values() if isinstance(o, c.Log)]
    assert log.entries == ["start", "in the call's statement", "in the call's statement", "between", "end"]


# --- refused at import --------------------------------------------------------------------------------------

REFUSED_AT_IMPORT = {
    "with": """
        with open(__file__):
            comp.call(Ask("x"))  # HERE
    """,
    "except block": """
        try:
            pass
        except KeyError:
            comp.call(Ask("x"))  # HERE
    """,
    "finally block": """
        try:
            pass
        finally:
            comp.call(Ask("x"))  # HERE
    """,
    "try with finally": """
        try:
            comp.call(Ask("x"))  # HERE
        finally:
            pass
    """,
    "try with except and finally": """
        try:
            comp.call(Ask("x"))  # HERE
        except KeyError:
            pass
        finally:
            pass
    """,
    "bare except": """
        try:
            comp.call(Ask("x"))  # HERE
        except:  # noqa: E722
            pass
    """,
    "except BaseException": """
        try:
            comp.call(Ask("x"))  # HERE
        except (KeyError, BaseException):
            pass
    """,
    "list comprehension": """
        answers = [comp.call(Ask(q)) for q in "ab"]  # HERE
    """,
    "set comprehension": """
        answers = {comp.call(Ask(q)) for q in "ab"}  # HERE
    """,
    "dict comprehension": """
        answers = {q: comp.call(Ask(q)) for q in "ab"}  # HERE
    """,
    "generator expression": """
        answers = list(comp.call(Ask(q)) for q in "ab")  # HERE
    """,
    "right side of or": """
        answer = self.known or comp.call(Ask("x"))  # HERE
    """,
    "right side of and": """
        answer = self.known and comp.call(Ask("x"))  # HERE
    """,
    "conditional expression, true branch": """
        answer = comp.call(Ask("x")) if self.known else None  # HERE
    """,
    "conditional expression, false branch": """
        answer = None if self.known else comp.call(Ask("x"))  # HERE
    """,
    "for else with a break in the else": """
        while True:
            for q in "ab":  # HERE
                comp.call(Ask(q))
            else:
                break
    """,
    "for else with a continue in the else": """
        while True:
            for q in "ab":  # HERE
                comp.call(Ask(q))
            else:
                continue
    """,
    "the condition of a while with an else": """
        while comp.call(Ask("x")):  # HERE
            pass
        else:
            pass
    """,
}

REFUSED_FUNCTIONS = {
    "go as a generator": """
        class Refused(Task):
            def go(self, comp):  # HERE
                answer = yield comp.call(Ask("x"))
    """,
    "go as a coroutine awaiting": """
        class Refused(Task):
            async def go(self, comp):  # HERE
                await comp.call(Ask("x"))
    """,
    "go with async for": """
        class Refused(Task):
            async def go(self, comp):  # HERE
                async for q in self.questions:
                    comp.call(Ask(q))
    """,
    "a resumable generator": """
        @resumable  # HERE
        def refused(comp):
            yield comp.call(Ask("x"))
    """,
    "a resumable coroutine": """
        @resumable  # HERE
        async def refused(comp):
            await comp.call(Ask("x"))
    """,
}

HEADER = """\
from nagare.component import Task
from nagare.continuation import resumable
from nagare.util import Ask
"""


@pytest.fixture
def write_module(tmp_path):
    """Write a source as a new module in `tmp_path` and import it (kept in sys.modules for the test)."""
    names = []

    def write(source):
        name = f"flow_fixture_{uuid.uuid4().hex}"
        names.append(name)
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    yield write
    for name in names:
        sys.modules.pop(name, None)


def marked_line(source):
    return next(n for n, line in enumerate(source.splitlines(), 1) if "# HERE" in line)


def in_go(body):
    return HEADER + "\n\nclass Fixture(Task):\n    def go(self, comp):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 8) + "\n"


def in_resumable(body):
    return HEADER + "\n\n@resumable\ndef refused(comp, self=None):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 4) + "\n"


#: What the SyntaxError says, for each construct.
REASONS = {
    "with": "inside a with block cannot resume",
    "except block": "inside an except block cannot resume",
    "finally block": "inside a finally block cannot resume",
    "try with finally": "inside a try with a finally cannot resume",
    "try with except and finally": "inside a try with a finally cannot resume",
    "bare except": "inside a try with a bare except or except BaseException cannot resume",
    "except BaseException": "inside a try with a bare except or except BaseException cannot resume",
    "list comprehension": "inside a comprehension cannot resume",
    "set comprehension": "inside a comprehension cannot resume",
    "dict comprehension": "inside a comprehension cannot resume",
    "generator expression": "inside a comprehension cannot resume",
    "right side of or": "on the right side of and/or cannot resume",
    "right side of and": "on the right side of and/or cannot resume",
    "conditional expression, true branch": "inside a conditional expression cannot resume",
    "conditional expression, false branch": "inside a conditional expression cannot resume",
    "for else with a break in the else": "in a for loop with break or continue in its else block",
    "for else with a continue in the else": "in a for loop with break or continue in its else block",
    "the condition of a while with an else": "in the condition of a while loop with an else block",
}

LAMBDA = """
    f = lambda: comp.call(Ask("x"))  # HERE
"""
IMPORT_CASES = [pytest.param(source, REASONS[name], id=name) for name, source in REFUSED_AT_IMPORT.items()] + [
    pytest.param(
        LAMBDA,
        "inside a lambda cannot resume",
        id="lambda",
    )
]


@pytest.mark.parametrize(("body", "reason"), IMPORT_CASES)
@pytest.mark.parametrize("where", [in_go, in_resumable], ids=["Task.go", "resumable"])
def test_refused_at_import_with_the_file_and_line(tmp_path, write_module, body, reason, where):
    source = where(body)
    with pytest.raises(SyntaxError) as info:
        write_module(source)
    assert isinstance(info.value, UnsupportedSuspension)
    assert info.value.msg.startswith("comp.call() ") and reason in info.value.msg
    [path] = tmp_path.glob("*.py")
    assert (info.value.filename, info.value.lineno) == (str(path), marked_line(source))
    if "loop" not in reason:  # the loop refusals give no text (reported to the lead)
        assert "# HERE" in info.value.text


@pytest.mark.parametrize("construct", REFUSED_FUNCTIONS)
def test_generators_and_coroutines_are_refused_at_import(tmp_path, write_module, construct):
    source = HEADER + "\n\n" + textwrap.dedent(REFUSED_FUNCTIONS[construct]).strip("\n") + "\n"
    with pytest.raises(UnsupportedSuspension, match="generator or coroutine") as info:
        write_module(source)
    assert (info.value.filename, info.value.lineno) == (str(next(tmp_path.glob("*.py"))), marked_line(source))


ACCEPTED = {
    "left side of or": ('answer = comp.call(Ask("x")) or "default"', "", "default"),
    "condition of a conditional expression": ('answer = 1 if comp.call(Ask("x")) else 2', "", 2),
    "condition of an if": ('answer = 0\nif comp.call(Ask("x")):\n    answer = 1', "y", 1),
    "except Exception": ('try:\n    answer = comp.call(Ask("x"))\nexcept Exception:\n    answer = None', "a", "a"),
    "try with except and else": ('try:\n    answer = comp.call(Ask("x"))\nexcept KeyError:\n    answer = None\nelse:\n    answer += "!"', "a", "a!"),
}


@pytest.mark.parametrize(("body", "value", "result"), ACCEPTED.values(), ids=ACCEPTED)
def test_the_places_next_to_the_refused_ones_are_accepted_and_resume(write_module, body, value, result):
    module = write_module(in_go(body + "\nreturn answer"))
    flow = Flow(module.Fixture())
    assert flow.msg == "x"
    flow.answer(value)
    assert flow.result == result


# --- refused at the call, in plain code ----------------------------------------------------------------------

REFUSED_AT_THE_CALL = {
    c.in_for: ("comp.call(Ask(question))", "for loop"),
    c.in_with: ('comp.call(Ask("with"))', "with block"),
    c.in_except: ('comp.call(Ask("except"))', "except block"),
    c.in_comprehension: ("return [comp.call(Ask(q))", "comprehension"),
    c.in_lambda: ("f = lambda", "lambda"),
    c.in_or: ("name = known or", "and/or"),
    c.in_while_condition: ("while comp.call", "while condition"),
    c.on_one_line: ("x = 1; answer", "one statement per line"),
}


@pytest.mark.parametrize("action", REFUSED_AT_THE_CALL, ids=lambda f: f.__name__)
def test_refused_when_plain_code_suspends(action):
    text, reason = REFUSED_AT_THE_CALL[action]
    flow = Flow(c.Page(), host=False)
    with pytest.raises(UnsupportedSuspension, match=reason) as info:
        flow.act(action)
    assert (info.value.filename, info.value.lineno) == (c.__file__, line_of(action, text))
    assert isinstance(flow.shown, c.Page) and flow.comp._on_answer is None  # as before the call


def test_a_helper_that_calls_inside_a_comprehension_is_refused_at_its_first_call():
    flow = Flow(c.Page(), host=False)
    with pytest.raises(UnsupportedSuspension, match="comprehension") as info:
        flow.act(c.helper_in_comprehension)
    assert (info.value.filename, info.value.lineno) == (c.__file__, line_of(c.helper_in_comprehension, "[ask_title(comp)"))
    assert isinstance(flow.shown, c.Page) and flow.comp._on_answer is None


def test_a_helper_that_calls_inside_a_comprehension_of_go_is_refused_at_its_first_call():
    flow = Flow(c.HelperInComprehension(), start=False)
    with pytest.raises(UnsupportedSuspension, match="comprehension") as info:
        flow.start()
    assert (info.value.filename, info.value.lineno) == (c.__file__, line_of(c.HelperInComprehension.go, "[ask_title(comp)"))
    assert isinstance(flow.shown, c.HelperInComprehension)


def test_two_calls_in_one_plain_statement_fail_on_resume_not_re_ask():
    flow = Flow(c.Page(), host=False)
    flow.act(c.two_calls_in_one_statement)
    assert flow.msg == "1"
    flow.answer("a")
    assert flow.msg == "2"
    with pytest.raises(UnsupportedSuspension, match="suspended again before reaching the call it resumes") as info:
        flow.answer("second")
    assert (info.value.filename, info.value.lineno) == (c.__file__, line_of(c.two_calls_in_one_statement, "comp.o.title"))


def test_two_calls_in_one_plain_statement_leave_the_component_as_before_the_call():
    flow = Flow(c.Page(), host=False)
    flow.act(c.two_calls_in_one_statement)
    flow.answer("a")
    with pytest.raises(UnsupportedSuspension):
        flow.answer("second")
    assert isinstance(flow.shown, c.Page)  # not the first question, asked again


@pytest.mark.parametrize("action", [c.through_map, c.through_sorted], ids=["map", "sorted key"])
def test_a_call_through_c_code_is_refused_when_it_suspends_again_not_re_asked(action):
    # The first suspension cannot be told from a plain call; the resume sees the C code.
    flow = Flow(c.Page(), host=False)
    flow.act(action)
    assert isinstance(flow.shown, Ask)
    with pytest.raises(UnsupportedSuspension, match="called back by C code") as info:
        flow.answer("1")
    assert (info.value.filename, info.value.lineno) == (c.__file__, line_of(c.ask_number, "comp.call"))
    assert isinstance(flow.shown, c.Page) and flow.comp._on_answer is None


def test_a_single_call_through_c_code_resumes():
    flow = Flow(c.Page(), host=False)
    flow.act(c.through_map_once)
    assert flow.msg == "map 1"
    flow.answer("one")
    assert flow.shown.title == ["one"]


def test_a_call_outside_any_flow_is_an_error_that_says_so():
    comp = component.Component(c.Page())
    with pytest.raises(ContinuationError, match="outside an action, a Task.go"):
        comp.call(Confirm("x"))


def test_the_engine_returns_suspended_for_a_flow_that_called():
    comp = component.Component(c.Page())
    assert engine.run(c.edit_title, (comp,)) is engine.SUSPENDED
    assert isinstance(comp.o, Ask)
