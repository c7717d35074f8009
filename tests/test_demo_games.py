"""The demo's games (Tasks) through the WSGI application, in process: states pickled between requests."""

from __future__ import annotations

import re

import lxml.html
import pytest

from nagare.demo import games
from nagare.demo.app import Demo
from tests.wsgi.test_app import Client, ids, make_app


@pytest.fixture
def secret(monkeypatch):
    """The guessing game's secret is 42; `draws` counts the games started."""
    draws = []

    def randint(a, b):
        draws.append((a, b))
        return 42

    monkeypatch.setattr(games.random, "randint", randint)
    return draws


@pytest.fixture
def client():
    return Client(make_app(root=Demo))


def content(response) -> str:
    """The text of the example shown (the tab's content), whitespace collapsed."""
    tree = lxml.html.fromstring(response.body)
    return " ".join(tree.get_element_by_id("content").text_content().split())


def send(client, response, text=None, button=None):
    """Submit the form of the example shown: `text` typed in its text input, `button` (a label) clicked."""
    tree = lxml.html.fromstring(response.body)
    form = tree.get_element_by_id("content").cssselect("form")[0]
    data = {i.get("name"): i.get("value") for i in form.cssselect("input[type=hidden]")}
    if text is not None:
        data[form.cssselect("input[type=text]")[0].get("name")] = text
    submits = form.cssselect("input[type=submit]")
    clicked = submits[0] if button is None else next(s for s in submits if s.get("value") == button)
    data[clicked.get("name")] = clicked.get("value")
    return client.get(post=data)


def cell(client, response, index):
    """Click the cell `index` of the tic-tac-toe board shown."""
    return client.get(client.href(response, f"cell-{index}"))


def test_the_guessing_game_to_the_end_with_its_hints(client, secret):
    page = client.get(path="/guess")
    assert "I chose a number between 1 and 100. Attempt 1: your guess?" in content(page)
    assert games.FORK_NOTE in content(page)
    page = send(client, page, "50")
    assert "50 is too high (1 attempt). Attempt 2: your guess?" in content(page)
    page = send(client, page, "25")
    assert "25 is too low (2 attempts). Attempt 3: your guess?" in content(page)
    page = send(client, page, "many")
    assert "'many' is not a number. Attempt 3: your guess?" in content(page)  # not counted
    page = send(client, page, " 42 ")
    assert "Found 42 in 3 attempts" in content(page)
    assert secret == [(1, 100)]
    page = send(client, page, button="Play again")  # the root Task starts again
    assert "I chose a number between 1 and 100. Attempt 1: your guess?" in content(page)
    assert len(secret) == 2


def test_the_game_starts_when_its_tab_is_first_shown_and_keeps_its_place(client, secret):
    page = client.get()
    assert secret == [] and 'class="counter"' in page.text  # the counter tab: no game started
    page = client.get(client.href(page, "tab-guess"))
    assert secret == [(1, 100)] and "Attempt 1" in content(page)
    page = send(client, page, "10")
    page = client.get(client.href(page, "tab-counter"))
    page = client.get(client.href(page, "increase"))
    page = client.get(client.href(page, "tab-guess"))
    assert "10 is too low (1 attempt). Attempt 2: your guess?" in content(page)
    session_id, state_id = ids(page.text)
    reloaded = client.get(f"?_s={session_id}&_c={state_id:05d}")  # a reload: the same game, not a new one
    assert "Attempt 2" in content(reloaded) and secret == [(1, 100)]


def test_rest_urls_still_work_with_the_game_tabs(client, secret):
    assert "Player 1 name?" in content(client.get(path="/tictactoe"))
    assert "Attempt 1" in content(Client(make_app(root=Demo)).get(path="/guess"))
    counter = Client(make_app(root=Demo)).get(path="/counter/42")
    assert re.search(r'class="value">42<', counter.text)
    assert Client(make_app(root=Demo)).get(path="/guess/1").status_int == 404


def names(client):
    page = client.get(path="/tictactoe")
    page = send(client, page, "Ada")
    assert "Player 2 name?" in content(page)
    return send(client, page, "Bob")


def test_tic_tac_toe_to_a_win(client):
    page = names(client)
    assert "Ada (X) plays" in content(page)
    for index, next_player in ((0, "Bob (O)"), (3, "Ada (X)"), (1, "Bob (O)"), (4, "Ada (X)")):
        page = cell(client, page, index)
        assert f"{next_player} plays" in content(page)
    assert re.search(r'<span id="cell-0" class="taken">X</span>', page.text)
    assert re.search(r'<span id="cell-3" class="taken">O</span>', page.text)
    assert 'id="cell-2"' in page.text and client.href(page, "cell-2")  # still a link
    page = cell(client, page, 2)
    assert "Ada (X) wins (XXX / OO. / ...)" in content(page)
    page = send(client, page, button="Play again")
    assert "Player 1 name?" in content(page)


def test_tic_tac_toe_to_a_draw(client):
    page = names(client)
    for index in (0, 1, 2, 4, 3, 5, 7, 6):
        page = cell(client, page, index)
    assert "Ada (X) plays" in content(page)
    page = cell(client, page, 8)
    assert "Draw between Ada and Bob (XOX / XOO / OXX)" in content(page)


def test_tic_tac_toe_default_names(client):
    page = send(client, send(client, client.get(path="/tictactoe"), ""), "")
    assert "Player 1 (X) plays" in content(page)


def test_the_back_button_forks_the_guessing_game(client, secret):
    start = client.get(path="/guess")
    first = send(client, start, "50")  # a page the user will come back to
    second = send(client, first, "25")
    assert "25 is too low (2 attempts)" in content(second)
    # back to the first page, answered differently: the other branch
    fork = send(client, first, "75")
    assert "75 is too high (2 attempts). Attempt 3: your guess?" in content(fork)
    # the newer page still works, in its own history
    newer = send(client, second, "30")
    assert "30 is too low (3 attempts). Attempt 4: your guess?" in content(newer)
    # and the branch goes on by itself
    assert "Found 42 in 3 attempts" in content(send(client, fork, "42"))
    assert "Found 42 in 4 attempts" in content(send(client, newer, "42"))
    # the very first page, answered right: a game won at the first attempt
    assert "Found 42 in 1 attempt" in content(send(client, start, "42")) and "1 attempts" not in content(send(client, start, "42"))
    assert secret == [(1, 100)]  # one game, forked: never a new secret


def test_the_back_button_forks_tic_tac_toe(client):
    page = cell(client, names(client), 4)  # Ada in the centre
    back = page
    page = cell(client, cell(client, page, 0), 1)  # Bob 0, Ada 1
    assert "Bob (O) plays" in content(page)
    other = cell(client, back, 8)  # back: Bob plays 8 instead of 0
    assert "Ada (X) plays" in content(other)
    assert re.search(r'<span id="cell-8" class="taken">O</span>', other.text)
    assert client.href(other, "cell-0") and client.href(other, "cell-1")  # free in this branch
    # the newer history: Bob 2, Ada 7 wins the middle column
    page = cell(client, cell(client, page, 2), 7)
    assert "Ada (X) wins (OXO / .X. / .X.)" in content(page)
    # the fork: Ada 0, Bob 6, Ada 2, Bob 3, Ada 1 wins the top row
    other = cell(client, cell(client, cell(client, cell(client, other, 0), 6), 2), 3)
    other = cell(client, other, 1)
    assert "Ada (X) wins (XXX / OX. / O.O)" in content(other)
