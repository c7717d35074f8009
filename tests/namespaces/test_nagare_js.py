"""static/nagare.js in a real browser (chromium through Playwright), against a tiny WSGI app.

The app renders with the real renderer and runs the actions through a real `Callbacks` registry:
asynchronous links and submit buttons must update their component in place (no reload), run the
head's new JavaScript once, follow `reload`, and show an error page answered instead of JSON.
A field whose action is an `ajax.Update` sends its value when it changes; an `ajax.Updates`
changes several parts of the page with one request.
"""

from __future__ import annotations

import json
import threading
from importlib import resources
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import webob

from nagare import ajax, presentation, var
from nagare.callbacks import Callbacks
from nagare.component import Component
from nagare.namespaces import xhtml5


class Counter:
    def __init__(self):
        self.value = 0
        self.text = var.Var("")
        self.live = ""
        self.choices = ()
        self.notes = ""

    def increase(self):
        self.value += 1

    def fail(self):
        raise RuntimeError("boom")

    def set(self, name, value):
        setattr(self, name, value)


@presentation.render_for(Counter)
def render_counter(self, h, comp, model):
    if self.value:
        h.head.javascript("count", "window.headRuns = (window.headRuns || 0) + 1;")
        h.head.css("red", ".value { color: rgb(255, 0, 0) }")
    with h.div(class_="counter"):
        h << h.span(self.value, class_="value") << h.span(self.text(), class_="text")
        h << h.a("++", id="increase").action(self.increase)
        h << h.a("fail", id="fail").action(self.fail)
        # the counter (its action) and #tens, outside it, in one request
        tens = ajax.Update(lambda r: str(self.value * 10), None, "tens")
        h << h.a("both", id="both").action(ajax.Updates(ajax.Update(action=self.increase), tens))
        h << h.script("window.inlineRuns = (window.inlineRuns || 0) + 1;")
        h << h.span(self.live, class_="live") << h.span(repr(self.choices), class_="choices")
        h << h.span(self.notes.replace("\n", "|"), class_="notes")  # a \r kept would show
        # no form around it: the session parameters come with the URL of data-nagare-async
        h << h.input(id="live", value=self.live).action(ajax.Update(action=self.set), "live")
        with h.form:
            h << h.input(id="field", value=self.text()).action(self.text)
            h << h.input(type="submit", id="send", value="Send").action(self.increase)
            with h.select(id="choices", multiple=True).action(ajax.Update(action=self.set), "choices"):
                h << [h.option(x, value=x) for x in "abc"]
            h << h.textarea(self.notes, id="notes").action(ajax.Update(action=self.set), "notes")
    return h.root


