"""A Nagare 0.5 application (tests/compat/app05.py) served for real, clicked and submitted as a browser does."""

from __future__ import annotations

import time
from urllib.parse import urljoin, urlsplit

from tests.support.browser import Browser, Page


def logged(server, text: str, timeout: float = 5.0) -> bool:
    """`text` is in the server's log (written by a background thread: it may come a little later)."""
    deadline = time.monotonic() + timeout
    while text not in server.log():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def home(server) -> Page:
    page = Browser().get(server.url + "/app05/")
    assert page.status == 200, page.text[:500]
    return page


def test_the_application_reads_its_own_config_section_and_imports_what_05_offers(server):
    page = home(server)
    assert page.text_of("#greeting") == "Hello from the application file"  # set_config + start_request
    assert page.text_of("#continuations") == "continuations"  # has_continuation tells the truth


def test_links_and_submits_call_their_action_with_its_arguments(server):
    page = home(server)
    page = page.click("#digit2").click("#digit3")
    assert page.text_of("#display") == "23"
    page = page.submit("#keys", button="#seven")
    page = page.submit("#keys", button="#eight")  # a keyword argument
    assert page.text_of("#display") == "2378"
    assert logged(server, "digit 7")  # nagare.log writes to the application's logger


def test_a_link_keeps_its_restful_path_and_the_fragment(server):
    page = home(server)
    link = page.find("#menu-profile").get("href")
    parts = urlsplit(link)
    assert parts.path == "/app05/profile" and "_s=" in parts.query and "_action" in parts.query
    assert urlsplit(page.find("#help").get("href")).path == "/app05/help"
    assert page.find("#help").get("href").endswith("#top")
    page = page.click("#menu-profile")
    assert urlsplit(page.url).path == "/app05/profile" and page.find("#profile") is not None


def test_a_restful_url_starts_on_its_page_and_an_unknown_one_is_a_404(server):
    page = Browser().get(server.url + "/app05/profile")
    assert page.status == 200 and page.find("#profile") is not None
    missing = Browser().get(server.url + "/app05/nothing")
    assert missing.status == 404  # presentation.HTTPNotFound raised by init_for


def test_a_form_with_deferred_validators_radios_select_textarea_and_an_empty_upload(server):
    page = home(server).click("#menu-profile")
    page = page.submit("#profile", fields={"age": "70", "notes": "hi", "choice": "L", "subscribe": "on", "green": None}, button="#save")
    assert page.text_of("#age-error") != ""  # to_int().lesser_than(50) built before the value
    page = page.submit("#profile", fields={"age": "42"}, button="#save")
    assert page.text_of("#age-value") == "42" and page.text_of("#age-error") == ""
    assert page.text_of("#notes-value").startswith("N:")
    assert page.text_of("#choice-value") == "size=L"
    assert page.text_of("#upload") == "empty"  # no file chosen: ''
    # 0.5.1's order: the form's pre_action, the values, its post_action, then the submit
    assert page.text_of("#trace").startswith("pre,post,save")


def test_radio_buttons_share_the_application_name_and_call_their_own_action(server):
    page = home(server).click("#menu-profile")
    red, green = page.find("#red"), page.find("#green")
    assert red.get("name") == green.get("name") == "color"
    page = page.submit("#profile", fields={"color": green.get("value")}, button="#save")
    assert page.text_of("#color") == "green"


def test_comp_answer_as_an_action_with_its_argument(server):
    page = home(server).click("#yes")
    assert page.text_of("#answer") == "question: yes"


def test_form_login_renews_the_session_a_permission_refused_then_granted_and_a_logout(server):
    browser = Browser()
    page = browser.get(server.url + "/app05/")
    assert page.text_of("#user") == "anonymous"
    before = page.find("#show").get("href")
    refused = page.click("#show")  # @security.permissions: anonymous may not
    assert refused.status == 403
    assert logged(server, "permission 'see_secret' refused to anonymous")
    refused = page.click("#count")  # .action(..., permissions=...)
    assert refused.status == 403
    wrong = page.submit("#login", fields={"name": "admin", "password": "nope"}, button="#log-in")
    assert wrong.text_of("#user") == "anonymous"
    page = wrong.submit("#login", fields={"name": "admin", "password": "secret"}, button="#log-in")
    assert page.status == 200 and page.text_of("#user") == "admin"
    old_session = dict(p.split("=") for p in urlsplit(before).query.split("&") if p.startswith("_s="))["_s"]
    new_session = dict(p.split("=") for p in urlsplit(page.find("#show").get("href")).query.split("&") if p.startswith("_s="))["_s"]
    assert new_session != old_session  # a session id known before the login is worth nothing after it
    stale = Browser().get(urljoin(server.url + "/app05/", before))  # the pre-login state: its session is gone
    assert stale.text_of("#user") == "anonymous" and "_s=" + old_session not in stale.url
    page = page.click("#show")
    assert page.text_of("#secret") == "the secret"
    page = page.click("#log-out")
    assert page.status == 200 and page.text_of("#user") == "anonymous"
    assert "_s=" + new_session not in page.url
    guest = Browser()
    page = guest.get(server.url + "/app05/").submit("#login", fields={"name": "guest", "password": "guest"}, button="#log-in")
    assert page.text_of("#user") == "guest"
    assert page.click("#show").status == 403  # logged in, but not allowed
    assert logged(server, "permission 'see_secret' refused to 'guest'")


def answer(page: Page, text: str | None = None) -> Page:
    """Answer the util.Ask (a text) or util.Confirm shown in #content."""
    form = "#content form"
    fields = {}
    if text is not None:
        fields[page.find(form + " input[type=text]").get("name")] = text
    return page.submit(form, fields=fields, button="input[type=submit]")


def test_a_0_5_task_asks_in_a_for_loop_and_starts_again_when_it_ends(server):
    page = home(server).click("#menu-wizard")
    assert page.text_of("#content p") == "Your name?"
    page = answer(page, "Ada")
    assert page.text_of("#content p") == "First colour?"
    page = answer(page, "red")
    assert page.text_of("#content p") == "Second colour?"
    page = answer(page, "blue")
    assert page.text_of("#content p") == "Ada likes red and blue"
    page = answer(page)  # 0.5's Confirm answers None; the Task, nobody listening, starts again
    assert page.text_of("#content p") == "Your name?"


def test_the_back_button_forks_a_0_5_task(server):
    page = home(server).click("#menu-wizard")
    first = answer(answer(page, "Ada"), "red")
    assert first.text_of("#content p") == "Second colour?"
    assert answer(first, "blue").text_of("#content p") == "Ada likes red and blue"
    # back to the page that asked the second colour: answered differently, the flow forks
    assert answer(first, "green").text_of("#content p") == "Ada likes red and green"


def test_comp_call_from_a_plain_action_resumes_it_when_the_component_answers(server):
    page = home(server).click("#digit2").click("#digit3")
    page = page.submit("#keys", button="#clear-tell")
    assert page.text_of("#content p") == "23 cleared"
    page = answer(page)
    assert page.text_of("#display") == ""  # the calculator shown again: the call returned
    assert logged(server, "cleared 23 acknowledged")  # the rest of the action ran
