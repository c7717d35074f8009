"""The demo served by a real standalone server, used the way a browser does."""

from __future__ import annotations

import concurrent.futures
import http.client
import re
from urllib.parse import parse_qs, urlparse

import pytest

from tests.support.browser import Browser
from tests.support.server import NagareServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    (tmp / "redirect.cfg").write_text(
        "[application]\npath = python nagare.demo.app:Demo\nname = prg\nredirect_after_post = on\nstatic = $root/nothing\n"
    )
    server = NagareServer(["demo", str(tmp / "redirect.cfg")], tmp)
    yield server
    server.stop()


def counter(page) -> int:
    return int(page.text_of(".counter .value"))


def ids(url: str) -> tuple[str, str]:
    query = parse_qs(urlparse(url).query)
    return query["_s"][0], query["_c"][0]


def test_slash_is_added_and_root_lists_the_applications(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/demo")
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 301 and response.getheader("Location").endswith("/demo/")
    page = Browser().get(server.url + "/")  # two applications here: the list of both
    assert page.status == 200 and {a.get("href") for a in page.tree.cssselect("a")} == {"/demo/", "/prg/"}
    assert counter(Browser().get(server.url + "/demo/")) == 0


def test_links_run_actions_and_each_page_is_a_new_state(server):
    browser = Browser()
    page = browser.get(server.url + "/demo/")
    session_id, first_state = ids(page.find("#increase").get("href").replace("?", "/?", 1))
    page = page.click("#increase").click("#increase")
    assert counter(page) == 2
    page = page.click("#decrease")
    assert counter(page) == 1
    assert ids(page.url)[0] == session_id and ids(page.url)[1] != first_state


def test_back_button_shows_and_acts_on_the_old_state(server):
    browser = Browser()
    page = browser.get(server.url + "/demo/").click("#increase").click("#increase").click("#increase")
    assert counter(page) == 3
    old = browser.back(2)
    assert counter(old) == 1
    assert counter(old.click("#increase")) == 2
    # the newest state is still there, untouched by the branch
    assert counter(browser.get(page.url)) == 3


def test_two_tabs_on_one_session(server):
    browser = Browser()
    start = browser.get(server.url + "/demo/")
    tab_a = start.click("#increase")
    tab_b = start.click("#decrease")  # same page, other tab, same cookie
    assert (counter(tab_a), counter(tab_b)) == (1, -1)
    assert counter(tab_a.click("#increase")) == 2
    assert counter(tab_b.click("#decrease")) == -2


def test_becomes_shows_a_second_view_and_back(server):
    page = Browser().get(server.url + "/demo/").click("#increase").click("#big")
    assert page.find(".counter.big") is not None and counter(page) == 1
    page = page.click("#small")
    assert page.tree.cssselect(".counter.big") == [] and counter(page) == 1


def test_calculator(server):
    page = Browser().get(server.url + "/demo/calculator")
    for key in ("#key-1", "#key-2", "#key-enter", "#key-3", "#key-op0"):  # 12 enter 3 +
        page = page.click(key)
    assert page.text_of("#display") == "15"
    for key in ("#key-0", "#key-op3"):  # 15 0 /
        page = page.click(key)
    assert "Division by zero" in page.text


def test_form_validation_errors_then_success_with_upload(server):
    page = Browser().get(server.url + "/demo/form")
    page = page.submit("#registration", {"name": "", "age": "abc", "email": "nope"}, button="#save")
    errors = [e.text_content() for e in page.tree.cssselect(".nagare-error-message")]
    assert "A name is required" in errors and "The age must be a number" in errors and len(errors) == 3
    assert page.find("#age").get("value") == "abc"  # what the user typed is shown back
    page = page.submit(
        "#registration", {"name": "Ada", "age": "36", "email": "ada@example.org"}, button="#save",
        files={"photo": ("photo.png", b"\x89PNG" + b"x" * 1000)},
    )
    assert page.tree.cssselect(".nagare-error-message") == []
    assert page.text_of("#saved") == "Saved: Ada, 36 years, ada@example.org"
    assert page.text_of("#upload") == "Received photo.png (1004 bytes)"


def test_forms_are_multipart_posts_with_session_fields(server):
    page = Browser().get(server.url + "/demo/form")
    form = page.find("#registration")
    assert form.get("method") == "post" and form.get("enctype") == "multipart/form-data"
    assert form.get("accept-charset") == "utf-8"
    hidden = {i.get("name"): i.get("value") for i in form.cssselect("input[type=hidden]")}
    assert set(hidden) >= {"_s", "_c"} and len(hidden["_s"]) == 32


def test_rest_url_starts_a_session_on_that_page(server):
    browser = Browser()
    assert counter(browser.get(server.url + "/demo/counter/42")) == 42
    assert browser.get(server.url + "/demo/calculator").find(".calculator") is not None
    page = browser.get(server.url + "/demo/no/such/page")
    assert page.status == 404


def test_expired_or_unknown_session_redirects_to_a_fresh_one(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/demo/?_s=" + "0" * 32 + "&_c=00001&_action200001")
    response = conn.getresponse()
    response.read()
    assert response.status == 301 and response.getheader("Location") == f"{server.url}/demo/"
    conn.request("GET", "/demo/?_s=garbage&_c=x")
    response2 = conn.getresponse()
    response2.read()
    conn.close()
    assert response2.status == 301


def test_unknown_state_of_a_known_session_redirects(server):
    browser = Browser()
    page = browser.get(server.url + "/demo/").click("#increase")
    session_id, _ = ids(page.url)
    page = browser.get(f"{server.url}/demo/?_s={session_id}&_c=99999")
    assert page.response.history[0].status_code == 301 and counter(page) == 0


def test_another_browser_with_the_url_is_refused(server):
    page = Browser().get(server.url + "/demo/").click("#increase")
    thief = Browser()
    response = thief.session.get(page.url, allow_redirects=False)
    assert response.status_code == 307 and response.headers["Location"] == f"{server.url}/demo/"
    xhr = thief.session.get(page.url + "&_a=1", allow_redirects=False)
    assert xhr.status_code == 503


def test_secure_cookie_attributes(server):
    browser = Browser()
    page = browser.get(server.url + "/demo/")
    cookie = page.response.history[0].headers.get("Set-Cookie") if page.response.history else page.response.headers["Set-Cookie"]
    assert cookie.startswith("_nagare=") and "Path=/demo/" in cookie and "HttpOnly" in cookie
    assert len(cookie.split(";")[0].split("=", 1)[1]) >= 32


def test_redirect_after_post_answers_303_to_the_new_state(server):
    browser = Browser()
    page = browser.get(server.url + "/prg/form")
    response = browser.session.post(
        urlparse(page.url)._replace(query="").geturl(),
        files=[(n, (None, v)) for n, v in _form_values(page, {"name": "Bob", "age": "5", "email": "b@example.org"})],
        allow_redirects=False,
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "_s=" in location and "_c=" in location
    final = browser.get(location)
    assert final.text_of("#saved") == "Saved: Bob, 5 years, b@example.org"


def _form_values(page, values):
    form = page.find("#registration")
    by_id = {el.get("id"): el.get("name") for el in form.iter("input") if el.get("id")}
    data = [(i.get("name"), i.get("value")) for i in form.cssselect("input[type=hidden]")]
    data += [(by_id[k], v) for k, v in values.items()]
    save = form.cssselect("#save")[0]
    return data + [(save.get("name"), save.get("value"))]


def test_concurrent_xhr_requests_of_one_session_lose_nothing(server):
    browser = Browser()
    page = browser.get(server.url + "/demo/async")
    link = page.find(".async #increase")
    assert link.get("data-nagare-async") is not None
    url = page.url.split("?")[0] + link.get("href") + "&_a=1"

    def click(_):
        response = browser.session.get(url, timeout=30)
        assert response.status_code == 200
        return response.json()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(click, range(24)))
    assert all(a["updates"] and a["updates"][0]["mode"] == "outer" for a in answers)
    values = sorted(int(re.search(r'class="value">(-?\d+)<', a["updates"][0]["html"]).group(1)) for a in answers)
    assert values == list(range(1, 25))  # each request saw the previous one's state: none lost
    session_id, state_id = ids(url)
    assert counter(browser.get(f"{server.url}/demo/?_s={session_id}&_c={state_id}")) == 24


def test_static_files_are_served(server):
    browser = Browser()
    css = browser.get(server.url + "/static/demo/demo.css")
    assert css.status == 200 and ".counter" in css.text
    js = browser.get(server.url + "/static/nagare/nagare.js")
    assert js.status == 200 and "fetch" in js.text


@pytest.mark.parametrize(
    "path",
    [
        "/static/demo/../conf/demo.cfg",
        "/static/demo/%2e%2e/conf/demo.cfg",
        "/static/demo/..%2fconf%2fdemo.cfg",
        "/static/demo/%2e%2e%2fconf%2fdemo.cfg",
        "/static/demo//etc/passwd",
        "/static/demo/%2fetc%2fpasswd",
        "/static/nagare/../demo/conf/demo.cfg",
        "/static/demo/",
        "/static/demo/nope.css",
    ],
)
def test_static_files_never_escape_their_folder(server, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    assert response.status == 404, (path, response.status, body[:200])
    assert b"[application]" not in body and b"root:" not in body


def test_unknown_path_lists_the_applications(server):
    page = Browser().get(server.url + "/nothing/here")
    assert page.status == 404
    assert {a.get("href") for a in page.tree.cssselect("a")} == {"/demo/", "/prg/"}


def test_a_reload_in_another_tab_keeps_the_first_tab_s_links_working(server):
    browser = Browser()
    tab_a = browser.get(server.url + "/demo/").click("#increase")  # shows state N with its links
    session_id, state_id = ids(tab_a.find("#increase").get("href").replace("?", "/?", 1))
    tab_b = browser.get(f"{server.url}/demo/?_s={session_id}&_c={state_id}")  # the same state, reloaded
    assert counter(tab_b) == 1
    assert counter(tab_a.click("#increase")) == 2  # tab A's link of state N still runs its action
    assert counter(tab_b.click("#decrease")) == 0
