"""A request leaves nothing to the cyclic garbage collector: what it made is freed when it ends.

The renderers and their tags refer to each other, and WebOb's parsed query to the environ: left
as they were, every page was hundreds of objects in reference cycles, freed a few pages later by a
collection that cost more than the reference counting that frees them at once now
(bench/click.py). The application's own objects may still form cycles; the framework's do not.
"""

from __future__ import annotations

import gc
import io
import json
import re
import sys

from nagare import component, presentation
from nagare.config import loader
from nagare.sessions.memory import Sessions
from nagare.sessions.serializer import Serializer
from nagare.wsgi.app import WSGIApp


class Counter:
    def __init__(self):
        self.value = 0

    def increase(self):
        self.value += 1


@presentation.render_for(Counter)
def render_counter(self, h, comp, *args):
    h << h.span(self.value, class_="value")
    h << h.a("++", id="increase").action(self.increase)
    return h.root


class Page:
    def __init__(self):
        self.name = ""
        self.counter = component.Component(Counter())

    def set_name(self, value):
        self.name = value


@presentation.render_for(Page)
def render_page(self, h, comp, *args):
    h.head << h.head.title("A page")
    h.head.css("page", ".value { color: red }")
    with h.div(id="content"):
        h << h.p("Hello ", self.name)
        with h.form:
            h << h.label("Name", h.input(value=self.name).action(self.set_name))
            h << h.input(type="submit", value="Save", id="save").action(lambda: None)
        h << h.script("var x = 1;")
        h << self.counter.render(h.AsyncRenderer())
    return h.root


def make_app():
    sessions = Sessions(loader.check(None, Sessions.SETTINGS, {}), Serializer(b"k" * 32, "t"), "t")
    return WSGIApp(Page, name="t", sessions=sessions)


class Browser:
    """Raw WSGI calls (no WebOb on this side: its objects are not the application's)."""

    def __init__(self, app):
        self.app, self.cookie, self.status = app, "", ""

    def start_response(self, status, headers, exc_info=None):
        self.status = status
        for name, value in headers:
            if name.lower() == "set-cookie":
                self.cookie = value.split(";", 1)[0]

    def get(self, href="/t/"):
        path, _, query = href.replace("&amp;", "&").partition("?")
        environ = {
            "REQUEST_METHOD": "GET", "SCRIPT_NAME": "/t", "PATH_INFO": path.removeprefix("/t") or "/",
            "QUERY_STRING": query, "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
            "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        if self.cookie:
            environ["HTTP_COOKIE"] = self.cookie
        body = b"".join(self.app(environ, self.start_response))
        assert self.status.startswith("200"), (self.status, body[:300])
        return body.decode()


def href(page, link_id):
    return re.search(rf'<a [^>]*id="{link_id}"[^>]* href="([^"]+)"', page).group(1)


def cyclic_garbage(request):
    """What `request()` left that only the cyclic collector frees: the framework's objects and WebOb's."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        answer = request()
        gc.collect()
        # Other threads of the test run may make garbage of their own meanwhile: only ours counts.
        found = sorted(
            f"{type(o).__module__}.{type(o).__qualname__}"
            for o in gc.garbage
            if type(o).__module__.startswith(("nagare", "webob", "lxml", "tests.wsgi"))
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    return answer, found


def test_a_page_leaves_no_cyclic_garbage():
    browser = Browser(make_app())
    page = browser.get()
    page, found = cyclic_garbage(lambda: browser.get(href(page, "increase")))
    assert 'class="value">1<' in page  # the async link followed as a plain link: the whole page
    assert found == []


def test_a_new_session_and_a_reload_leave_no_cyclic_garbage():
    browser = Browser(make_app())
    page, found = cyclic_garbage(browser.get)
    assert "<title>A page</title>" in page and found == []
    url = re.search(r'href="([^"]*_s=[^"]+)"', page).group(1)
    state = re.search(r"_s=[0-9a-f]+&(?:amp;)?_c=\d+", url).group(0)
    _, found = cyclic_garbage(lambda: browser.get("/t/?" + state))
    assert found == []


def test_an_xhr_update_leaves_no_cyclic_garbage():
    browser = Browser(make_app())
    page = browser.get()
    answer, found = cyclic_garbage(lambda: browser.get(href(page, "increase") + "&_a=1"))
    assert 'class="value">1<' in json.loads(answer)["updates"][0]["html"]
    assert found == []


def test_the_tags_forget_their_renderer_once_the_page_is_serialised():
    from nagare.namespaces import xhtml5

    h = xhtml5.Renderer()
    h.head << h.head.title("t")
    with h.div(id="d") as div:
        h << h.a("x", href="#")
    page = h.page(h.root)
    assert div.renderer is h and b'<div id="d"><a href="#">x</a></div>' in page
    h._release()
    assert div.renderer is None and h._tags == [] and h.head._tags == []
