"""Deploy safety: a flow suspended before a release resumes after it, or starts again, never at a wrong line.

Each test writes an application module, suspends a flow in it (the state pickled), then deploys a
new version of the file as a new process would see it: the module forgotten, the file rewritten
with a newer mtime, the caches of linecache and of the import system dropped, the module imported
again. Then the stored state is loaded and answered.
"""

from __future__ import annotations

import importlib
import linecache
import logging
import os
import sys
import uuid

import pytest

from nagare import component
from nagare.flow import engine
from nagare.wsgi.app import current_app
from tests.flow.conftest import Finished, Flow

GUESS = '''\
from nagare.component import Task
from nagare.util import Ask, Confirm


def ask(comp, tries):
    return comp.call(Ask("Try #%d" % tries))


class Guess(Task):
    def go(self, comp):
        tries = 0
        while True:
            guess = ask(comp, tries)
            tries += 1
            if guess == "7":
                break
        comp.call(Confirm("Found in %d tries" % tries))
        return tries


class Base(Task):
    def check(self, comp, answer):
        return answer


class Direct(Base):
    def go(self, comp):
        first = comp.call(Ask("first"))
        second = self.confirm(comp, first)
        return (first, second)

    def confirm(self, comp, first):
        answer = comp.call(Ask("second"))
        return self.check(comp, answer)

    def check(self, comp, answer):
        return comp.call(Confirm(answer))


class Quiz(Task):
    def go(self, comp):
        answers = []
        for question in ["a", "b", "c"]:
            answers.append(comp.call(Ask("Question %s" % question)))
        return answers


def edit(comp):
    title = comp.call(Ask("title"))
    comp.o.title = title


class Page:
    def __init__(self):
        self.title = "start"
'''


class Application:
    """One application module in `tmp_path`, deployed again with new sources."""

    def __init__(self, tmp_path, source):
        self.name = f"flow_deployed_{uuid.uuid4().hex}"
        self.path = tmp_path / f"{self.name}.py"
        self.mtime = 1_700_000_000
        self.write(source)
        self.module = importlib.import_module(self.name)

    def write(self, source):
        self.path.write_text(source)
        self.mtime += 10  # newer than the cached bytecode, whatever the clock's resolution
        os.utime(self.path, (self.mtime, self.mtime))

    def deploy(self, source):
        """Another release of the file, imported as a new process would."""
        del sys.modules[self.name]
        self.write(source)
        linecache.checkcache(str(self.path))
        importlib.invalidate_caches()
        self.module = importlib.import_module(self.name)
        return self.module

    def edit(self, old, new, count=1):
        """Deploy the source with `old` replaced by `new`."""
        source = self.path.read_text()
        assert source.count(old) == count, f"{old!r} is not {count} times in the source"
        return self.deploy(source.replace(old, new))


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    created = []

    def make(source=GUESS):
        application = Application(tmp_path, source)
        created.append(application)
        return application

    yield make
    for application in created:
        sys.modules.pop(application.name, None)


def suspended_guess(app):
    """A guessing game after two wrong guesses, its state stored."""
    application = app()
    flow = Flow(application.module.Guess())
    assert flow.answers("1", "2") == ["Try #1", "Try #2"]
    return application, flow


def reload(flow):
    """The stored state loaded again, by the code deployed since."""
    flow.back(flow.state)
    return flow


# --- tolerated: the flow resumes where it stopped ---------------------------------------------------------


def test_an_edited_message_resumes_and_the_next_page_shows_the_new_text(app):
    application, flow = suspended_guess(app)
    application.edit('"Try #%d"', '"Essai n°%d"')
    reload(flow)
    assert flow.msg == "Try #2"  # the page as it was stored
    flow.answer("3")
    assert flow.msg == "Essai n°3"
    flow.answer("7")
    assert flow.msg == "Found in 4 tries"


def test_an_edited_message_in_the_function_of_the_call_itself(app):
    application, flow = suspended_guess(app)
    application.edit('"Found in %d tries"', '"Trouvé en %d essais"')
    reload(flow)
    flow.answer("7")
    assert flow.msg == "Trouvé en 3 essais"
    flow.answer(None)
    assert flow.result == 3


def test_comments_and_blank_lines_added_above_the_call_inside_the_function(app):
    application, flow = suspended_guess(app)
    application.edit(
        "        while True:\n            guess = ask(comp, tries)\n",
        "        while True:\n            # ask again\n\n            # (a comment)\n\n            guess = ask(comp, tries)\n",
    )
    application.edit('    return comp.call(Ask("Try', '    # the question\n\n    return comp.call(Ask("Try')
    reload(flow)
    assert flow.answers("3", "4") == ["Try #3", "Try #4"]  # tries kept: the same statement resumed
    flow.answer("7")
    assert flow.msg == "Found in 5 tries"


