"""Flows served by two FastCGI servers sharing one memcached, every request to the other server.

Two `nagare-admin serve` process trees (the FastCGI publisher, two workers each) serve the same
copy of flowapp.py, with the same session secret, and a transport playing nginx without affinity
sends each request of a browser to the next server. A suspended flow is data in the page state:
each step resumes in a process that never saw the step before.

Going back is a page kept by the browser (its forms carry the ids of its state) answered again,
or that state's URL reloaded.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.flow_http.conftest import APP, RoundRobin, answer, browser, click, install, items, message, served_by, start, state_url
from tests.support.browser import Browser, Page
from tests.support.memcached import Memcached
from tests.support.server import NagareServer


@pytest.fixture(scope="module")
def servers(memcached: Memcached, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NagareServer]]:
    folder: Path = tmp_path_factory.mktemp("cluster")
    install(folder, memcached)
    started: list[NagareServer] = []
    try:
        started.append(start(folder, "a"))
        started.append(start(folder, "b"))
        yield started
    finally:
        for server in started:
            server.stop()
    for server in started:
        assert "Traceback" not in server.log(), server.log()
    # cluster.cfg's secret is the one they shared: neither server generated one of its own
    assert not list(folder.glob("generated-secret-*"))


@pytest.fixture
def open_browser(servers: list[NagareServer]) -> Iterator[Callable[[], tuple[Browser, RoundRobin]]]:
    """New browsers on the cluster; after the test, no answer of theirs was an error, no traceback logged."""
    transports: list[RoundRobin] = []

    def make() -> tuple[Browser, RoundRobin]:
        b, transport = browser(servers)
        transports.append(transport)
        return b, transport

    yield make
    failed = [served for transport in transports for served in transport.served if not 200 <= served.status < 400]
    assert not failed, failed
    for server in servers:
        log = server.log()
        assert "Traceback" not in log and "ERROR" not in log, log


def secret_of(seed: int) -> int:
    return random.Random(seed).randint(1, 100)


def home(b: Browser, seed: int) -> Page:
    page = b.get(APP + str(seed))
    assert page.status == 200, page.text[:2000]
    return page


def test_the_guessing_game_to_the_end_each_step_on_the_other_server(open_browser, servers):
    b, transport = open_browser()
    secret = secret_of(17)  # 67
    page = home(b, 17)
    pages = [page]
    assert message(page, "game") == "I chose a number between 1 and 100. Attempt 1: your guess?"
    page = answer(page, "game", str(secret - 17))
    pages.append(page)
    assert message(page, "game") == f"{secret - 17} is too low. Attempt 2: your guess?"
    page = answer(page, "game", str(secret + 13))
    pages.append(page)
    assert message(page, "game") == f"{secret + 13} is too high. Attempt 3: your guess?"
    page = answer(page, "game", "not a number")
    pages.append(page)
    assert message(page, "game") == "0 is too low. Attempt 4: your guess?"
    page = answer(page, "game", str(secret))
    pages.append(page)
    assert message(page, "game") == f"Found {secret} in 4 attempts"
    page = answer(page, "game", button="Play again")
    pages.append(page)
    # A root Task starts again when its go() ends: the same seed, the same secret
    assert message(page, "game") == "I chose a number between 1 and 100. Attempt 1: your guess?"
    page = answer(page, "game", str(secret))
    assert message(page, "game") == f"Found {secret} in 1 attempts"
    pages.append(page)
    # each page was rendered by a worker of the other process tree than the page before
    assert [served_by(p, servers) for p in pages] == [i % 2 for i in range(len(pages))]
    assert [served.server for served in transport.served] == [i % 2 for i in range(len(transport.served))]
    # the other flows of the page did not move
    assert message(page, "quiz") == "First name?"
    assert message(page, "cheat") == "0 attempts so far. Your guess?"


def test_the_back_button_forks_the_game_and_both_branches_go_on_to_the_end(open_browser, servers):
    b, transport = open_browser()
    secret = secret_of(42)  # 82
    page = home(b, 42)
    step1 = answer(page, "game", "10")
    step2 = answer(step1, "game", "20")
    assert message(step2, "game") == "20 is too low. Attempt 3: your guess?"
    # Branch A goes on from step 2, branch B from step 1 (its page kept by the browser),
    # their steps interleaved: each request on the other server than the one before.
    a = answer(step2, "game", "99")
    b1 = answer(step1, "game", "90")
    assert message(a, "game") == "99 is too high. Attempt 4: your guess?"
    assert message(b1, "game") == "90 is too high. Attempt 3: your guess?"
    a = answer(a, "game", "70")
    b1 = answer(b1, "game", str(secret))
    assert message(a, "game") == "70 is too low. Attempt 5: your guess?"
    assert message(b1, "game") == f"Found {secret} in 3 attempts"
    a = answer(a, "game", str(secret))
    assert message(a, "game") == f"Found {secret} in 5 attempts"
    # Step 1 once more, reloaded from its state's URL (a browser going back without a cache):
    # a third branch, from a state two branches already resumed.
    reloaded = b.get(state_url(step1, "game"))
    assert reloaded.status == 200 and message(reloaded, "game") == "10 is too low. Attempt 2: your guess?"
    c = answer(reloaded, "game", str(secret))
    assert message(c, "game") == f"Found {secret} in 2 attempts"
    # The branches that ended start again, each on its own
    assert message(answer(a, "game", button="Play again"), "game").endswith("Attempt 1: your guess?")
    assert message(answer(b1, "game", button="Play again"), "game").endswith("Attempt 1: your guess?")
    served = [s.server for s in transport.served]
    assert served == [i % 2 for i in range(len(served))] and len(served) == 12


def test_the_stateless_counter_of_the_cheat_proof_game_is_not_rolled_back(open_browser, servers):
    b, _ = open_browser()
    secret = secret_of(23)  # 100
    page = home(b, 23)
    assert message(page, "cheat") == "0 attempts so far. Your guess?"
    one = answer(page, "cheat", "1")
    two = answer(one, "cheat", "2")
    assert message(two, "cheat") == "2 attempts so far. Your guess?"
    # back to the page of one attempt: answering it again counts a third attempt
    again = answer(one, "cheat", "3")
    assert message(again, "cheat") == "3 attempts so far. Your guess?"
    # back to the very first page, reloaded on the other server: still counting
    first = b.get(state_url(page, "cheat"))
    assert message(first, "cheat") == "0 attempts so far. Your guess?"  # the page as it was shown
    found = answer(first, "cheat", str(secret))
    assert message(found, "cheat") == "Found in 4 attempts, no cheating"
    # the stateful game of the same pages is rolled back by the back button
    g1 = answer(found, "game", "1")
    answer(g1, "game", "2")
    assert message(answer(g1, "game", "3"), "game") == "3 is too low. Attempt 3: your guess?"


def test_a_confirm_called_from_a_plain_action_cancel_deletes_nothing_ok_deletes(open_browser, servers):
    b, _ = open_browser()
    page = home(b, 31)
    assert items(page) == ["apple", "pear", "plum"]
    asked = click(page, "#delete-pear")
    assert message(asked, "basket") == "Delete pear?"
    assert [s.get("value") for s in asked.find("#basket form").cssselect("input[type=submit]")] == ["ok", "Cancel"]
    cancelled = answer(asked, "basket", button="Cancel")
    assert items(cancelled) == ["apple", "pear", "plum"]
    asked = click(cancelled, "#delete-pear")
    deleted = answer(asked, "basket", button="ok")
    assert items(deleted) == ["apple", "plum"]
    # the question page once more (the back button): its state still has the pear, and its flow
    # resumes there once more (a fork), not in the state where the pear is already gone
    again = answer(asked, "basket", button="ok")
    assert items(again) == ["apple", "plum"]
    assert items(answer(click(again, "#delete-apple"), "basket", button="ok")) == ["plum"]
    asked = click(deleted, "#delete-plum")
    assert message(asked, "basket") == "Delete plum?"
    assert items(answer(asked, "basket", button="ok")) == ["apple"]
    assert message(asked, "game") == "I chose a number between 1 and 100. Attempt 1: your guess?"


def test_the_quiz_asks_two_questions_in_one_statement_then_loops_and_forks_inside_the_loop(open_browser, servers):
    b, _ = open_browser()
    page = home(b, 5)
    page = answer(page, "quiz", "Ada")
    assert message(page, "quiz") == "Last name?"
    page = answer(page, "quiz", "Lovelace")
    assert message(page, "quiz") == "Question 1: Capital of France?"
    page = answer(page, "quiz", "paris")
    q2 = page
    assert message(q2, "quiz") == "Question 2: Two plus two?"
    page = answer(q2, "quiz", "4")
    assert message(page, "quiz") == "Question 3: Colour of the sky?"
    page = answer(page, "quiz", "Blue ")
    assert message(page, "quiz") == "Ada Lovelace scored 3/3"
    # back to question 2 of the loop: the iterator resumes at its position, the score as it was
    fork = answer(q2, "quiz", "5")
    assert message(fork, "quiz") == "Question 3: Colour of the sky?"
    assert message(answer(fork, "quiz", "green"), "quiz") == "Ada Lovelace scored 1/3"
    page = answer(page, "quiz", button="Again")
    assert message(page, "quiz") == "First name?"


def test_flows_of_several_sessions_interleaved(open_browser, servers):
    seeds = (17, 23, 31, 42, 99)
    players = [open_browser()[0] for _ in seeds]
    pages = [home(b, seed) for b, seed in zip(players, seeds)]
    guesses = {seed: [50, 25, secret_of(seed)] for seed in seeds}
    # one step of each session in turn, on a server chosen by each session's own turn
    for step in range(3):
        for i, seed in enumerate(seeds):
            pages[i] = answer(pages[i], "game", str(guesses[seed][step]))
            pages[i] = answer(pages[i], "quiz", f"name{i}" if step < 2 else "4")
            pages[i] = answer(pages[i], "cheat", "0")
    for i, seed in enumerate(seeds):
        expected = [guess == secret_of(seed) for guess in guesses[seed]].index(True) + 1
        assert message(pages[i], "game") == f"Found {secret_of(seed)} in {expected} attempts"
        assert message(pages[i], "quiz") == "Question 2: Two plus two?"
        assert message(pages[i], "cheat") == "3 attempts so far. Your guess?"
    for i, seed in enumerate(seeds):
        pages[i] = answer(pages[i], "quiz", "4")
        pages[i] = answer(pages[i], "quiz", "blue")
        assert message(pages[i], "quiz") == f"name{i} name{i} scored 2/3"
