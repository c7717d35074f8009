"""A deploy in the middle of a flow: stop the FastCGI server, edit the application, start it again.

The application is a copy of flowapp.py the test edits; its sessions are in memcached, so a
session started before the deploy goes on after it. A message edited and lines shifted: the
suspended game resumes and shows the new text. A statement of `go` changed: the flow cannot
resume where it stopped, the application's `on_flow_broken` hook runs, the game starts again
from the start, and the page is a 200 with a warning logged, never a 500.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.flow_http.conftest import APP, RoundRobin, answer, browser, click, install, items, message, start
from tests.support.browser import Browser, Page
from tests.support.memcached import Memcached
from tests.support.server import NagareServer, port_is_free

SEED = 17


class Deployment:
    """One FastCGI server of the copy of flowapp.py in `folder`, restarted on its port after an edit."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.source = folder / "flowapp.py"
        self.original = self.source.read_text()
        self.server: NagareServer = start(folder, "deploy")
        self.logs: list[str] = []

    def redeploy(self, edit: Callable[[str], str]) -> None:
        """Stop the server, edit the source (`edit(text)` is the new text), start it on the same port."""
        port = self.server.port
        self.server.stop()
        self.logs.append(self.server.log())
        text = self.source.read_text()
        changed = edit(text)
        assert changed != text, "the edit changed nothing"
        self.source.write_text(changed)
        deadline = time.monotonic() + 10
        while not port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.server = start(self.folder, "deploy", port)

    def reset(self) -> None:
        """The original source, served."""
        if self.source.read_text() != self.original:
            self.redeploy(lambda _: self.original)

    def log(self) -> str:
        return "".join(self.logs) + self.server.log()

    def wait_for_log(self, text: str, timeout: float = 5.0) -> str:
        """The server's log once `text` is in it (the workers write it from a thread: a little later)."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.server.log()):
            assert time.monotonic() < deadline, f"{text!r} not in the log:\n{log}"
            time.sleep(0.05)
        return log


@pytest.fixture(scope="module")
def deployment(memcached: Memcached, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("deploy")
    install(folder, memcached)
    deployed = Deployment(folder)
    try:
        yield deployed
    finally:
        deployed.server.stop()
    assert "Traceback" not in deployed.log() and "ERROR" not in deployed.log(), deployed.log()


@pytest.fixture
def player(deployment: Deployment) -> Iterator[tuple[Browser, RoundRobin]]:
    deployment.reset()
    b, transport = browser([deployment.server])
    yield b, transport
    failed = [served for served in transport.served if not 200 <= served.status < 400]
    assert not failed, failed


def secret() -> int:
    return random.Random(SEED).randint(1, 100)  # 67


def mid_game(b: Browser) -> Page:
    """A session whose game waits for its third guess and whose quiz waits for its first question."""
    page = b.get(APP + str(SEED))
    assert page.status == 200, page.text[:2000]
    page = answer(page, "game", "10")
    page = answer(page, "game", "20")
    page = answer(page, "quiz", "Ada")
    page = answer(page, "quiz", "Lovelace")
    assert message(page, "game") == "20 is too low. Attempt 3: your guess?"
    assert message(page, "quiz") == "Question 1: Capital of France?"
    return page


def test_a_message_edited_and_lines_shifted_resume_with_the_new_text(deployment, player):
    b, _ = player
    page = mid_game(b)

    def edit(text: str) -> str:
        text = text.replace("'%s Attempt %d: your guess?'", "'%s Try number %d: what is your guess?'")
        text = text.replace("'%d is too %s.'", "'%d is much too %s.'")
        # a comment and blank lines above the game: every line of go() moves down
        return text.replace("class GuessGame(", "# The game of the deploy test.\n\n\nclass GuessGame(", 1)

    deployment.redeploy(edit)
    # the same session, on the new server: the page shown before the deploy is answered
    page = answer(page, "game", "90")
    assert message(page, "game") == "90 is much too high. Try number 4: what is your guess?"
    page = answer(page, "game", str(secret()))
    assert message(page, "game") == f"Found {secret()} in 4 attempts"
    assert message(answer(page, "quiz", "Paris"), "quiz") == "Question 2: Two plus two?"
    assert "flowapp: flow broken" not in deployment.log() and "starts again" not in deployment.log()


def test_a_statement_of_go_changed_runs_the_hook_and_the_game_starts_again(deployment, player):
    b, _ = player
    page = mid_game(b)
    # the logic of GuessGame.go changes: its bytecode is not the one that suspended
    deployment.redeploy(lambda text: text.replace("if guess == secret:", "if guess >= secret:", 1))
    restarted = answer(page, "game", "90")
    assert restarted.status == 200
    assert message(restarted, "game") == "I chose a number between 1 and 100. Attempt 1: your guess?"
    log = deployment.wait_for_log("flowapp: flow broken in GuessGame (CodeChanged)")
    assert "WARNING" in log and "a suspended flow starts again" in log, log
    # the same session goes on with the new logic: a guess above the secret wins
    page = answer(restarted, "game", "100")
    assert message(page, "game") == "Found 67 in 1 attempts"
    # the quiz of the same pages did not change: it resumes where it stopped
    page = answer(page, "quiz", "Paris")
    assert message(page, "quiz") == "Question 2: Two plus two?"
    assert deployment.server.log().count("flowapp: flow broken") == 1



def test_a_statement_of_an_action_changed_runs_the_hook_and_the_basket_shows_again(deployment, player):
    b, _ = player
    page = b.get(APP + str(SEED))
    asked = click(page, "#delete-pear")  # Basket.delete waits in comp.call(Confirm(...))
    assert message(asked, "basket") == "Delete pear?"
    deployment.redeploy(lambda text: text.replace("self.items.remove(item)", "self.items.remove(item.strip())", 1))
    shown = answer(asked, "basket", button="ok")
    assert items(shown) == ["apple", "pear", "plum"]  # not deleted by a flow resumed at the wrong place
    deployment.wait_for_log("flowapp: flow broken in Basket (CodeChanged)")
    # the new action works from the page shown after the hook
    assert items(answer(click(shown, "#delete-pear"), "basket", button="ok")) == ["apple", "plum"]