def test_lines_shifted_by_code_added_above_the_functions(app):
    application, flow = suspended_guess(app)
    application.edit(
        "def ask(comp, tries):",
        "import json\n\nLIMIT = 10\n\n\ndef unrelated(x):\n    return json.dumps(x)\n\n\ndef ask(comp, tries):",
    )
    reload(flow)
    assert flow.answers("3") == ["Try #3"]
    flow.answer("7")
    assert flow.msg == "Found in 4 tries"
    flow.answer(None)
    assert flow.result == 4


def test_another_task_of_the_module_changed_the_flow_resumes(app):
    application, flow = suspended_guess(app)
    application.edit('answer = comp.call(Ask("second"))', 'answer = comp.call(Confirm("second"))')  # not in the flow
    reload(flow)
    flow.answer("7")
    assert flow.msg == "Found in 3 tries"


def test_a_rewritten_for_loop_resumes_after_lines_and_messages_changed(app):
    # go is normalised (its for loop rewritten): the new release is rewritten again, alike.
    application = app()
    flow = Flow(application.module.Quiz())
    assert flow.answers("1") == ["Question b"]
    application.edit(
        '        for question in ["a", "b", "c"]:\n',
        '        # one question at a time\n\n        for question in ["a", "b", "c"]:\n            # asked\n',
    )
    application.edit('"Question %s"', '"Q. %s"')
    application.edit("class Quiz(Task):", "class Unrelated:\n    pass\n\n\nclass Quiz(Task):")
    reload(flow)
    assert flow.answers("2") == ["Q. c"]  # the iterator resumed at its position
    flow.answer("3")
    assert flow.result == ["1", "2", "3"]


def test_a_rewritten_for_loop_with_its_statement_changed_is_code_changed(app):
    application = app()
    flow = Flow(application.module.Quiz())
    flow.answers("1")
    application.edit("answers.append(comp.call(", "answers.insert(0, comp.call(")
    reload(flow)
    with pytest.raises(engine.CodeChanged, match=r"Quiz\.go changed"):
        engine.resume(continuation_of(flow), "2")


def test_a_plain_action_with_an_edited_message_resumes(app):
    application = app()
    flow = Flow(application.module.Page(), host=False)
    flow.act(application.module.edit)
    assert flow.msg == "title"
    application.edit('Ask("title")', 'Ask("Title:")')
    reload(flow)
    flow.answer("New")
    assert flow.shown.title == "New"


# --- refused: CodeChanged, never a resume at the wrong statement ----------------------------------------------

CHANGES = {
    "a call replaced": ('comp.call(Confirm("Found in %d tries" % tries))', 'comp.call(Ask("Found in %d tries" % tries))'),
    "a statement added": ("        tries = 0\n", "        tries = 0\n        hint = None\n"),
    "a condition changed": ('if guess == "7":', 'if guess in ("7", "8"):'),
    "a helper's call changed": ('return comp.call(Ask("Try #%d" % tries))', 'return comp.call(Ask("Try #%d" % tries), model="x")'),
    "a local renamed": ("guess", "answer", 2),
}


def continuation_of(flow):
    pending = flow.comp._on_answer
    assert isinstance(pending, component.PendingCall)
    return pending.continuation


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES)
def test_a_statement_changed_in_a_function_of_the_chain_is_code_changed(app, change):
    application, flow = suspended_guess(app)
    application.edit(*change)
    reload(flow)
    with pytest.raises(engine.CodeChanged, match="changed since the flow suspended"):
        engine.resume(continuation_of(flow), "3")


def test_a_number_changed_in_a_statement_of_the_chain_is_code_changed(app):
    application, flow = suspended_guess(app)
    application.edit("tries += 1", "tries += 2")
    reload(flow)
    with pytest.raises(engine.CodeChanged):
        engine.resume(continuation_of(flow), "3")


def test_a_function_of_the_chain_removed_is_code_changed(app):
    application, flow = suspended_guess(app)
    application.edit('def ask(comp, tries):\n    return comp.call(Ask("Try #%d" % tries))\n', "")
    reload(flow)
    with pytest.raises(engine.CodeChanged, match=r"\.ask does not exist any more"):
        engine.resume(continuation_of(flow), "3")


def test_a_function_of_the_chain_renamed_is_code_changed(app):
    application, flow = suspended_guess(app)
    application.edit("ask(comp, tries)", "question(comp, tries)", count=2)
    reload(flow)
    with pytest.raises(engine.CodeChanged):
        engine.resume(continuation_of(flow), "3")


