"""The request cycle on a real PostgreSQL server (psycopg2), in process.

The fixture application (dbapp.py) is configured by its application file: the [database]
section (or two sub-sections for two databases) read and bound as `nagare-admin serve` does,
its requests sent by tests/wsgi/test_app.py's client. What is written is read back through a
connection of the test's own.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from nagare import database
from tests.database.conftest import dbapp, in_process, install
from tests.support.postgresql import PostgreSQL
from tests.wsgi.test_app import Client


def shown(response: Any, name: str) -> str:
    match = re.search(rf'id="{name}">([^<]*)<', response.text)
    assert match is not None, response.text[:2000]
    return match.group(1)


def titles(server: PostgreSQL, name: str) -> list[tuple[int, str]]:
    return server.query(name, "select id, title from note order by id")


def same_page(client: Client, page: Any) -> str:
    """The URL of the state `page` shows, without an action: the page reloaded."""
    return re.sub(r"&?_action\d+", "", client.href(page, "add"))


@pytest.fixture
def notes(tmp_path: Path, new_database: Any) -> Iterator[tuple[str, Client]]:
    """The application on a fresh database (its name) and a client of it."""
    name, uri = new_database()
    app = in_process(install(tmp_path, uri=uri))
    try:
        yield name, Client(app)
    finally:
        database.reset()


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_a_request_that_succeeds_is_committed(notes, postgresql):
    name, client = notes
    page = client.get("")
    assert shown(page, "note") == "-" and shown(page, "backend") != "None"  # it is PostgreSQL
    page = client.get(client.href(page, "add"))
    assert page.status_int == 200 and shown(page, "note") == "1 one"
    assert titles(postgresql, name) == [(1, "one")]  # committed: another connection reads it


@pytest.mark.parametrize("action, status", [("boom", 500), ("refuse", 403)])
def test_an_action_that_raises_or_answers_an_error_leaves_no_row(notes, postgresql, caplog, action, status):
    name, client = notes
    page = client.get("")
    caplog.set_level(logging.CRITICAL)  # the 500's traceback is expected here
    assert client.get(client.href(page, action)).status_int == status
    assert titles(postgresql, name) == []
    # the same session goes on, and its next write is committed alone
    assert client.get(client.href(page, "add")).status_int == 200
    assert [title for _, title in titles(postgresql, name)] == ["one"]


def test_an_entity_kept_in_the_state_is_loaded_by_its_key_and_its_changes_written(notes, postgresql):
    name, client = notes
    page = client.get(client.href(client.get(""), "add"))
    page = client.get(client.href(page, "rename"))
    assert shown(page, "note") == "1 renamed"
    assert titles(postgresql, name) == [(1, "renamed")]
    # the next request reads the row again: changed by someone else, the page shows the change
    postgresql.query(name, "update note set title = 'changed elsewhere' where id = 1")
    again = client.get(same_page(client, page))
    assert shown(again, "note") == "1 changed elsewhere"
    # and an action changes the object of that request's session, nothing else
    renamed = client.get(client.href(again, "rename"))
    assert shown(renamed, "note") == "1 renamed" and titles(postgresql, name) == [(1, "renamed")]
    # a row deleted elsewhere is gone from the state too (loaded as None)
    postgresql.query(name, "delete from note")
    assert shown(client.get(same_page(client, renamed)), "note") == "-"


def test_two_databases_one_request_writes_both_and_a_failure_rolls_back_both(tmp_path, postgresql, new_database, caplog):
    (notes_name, notes_uri), (archive_name, archive_uri) = new_database(), new_database()
    app = in_process(install(tmp_path, "twodb.cfg", notes=notes_uri, archive=archive_uri))
    try:
        module = dbapp(tmp_path)
        assert set(database.engines()) == {module.metadata, module.archive_metadata}
        client = Client(app)
        page = client.get("")
        assert shown(page, "entries") == "0"
        page = client.get(client.href(page, "both"))
        assert page.status_int == 200 and shown(page, "note") == "1 with an entry" and shown(page, "entries") == "1"
        assert titles(postgresql, notes_name) == [(1, "with an entry")]
        assert postgresql.query(archive_name, "select id, text from entry") == [(1, "note added")]
        # each table on its own database only
        tables = "select table_name from information_schema.tables where table_schema = 'public'"
        assert postgresql.query(notes_name, tables) == [("note",)]
        assert postgresql.query(archive_name, tables) == [("entry",)]
        caplog.set_level(logging.CRITICAL)
        assert client.get(client.href(page, "both-boom")).status_int == 500  # both flushed, then it raised
        assert titles(postgresql, notes_name) == [(1, "with an entry")]
        assert postgresql.query(archive_name, "select id, text from entry") == [(1, "note added")]
    finally:
        database.reset()


def one_line_503(response: Any, caplog: pytest.LogCaptureFixture) -> None:
    """`response` is a 503 and the request logged one line, an error without a traceback."""
    assert response.status_int == 503 and response.headers["Retry-After"] == "1", (response.status, response.text[:500])
    logged = errors(caplog)
    assert len(logged) == 1, [r.getMessage() for r in logged]
    line = logged[0]
    assert line.levelno == logging.ERROR and "the database is unavailable" in line.getMessage()
    assert "\n" not in line.getMessage() and line.exc_info is None and not line.exc_text


@pytest.fixture
def stopped(postgresql: PostgreSQL, caplog: pytest.LogCaptureFixture) -> Callable[[], AbstractContextManager[None]]:
    """The server stopped for the test's block (and started again after it in any case)."""

    @contextmanager
    def down() -> Iterator[None]:
        postgresql.stop()
        try:
            caplog.clear()
            caplog.set_level(logging.DEBUG)  # every logger: none may say more than the one line
            yield
        finally:
            postgresql.start()
            caplog.clear()

    return down


