"""The login of the Nagare 0.5 fixture in a real browser (Debian's chromium, headless)."""

from __future__ import annotations


def test_login_permission_and_logout_in_chromium(chromium, server):
    context = chromium.new_context()
    page = context.new_page()
    try:
        page.goto(f"{server.url}/app05/")
        assert page.inner_text("#user") == "anonymous"
        page.fill("#name", "admin")
        page.fill("#password", "secret")
        page.click("#log-in")
        assert page.inner_text("#user") == "admin"
        cookie = {c["name"]: c for c in context.cookies()}["__ac"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"  # out of reach of scripts
        page.click("#show")
        assert page.inner_text("#secret") == "the secret"
        page.click("#log-out")
        assert page.inner_text("#user") == "anonymous"
        assert "__ac" not in {c["name"] for c in context.cookies()}
        page.click("#show")  # anonymous again: refused
        assert "403" in page.title() or "Forbidden" in page.content()
    finally:
        context.close()
