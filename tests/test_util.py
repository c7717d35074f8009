import pickle
import re

import pytest

from nagare import presentation, util
from nagare.callbacks import Callbacks
from nagare.component import AnswerWithoutCall, Component


class Answers:
    """A picklable on_answer target that records the answers."""

    def __init__(self):
        self.got = []

    def __call__(self, answer):
        self.got.append(answer)


# --- A minimal renderer following the contract of docs/architecture.md -------------------------


class FakeTag:
    def __init__(self, h, name):
        self.h = h
        self.name = name
        self.children = []
        self.attrs = {}
        self.callback = None

    def __call__(self, *children, **attrs):
        self.children.extend(children)
        self.attrs.update(attrs)
        return self

    def action(self, f, with_request=False):
        assert callable(f)
        self.callback = f
        return self

    def __enter__(self):
        self.h._add(self)
        self.h._stack.append(self)
        return self

    def __exit__(self, *exc):
        self.h._stack.pop()

    def walk(self):
        yield self
        for child in self.children:
            if isinstance(child, FakeTag):
                yield from child.walk()

    def text(self):
        return "".join(c.text() if isinstance(c, FakeTag) else str(c) for c in self.children)


class FakeRenderer:
    def __init__(self):
        self._stack = []
        self._top = []
        self.rendering = []

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return FakeTag(self, name)

    def __lshift__(self, x):
        self._add(x)
        return self

    def _add(self, x):
        (self._stack[-1].children if self._stack else self._top).append(x)

    @property
    def root(self):
        return self._top[0] if len(self._top) == 1 else self._top

    def new(self):
        return FakeRenderer()

    def start_rendering(self, comp, model):
        self.rendering.append((comp, model))

    def end_rendering(self, output):
        return output


def render(comp):
    root = comp.render(FakeRenderer())
    assert isinstance(root, FakeTag)
    return root


def tags(root, name, **attrs):
    return [t for t in root.walk() if t.name == name and all(t.attrs.get(k) == v for k, v in attrs.items())]


# --- Confirm ---------------------------------------------------------------------------------


def test_confirm_ok_answers_none_as_0_5_1():
    answers = Answers()
    comp = Component(util.Confirm("Saved")).on_answer(answers)
    comp().ok(comp)
    assert answers.got == [None]


def test_confirm_with_cancel_asks_a_question():
    answers = Answers()
    comp = Component(util.Confirm("Sure?", cancel="No")).on_answer(answers)
    comp().ok(comp)
    comp().cancel(comp)
    assert answers.got == [True, False]


def test_confirm_with_becomes():
    answers = Answers()
    comp = Component(None)
    confirm = util.Confirm("Delete?", cancel="Cancel")
    assert comp.becomes(confirm).on_answer(answers) is comp
    assert comp() is confirm
    confirm.ok(comp)
    assert answers.got == [True]


def test_confirm_on_answer_with_arguments():
    got = []
    comp = Component(util.Confirm("Delete?")).on_answer(lambda item, ok: got.append((item, ok)), "apple")
    comp().ok(comp)
    assert got == [("apple", None)]


def test_confirm_without_on_answer():
    comp = Component(util.Confirm("x"))
    with pytest.raises(AnswerWithoutCall):
        comp().ok(comp)


def test_confirm_view_registered():
    assert presentation.find_view(util.Confirm) is not None
    assert repr(util.Confirm("Sure?")) == "Confirm('Sure?')"


def test_confirm_view_is_a_form_with_an_ok_submit():
    answers = Answers()
    comp = Component(util.Confirm("Saved")).on_answer(answers)
    root = render(comp)
    assert root.name == "form"
    assert [p.text() for p in tags(root, "p")] == ["Saved"]
    (ok,) = tags(root, "input", type="submit")  # no cancel button unless asked for
    assert ok.attrs["value"] == "ok"
    assert tags(root, "a") == []
    ok.callback()
    assert answers.got == [None]


def test_confirm_view_with_cancel_and_labels():
    answers = Answers()
    comp = Component(util.Confirm("Sure?", ok="Yes", cancel="No")).on_answer(answers)
    buttons = tags(render(comp), "input", type="submit")
    assert [b.attrs["value"] for b in buttons] == ["Yes", "No"]
    buttons[1].callback()
    buttons[0].callback()
    assert answers.got == [False, True]


def test_confirm_actions_pickle():
    answers = Answers()
    comp = Component(util.Confirm("Sure?", cancel="No")).on_answer(answers)
    action = tags(render(comp), "input", type="submit")[0].callback
    comp2, action2 = pickle.loads(pickle.dumps((comp, action)))
    action2()
    assert comp2._on_answer.got == [True]
    assert answers.got == []


# --- Ask -------------------------------------------------------------------------------------