def test_the_database_stopped_mid_session_answers_503_in_one_line_then_the_session_goes_on(notes, postgresql, stopped, caplog):
    name, client = notes
    page = client.get("")
    assert shown(page, "note") == "-"
    with stopped():
        # the action's flush reaches for the database: 503, one line, nothing stored
        one_line_503(client.get(client.href(page, "add")), caplog)
        caplog.clear()
        started = time.monotonic()
        one_line_503(client.get(client.href(page, "add")), caplog)  # again, without waiting
        assert time.monotonic() - started < 5
    # the same application, the same session, the same page: its action runs now (pool_pre_ping
    # replaced the connections the stop closed)
    page = client.get(client.href(page, "add"))
    assert page.status_int == 200 and shown(page, "note") == "1 one"
    assert titles(postgresql, name) == [(1, "one")]
    page = client.get(client.href(page, "rename"))
    assert page.status_int == 200 and shown(page, "note") == "1 renamed"
    assert errors(caplog) == []


def test_the_database_stopped_when_the_state_holds_an_entity_answers_503_and_the_session_goes_on(notes, postgresql, stopped, caplog):
    name, client = notes
    page = client.get(client.href(client.get(""), "add"))
    assert shown(page, "note") == "1 one"
    with stopped():
        # loading the state loads its entity from the database: 503, not a lost session
        one_line_503(client.get(client.href(page, "rename")), caplog)
    page = client.get(client.href(page, "rename"))
    assert page.status_int == 200 and shown(page, "note") == "1 renamed"
    assert titles(postgresql, name) == [(1, "renamed")]
    assert errors(caplog) == []


def test_no_free_connection_in_the_pool_answers_503_after_pool_timeout(tmp_path, postgresql, new_database, caplog):
    _, uri = new_database()
    extra = "pool_size = 1\nmax_overflow = 0\npool_timeout = 0.5"
    app = in_process(install(tmp_path, uri=uri, extra=extra))
    try:
        client = Client(app)
        page = client.get("")
        assert page.status_int == 200
        engine = next(iter(database.engines().values()))
        held, release = threading.Event(), threading.Event()

        def hold() -> None:  # another request's thread, which keeps the only connection
            with engine.connect():
                held.set()
                release.wait(30)

        thread = threading.Thread(target=hold)
        thread.start()
        try:
            assert held.wait(10)
            caplog.clear()
            caplog.set_level(logging.WARNING)
            started = time.monotonic()
            busy = client.get(client.href(page, "add"))
            waited = time.monotonic() - started
            assert busy.status_int == 503, busy.text[:500]
            assert 0.4 < waited < 5, waited  # pool_timeout, not SQLAlchemy's 30 s default
            logged = errors(caplog)
            assert len(logged) == 1 and "\n" not in logged[0].getMessage() and logged[0].exc_info is None, logged
        finally:
            release.set()
            thread.join(10)
        page = client.get(client.href(page, "add"))  # the connection is free again
        assert page.status_int == 200 and shown(page, "note") == "1 one"
    finally:
        database.reset()