def test_a_function_of_the_chain_renamed_behind_its_old_name_is_code_changed(app):
    # `ask = question`: the old name holds a function of another name.
    application, flow = suspended_guess(app)
    application.edit("def ask(comp, tries):", "def question(comp, tries):")
    application.edit("class Guess(Task):", "ask = question\n\n\nclass Guess(Task):")
    reload(flow)
    with pytest.raises(engine.CodeChanged):
        engine.resume(continuation_of(flow), "3")


def test_a_method_of_the_chain_removed_is_code_changed(app):
    application = app()
    flow = Flow(application.module.Direct())
    assert flow.answers("a") == ["second"]
    application.edit('    def confirm(self, comp, first):\n        answer = comp.call(Ask("second"))\n        return self.check(comp, answer)\n', "")
    reload(flow)
    with pytest.raises(engine.CodeChanged, match=r"Direct\.confirm does not exist any more"):
        engine.resume(continuation_of(flow), "b")


def test_an_overriding_method_of_the_chain_removed_is_code_changed(app):
    application = app()
    flow = Flow(application.module.Direct())
    assert flow.answers("a", "b") == ["second", "b"]  # Direct.check's Confirm
    application.edit("    def check(self, comp, answer):\n        return comp.call(Confirm(answer))\n", "")
    reload(flow)
    with pytest.raises(engine.CodeChanged):
        engine.resume(continuation_of(flow), None)


# --- CodeChanged through Component.answer: the hook, then the flow starts again ---------------------------------


def test_code_changed_through_answer_restarts_the_task_and_logs_a_warning(app, caplog):
    application, flow = suspended_guess(app)
    application.edit("tries += 1", "tries = tries + 1")
    reload(flow)
    with caplog.at_level(logging.WARNING, logger="nagare.flow"):
        assert flow.answer("3") is None  # no exception
    assert [(r.name, r.levelno) for r in caplog.records] == [("nagare.flow", logging.WARNING)]
    assert "changed since the flow suspended" in caplog.records[0].getMessage()
    assert application.name + ".Guess.go" in caplog.records[0].getMessage()
    # The component showed its Task again: rendered, the Task's go started again.
    assert flow.msg == "Try #0"
    assert flow.answers("7", None) == ["Found in 1 tries", Finished(1)]


def test_code_changed_shows_what_the_component_showed_before_the_call(app, caplog):
    application = app()
    flow = Flow(application.module.Page(), host=False)
    flow.act(application.module.edit)
    application.edit("    comp.o.title = title\n", "    comp.o.title = title.strip()\n")
    reload(flow)
    with caplog.at_level(logging.WARNING, logger="nagare.flow"):
        flow.answer("New")
    assert isinstance(flow.shown, application.module.Page) and flow.shown.title == "start"
    assert flow.comp._on_answer is None
    assert len(caplog.records) == 1 and "changed since the flow suspended" in caplog.records[0].getMessage()


def test_code_changed_goes_to_the_applications_on_flow_broken_hook(app, caplog):
    application, flow = suspended_guess(app)
    application.edit("tries += 1", "tries = tries + 1")
    reload(flow)
    told = []

    class Hook:
        def on_flow_broken(self, comp, continuation, error):
            told.append((comp.o, comp._on_answer, continuation, error))
            return "handled"

    continuation = continuation_of(flow)
    token = current_app.set(Hook())
    try:
        with caplog.at_level(logging.WARNING, logger="nagare.flow"):
            assert flow.answer("3") == "handled"
    finally:
        current_app.reset(token)
    assert caplog.records == []  # the hook decides; the default warning is not logged
    [(shown, listener, broken, error)] = told
    assert isinstance(shown, application.module.Guess)  # the component shows what it did before the call
    assert listener is not None  # the Host's, put back
    assert isinstance(error, engine.CodeChanged) and "Guess.go" in str(error)
    assert broken.frames == continuation.frames


def test_a_deploy_of_the_same_source_resumes(app):
    application, flow = suspended_guess(app)
    application.deploy(application.path.read_text())
    reload(flow)
    flow.answer("7")
    assert flow.msg == "Found in 3 tries"
    flow.answer(None)
    assert flow.result == 3


def test_a_deploy_imports_the_new_file_as_a_new_process_would(app):
    application = app(GUESS + "\nMARK = 1\n")
    first = application.module
    assert first.MARK == 1 and first.__file__ == str(application.path)
    module = application.deploy(GUESS + "\nMARK = 2\n")
    assert module is not first and module.MARK == 2 and sys.modules[application.name] is module
    assert module.Guess is not first.Guess
