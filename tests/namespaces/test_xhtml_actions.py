"""The XHTML/HTML5 renderers' actions, forms, selections, errors, async rendering and components.

Every action test goes through a real `Callbacks` registry: the names the renderer writes in the
page are sent back to `callbacks.process()`, which must call the right callable with the right value.
"""

import gc
import io
import pickle
from functools import partial
from urllib.parse import parse_qsl, urlsplit

import lxml.html
import pytest
import webob

from nagare import ajax, presentation, var
from nagare.callbacks import Callbacks
from nagare.component import Component
from nagare.namespaces import xhtml, xhtml5
from nagare.sessions.pickler import Pickler, Unpickler

from tests.namespaces.conftest import SESSION




def tree(h, output):
    return lxml.html.fragment_fromstring(h.fragment(output), create_parent="root")


def action_name(url):
    """The `_action…` parameter of a link's href or an image's src, whatever its path."""
    (name,) = [name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True) if name.startswith("_action")]
    return name


def state_copy(obj):
    """`obj` through the pickler of the session states."""
    buffer = io.BytesIO()
    Pickler(buffer).dump(obj)
    return Unpickler(io.BytesIO(buffer.getvalue()), {}).load()


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kw):
        self.calls.append((args, kw) if kw else args)
        return "result"


# --- links --------------------------------------------------------------------------------


def test_link_action(h, callbacks):
    f = Recorder()
    link = h.a("go").action(f)
    href = link.get("href")
    assert "?_action4" in href and href.endswith("&_s=abc&_c=00007")  # the path: see test_links.py
    name = action_name(href)
    assert callbacks.process([(name, "")]) == ["result"]
    assert f.calls == [()]
    assert link.get("data-nagare-async") is None


def test_link_without_session_params(module):
    h = module.Renderer()
    assert h.a.action(print).get("href") == "?_action400001"


def test_session_params_are_url_quoted(module):
    h = module.Renderer(session_params={"_s": "a b&c", "_c": "é"})
    assert h.a.action(print).get("href") == "?_action400001&_s=a+b%26c&_c=%C3%A9"


def test_action_with_request(h, callbacks):
    f = Recorder()
    name = action_name(h.a.action(f, with_request=True).get("href"))
    callbacks.process([(name, "")], "REQ", "RESP")
    assert f.calls == [("REQ", "RESP")]


def test_action_must_be_callable(h):
    with pytest.raises(TypeError, match="callable"):
        h.a.action("not callable")


def test_tags_without_actions_say_so(h):
    with pytest.raises(TypeError, match="has no action"):
        h.div.action(print)
    with pytest.raises(TypeError, match="pre_action"):
        h.form.action(print)


# --- forms and inputs ---------------------------------------------------------------------


def test_form_defaults_and_hidden_session_params(h):
    form = h.form(h.p("x"))
    assert (form.get("method"), form.get("enctype"), form.get("accept-charset")) == (
        "post",
        "multipart/form-data",
        "utf-8",
    )
    assert form.get("action") == "/app/"
    hidden = {i.get("name"): i.get("value") for i in form.iter("input") if i.get("type") == "hidden"}
    assert hidden == SESSION
    form = h.form(method="get", action="/elsewhere")
    assert (form.get("method"), form.get("action")) == ("get", "/elsewhere")


def test_form_without_url_posts_to_the_path_not_the_query(module):
    # An empty action would post to the current URL, a link's `?_action...` query string included.
    assert module.Renderer().form.get("action") == "?"


def test_value_inputs_get_the_value(h, callbacks):
    got = {}
    inputs = [
        h.input(value="x").action(partial(got.__setitem__, "text")),
        h.input(type="hidden").action(partial(got.__setitem__, "hidden")),
        h.input(type="password").action(partial(got.__setitem__, "password")),
        h.input(type="checkbox").action(partial(got.__setitem__, "checkbox")),
        h.input(type="file").action(partial(got.__setitem__, "file")),
        h.textarea("t").action(partial(got.__setitem__, "textarea")),
        h.select(h.option("a"), h.option("b")).action(partial(got.__setitem__, "select")),
    ]
    names = [i.get("name") for i in inputs]
    assert all(name.startswith("_action1") for name in names)
    callbacks.process([(name, f"v{i}") for i, name in enumerate(names)])
    assert got == {k: f"v{i}" for i, k in enumerate(["text", "hidden", "password", "checkbox", "file", "textarea", "select"])}