def test_ask_answers_the_input():
    answers = Answers()
    comp = Component(util.Ask("Your name?", cancel="Cancel")).on_answer(answers)
    ask = comp()
    assert ask.input() == ""
    ask.input("Bob")
    ask.ok(comp)
    ask.cancel(comp)
    assert answers.got == ["Bob", None]


def test_ask_default():
    answers = Answers()
    comp = Component(util.Ask("Name?", default="Anonymous")).on_answer(answers)
    comp().ok(comp)
    assert answers.got == ["Anonymous"]


def test_ask_view_is_0_5_1_s_a_text_input_and_send():
    answers = Answers()
    comp = Component(util.Ask("Your name?")).on_answer(answers)
    root = render(comp)
    assert root.name == "form"
    assert "Your name?" in root.text()
    (text,) = tags(root, "input", type="text")
    (send,) = tags(root, "input", type="submit")  # no cancel button unless asked for
    assert send.attrs["value"] == "Send"
    text.callback("Alice")  # the request: the value action first, then the submit button
    send.callback()
    assert answers.got == ["Alice"]
    (text,) = tags(render(comp), "input", type="text")
    assert text.attrs["value"] == "Alice"  # rendered again, the form shows what was typed


def test_ask_view_with_cancel():
    answers = Answers()
    comp = Component(util.Ask("Your name?", default="x", cancel="Cancel")).on_answer(answers)
    root = render(comp)
    (text,) = tags(root, "input", type="text")
    assert text.attrs["value"] == "x"
    ok, cancel = tags(root, "input", type="submit")
    assert (ok.attrs["value"], cancel.attrs["value"]) == ("Send", "Cancel")
    cancel.callback()
    assert answers.got == [None]


def test_ask_view_through_callbacks_priorities():
    answers = Answers()
    comp = Component(util.Ask("Q?")).on_answer(answers)
    root = render(comp)
    (text,) = tags(root, "input", type="text")
    (ok,) = tags(root, "input", type="submit")
    callbacks = Callbacks()
    value_name = callbacks.register(1, text.callback)
    ok_name = callbacks.register(4, ok.callback)
    # submit button sent first by the browser: the priorities still run the value first
    callbacks.process([(ok_name, "Send"), (value_name, "forty-two")])
    assert answers.got == ["forty-two"]


def test_ask_labels():
    root = render(Component(util.Ask("Q?", ok="Go", cancel="Back")))
    assert [t.attrs["value"] for t in tags(root, "input", type="submit")] == ["Go", "Back"]
    assert repr(util.Ask("Q?")) == "Ask('Q?')"


def test_ask_pickles_with_its_actions():
    answers = Answers()
    comp = Component(util.Ask("Q?")).on_answer(answers)
    root = render(comp)
    (text,) = tags(root, "input", type="text")
    (ok,) = tags(root, "input", type="submit")
    comp2, set_value, submit = pickle.loads(pickle.dumps((comp, text.callback, ok.callback)))
    set_value("typed")
    submit()
    assert comp2._on_answer.got == ["typed"]
    assert comp2().input() == "typed"
    assert comp().input() == ""


def test_docstring_mentions_call_and_becomes():
    assert "comp.call(" in util.__doc__
    assert "becomes" in util.__doc__ and "on_answer" in util.__doc__


# --- View ------------------------------------------------------------------------------------


def hello(h):
    return h.p("hello")


def test_view_renders_its_function():
    comp = Component(util.View(hello))
    root = render(comp)
    assert root.name == "p" and root.text() == "hello"
    assert pickle.loads(pickle.dumps(comp))().view is hello
    assert repr(util.View(hello)).startswith("View(<function hello")


# --- With the real renderer --------------------------------------------------


_ACTION = re.compile(r"_action\d+")


def real_render(comp):
    from nagare.namespaces import xhtml5

    callbacks = Callbacks()
    h = xhtml5.Renderer(callbacks=callbacks, session_params={"_s": "1", "_c": "2"})
    html = h.page(comp.render(h)).decode("utf-8")
    return html, callbacks


def test_confirm_real_rendering():
    answers = Answers()
    comp = Component(util.Confirm("Really <sure>?")).on_answer(answers)
    html, callbacks = real_render(comp)
    assert "Really &lt;sure&gt;?" in html and "<form" in html
    (name,) = set(_ACTION.findall(html))
    assert re.search(rf'<input type="submit" value="ok" name="{name}"', html)
    callbacks.process([(name, "ok")])
    assert answers.got == [None]


def test_ask_real_rendering():
    answers = Answers()
    comp = Component(util.Ask("Name?")).on_answer(answers)
    html, callbacks = real_render(comp)
    assert "<form" in html and "Name?" in html
    (value,) = re.findall(r'<input type="text" value="" name="(_action\d+)"', html)
    (send,) = re.findall(r'<input type="submit" value="Send" name="(_action\d+)"', html)
    callbacks.process([(send, "Send"), (value, "Zoe")])
    assert answers.got == ["Zoe"]
