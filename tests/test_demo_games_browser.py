"""The demo's games in a real browser (chromium): a flow forked by the back button, a tic-tac-toe game."""

from __future__ import annotations

import re

from tests import test_browser

# The standalone server of the demo and a fresh page per test: the fixtures of tests/test_browser.py.
demo, page = test_browser.demo, test_browser.page

HINT = re.compile(r"(\d+) is too (high|low) \((\d+) attempts?\)\. Attempt (\d+): your guess\?")


def hint(page):
    """(last guess, 'high' or 'low', attempts so far, attempt asked) of the guessing game shown."""
    text = page.locator("#content form p").first.inner_text()
    match = HINT.search(text)
    assert match, text
    number, direction, attempts, asked = match.groups()
    return int(number), direction, int(attempts), int(asked)


def guess(page, number):
    page.fill("#content form input[type=text]", str(number))
    with page.expect_navigation():
        page.click("#content form input[type=submit]")


def found(page):
    return "Found" in page.inner_text("#content")


def test_the_back_button_forks_the_guessing_game(page, demo):
    page.goto(f"{demo.url}/demo/guess")
    assert "back button forks the game" in page.locator(".fork-note").inner_text()
    assert "Attempt 1: your guess?" in page.inner_text("#content")
    # a few steps with numbers out of 1..100: counted, never the secret
    guess(page, 0)
    assert hint(page) == (0, "low", 1, 2)
    guess(page, 200)
    assert hint(page) == (200, "high", 2, 3)
    guess(page, 300)
    assert hint(page) == (300, "high", 3, 4)
    # back to the page after the first guess, answered differently: the page follows that branch
    page.go_back()
    page.go_back()
    assert hint(page) == (0, "low", 1, 2)
    guess(page, 150)
    assert hint(page) == (150, "high", 2, 3)  # the second attempt of this branch, not the fourth
    # back and forward again: the branch's page acts on its own state
    page.go_back()
    assert hint(page) == (0, "low", 1, 2)
    page.go_forward()
    assert hint(page) == (150, "high", 2, 3)
    # continue the branch to the end: a binary search, the attempts counted from this branch's 2
    low, high, attempts = 1, 100, 2
    while True:
        middle = (low + high) // 2
        guess(page, middle)
        attempts += 1
        if found(page):
            break
        assert hint(page) == (middle, hint(page)[1], attempts, attempts + 1)
        low, high = (low, middle - 1) if hint(page)[1] == "high" else (middle + 1, high)
    assert f"Found {middle} in {attempts} attempts" in page.inner_text("#content")
    with page.expect_navigation():
        page.click("#content form input[type=submit]")  # Play again: a new game
    assert "I chose a number between 1 and 100. Attempt 1: your guess?" in page.inner_text("#content")


def test_tic_tac_toe_in_the_browser(page, demo):
    page.goto(f"{demo.url}/demo/")
    with page.expect_navigation():
        page.click("#tab-tictactoe")
    for name in ("Ada", "Bob"):
        page.fill("#content form input[type=text]", name)
        with page.expect_navigation():
            page.click("#content form input[type=submit]")
    assert page.inner_text("#turn") == "Ada (X) plays"
    for index in (4, 0, 2, 6, 3, 5, 8, 1):  # X: 4 2 3 8; O: 0 6 5 1
        with page.expect_navigation():
            page.click(f"#cell-{index}")
    assert page.inner_text("#cell-4") == "X" and page.inner_text("#cell-0") == "O"
    assert page.inner_text("#turn") == "Ada (X) plays"
    with page.expect_navigation():
        page.click("#cell-7")
    assert "Draw between Ada and Bob (OOX / XXO / OXX)" in page.inner_text("#content")
