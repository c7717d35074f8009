"""ajax.Update: 0.5.1's signature (extra positional arguments bound to the action, keywords for the
rest), a tag as the target, `comp.answer` with its argument as an action; through the real renderer
and the real request cycle (WSGIApp, the memory sessions and their pickler)."""

from __future__ import annotations

import io
import json
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from webob.exc import HTTPForbidden

from nagare import ajax, presentation
from nagare.callbacks import Callbacks
from nagare.component import Component
from nagare.config import loader
from nagare.namespaces import xhtml5
from nagare.sessions.memory import Sessions
from nagare.sessions.pickler import Pickler, Unpickler
from nagare.sessions.serializer import Serializer
from nagare.wsgi.app import WSGIApp
from tests.support.wsgi_client import WSGIClient


def action_name(url):
    (name,) = [n for n, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True) if n.startswith("_action")]
    return name


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kw):
        self.calls.append((args, kw) if kw else args)


# --- the signature ---------------------------------------------------------------------------


def test_positional_arguments_after_the_third_are_bound_to_the_action():
    f = Recorder()
    update = ajax.Update("", f, "zone", 1, True, k="w")  # True is an argument, not with_request
    assert update.with_request is False and update.component_to_update == "zone"
    rendering = update()
    assert f.calls == [((1, True), {"k": "w"})] and isinstance(rendering, ajax.Rendering)


def test_with_request_permissions_and_subject_are_keywords():
    update = ajax.Update(lambda r: "", print, None, with_request=True, permissions="edit", subject="doc")
    assert (update.with_request, update.permissions, update.subject) == (True, "edit", "doc")
    with pytest.raises(TypeError):
        ajax.Update("", "not callable")


def test_an_update_registered_on_a_link_gets_the_request_after_its_arguments():
    callbacks = Callbacks()
    h = xhtml5.Renderer(callbacks=callbacks)
    f = Recorder()
    link = h.a.action(ajax.Update(lambda r: "", f, "zone", "bound", with_request=True), "tag")
    callbacks.process([(action_name(link.get("href")), "")], "REQ", "RESP")
    assert f.calls == [("bound", "tag", "REQ", "RESP")]


def test_a_tag_as_target_gets_an_id_and_only_the_id_is_kept():
    h = xhtml5.Renderer()
    zone = h.div("old")
    update = ajax.Update(lambda r: "new", print, zone)
    assert update.component_to_update == zone.get("id") and zone.get("id").startswith("nagare-")
    named = h.span(id="total")
    assert ajax.Update("", print, named).component_to_update == "total"
    with pytest.raises(TypeError, match="component_to_update"):
        ajax.Update("", print, 42)


def test_a_bound_update_pickles_small_without_its_tag():
    callbacks = Callbacks()
    h = xhtml5.Renderer(callbacks=callbacks)
    zone = h.div("old")
    h.a.action(ajax.Update(lambda r: "new", print, zone))
    buffer = io.BytesIO()
    Pickler(buffer).dump(callbacks)  # an lxml element would raise here
    data = buffer.getvalue()
    assert b"HTMLTag" not in data and b"with_request" not in data  # a tuple, not a dict of names
    restored = Unpickler(io.BytesIO(data), {}).load()
    (rendering,) = restored.process([("_action400001", "")])
    assert rendering.dom_id == zone.get("id")


# --- through the request cycle ------------------------------------------------------------------


class Choice:
    """A component answering what was clicked; its parent shows the answer."""


@presentation.render_for(Choice)
def render_choice(self, h, comp, model):
    h << h.a("yes", id="yes").action(comp.answer, 42)
    h << h.a("no", id="no").action(comp.answer, "no", with_request=False)
    return h.root


class Page:
    def __init__(self):
        self.choice = Component(Choice()).on_answer(self.answered)
        self.answers = []
        self.counter = 0

    def answered(self, value):
        self.answers.append(value)

    def add(self, n, step=1):
        self.counter += n * step