def test_var_as_input_action(h, callbacks):
    v = var.Var("old")
    name = h.input(value=v()).action(v).get("name")
    callbacks.process([(name, "new")])
    assert v() == "new"


def test_submit_buttons_run_after_values(h, callbacks):
    order = []
    submit = h.input(type="submit", value="Go").action(lambda: order.append("submit"))
    button = h.button("B").action(lambda: order.append("button"))
    text = h.input.action(lambda v: order.append(("value", v)))
    assert submit.get("name").startswith("_action4") and button.get("name").startswith("_action4")
    callbacks.process([(submit.get("name"), "Go"), (text.get("name"), "typed")])
    assert order == [("value", "typed"), "submit"]
    callbacks.process([(button.get("name"), "")])
    assert order[-1] == "button"


def test_image_input_is_called_with_x_then_y(h, callbacks):
    f = Recorder()
    image = h.input(type="image", src="ok.png").action(f)
    name = image.get("name")
    assert name.startswith("_action5")  # after the submit buttons
    assert image.get("src") == "/static/app/ok.png"
    callbacks.process([(name + ".x", "3"), (name + ".y", "4")])
    assert f.calls == [(False, 3), (True, 4)]


def test_pre_and_post_actions(h, callbacks):
    order = []
    form = h.form.pre_action(lambda: order.append("pre")).post_action(lambda: order.append("post"))
    with form:
        h << h.input.action(lambda v: order.append(v))
        h << h.input(type="submit").action(lambda: order.append("submit"))
    names = {i.get("name") for i in form.iter("input")} - set(SESSION)
    pre = [n for n in names if n.startswith("_action0")]
    post = [n for n in names if n.startswith("_action3")]
    assert len(pre) == len(post) == 1
    callbacks.process([(n, "v") for n in sorted(names, reverse=True)])
    # as in Nagare 0.5: post_action after the values, before the submit button's action
    assert order == ["pre", "v", "post", "submit"]


def test_select_multiple_always_gets_a_tuple(h, callbacks):
    got = []
    select = h.select(h.option("a"), h.option("b"), multiple=True).action(got.append)
    name = select.get("name")
    callbacks.process([(name, "a")])
    callbacks.process([(name, "a"), (name, "b")])
    assert got == [("a",), ("a", "b")]
    assert pickle.loads(pickle.dumps(callbacks))  # the wrapper is stored with the state


def test_radio_keeps_its_name_and_carries_its_callback_id_in_its_value(h, callbacks):
    got = []
    with h.form:
        male = h.input(type="radio", name="gender", value="m").action(got.append, "male")
        female = h.input(type="radio", name="gender").action(got.append, "female")
        other = h.input(type="radio", name="gender").action(lambda: got.append("other"))
    assert {r.get("name") for r in (male, female, other)} == {"gender"}  # one group, three actions
    assert all(r.get("value").startswith("_action2") for r in (male, female, other))
    assert len({r.get("value") for r in (male, female, other)}) == 3
    # the browser sends the group's name with the value of the button chosen
    callbacks.process([("gender", female.get("value"))])
    callbacks.process([("gender", other.get("value"))])
    assert got == ["female", "other"]  # f(*bound): no submitted value


def test_radio_with_request(h, callbacks):
    f = Recorder()
    radio = h.input(type="radio", name="g").action(f, "x", with_request=True, k=1)
    callbacks.process([("g", radio.get("value"))], "REQ", "RESP")
    assert f.calls == [(("x", "REQ", "RESP"), {"k": 1})]


def test_radio_buttons_without_a_name_are_grouped_by_action(h, callbacks):
    v = var.Var()
    radios = [h.input(type="radio").action(v, x) for x in "abc"]
    assert len({r.get("name") for r in radios}) == 1
    assert not radios[0].get("name").startswith("_action")
    other = h.input(type="radio").action(var.Var(), "z")
    assert other.get("name") != radios[0].get("name")
    callbacks.process([(radios[0].get("name"), radios[1].get("value"))])
    assert v() == "b"


