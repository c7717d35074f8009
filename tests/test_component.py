import pickle

import pytest

from nagare import component, presentation, state, var
from nagare.errors import ContinuationError


class Thing:
    def __init__(self, name="thing"):
        self.name = name


@presentation.render_for(Thing)
def render_thing(self, h, comp, model):
    return f"default {self.name}"


@presentation.render_for(Thing, model="short")
def render_thing_short(self, h, comp, model):
    return f"short {self.name}"


class SubThing(Thing):
    pass


class FakeRenderer:
    """Just what Component.render calls on a renderer."""

    def __init__(self):
        self.started = []

    def new(self):
        return self

    def start_rendering(self, comp, model):
        self.started.append((comp, model))

    def end_rendering(self, output):
        return f"[{output}]"


def test_render_uses_the_default_view_and_the_renderer_bracket():
    h = FakeRenderer()
    comp = component.Component(Thing("a"))
    assert comp.render(h) == "[default a]"
    assert h.started == [(comp, None)]


def test_named_view_and_component_model():
    comp = component.Component(Thing("a"), model="short")
    assert comp.render(FakeRenderer()) == "[short a]"
    assert comp.render(FakeRenderer(), model=None) == "[default a]"


def test_views_are_inherited_through_the_mro():
    assert component.Component(SubThing("b")).render(FakeRenderer()) == "[default b]"


def test_missing_view_is_a_clear_error():
    with pytest.raises(LookupError, match="no view 'nope' registered for Thing"):
        component.Component(Thing()).render(FakeRenderer(), model="nope")


def test_becomes_replaces_object_and_model():
    comp = component.Component(Thing("a"))
    comp.becomes(Thing("b"), model="short")
    assert comp() .name == "b" and comp.render(FakeRenderer()) == "[short b]"
    comp.becomes(component.Component(Thing("c")))
    assert comp().name == "c" and comp.model is None


def test_becomes_without_an_object_changes_the_view_of_the_same_object():
    thing = Thing("a")
    comp = component.Component(thing)
    assert comp.becomes(model="short") is comp
    assert comp() is thing and comp.render(FakeRenderer()) == "[short a]"
    comp.becomes()  # model=0: the default view again
    assert comp() is thing and comp.model is None and comp.render(FakeRenderer()) == "[default a]"


def test_becomes_shows_the_default_view_unless_a_model_is_given():
    comp = component.Component(Thing("a"), model="short")
    comp.becomes(Thing("b"))
    assert comp.render(FakeRenderer()) == "[default b]"
    comp.becomes(component.Component(Thing("c"), model="short"))  # its object, with the default view
    assert comp().name == "c" and comp.render(FakeRenderer()) == "[default c]"
    comp.becomes(Thing("d"), None)
    assert comp.model is None
    comp.becomes(component.Component(Thing("e")), "short")
    assert comp.render(FakeRenderer()) == "[short e]"


def test_becomes_keeps_the_url_unless_one_is_given():
    comp = component.Component(Thing("a"), url="things/a")
    comp.becomes(Thing("b"))
    assert comp.url == "things/a"
    comp.becomes(Thing("c"), url="things/c")
    assert comp.url == "things/c"
    comp.becomes(model="short")
    assert comp.url == "things/c"


def test_the_url_of_a_component_goes_to_its_renderer():
    from nagare.namespaces import xhtml5

    h = xhtml5.Renderer(url="/app/")
    seen = []

    @presentation.render_for(SubThing, model="url")
    def render_url(self, h, comp, model):
        seen.append(h.url)
        return h.a("x").action(lambda: None)

    comp = component.Component(SubThing("a"), model="url", url="things")
    comp.render(h)
    comp.becomes(SubThing("b"), model="url", url="other/b")
    comp.render(h)
    assert seen == ["/app/things", "/app/other/b"] and h.url == "/app/"


def test_on_answer_and_answer():
    got = []
    comp = component.Component(Thing())
    comp.on_answer(got.append)
    comp.answer(42)
    comp.on_answer(lambda prefix, r: got.append((prefix, r)), "p")
    comp.answer("x")
    assert got == [42, ("p", "x")]


def test_answer_with_nobody_listening_raises_answer_without_call():
    comp = component.Component(Thing())
    with pytest.raises(component.AnswerWithoutCall, match="nobody listens: give it an on_answer"):
        comp.answer(1)
    with pytest.raises(component.AnswerWithoutCall, match=r"answered 'xxxxx.*\.\.\..*nobody"):
        comp.answer("x" * 1000)  # the answer shortened in the message
    comp.on_answer(lambda r: r * 2)
    assert comp.answer(21) == 42  # what on_answer returns, as the action's result


def test_call_outside_any_flow_is_a_clear_error_and_changes_nothing():
    comp = component.Component(Thing())
    before = comp.o
    with pytest.raises(ContinuationError, match="outside an action, a Task.go"):
        comp.call(Thing())
    assert comp.o is before and comp._on_answer is None