@presentation.render_for(Page)
def render_page(self, h, comp, model):
    h << h.span(repr(self.answers), id="answers")
    h << self.choice
    total = h.span(self.counter)  # no id: the Update gives it one
    h << total
    h << h.a("+", id="add").action(ajax.Update(lambda r: r.b(self.counter), self.add, total, 2), step=5)
    return h.root


class Client(WSGIClient):
    """A browser in miniature: follows the links of the page it was last given."""

    def __init__(self, root=Page):
        super().__init__(make_app(root))

    def get(self, url="/t/"):
        return self.open(url)


def href(page, link_id):
    return re.search(rf'<a [^>]*id="{link_id}"[^>]* href="([^"]+)"', page.text).group(1).replace("&amp;", "&")


def test_comp_answer_with_its_argument_as_an_action():
    client = Client()
    page = client.get()
    page = client.get(href(page, "yes"))
    assert '<span id="answers">[42]</span>' in page.text
    page = client.get(href(page, "no"))
    assert '<span id="answers">[42, \'no\']</span>' in page.text


def test_an_update_with_bound_arguments_and_a_tag_target_through_xhr():
    client = Client()
    page = client.get()
    target = re.search(r'<span id="(nagare-[0-9a-f]+)">0</span>', page.text).group(1)
    answer = client.get(href(page, "add") + "&_a=1")
    assert answer.content_type == "application/json"
    (update,) = json.loads(answer.text)["updates"]
    assert update == {"id": target, "mode": "inner", "html": "<b>10</b>"}  # add(2, step=5)


# --- ajax.Updates: several updates answered by one XHR ------------------------------------------


class Board:
    """Two counters updated together, after a first action, by one link."""

    def __init__(self):
        self.left = self.right = 0
        self.log = []

    def first(self, *args):
        self.log.append(" ".join(["first", *[type(a).__name__ for a in args]]))

    def add_left(self, n):
        self.log.append(f"left {n}")
        self.left += n

    def add_right(self, *args):
        self.log.append(" ".join(["right", *[type(a).__name__ for a in args]]))
        self.right += 1


@presentation.render_for(Board)
def render_board(self, h, comp, model):
    h << h.span(self.left, id="left") << h.span(self.right, id="right") << h.span(", ".join(self.log), id="log")
    both = ajax.Updates(
        ajax.Update(lambda r: r.b(self.left), self.add_left, "left", 3),
        ajax.Update(lambda r: r.i(self.right), self.add_right, "right", with_request=True),
        action=self.first,
    )
    h << h.a("both", id="both").action(both)
    with h.form:
        h << h.input(type="submit", id="send", value="Send").action(ajax.Updates(ajax.Update(lambda r: r.b(self.left), self.add_left, "left", 1)))
    return h.root


def make_app(root=Page):
    sessions = Sessions(loader.check(None, Sessions.SETTINGS, {}), Serializer(b"k" * 32, "t"), "t")
    return WSGIApp(root, name="t", sessions=sessions)


def test_updates_takes_updates_only_and_its_options_as_keywords():
    update = ajax.Update(lambda r: "", print, "zone", with_request=True)
    updates = ajax.Updates(update, ajax.Update(lambda r: "", print, "other"), action=print, permissions="edit", subject="doc")
    assert isinstance(updates, ajax.Update) and updates.updates[0] is update
    # the registry passes the request when one of them wants it
    assert (updates.with_request, updates.permissions, updates.subject) == (True, "edit", "doc")
    with pytest.raises(TypeError, match="Updates"):
        ajax.Updates(print)


