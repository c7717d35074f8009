"""The request cycle of WSGIApp, in process (the HTTP tests use a real server)."""

from __future__ import annotations

import json
import logging
import re
import threading

from webob import Response

from nagare import presentation
from nagare.config import loader
from nagare.sessions.memory import Sessions
from nagare.sessions.serializer import Serializer
from nagare.wsgi.app import WSGIApp
from tests.support.wsgi_client import WSGIClient


class Page:
    def __init__(self):
        self.clicks = 0
        self.fail_in_view = False

    def click(self):
        self.clicks += 1

    def boom(self):
        raise RuntimeError("boom in an action")

    def download(self):
        self.clicks += 1
        return Response(body=b"a file", content_type="text/plain")


@presentation.render_for(Page)
def render_page(self, h, comp, *args):
    if self.fail_in_view:
        raise RuntimeError("boom in a view")
    h << h.span(self.clicks, id="clicks")
    h << h.a("click", id="click").action(self.click)
    h << h.a("boom", id="boom").action(self.boom)
    h << h.a("fail", id="fail").action(lambda: setattr(self, "fail_in_view", True))
    h << h.a("download", id="download").action(self.download)
    with h.form:
        h << h.input(type="submit", value="save", id="save").action(self.click)
    return h.root


def make_app(root=Page, redirect_after_post=False, **settings):
    sessions = Sessions(loader.check(None, Sessions.SETTINGS, settings), Serializer(b"k" * 32, "t"), "t")
    return WSGIApp(root, name="t", sessions=sessions, redirect_after_post=redirect_after_post)


class Client(WSGIClient):
    def get(self, query="", path="/", post=None):
        # `query` may be a link's whole href (links are absolute: `/t/?_action…`)
        return self.open(query if query.startswith("/") else "/t" + path + query, post=post)

    def href(self, response, link_id):
        match = re.search(rf'<a [^>]*id="{link_id}"[^>]* href="([^"]+)"', response.text)
        return match.group(1).replace("&amp;", "&")


def ids(text):
    """(session id, state id) of the first link of a page or an URL."""
    session_id, state_id = re.search(r"_s=([0-9a-f]{32})&(?:amp;)?_c=(\d+)", text).groups()
    return session_id, int(state_id)


def test_a_click_stores_a_new_state():
    client = Client(make_app())
    page = client.get()
    page = client.get(client.href(page, "click"))
    assert '<span id="clicks">1</span>' in page.text


def test_error_in_an_action_is_a_500_logged_with_method_and_url(caplog):
    client = Client(make_app())
    page = client.get()
    with caplog.at_level(logging.ERROR, logger="nagare.application.t"):
        response = client.get(client.href(page, "boom"))
    assert response.status_int == 500 and "boom" not in response.text
    record = caplog.records[-1]
    assert record.getMessage().startswith("error while serving GET http://localhost/t/?_action")
    assert "RuntimeError: boom in an action" in caplog.text


def test_a_failed_request_leaves_the_state_as_it_was():
    client = Client(make_app())
    page = client.get()
    url = client.href(page, "click")
    assert client.get(client.href(page, "fail")).status_int == 500
    assert '<span id="clicks">1</span>' in client.get(url).text


def test_tampered_state_is_refused_and_restarts(caplog):
    app = make_app()
    client = Client(app)
    page = client.get()
    session_id = re.search(r"_s=([0-9a-f]{32})", page.text).group(1)
    entry = app.sessions._sessions[session_id]
    state_id, blob = next(iter(entry.states.items()))
    entry.states[state_id] = blob[:-1] + bytes([blob[-1] ^ 1])
    response = client.get(client.href(page, "click"))
    assert response.status_int == 301 and response.location == "http://localhost/t/"
    assert "not authentic" in caplog.text


def test_lock_timeout_answers_503():
    app = make_app(lock_max_wait_time="0.05")
    client = Client(app)
    page = client.get()
    session_id = re.search(r"_s=([0-9a-f]{32})", page.text).group(1)
    entry = app.sessions._sessions[session_id]
    entry.lock.acquire()
    try:
        response = client.get(client.href(page, "click"))
    finally:
        entry.lock.release()
    assert response.status_int == 503 and response.headers["Retry-After"] == "1"


def test_a_request_beyond_lock_max_waiters_answers_503_at_once_with_one_warning(caplog):
    app = make_app(lock_max_waiters="1", lock_max_wait_time="30")
    client = Client(app)
    page = client.get()
    session_id = re.search(r"_s=([0-9a-f]{32})", page.text).group(1)
    entry = app.sessions._sessions[session_id]
    entry.lock.acquire()  # a request of the session is running
    same_browser = Client(app)
    same_browser.cookie = client.cookie
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(same_browser.get(client.href(page, "click")).status_int))
    try:
        waiting.start()
        while entry.waiters < 1:  # the one request allowed to wait
            waiting.join(0.01)
        with caplog.at_level(logging.WARNING):
            response = client.get(client.href(page, "click"))  # the next one: refused, not after 30 s
    finally:
        entry.lock.release()
        waiting.join(10)
    assert response.status_int == 503 and response.headers["Retry-After"] == "1" and "busy" in response.text
    assert answers == [200]  # the one that waited was served
    refused = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(refused) == 1 and refused[0].levelno == logging.WARNING
    assert "1 requests already wait for its lock" in refused[0].getMessage() and refused[0].exc_info is None