def test_radio_buttons_of_a_bound_method_share_a_name(h, callbacks):
    class Choice:
        value = None

        def set(self, value):
            self.value = value

    c = Choice()
    radios = [h.input(type="radio").action(c.set, x) for x in "ab"]
    assert radios[0].get("name") == radios[1].get("name")
    callbacks.process([(radios[0].get("name"), radios[0].get("value"))])
    assert c.value == "a"


def test_radio_selected_after_its_action(h):
    assert h.input(type="radio", name="g").action(print, 1).selected(True).get("checked") == "checked"
    assert h.input(type="radio", name="g").action(print, 2).selected(False).get("checked") is None


def test_radio_group(h, callbacks):
    got = []
    group = h.radio_group(got.append)
    radios = [group.radio("a"), group.radio("b", checked=True), h.input(type="radio", value="c").action(group)]
    assert {r.get("name") for r in radios} == {group.name}
    assert radios[1].get("checked") == "checked"
    callbacks.process([(group.name, radios[2].get("value"))])
    assert got == ["c"]
    assert pickle.loads(pickle.dumps(callbacks))
    later = h.radio_group()
    x = later.radio("x")
    later.action(lambda req, resp, value: got.append((req, value)), with_request=True)
    callbacks.process([(later.name, x.get("value"))], "REQ")
    assert got[-1] == ("REQ", "x")


# --- images ---------------------------------------------------------------------------------


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20


def test_img_static_src(h):
    assert h.img(src="logo.png").get("src") == "/static/app/logo.png"
    assert h.img(src="/abs/logo.png").get("src") == "/abs/logo.png"
    assert h.img(src="https://x.org/a.png").get("src") == "https://x.org/a.png"
    assert h.img(src="data:image/png;base64,AA").get("src") == "data:image/png;base64,AA"


def test_img_action_answers_the_bytes(h, callbacks):
    img = h.img.action(lambda: PNG)
    src = img.get("src")
    assert "?_action4" in src
    (response,) = callbacks.process([(action_name(src), "")])
    assert isinstance(response, webob.Response)
    assert response.body == PNG and response.content_type == "image/png"
    img = h.img.action(lambda: b"GIF89a...", content_type="image/x-custom")
    (response,) = callbacks.process([(action_name(img.get("src")), "")])
    assert response.content_type == "image/x-custom"