def test_updates_runs_its_action_then_each_update_and_answers_every_rendering_at_once():
    client = Client(Board)
    page = client.get()
    answer = client.get(href(page, "both") + "&_a=1")
    assert answer.content_type == "application/json"
    assert json.loads(answer.text)["updates"] == [
        {"id": "left", "mode": "inner", "html": "<b>3</b>"},
        {"id": "right", "mode": "inner", "html": "<i>1</i>"},
    ]
    # the link of the same page again: the state went through the session and stayed in place
    answer = client.get(href(page, "both") + "&_a=1")
    assert [u["html"] for u in json.loads(answer.text)["updates"]] == ["<b>6</b>", "<i>2</i>"]


def test_updates_gives_the_request_only_to_the_actions_that_asked_for_it():
    client = Client(Board)
    page = client.get()
    link = href(page, "both")
    client.get(link + "&_a=1")
    state = "&".join(p for p in urlsplit(link).query.split("&") if not p.startswith("_action"))
    page = client.get("/t/?" + state)  # the state as the XHR left it
    assert '<span id="log">first, left 3, right Request Response</span>' in page.text


def test_updates_on_a_submit_button():
    client = Client(Board)
    page = client.get()
    form = re.search(r'<form [^>]*action="([^"]+)"[^>]*>(.*?)</form>', page.text)
    (submit,) = [tag for tag in re.findall(r"<input [^>]*>", form.group(2)) if 'id="send"' in tag]
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', form.group(2))
    fields = [*hidden, (re.search(r'name="([^"]+)"', submit).group(1), "Send"), ("_a", "1")]
    answer = client.get(form.group(1) + "?" + "&".join(f"{n}={v}" for n, v in fields))
    assert json.loads(answer.text)["updates"] == [{"id": "left", "mode": "inner", "html": "<b>1</b>"}]


# --- the URL of the components enclosing an updated one ---------------------------------------


class Clicks:
    def __init__(self):
        self.n = 0

    def click(self):
        self.n += 1


@presentation.render_for(Clicks)
def render_clicks(self, h, comp, model):
    h << h.span(self.n, id="n") << h.a("+", id="click").action(self.click)
    h << h.span(id="zone") << h.a("zone", id="zone-link").action(ajax.Update(lambda r: r.a("in", id="in").action(self.click), self.click, "zone"))
    return h.root


class Middle:
    def __init__(self):
        self.clicks = Component(Clicks(), url="c")


@presentation.render_for(Middle)
def render_middle(self, h, comp, model):
    return self.clicks.render(h.AsyncRenderer())


class Shell:
    def __init__(self):
        self.middle = Component(Middle(), url="sub")


@presentation.render_for(Shell)
def render_shell(self, h, comp, model):
    return h.div(self.middle)


def path_of(html, link_id):
    """The path of the href of the link `link_id` in `html`."""
    return urlsplit(re.search(rf'<a [^>]*id="{link_id}"[^>]* href="([^"]+)"', html).group(1)).path


def test_an_xhr_update_keeps_the_url_of_the_components_around_the_updated_one():
    client = Client(Shell)
    page = client.get()
    assert path_of(page.text, "click") == "/t/sub/c"
    (update,) = json.loads(client.get(href(page, "click") + "&_a=1").text)["updates"]
    assert update["mode"] == "outer" and path_of(update["html"], "click") == "/t/sub/c"
    (update,) = json.loads(client.get(href(page, "zone-link") + "&_a=1").text)["updates"]
    assert update["mode"] == "inner" and path_of(update["html"], "in") == "/t/sub/c"


def test_the_permissions_of_an_update_in_updates_are_checked_after_the_state_is_restored():
    callbacks = Callbacks()
    h = xhtml5.Renderer(callbacks=callbacks)
    f = Recorder()
    link = h.a.action(ajax.Updates(ajax.Update(lambda r: "", f, "zone", permissions="edit")))
    buffer = io.BytesIO()
    Pickler(buffer).dump(callbacks)
    restored = Unpickler(io.BytesIO(buffer.getvalue()), {}).load()
    with pytest.raises(HTTPForbidden):  # the default security manager lets only `public` pass
        restored.process([(action_name(link.get("href")), "")])
    assert f.calls == []