def test_an_unreachable_sessions_store_answers_503_with_one_log_line(caplog):
    from nagare.errors import StoreUnavailableError

    app = make_app()
    client = Client(app)
    page = client.get()

    def down(session_id, state_id=None):
        raise StoreUnavailableError("memcached at 127.0.0.1:1 unavailable: add failed")

    app.sessions._lock = down
    response = client.get(client.href(page, "click"))
    assert response.status_int == 503 and response.headers["Retry-After"] == "1"
    assert "sessions are unavailable" in response.text and "busy" not in response.text
    assert "memcached at 127.0.0.1:1 unavailable" in caplog.text and "Traceback" not in caplog.text


def test_xhr_on_an_expired_session_asks_the_client_to_reload():
    client = Client(make_app())
    response = client.get("?_s=" + "1" * 32 + "&_c=00003&_a=1")
    assert response.status_int == 200 and response.content_type == "application/json"
    assert json.loads(response.body)["reload"] == "http://localhost/t/"


def test_states_history_off_keeps_one_state():
    app = make_app(states_history="off")
    client = Client(app)
    page = client.get()
    first = client.href(page, "click")
    page = client.get(first)
    second = client.href(page, "click")
    assert re.search(r"_c=(\d+)", first).group(1) == re.search(r"_c=(\d+)", second).group(1)
    session_id = re.search(r"_s=([0-9a-f]{32})", page.text).group(1)
    assert len(app.sessions._sessions[session_id].states) == 1


def test_concurrent_requests_on_one_session_are_serialised():
    app = make_app()
    client = Client(app)
    page = client.get()
    url = client.href(page, "click")
    statuses = []

    def hit():
        statuses.append(client.get(url).status_int)

    threads = [threading.Thread(target=hit) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 10


def test_a_url_nothing_accepts_is_a_404_that_keeps_no_session():
    app = make_app()
    response = Client(app).get(path="/no/such/thing")
    assert response.status_int == 404 and "Set-Cookie" not in response.headers
    assert len(app.sessions) == 0


# --- the state id: decided once per request -------------------------------------------------


def test_a_page_is_stored_under_the_state_id_its_links_carry():
    app = make_app()
    client = Client(app)
    first = client.get()
    session_id, first_id = ids(first.text)
    second = client.get(client.href(first, "click"))
    assert ids(second.text) == (session_id, first_id + 1)
    assert list(app.sessions._sessions[session_id].states) == [first_id, first_id + 1]
    # the first page's links still work (another tab, the back button): a third state
    third = client.get(client.href(first, "click"))
    assert ids(third.text) == (session_id, first_id + 2) and '<span id="clicks">1</span>' in third.text


def test_an_action_answering_by_itself_updates_its_state_in_place():
    app = make_app()
    client = Client(app)
    page = client.get()
    session_id, state_id = ids(page.text)
    response = client.get(client.href(page, "download"))
    assert response.body == b"a file"
    assert list(app.sessions._sessions[session_id].states) == [state_id]  # no new state
    again = client.get(f"?_s={session_id}&_c={state_id:05d}")
    assert '<span id="clicks">1</span>' in again.text


def test_an_xhr_request_updates_its_state_in_place():
    from nagare.demo.app import Demo

    app = make_app(root=Demo)
    client = Client(app)
    page = client.get(path="/async")
    session_id, state_id = ids(page.text)
    answer = client.get(client.href(page, "increase") + "&_a=1")
    assert json.loads(answer.body)["updates"]
    assert list(app.sessions._sessions[session_id].states) == [state_id]
    # the updated part's links carry the same state id: they act on the state just stored
    assert ids(json.loads(answer.body)["updates"][0]["html"]) == (session_id, state_id)
    reloaded = client.get(f"?_s={session_id}&_c={state_id:05d}")
    assert re.search(r'class="value">1<', reloaded.text)


def test_redirect_after_post_answers_303_to_the_new_state():
    app = make_app(redirect_after_post=True)
    client = Client(app)
    page = client.get()
    session_id, state_id = ids(page.text)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', page.text))
    save = re.search(r'name="(_action[^"]+)"[^>]*id="save"|id="save"[^>]*name="(_action[^"]+)"', page.text)
    response = client.get(post={**fields, (save.group(1) or save.group(2)): "save"})
    assert response.status_int == 303
    assert ids(response.location) == (session_id, state_id + 1)
    shown = client.get(response.location.split("/t/", 1)[1])
    assert '<span id="clicks">1</span>' in shown.text