def test_guess_image_type():
    assert xhtml.guess_image_type(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert xhtml.guess_image_type(b"GIF89a") == "image/gif"
    assert xhtml.guess_image_type(b'<?xml version="1.0"?><svg>') == "image/svg+xml"
    assert xhtml.guess_image_type(b"???") == "application/octet-stream"


# --- selected and error ---------------------------------------------------------------------


def test_option_selected(h):
    assert h.option("a").selected("a").get("selected") == "selected"
    assert h.option("A", value="a").selected("A").get("selected") is None
    assert h.option(value=2).selected(2).get("selected") == "selected"
    assert h.option(value="2").selected(["1", "2"]).get("selected") == "selected"
    assert h.option(value="3").selected(["1", "2"]).get("selected") is None
    assert h.option(value="3", selected=True).selected("1").get("selected") is None


def test_select_selected_marks_its_options(h, callbacks):
    select = h.select([h.option(x, value=x) for x in "abc"]).selected("b")
    assert [o.get("selected") for o in select] == [None, "selected", None]
    with h.select(multiple=True).selected(["a", "c"]) as select:  # options added after
        for x in "abc":
            h << h.option(x)
    assert [o.get("selected") for o in select] == ["selected", None, "selected"]


def test_radio_and_checkbox_selected(h):
    assert h.input(type="checkbox").selected(True).get("checked") == "checked"
    assert h.input(type="checkbox", checked=True).selected(False).get("checked") is None
    assert h.input(type="radio", value="a").selected("a").get("checked") == "checked"
    assert h.input(type="radio", value="a").selected("b").get("checked") is None
    assert h.input(type="radio", value="1").selected(1).get("checked") == "checked"
    assert h.input(type="checkbox", value="a").selected(["a", "b"]).get("checked") == "checked"
    assert h.input(type="checkbox", value="a").selected(True).get("checked") == "checked"


def test_error(h):
    field = h.input(value="x")
    assert field.error(None) is field
    field = h.input(value="x")
    assert field.error("Too <short>") is field  # the same tag; decorated where it is added
    assert h.fragment(field).replace("<input value=\"x\"/>", '<input value="x">') == (
        '<div class="nagare-error-field"><div class="nagare-error-input"><input value="x"></div>'
        '<div class="nagare-error-message">Too &lt;short&gt;</div></div>'
    )


def test_boolean_attributes(h, module):
    out = h.fragment(h.select(h.option("a", selected=True), multiple=True, disabled=False, draggable=True))
    if module is xhtml5:
        assert out == '<select multiple draggable="true"><option selected>a</option></select>'
    else:
        assert out == '<select multiple="multiple" draggable="true"><option selected="selected">a</option></select>'


# --- asynchronous rendering ------------------------------------------------------------------


class Counter:
    def __init__(self):
        self.value = 0
        self.text = var.Var()

    def increase(self):
        self.value += 1


@presentation.render_for(Counter)
def render_counter(self, h, comp, model):
    h << h.span(self.value, class_="value")
    h << h.a("++", class_="inc").action(self.increase)
    with h.form:
        h << h.input(class_="text").action(self.text)
        h << h.input(type="submit", class_="submit").action(self.increase)
    return h.root


@presentation.render_for(Counter, model="big")
def render_big_counter(self, h, comp, model):
    return h.strong(self.value)


def test_async_renderer_wraps_and_marks(h, callbacks):
    comp = Component(Counter())
    output = comp.render(h.AsyncRenderer())
    assert output.tag == "div" and output.get("id") == comp.dom_id
    root = tree(h, output)
    link = root.find_class("inc")[0]
    submit = root.find_class("submit")[0]
    text = root.find_class("text")[0]
    assert link.get("data-nagare-async") is not None and submit.get("data-nagare-async") is not None
    assert text.get("data-nagare-async") is None
    for name in (action_name(link.get("href")), submit.get("name")):
        (rendering,) = callbacks.process([(name, "")])
        assert isinstance(rendering, ajax.Rendering)
        assert rendering.component is comp and rendering.dom_id == comp.dom_id
    assert comp().value == 2
    assert callbacks.process([(text.get("name"), "x")]) == ["x"]  # values stay plain actions


def test_async_children_stay_async_and_sync_renderer_is_not(h):
    a = h.AsyncRenderer()
    assert a.is_async and a.new().is_async and not a.SyncRenderer().is_async
    assert not h.is_async and not h.new().is_async
    assert type(a) is type(h)
    sync = Component(Counter()).render(h)
    assert isinstance(sync, list) and not any(x.get("data-nagare-async") is not None for x in sync)


def test_module_async_renderer(module):
    h = module.AsyncRenderer()
    assert h.is_async and h.new().is_async and not h.SyncRenderer().new().is_async


def test_async_component_and_model(h):
    outer = Component(Counter())
    inner = Component(Counter(), model="big")
    seen = {}

    class Spy:
        pass

    @presentation.render_for(Spy)
    def render_spy(self, r, comp, model):
        seen.update(component=r.component, model=r.model, async_component=r.async_component, async_model=r.async_model)
        return "spy"

    spy = Component(Spy())
    inner.render(h)
    assert h.async_component is None
    a = h.AsyncRenderer()
    a.start_rendering(outer, "m")
    assert (a.component, a.model, a.async_component, a.async_model) == (outer, "m", outer, "m")
    s = a.SyncRenderer()
    spy.render(s)
    assert seen == {"component": spy, "model": None, "async_component": outer, "async_model": "m"}


def test_ajax_update_action_in_a_sync_renderer(h, callbacks):
    comp = Component(Counter())
    got = []

    @presentation.render_for(Counter, model="update")
    def render_update(self, r, comp, model):
        return r.a("u").action(ajax.Update(render=lambda r2: "new", action=lambda: got.append(1), component_to_update="zone"))

    link = comp.render(h, "update")
    assert link.get("data-nagare-async") is not None
    (rendering,) = callbacks.process([(action_name(link.get("href")), "")])
    assert got == [1] and rendering.dom_id == "zone" and callable(rendering.render)


def test_ajax_update_with_request(h, callbacks):
    got = []
    update = ajax.Update(action=lambda req, resp: got.append((req, resp)), with_request=True)
    button = h.button.action(update)
    callbacks.process([(button.get("name"), "")], "REQ", "RESP")
    assert got == [("REQ", "RESP")]
    plain = h.AsyncRenderer().a.action(lambda req, resp: got.append(req), with_request=True)
    callbacks.process([(action_name(plain.get("href")), "")], "R2", "X")
    assert got[-1] == "R2"


def test_async_registry_pickles(h, callbacks):
    comp = Component(Counter())
    comp.render(h.AsyncRenderer())
    restored = pickle.loads(pickle.dumps((comp, callbacks)))
    assert len(restored[1]) == len(callbacks)


# --- components and gc ----------------------------------------------------------------------


def test_components_as_children(h, callbacks):
    comp = Component(Counter())
    with h.div(class_="page"):
        h << comp
        h << h.p(Component(Counter(), model="big"))
    root = tree(h, h.root)
    assert root.find_class("value")[0].text == "0"
    assert root.xpath("//p/strong")[0].text == "0"
    name = action_name(root.find_class("inc")[0].get("href"))
    callbacks.process([(name, "")])
    assert comp().value == 1


def test_actions_survive_garbage_collection(h, callbacks):
    links = [h.a(str(i)) for i in range(100)]
    container = h.div(links)
    del links
    gc.collect()
    for link in container:
        link.action(print)
    assert len(callbacks) == 100
    with h.form as form:
        pass
    del form
    gc.collect()
    h.root.pre_action(print)
    assert len(callbacks) == 101


# --- extra arguments of .action(): every tag, in Nagare 0.5's order --------------------------

REQ, RESP = "REQ", "RESP"


def submitted(tag, value="typed"):
    """The parameters a browser sends for `tag` (an element with an action), with `value` typed."""
    kind = (tag.get("type") or "").lower()
    if tag.tag == "a":
        return [(action_name(tag.get("href")), "")]
    if tag.tag == "img":
        return [(action_name(tag.get("src")), "")]
    if kind == "image":
        return [(tag.get("name") + ".x", "3"), (tag.get("name") + ".y", "4")]
    if kind == "radio":
        return [(tag.get("name"), tag.get("value"))]
    if kind in ("submit", "button") or tag.tag == "button":
        return [(tag.get("name"), "label")]
    if tag.tag == "select" and tag.get("multiple") is not None:
        return [(tag.get("name"), "a"), (tag.get("name"), "b")]
    return [(tag.get("name"), value)]


# (tag factory, the arguments the action gets after the bound ones without request, with request)
TAGS = {
    "a": (lambda h: h.a("x"), [()], [(REQ, RESP)]),
    "submit": (lambda h: h.input(type="submit"), [()], [(REQ, RESP)]),
    "button": (lambda h: h.button("b"), [()], [(REQ, RESP)]),
    "text": (lambda h: h.input(type="text"), [("typed",)], [(REQ, RESP, "typed")]),
    "password": (lambda h: h.input(type="password"), [("typed",)], [(REQ, RESP, "typed")]),
    "hidden": (lambda h: h.input(type="hidden"), [("typed",)], [(REQ, RESP, "typed")]),
    "checkbox": (lambda h: h.input(type="checkbox"), [("typed",)], [(REQ, RESP, "typed")]),
    "email": (lambda h: h.input(type="email"), [("typed",)], [(REQ, RESP, "typed")]),
    "number": (lambda h: h.input(type="number"), [("typed",)], [(REQ, RESP, "typed")]),
    "date": (lambda h: h.input(type="date"), [("typed",)], [(REQ, RESP, "typed")]),
    "file": (lambda h: h.input(type="file"), [("typed",)], [(REQ, RESP, "typed")]),
    "select": (lambda h: h.select(h.option("a")), [("typed",)], [(REQ, RESP, "typed")]),
    "radio": (lambda h: h.input(type="radio", name="g"), [()], [(REQ, RESP)]),
    "image": (lambda h: h.input(type="image"), [(False, 3), (True, 4)], [(REQ, RESP, False, 3), (REQ, RESP, True, 4)]),
}
# Nagare 0.5 passes the request first, before the bound arguments, to these two only.
REQUEST_FIRST = {
    "textarea": (lambda h: h.textarea("t"), [("typed",)], [("typed",)]),
    "select multiple": (lambda h: h.select(h.option("a"), h.option("b"), multiple=True), [(("a", "b"),)], [(("a", "b"),)]),
}


@pytest.mark.parametrize("kind", list(TAGS))
def test_every_tag_binds_extra_arguments(h, callbacks, kind):
    make, plain, with_request = TAGS[kind]
    f = Recorder()
    tag = make(h).action(f, 1, "two", k="w")
    callbacks.process(submitted(tag))
    assert f.calls == [((1, "two", *rest), {"k": "w"}) for rest in plain]
    f = Recorder()
    tag = make(h).action(f, 1, with_request=True)
    callbacks.process(submitted(tag), REQ, RESP)
    assert f.calls == [(1, *rest) for rest in with_request]


@pytest.mark.parametrize("kind", list(REQUEST_FIRST))
def test_textarea_and_multiple_select_put_the_request_first(h, callbacks, kind):
    make, plain, values = REQUEST_FIRST[kind]
    f = Recorder()
    tag = make(h).action(f, 1, k="w")
    callbacks.process(submitted(tag))
    assert f.calls == [((1, *plain[0]), {"k": "w"})]
    f = Recorder()
    tag = make(h).action(f, 1, with_request=True, k="w")
    callbacks.process(submitted(tag), REQ, RESP)
    assert f.calls == [((REQ, RESP, 1, *values[0]), {"k": "w"})]


def test_img_binds_extra_arguments(h, callbacks):
    got = []
    img = h.img.action(lambda size, fmt="png": got.append((size, fmt)) or PNG, 32, fmt="gif")
    (response,) = callbacks.process(submitted(img))
    assert got == [(32, "gif")] and response.body == PNG
    img = h.img.action(lambda size, req, resp: got.append((size, req)) or PNG, 16, with_request=True)
    callbacks.process(submitted(img), REQ, RESP)
    assert got[-1] == (16, REQ)


def test_pre_and_post_actions_bind_extra_arguments(h, callbacks):
    f = Recorder()
    form = h.form.pre_action(f, "pre", k=0).post_action(f, "post", with_request=True)
    names = sorted(i.get("name") for i in form.iter("input") if i.get("name").startswith("_action"))
    callbacks.process([(n, "") for n in names], REQ, RESP)
    assert f.calls == [(("pre",), {"k": 0}), ("post", REQ, RESP)]


def test_a_positional_argument_is_bound_not_taken_for_with_request(h, callbacks):
    # `.action(self.digit, 7)` in a 0.5 application; `.action(f, True)` is f(True) too
    f = Recorder()
    callbacks.process(submitted(h.a.action(f, 7)) + submitted(h.a.action(f, True)), REQ, RESP)
    assert f.calls == [(7,), (True,)]


def test_textarea_value_loses_its_carriage_returns(h, callbacks):
    got = []
    textarea = h.textarea.action(got.append)
    callbacks.process([(textarea.get("name"), "one\r\ntwo\r\n")])
    assert got == ["one\ntwo\n"]


def test_bound_actions_pickle_with_the_state(h, callbacks):
    class Page:
        def __init__(self):
            self.got = []

    page = Page()
    tags = [
        h.a.action(lambda n, k=None: page.got.append(("link", n, k)), 1, k=2),
        h.textarea.action(lambda prefix, v: page.got.append((prefix, v)), "text"),
        h.select(h.option("a"), multiple=True).action(lambda *a: page.got.append(a), "multi"),
        h.input(type="radio", name="g").action(lambda n: page.got.append(("radio", n)), 3),
    ]
    params = [p for tag in tags for p in submitted(tag)]
    restored_page, restored = state_copy((page, callbacks))
    restored.process(params)
    assert restored_page.got == [("text", "typed"), ("multi", ("a", "b")), ("radio", 3), ("link", 1, 2)]
    assert page.got == []


def test_bound_arguments_cost_little_in_the_state(h, callbacks):
    class Digits:
        def digit(self, n):
            pass

    digits = Digits()

    def size(build):
        registry = Callbacks()
        r = type(h)(callbacks=registry)
        for n in range(20):
            build(r, n)
        buffer = io.BytesIO()
        Pickler(buffer).dump((digits, registry))
        return len(buffer.getvalue())

    plain = size(lambda r, n: r.a.action(digits.digit))
    bound = size(lambda r, n: r.a.action(digits.digit, n))
    assert bound - plain < 20 * 16  # a few bytes per link: the argument and a reference


# --- permissions -----------------------------------------------------------------------------


class Document:
    def edit(self, what=None):
        return ("edited", what)


@presentation.render_for(Document)
def render_document(self, h, comp, model):
    with h.form:
        h << h.a("edit").action(self.edit, "title", permissions="edit")
        h << h.input.action(self.edit, permissions=("read", "write"), subject="explicit")
        h << h.a("free").action(self.edit)
        h << h.a("async").action(ajax.Update(action=self.edit, permissions="admin"))
    return h.root


def test_permissions_are_kept_with_the_rendered_object_as_default_subject(h, callbacks):
    doc = Document()
    root = tree(h, Component(doc).render(h))
    params = [(action_name(a.get("href")), "") for a in root.iter("a")]
    params += [(i.get("name"), "v") for i in root.iter("input") if i.get("name", "").startswith("_action1")]
    checks = []
    results = callbacks.process(params, check=lambda p, s: checks.append((p, s)))
    assert checks == [(("read", "write"), "explicit"), ("edit", doc), ("admin", doc)]
    assert results[:3] == [("edited", "v"), ("edited", "title"), ("edited", None)]


def test_a_refused_permission_stops_the_action(h, callbacks):
    got = []

    class Refused(Exception):
        pass

    def check(permissions, subject):
        raise Refused(permissions)

    link = h.a.action(got.append, 1, permissions="admin")
    with pytest.raises(Refused):
        callbacks.process(submitted(link), check=check)
    assert got == []


# --- one form, every priority ------------------------------------------------------------------


def test_a_form_runs_its_actions_in_the_order_of_nagare_0_5(h, callbacks):
    order = []
    with h.form as form:
        form.pre_action(order.append, "pre").post_action(order.append, "post")
        h << h.input(type="image").action(lambda is_y, v: order.append(("image", is_y)))
        h << h.input(type="submit").action(order.append, "submit")
        h << h.input(type="radio", name="r").action(order.append, "radio")
        h << h.textarea.action(lambda v: order.append("textarea"))
        h << h.input.action(lambda v: order.append("text"))
    params = [(i.get("name"), "") for i in form.iter("input") if i.get("type") == "hidden" and i.get("name").startswith("_action")]
    for field in reversed(list(form.iter("input", "textarea"))):  # the request's order is reversed
        if field.get("type") != "hidden":
            params += submitted(field)
    callbacks.process(params)
    assert order == ["pre", "text", "textarea", "radio", "post", "submit", ("image", False), ("image", True)]


# --- ajax.Update on fields -----------------------------------------------------------------------


def test_update_on_a_field_is_sent_on_change(h, callbacks):
    text = var.Var("")
    fields = [
        h.input(value="x").action(ajax.Update(lambda r: r.b(text()), text, "zone")),
        h.textarea.action(ajax.Update(lambda r: r.b(text()), text, "zone")),
        h.select(h.option("a")).action(ajax.Update(lambda r: r.b(text()), text, "zone")),
    ]
    for field, value in zip(fields, ("typed", "a\r\nb", "a")):
        url = field.get("data-nagare-async")
        assert url == "/app/?_s=abc&_c=00007"  # where nagare.js posts the value
        (rendering,) = callbacks.process([(field.get("name"), value)])
        assert isinstance(rendering, ajax.Rendering) and rendering.dom_id == "zone"
    assert text() == "a"
    assert h.input.action(text).get("data-nagare-async") is None  # a plain field stays plain


def test_update_on_a_field_with_bound_arguments_and_request(h, callbacks):
    f = Recorder()
    field = h.input.action(ajax.Update(lambda r: "", f, "zone", "bound", with_request=True), "tag")
    callbacks.process([(field.get("name"), "v")], REQ, RESP)
    assert f.calls == [("bound", "tag", REQ, RESP, "v")]
    f = Recorder()
    area = h.textarea.action(ajax.Update(lambda r: "", f, "zone", "bound", with_request=True), "tag")
    callbacks.process([(area.get("name"), "v\r")], REQ, RESP)
    assert f.calls == [(REQ, RESP, "bound", "tag", "v")]


def test_update_on_a_radio(h, callbacks):
    f = Recorder()
    radio = h.input(type="radio", name="g").action(ajax.Update(lambda r: "", f, "zone"), "male")
    assert radio.get("data-nagare-async") and radio.get("value").startswith("_action2")
    (rendering,) = callbacks.process([("g", radio.get("value"))])
    assert f.calls == [("male",)] and isinstance(rendering, ajax.Rendering)


# --- through the request cycle ----------------------------------------------------------------


class Survey:
    def __init__(self):
        self.got = []

    def keep(self, *args):
        self.got.append(args)


@presentation.render_for(Survey)
def render_survey(self, h, comp, model):
    h << h.span(repr(self.got), id="got")
    with h.form:
        h << h.input(type="radio", name="gender", id="male").action(self.keep, "male")
        h << h.input(type="radio", name="gender", id="female").action(self.keep, "female")
        h << h.textarea(id="notes").action(self.keep, "notes")
        h << h.input(type="file", id="photo").action(self.keep, "photo")
        with h.select(id="colours", multiple=True).action(self.keep, "colours"):
            h << [h.option(c, value=c) for c in ("red", "blue")]
        h << h.input(type="image", id="map").action(self.keep, "map")
    return h.root


def survey_app():
    from nagare.config import loader
    from nagare.sessions.memory import Sessions
    from nagare.sessions.serializer import Serializer
    from nagare.wsgi.app import WSGIApp

    sessions = Sessions(loader.check(None, Sessions.SETTINGS, {}), Serializer(b"k" * 32, "t"), "t")
    return WSGIApp(Survey, name="t", sessions=sessions)


def multipart(fields):
    """A multipart/form-data body as a browser sends it; a value (name, b'...') is a file."""
    parts = []
    for name, value in fields:
        if isinstance(value, tuple):
            filename, data = value
            head = f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\nContent-Type: application/octet-stream'
            parts.append(head.encode() + b"\r\n\r\n" + data)
        else:
            parts.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}'.encode())
    return b"".join(b"--B\r\n" + part + b"\r\n" for part in parts) + b"--B--\r\n"


