"""Debug mode: an exception is Werkzeug's debugger page (its console behind the PIN), in process,
through a real server, and in a real browser for an XHR action; without it, a plain 500 page."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from webob import Request

from nagare import presentation
from nagare.admin.serve import check_publisher
from nagare.config import loader
from nagare.errors import CommandError
from nagare.sessions.memory import Sessions
from nagare.sessions.serializer import Serializer
from nagare.wsgi.app import WSGIApp
from nagare.wsgi.debug import debugger
from tests.support.browser import Browser
from tests.support.server import NagareServer

# --- in process ------------------------------------------------------------------------------------


class Failing:
    def __init__(self):
        self.fail = True


@presentation.render_for(Failing)
def render_failing(self, h, comp, *args):
    if self.fail:
        raise LookupError("failing view 17")
    return h.p("fine")


def make_app(debug: bool) -> WSGIApp:
    sessions = Sessions(loader.check(None, Sessions.SETTINGS, {}), Serializer(b"k" * 32, "t"), "t")
    return WSGIApp(Failing, name="t", sessions=sessions, debug=debug)


def get(app, path: str = "/t/") -> Request:
    request = Request.blank(path, base_url="http://127.0.0.1")
    request.script_name, request.path_info = "/t", "/"
    return request.get_response(app)


def test_without_debug_an_exception_is_a_plain_500_page(caplog):
    response = get(make_app(debug=False))
    assert response.status_int == 500 and "Internal Server Error" in response.text
    assert "failing view 17" not in response.text
    assert "failing view 17" in caplog.text and "GET http://127.0.0.1/t/" in caplog.text


def test_in_debug_mode_the_exception_goes_on_to_the_debugger(caplog):
    app = make_app(debug=True)
    with pytest.raises(LookupError, match="failing view 17"):
        get(app)
    assert re.search(r"error while serving GET http://127\.0\.0\.1/t/: LookupError: failing view 17", caplog.text)
    response = get(debugger(app))
    assert response.status_int == 500 and response.content_type == "text/html"
    assert "LookupError: failing view 17" in html.unescape(response.text)
    assert "?__debugger__=yes&amp;cmd=resource&amp;f=debugger.js" in response.text


def test_a_multiprocess_publisher_refuses_debug_mode():
    conf = SimpleNamespace(publisher=SimpleNamespace(type="fastcgi"), publisher_class=SimpleNamespace(multiprocess=True), filename=None)
    app = SimpleNamespace(sessions=None, config=SimpleNamespace(application=SimpleNamespace(debug=False)))
    check_publisher(conf, [app], debug=False)  # type: ignore[arg-type]
    with pytest.raises(CommandError, match="--debug .* cannot work with the multi-process fastcgi publisher"):
        check_publisher(conf, [app], debug=True)  # type: ignore[arg-type]
    app.config.application.debug = True
    with pytest.raises(CommandError, match="use the standalone publisher to debug"):
        check_publisher(conf, [app], debug=False)  # type: ignore[arg-type]


# --- a real server ---------------------------------------------------------------------------------

BROKEN = '''\
from nagare import presentation


class Broken:
    def __init__(self):
        self.in_view = False

    def boom(self):
        local_value = 6
        raise ValueError("boom in an action")

    def break_view(self):
        self.in_view = True


@presentation.render_for(Broken)
def render(self, h, comp, *args):
    if self.in_view:
        raise KeyError("boom in a view")
    h << h.p("broken page", id="page")
    h << h.a("boom", id="boom").action(self.boom)
    h << h.a("view", id="view").action(self.break_view)
    with h.div(id="async"):
        h << h.AsyncRenderer().a("async boom", id="async-boom").action(self.boom)
    return h.root
'''


def wait_for(server: NagareServer, pattern: str, timeout: float = 5.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(pattern, server.log())
        if found or time.monotonic() > deadline:
            assert found, server.log()
            return found
        time.sleep(0.05)


@pytest.fixture(scope="module")
def debugged(tmp_path_factory):
    """`serve-module -d` of a component that raises in actions and in its view."""
    tmp: Path = tmp_path_factory.mktemp("debug")
    (tmp / "broken.py").write_text(BROKEN)
    server = NagareServer(["-d", f"{tmp}/broken.py:Broken", "broken"], tmp, command="serve-module")
    server.pin = wait_for(server, r"WARNING nagare\.publisher: debugger PIN: ([\d-]+)").group(1)  # type: ignore[attr-defined]
    yield server
    server.stop()


def fail(server: NagareServer, id_: str) -> tuple[requests.Session, requests.Response]:
    """Click the link `id_` of a new session: its browser (cookies) and the answer."""
    browser = Browser()
    page = browser.get(server.url + "/broken/")
    assert page.status == 200
    return browser.session, page.click("#" + id_).response


@pytest.mark.parametrize("where, error", [("boom", "ValueError: boom in an action"), ("view", "KeyError: &#39;boom in a view&#39;")])
def test_an_exception_is_the_debugger_page(debugged, where, error):
    _, response = fail(debugged, where)
    assert response.status_code == 500 and response.headers["Content-Type"].startswith("text/html")
    assert error in response.text and "broken.py" in response.text
    assert 'class="traceback"' in response.text and "EVALEX = true" in response.text
    log = wait_for(debugged, "Traceback \\(most recent call last\\)").string
    assert re.search(rf"ERROR nagare\.application\.broken: error while serving GET {re.escape(debugged.url)}/broken/\?_action", log)
    resource = requests.get(debugged.url + "/broken/?__debugger__=yes&cmd=resource&f=debugger.js", timeout=10)
    assert resource.status_code == 200 and "function makeDebugURL" in resource.text


def test_the_console_needs_the_pin(debugged):
    browser, response = fail(debugged, "boom")
    secret = re.search(r'SECRET = "([^"]+)"', response.text).group(1)
    frame = re.findall(r'<div class="frame" id="frame-(\d+)">', response.text)[-1]  # the action's frame

    def run(command: str) -> requests.Response:
        params = {"__debugger__": "yes", "cmd": command, "frm": frame, "s": secret}
        return browser.get(debugged.url + "/broken/", params=params, timeout=10)

    unauthenticated = run("local_value * 1234567").text
    assert "7407402" not in unauthenticated and "broken page" in unauthenticated  # the application answered
    wrong = browser.get(debugged.url + "/broken/", params={"__debugger__": "yes", "cmd": "pinauth", "pin": "000-000-000", "s": secret}, timeout=10)
    assert wrong.json() == {"auth": False, "exhausted": False}
    right = browser.get(debugged.url + "/broken/", params={"__debugger__": "yes", "cmd": "pinauth", "pin": debugged.pin, "s": secret}, timeout=10)
    assert right.json() == {"auth": True, "exhausted": False}
    assert "7407402" in run("local_value * 1234567").text
    # the "printpin" link of the page prints the PIN on the server's console, in our log format
    browser.get(debugged.url + "/broken/", params={"__debugger__": "yes", "cmd": "printpin", "s": secret}, timeout=10)
    wait_for(debugged, rf"INFO werkzeug: +\* Debugger pin code: {debugged.pin}")


def test_the_application_debug_key_turns_the_debugger_on(tmp_path):
    (tmp_path / "broken.py").write_text(BROKEN)
    conf = tmp_path / "broken.cfg"
    conf.write_text(f"[application]\nname = broken\npath = file {tmp_path}/broken.py:Broken\ndebug = on\n")
    server = NagareServer([str(conf)], tmp_path)
    try:
        wait_for(server, "debugger PIN: ")
        _, response = fail(server, "boom")
        assert response.status_code == 500 and "ValueError: boom in an action" in response.text
        assert "__debugger__" in response.text
    finally:
        assert server.stop() == 0


def test_without_debug_no_debugger(tmp_path):
    (tmp_path / "broken.py").write_text(BROKEN)
    server = NagareServer([f"{tmp_path}/broken.py:Broken", "broken"], tmp_path, command="serve-module")
    try:
        _, response = fail(server, "boom")
        assert response.status_code == 500 and "boom in an action" not in response.text
        assert "__debugger__" not in response.text and "PIN" not in server.log()
        debugger_request = requests.get(server.url + "/broken/?__debugger__=yes&cmd=resource&f=debugger.js", timeout=10)
        assert "makeDebugURL" not in debugger_request.text
    finally:
        assert server.stop() == 0


# --- a real browser: an XHR action that fails ------------------------------------------------------


def test_a_failing_xhr_action_brings_the_browser_to_the_debugger(chromium, debugged):
    context = chromium.new_context()
    page = context.new_page()
    try:
        page.goto(debugged.url + "/broken/")
        url = page.url
        page.click("#async-boom")
        page.wait_for_selector("div.traceback")
        assert "ValueError: boom in an action" in page.inner_text("div.plain")
        assert page.url == url  # the document was replaced: the console's relative URLs still work
        page.wait_for_function("typeof makeDebugURL === 'function'")  # debugger.js ran
        frame = page.locator("div.frame").last  # the action's frame
        current = frame.locator("pre.current")
        current.hover()  # the console icon shows on hover
        current.locator("img").click()
        page.wait_for_selector(".pin-prompt input[name=pin]", state="visible")
        page.fill(".pin-prompt input[name=pin]", debugged.pin)
        page.click(".pin-prompt input[type=submit]")
        page.wait_for_function("EVALEX_TRUSTED === true")  # (the prompt's fade-out needs frames headless chromium may not paint)
        console = page.locator("pre.console input").first  # the console opened beside the frame
        console.fill("local_value * 1234567")
        console.press("Enter")
        page.wait_for_function("Array.from(document.querySelectorAll('pre.console div')).some(e => e.textContent.includes('7407402'))")
    finally:
        context.close()