class App:
    def __init__(self):
        self.callbacks = Callbacks()
        self.counter = Component(Counter())
        self.log = []

    def renderer(self):
        return xhtml5.Renderer(callbacks=self.callbacks, session_params={"_s": "S", "_c": "C"}, url="/")

    def render_page(self, h):
        with h.div(id="page"):
            h << self.counter.render(h.AsyncRenderer())
            h << h.a("reload", id="reload").action(ajax.Update(action=lambda: None))  # no component: reload
            h << h.a("sync", id="sync").action(lambda: None)
            h << h.span(id="tens")  # outside the counter, updated with it by #both
        return h.root

    def __call__(self, environ, start_response):
        request = webob.Request(environ)
        if request.path == "/static/nagare/nagare.js":
            js = resources.files("nagare").joinpath("static/nagare.js").read_bytes()
            return webob.Response(body=js, content_type="text/javascript")(environ, start_response)
        if request.path != "/":  # /favicon.ico
            return webob.Response(status=404)(environ, start_response)
        params = list(request.params.items())
        self.log.append((request.method, params))
        try:
            results = self.callbacks.process(params, request, None)
        except RuntimeError:
            page = "<!DOCTYPE html><html><body><h1 id='error'>Internal error</h1></body></html>"
            return webob.Response(page, status=500, content_type="text/html")(environ, start_response)
        if "_a" not in request.params:
            self.callbacks.clear()
            h = self.renderer()
            body = h.page(self.render_page(h))
            return webob.Response(body=body, content_type="text/html")(environ, start_response)
        h = self.renderer()
        updates, reload = [], None
        renderings = [r for result in results for r in (result if isinstance(result, list) else [result])]
        for rendering in renderings:
            if isinstance(rendering, ajax.Rendering):
                if callable(rendering.render):
                    html = h.fragment(rendering.render(h.AsyncRenderer()))
                    updates.append({"id": rendering.dom_id, "mode": "inner", "html": html})
                elif rendering.component is None:
                    reload = "/?reloaded=1"
                else:
                    output = rendering.component.render(h.AsyncRenderer(), rendering.render)
                    updates.append({"id": rendering.dom_id, "mode": "outer", "html": h.fragment(output)})
        answer = {"updates": updates, "head": h.head_assets(), "reload": reload}
        return webob.Response(body=json.dumps(answer).encode(), content_type="application/json")(environ, start_response)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def app():
    application = App()
    server = make_server("127.0.0.1", 0, application, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    application.url = f"http://127.0.0.1:{server.server_port}/"
    yield application
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(chromium, app):
    context = chromium.new_context()
    page = context.new_page()
    page.goto(app.url)
    page.evaluate("window.notReloaded = true")
    yield page
    context.close()


def wait_value(page, expected):
    page.wait_for_function(f"document.querySelector('.value').textContent === '{expected}'", timeout=10000)


def test_async_link_updates_in_place(page, app):
    assert page.evaluate("window.inlineRuns") == 1
    page.click("#increase")
    wait_value(page, "1")
    page.click("#increase")
    wait_value(page, "2")
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("window.headRuns") == 1  # the head's script is added once only
    assert page.evaluate("document.querySelectorAll('[data-nagare-name=count]').length") == 1
    assert page.evaluate("getComputedStyle(document.querySelector('.value')).color") == "rgb(255, 0, 0)"
    assert page.evaluate("window.inlineRuns") == 3  # the scripts of the updated HTML run
    method, params = app.log[-1]
    assert method == "GET" and ("_a", "1") in params and ("_s", "S") in params


def test_async_submit_posts_the_form_and_the_button(page, app):
    page.fill("#field", "typed")
    page.click("#send")
    wait_value(page, "1")
    assert page.inner_text(".text") == "typed"
    method, params = app.log[-1]
    names = [name for name, _ in params]
    assert method == "POST" and "_a" in names and "_s" in names and "_c" in names
    assert any(name.startswith("_action4") for name in names)
    assert page.evaluate("window.notReloaded") is True


def test_enter_submits_asynchronously(page):
    page.fill("#field", "enter")
    page.press("#field", "Enter")
    wait_value(page, "1")
    assert page.inner_text(".text") == "enter"
    assert page.evaluate("window.notReloaded") is True


def test_reload_answer(page):
    page.click("#reload")
    page.wait_for_url("**/?reloaded=1", timeout=10000)
    assert page.url.endswith("/?reloaded=1")


def test_error_page_replaces_the_document(page):
    page.click("#fail")
    page.wait_for_selector("#error", timeout=10000)
    assert page.inner_text("#error") == "Internal error"


def test_sync_link_is_a_normal_navigation(page):
    with page.expect_navigation(timeout=10000):
        page.click("#sync")
    assert page.evaluate("window.notReloaded") is None


def test_a_field_with_an_update_sends_its_value_on_change(page, app):
    page.fill("#live", "typed")
    page.press("#live", "Tab")  # the change event
    page.wait_for_function("document.querySelector('.live').textContent === 'typed'", timeout=10000)
    method, params = app.log[-1]
    names = [name for name, _ in params]
    assert method == "POST" and names.count("_a") == 1 and ("_s", "S") in params and ("_c", "C") in params
    assert "typed" in [value for _, value in params]
    assert not any(name.startswith("_action4") for name in names)  # the field alone, no button
    assert page.evaluate("window.notReloaded") is True


def test_a_multiple_select_and_a_textarea_with_an_update(page):
    page.select_option("#choices", ["a", "c"])
    page.wait_for_function("document.querySelector('.choices').textContent === \"('a', 'c')\"", timeout=10000)
    page.fill("#notes", "one\ntwo")
    page.press("#notes", "Tab")
    page.wait_for_function("document.querySelector('.notes').textContent === 'one|two'", timeout=10000)
    assert page.evaluate("window.notReloaded") is True


def test_updates_change_two_parts_of_the_page_with_one_request(page, app):
    requests = len(app.log)
    page.click("#both")
    wait_value(page, "1")
    page.wait_for_function("document.querySelector('#tens').textContent === '10'", timeout=10000)
    assert len(app.log) == requests + 1 and page.evaluate("window.notReloaded") is True
