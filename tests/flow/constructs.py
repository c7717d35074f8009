"""The constructs of the design note around a `comp.call()`, each in a Task or a function of its own.

Imported as a module, as applications are: `Task.go` and `@resumable` functions are normalised
at import, the rest is plain code. Each Task returns what it saw, so the tests check the values
a resumed flow computes, not only that it resumes.
"""

from __future__ import annotations

import contextlib
import random
import sys

from nagare import presentation, state
from nagare.component import Task
from nagare.continuation import Continuation, resumable
from nagare.util import Ask, Confirm

# --- plain statements, if, while -----------------------------------------------------------------


class Statements(Task):
    def go(self, comp):
        first = comp.call(Ask("first"))
        second = comp.call(Ask("second"))
        return first + second


class Branches(Task):
    def go(self, comp):
        n = int(comp.call(Ask("which")))
        if n == 1:
            picked = comp.call(Ask("one"))
        elif n == 2:
            picked = comp.call(Ask("two"))
        else:
            picked = comp.call(Ask("other"))
        return (n, picked)


class WhileBody(Task):
    def go(self, comp):
        tries = 0
        while True:
            guess = comp.call(Ask(f"try #{tries}"))
            tries += 1
            if guess == "7":
                break
        return tries


class WhileCondition(Task):
    def go(self, comp):
        count = 0
        while comp.call(Ask(f"more after {count}?")) != "no":
            count += 1
        return count


# --- for loops -----------------------------------------------------------------------------------

ITERABLES = {
    "list": lambda: ["a", "b", "c"],
    "tuple": lambda: ("a", "b", "c"),
    "range": lambda: range(3),
    "dict": lambda: {"a": 1, "b": 2, "c": 3},
    "zip": lambda: zip("abc", [1, 2, 3]),
    "enumerate": lambda: enumerate("abc"),
}


class ForLoop(Task):
    """Answer "skip" to continue, "stop" to break; the else clause says the loop ran out."""

    def __init__(self, kind):
        self.kind = kind

    def go(self, comp):
        seen = []
        for item in ITERABLES[self.kind]():
            answer = comp.call(Ask(f"item {item!r}"))
            if answer == "skip":
                continue
            if answer == "stop":
                break
            seen.append((item, answer))
        else:
            seen.append("else")
        return seen


class NestedLoops(Task):
    def go(self, comp):
        cells = []
        for row in range(2):
            for column in "xy":
                cells.append(comp.call(Ask(f"{row}{column}")))
            n = 0
            while n < 1:
                cells.append(comp.call(Ask(f"row {row} done?")))
                n += 1
        return cells


class ForElseBreakingOuter(Task):
    """A for ... else whose else has no break: allowed (its break is in an inner loop)."""

    def go(self, comp):
        seen = []
        for item in ["a"]:
            seen.append(comp.call(Ask(item)))
        else:
            while True:
                seen.append(comp.call(Ask("else")))
                break
        return seen


# --- several calls in one statement ----------------------------------------------------------------


class Players(Task):
    """The statement of 0.5's tic-tac-toe, as it was written."""

    def go(self, comp):
        players = (comp.call(Ask("Player #1")), comp.call(Ask("Player #2")))
        return players


class NestedCalls(Task):
    def go(self, comp):
        return comp.call(Ask(comp.call(Ask("question?")) + "?"))


class FString(Task):
    def go(self, comp):
        text = f"{comp.call(Ask('left'))}-{comp.call(Ask('right'))}"
        return text


class InReturn(Task):
    def go(self, comp):
        return int(comp.call(Ask("a"))) * 10 + int(comp.call(Ask("b")))


class CallArguments(Task):
    def go(self, comp):
        return combine(comp.call(Ask("x")), key=comp.call(Ask("y")))


def combine(x, key):
    return {key: x}


# --- try/except ------------------------------------------------------------------------------------


class TryExcept(Task):
    def go(self, comp):
        try:
            n = int(comp.call(Ask("number")))
        except ValueError as error:
            n = f"not a number: {error}"
        return n


class TryExceptLater(Task):
    """The exception raised by a statement after the call, in the same try."""

    def go(self, comp):
        try:
            key = comp.call(Ask("key"))
            value = {"a": 1}[key]
        except (KeyError, TypeError):
            value = "missing"
        else:
            value = ("found", value)
        return value


# --- helpers -------------------------------------------------------------------------------------