def test_a_task_without_go_says_so_when_rendered():
    class MyTask(component.Task):
        pass

    with pytest.raises(NotImplementedError, match=r"MyTask.go\(self, comp\) is not written"):
        component.Component(MyTask()).render(FakeRenderer())


def test_a_root_task_whose_go_never_calls_is_refused_instead_of_looping():
    class Quick(component.Task):
        def go(self, comp):
            return 1

    with pytest.raises(ContinuationError, match="returned without calling anything"):
        component.Component(Quick()).render(FakeRenderer())


def test_dom_id_is_stable_and_survives_pickling():
    comp = component.Component(Thing())
    dom_id = comp.dom_id
    assert dom_id == comp.dom_id and dom_id.startswith("nagare-")
    assert pickle.loads(pickle.dumps(comp)).dom_id == dom_id


def test_init_for_with_expression_and_callable_conditions():
    class Page:
        def __init__(self):
            self.seen = None

    @presentation.init_for(Page, "len(url) == 1 and url[0] == 'a'")
    def init_a(self, url, comp, http_method, request):
        self.seen = ("a", http_method)

    @presentation.init_for(Page, lambda self, url, comp, method, request: len(url) == 2)
    def init_two(self, url, comp, http_method, request):
        self.seen = url

    page = Page()
    comp = component.Component(page)
    comp.init(["a"], "GET", None)
    assert page.seen == ("a", "GET")
    comp.init(["x", "y"], "GET", None)
    assert page.seen == ("x", "y")
    with pytest.raises(presentation.NotFound):
        comp.init(["nothing"], "GET", None)


def test_var_get_set_and_view():
    v = var.Var(3)
    assert v() == 3 and v(4) == 4 and v() == 4 and v.get() == 4
    assert presentation.render(v, None) == "4"
    assert presentation.render(var.Var(), None) == ""


def test_var_input_is_the_value_under_its_0_5_name():
    v = var.Var("a")
    assert v.input == v.value == "a"
    v.input = "b"
    assert v() == v.value == "b"
    v.set("c")
    assert v.input == "c"
    assert pickle.loads(pickle.dumps(v)).input == "c"


def test_var_render_gives_its_text():
    assert var.Var(7).render(None) == "7" and var.Var().render(None) == ""
    assert var.Var("<b>").render(None) == "<b>"  # text: the renderer escapes it


def test_var_hashes_and_compares_by_identity():
    # 0.5.1: Vars are used as dict keys and in sets; two Vars holding equal values are two Vars
    v, w = var.Var(4), var.Var(4)
    assert v == v and v != w and v != 4
    assert len({v, w}) == 2 and {v: 1}[v] == 1


def test_stateless_marks_classes_and_instances():
    @state.stateless
    class Shared:
        pass

    class Plain:
        pass

    p = Plain()
    assert state.is_stateless(Shared()) and not state.is_stateless(p)
    state.stateless(p)
    assert state.is_stateless(p) and not state.is_stateless(Plain())
    state.stateful(p)
    assert not state.is_stateless(p)
    with pytest.raises(TypeError):
        state.stateless(1)


# --- comp.call() (the flows themselves: tests/flow) -----------------------------------------------


class Other:
    pass


def test_call_shows_the_callee_and_returns_its_answer_to_the_code_calling():
    from nagare.continuation import Continuation

    comp = component.Component(Thing(), model="small", url="here")
    got = []

    def flow():
        got.append(comp.call(Other(), url="there"))
        got.append(comp.model)

    Continuation(flow)
    assert isinstance(comp(), Other) and comp.model is None and comp.url == "there"
    comp.answer("yes")
    assert got == ["yes", "small"] and isinstance(comp(), Thing) and comp.url == "here"


def test_call_with_a_model_only_shows_another_view_of_the_same_object():
    from nagare.continuation import Continuation

    thing = Thing()
    comp = component.Component(thing)
    Continuation(comp.call, model="edit")
    assert comp() is thing and comp.model == "edit"
    comp.answer()
    assert comp() is thing and comp.model is None


def test_becomes_drops_a_pending_call_whose_flow_never_resumes():
    from nagare.continuation import Continuation

    comp = component.Component(Thing())
    comp.on_answer(lambda r: ("listener", r))
    resumed = []
    def flow():
        resumed.append(comp.call(Other()))

    Continuation(flow)
    comp.becomes(Other())  # the call is dropped, the listener of the component is kept
    assert comp.answer(1) == ("listener", 1) and resumed == []


def test_a_pending_call_answered_twice_from_the_same_page_resumes_once():
    from nagare.continuation import Continuation

    comp = component.Component(Thing())
    resumed = []
    def flow():
        resumed.append(comp.call(Other()))

    Continuation(flow)
    pending = comp._on_answer
    pending(1)
    assert pending(2) is None and resumed == [1]