def test_a_form_posted_through_the_request_cycle():
    app = survey_app()

    def blank(**kw):
        request = webob.Request.blank("/t/", base_url="http://localhost", **kw)
        request.script_name, request.path_info = "/t", "/"
        return request

    page = blank().get_response(app)
    cookie = page.headers["Set-Cookie"].split(";")[0]
    form = lxml.html.fromstring(page.body).forms[0]
    fields = {e.get("id"): e for e in form.iter("input", "textarea", "select") if e.get("id")}
    hidden = [(i.get("name"), i.get("value")) for i in form.iter("input") if i.get("type") == "hidden"]
    body = multipart(
        hidden
        + [
            ("gender", fields["female"].get("value")),
            (fields["notes"].get("name"), "one\r\ntwo"),
            (fields["photo"].get("name"), ("", b"")),  # no file chosen
            (fields["colours"].get("name"), "blue"),
            (fields["map"].get("name") + ".x", "12"),
            (fields["map"].get("name") + ".y", "34"),
        ]
    )
    request = blank(method="POST", body=body)
    request.content_type = "multipart/form-data; boundary=B"
    request.headers["Cookie"] = cookie
    answer = request.get_response(app)
    got = lxml.html.fromstring(answer.body).get_element_by_id("got").text
    assert got == repr(
        [("notes", "one\ntwo"), ("photo", ""), ("colours", ("blue",)), ("female",), ("map", False, 12), ("map", True, 34)]
    )