def ask_twice(comp, question):
    """A plain helper: one call per statement, no for loop."""
    first = comp.call(Ask(question + " 1"))
    second = comp.call(Ask(question + " 2"))
    return first + second


@resumable
def ask_each(comp, questions):
    answers = []
    for question in questions:
        answers.append(comp.call(Ask(question)))
    return answers


class PlainHelper(Task):
    def go(self, comp):
        before = "before"
        got = ask_twice(comp, "helper")
        return (before, got)


class ResumableHelper(Task):
    def go(self, comp):
        results = []
        for group in (["a", "b"], ["c"]):
            results.append(ask_each(comp, group))
        return results


class NestedHelper(Task):
    """A helper defined in go, closing over comp."""

    def go(self, comp):
        def ask(question):
            return comp.call(Ask(question))

        first = ask("nested")
        second = ask(first + " again")
        return (first, second)


class PlainHelperInLoop(Task):
    """A plain helper that calls, in a for loop of go: the normaliser cannot see it suspend."""

    def go(self, comp):
        results = []
        for question in ["a", "b"]:
            results.append(ask_twice(comp, question))
        return results


class PlainHelperInLoopOfNormalisedGo(Task):
    def go(self, comp):
        results = []
        for question in ["a"]:
            results.append(comp.call(Ask(question)))
        for question in ["b", "c"]:
            results.append(ask_twice(comp, question))
        return results


# --- Tasks calling Tasks ----------------------------------------------------------------------------


class Inner(Task):
    def go(self, comp):
        return comp.call(Ask("inner"))


class Outer(Task):
    def go(self, comp):
        got = comp.call(Inner())
        comp.call(Confirm(f"inner answered {got}"))
        return ("outer", got)


class Rounds(Task):
    """A root Task: it starts again when go ends, with fresh locals."""

    def go(self, comp):
        count = 0
        count += 1
        name = comp.call(Ask(f"round {count}: name?"))
        comp.call(Confirm(f"hello {name}"))


class OtherView(Task):
    """comp.call(model=...): the same object shown with another view, until it answers."""

    def __init__(self):
        self.title = "untitled"

    def go(self, comp):
        self.title = comp.call(model="edit")
        comp.call(Confirm(f"title {self.title}"))
        return self.title


@presentation.render_for(OtherView, model="edit")
def _render_edit(self, h, comp, model):
    return "editing"


class Dropped(Task):
    """go records that it went on after its call (it must not when becomes() dropped the call)."""

    def __init__(self):
        self.went_on = False

    def go(self, comp):
        comp.call(Ask("dropped?"))
        self.went_on = True
        comp.call(Ask("next"))


class Page:
    def __init__(self, title="start"):
        self.title = title

    def __repr__(self):
        return f"Page({self.title!r})"


def init_like(comp):
    """What an init_for function does when it calls: the call runs in a Continuation."""
    Continuation(comp.call, Ask("from init"))


def init_flow(comp):
    title = comp.call(Ask("title from init"))
    comp.o.title = title


def init_with_flow(comp):
    Continuation(init_flow, comp)


def edit_title(comp):
    """A plain action callback that calls."""
    comp.o.title = comp.call(Ask("new title"))


def edit_title_with_helper(comp):
    title = ask_title(comp)
    comp.o.title = title.upper()


def ask_title(comp):
    title = comp.call(Ask("title?"))
    return title


# --- recursion -------------------------------------------------------------------------------------


@resumable
def countdown(comp, n):
    if n == 0:
        return []
    answer = comp.call(Ask(f"count {n}"))
    return [answer, *countdown(comp, n - 1)]


def plain_countdown(comp, n):
    if n == 0:
        return []
    answer = comp.call(Ask(f"plain {n}"))
    rest = plain_countdown(comp, n - 1)
    return [answer, *rest]


class Recursion(Task):
    def go(self, comp):
        normalised = countdown(comp, 2)
        plain = plain_countdown(comp, 2)
        return (normalised, plain)


def recursive_action(comp):
    comp.o.title = plain_countdown(comp, 3)


# --- locals of every kind -----------------------------------------------------------------------------


class Cells(Task):
    def go(self, comp):
        prefix = comp.call(Ask("prefix"))

        def decorate(text):
            return prefix + text

        middle = comp.call(Ask("middle"))
        return decorate(middle)


