"""A real browser (Debian's chromium, headless, driven by Playwright) on the demo."""

from __future__ import annotations

import pytest

from tests.support.server import NagareServer


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    server = NagareServer(["demo"], tmp_path_factory.mktemp("browser"))
    yield server
    server.stop()


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    yield page
    context.close()


def value(page) -> str:
    return page.locator(".counter .value").first.inner_text().strip()


def test_counter_links(page, demo):
    page.goto(f"{demo.url}/demo/")
    assert value(page) == "0"
    page.click("#increase")
    page.click("#increase")
    page.click("#decrease")
    assert value(page) == "1"
    page.go_back()
    assert value(page) == "2"
    page.click("#increase")  # acts on the state the back button showed
    assert value(page) == "3"


def test_async_counter_updates_without_reloading(page, demo):
    page.goto(f"{demo.url}/demo/async")
    url = page.url
    page.evaluate("window.notReloaded = true")
    assert value(page) == "0"
    for expected in ("1", "2", "3"):
        page.click(".async #increase")
        page.wait_for_function(f"document.querySelector('.async .counter .value').textContent.trim() == '{expected}'")
    assert page.evaluate("window.notReloaded") is True
    assert page.url == url
    page.click(".async #big")  # becomes() inside the asynchronous part
    page.wait_for_selector(".async .counter.big")
    assert page.evaluate("window.notReloaded") is True
    page.click("#tab-async")  # a full page of the same state: the updates were stored in place
    page.wait_for_load_state()
    assert page.evaluate("window.notReloaded") is None
    assert page.locator(".async .counter.big .value").inner_text().strip() == "3"