class CellAssignedAfter(Task):
    """The design note's known difference: a closure made before a call keeps the old cell."""

    def go(self, comp):
        word = "before"

        def read():
            return word

        comp.call(Ask("go on"))
        word = "after"
        return (word, read())


def helper_with_defaults(comp, greeting="hello", *extra, punctuation="!", **options):
    name = comp.call(Ask(f"{greeting} who"))
    return f"{greeting} {name}{punctuation}", extra, options


@resumable
def collect(comp, *questions, **labels):
    answers = {}
    for question in questions:
        answers[labels.get(question, question)] = comp.call(Ask(question))
    return answers


class Arguments(Task):
    def go(self, comp, sep="/"):
        greeted = helper_with_defaults(comp, "hi", 1, 2, mode="x")
        collected = collect(comp, "a", "b", b="B")
        return (sep, greeted, collected)


# --- randomness and stateless objects -------------------------------------------------------------------


class Secret(Task):
    def go(self, comp):
        secret = random.random()
        seen = [comp.call(Ask(f"guess 1 of {secret!r}"))]
        seen.append(comp.call(Ask(f"guess 2 of {secret!r}")))
        return (secret, seen)


@state.stateless
class Tally:
    """Shared by every state of the session: going back does not roll it back."""

    def __init__(self):
        self.count = 0


class CannotCheat(Task):
    def __init__(self):
        self.tally = Tally()

    def go(self, comp):
        tries = 0
        while True:
            guess = comp.call(Ask(f"tries {tries}, tally {self.tally.count}"))
            tries += 1
            self.tally.count += 1
            if guess == "7":
                return (tries, self.tally.count)


@state.stateless
class Log:
    """What a flow did, kept apart from the states (not rolled back, never replayed)."""

    def __init__(self):
        self.entries = []


class SideEffects(Task):
    def __init__(self):
        self.log = Log()

    def note(self, text):
        self.log.entries.append(text)
        return text

    def go(self, comp):
        self.note("start")
        first = comp.call(Ask(self.note("in the call's statement")))
        self.note("between")
        second = comp.call(Ask("second"))
        self.note("end")
        return (first, second)


# --- tracing -------------------------------------------------------------------------------------------

#: What `note_tracer` saw: the trace function installed when it ran.
TRACERS: list[object] = []


def note_tracer():
    TRACERS.append(sys.gettrace())
    return after_resume()


def after_resume():
    return "after"


class Traced(Task):
    def go(self, comp):
        got = comp.call(Ask("traced"))
        note_tracer()
        number = int(got)  # a ValueError when the answer is not a number
        comp.call(Ask(f"got {number}"))
        return number


# --- refused at the call, in plain code (not normalised) ---------------------------------------------------


@contextlib.contextmanager
def block():
    yield


def in_for(comp):
    for question in ["a", "b"]:
        comp.call(Ask(question))


def in_with(comp):
    with block():
        comp.call(Ask("with"))


def in_except(comp):
    try:
        raise KeyError("k")
    except KeyError:
        comp.call(Ask("except"))


def in_comprehension(comp):
    return [comp.call(Ask(q)) for q in "ab"]


def helper_in_comprehension(comp):
    comp.o.title = [ask_title(comp) for _ in "ab"]


class HelperInComprehension(Task):
    """A helper that calls, in a comprehension: the normaliser cannot see it suspend."""

    def go(self, comp):
        return [ask_title(comp) for _ in "ab"]


def in_lambda(comp):
    f = lambda: comp.call(Ask("lambda"))  # noqa: E731
    return f()


def in_or(comp, known=""):
    name = known or comp.call(Ask("or"))
    return name


def in_while_condition(comp):
    while comp.call(Ask("more?")) != "no":
        pass


def on_one_line(comp):
    x = 1; answer = comp.call(Ask("one line"))  # noqa: E702
    return x, answer


def two_calls_in_one_statement(comp):
    comp.o.title = (comp.call(Ask("1")), comp.call(Ask("2")))


def through_map(comp):
    comp.o.title = list(map(ask_number, [comp, comp], [1, 2]))


def through_sorted(comp):
    comp.o.title = sorted([(comp, 2), (comp, 1)], key=ask_key)


def through_map_once(comp):
    comp.o.title = list(map(ask_number, [comp], [1]))


def ask_key(item):
    return ask_number(*item)


def ask_number(comp, n):
    return comp.call(Ask(f"map {n}"))
