"""A transaction per request, entities in the page state, a database that cannot be reached (SQLite)."""

from __future__ import annotations

import logging
import re
import sqlite3
from contextlib import closing

import pytest

from nagare import database, presentation
from nagare.config import application, loader
from tests.database import models
from tests.support.pickling import dumps, loads
from tests.wsgi.test_app import Client, make_app


@pytest.fixture
def app(tmp_path):
    app = make_app(models.Root)
    settings = loader.check(None, application.DATABASE, {"activated": "on", "uri": f"sqlite:///{tmp_path}/t.db", "metadata": "tests.database.models:metadata"})
    app.set_databases([settings])
    models.metadata.create_all(database.engines()[models.metadata])
    yield app
    database.reset()


def rows(tmp_path):
    with closing(sqlite3.connect(tmp_path / "t.db")) as db:
        return db.execute("select id, name from item order by id").fetchall()


def shown(response, name):
    return re.search(rf'id="{name}">([^<]*)<', response.text).group(1)


def test_a_request_that_succeeds_is_committed_and_the_view_sees_the_new_key(app, tmp_path):
    client = Client(app)
    page = client.get("")
    page = client.get(client.href(page, "add"))
    assert shown(page, "item") == "1 one"  # flushed after the actions: the view shows the key
    assert rows(tmp_path) == [(1, "one")]


@pytest.mark.parametrize("action, status", [("boom", 500), ("refuse", 403)])
def test_a_request_that_fails_or_answers_an_error_leaves_nothing_written(app, tmp_path, action, status, caplog):
    client = Client(app)
    page = client.get("")
    caplog.set_level(logging.CRITICAL)
    assert client.get(client.href(page, action)).status_int == status
    assert rows(tmp_path) == []


def test_an_entity_is_stored_as_its_class_and_key_and_loaded_again_in_the_next_request(app, tmp_path, caplog):
    client = Client(app)
    page = client.get(client.href(client.get(""), "add"))
    caplog.set_level(logging.DEBUG, logger="nagare.sessions.t")
    page = client.get(client.href(page, "rename"))
    assert shown(page, "item") == "1 renamed"  # the object of this request's session: its change is written
    assert rows(tmp_path) == [(1, "renamed")]
    # the row is read again by the next request, never kept in the state
    with closing(sqlite3.connect(tmp_path / "t.db")) as db, db:
        db.execute("update item set name = 'changed elsewhere' where id = 1")
    again = client.get(re.sub(r"&?_action\d+", "", client.href(page, "add")))  # the same page again
    assert shown(again, "item") == "1 changed elsewhere"


def test_the_pickled_entity_holds_its_key_not_its_row(app):
    root = models.Root()
    root.item = models.Item(name="a name kept in the database only")
    database.session.add(root.item)
    database.session.commit()
    blob = dumps(root)
    assert b"a name kept in the database only" not in blob
    database.session.remove()
    loaded = loads(blob)
    assert loaded.item.name == "a name kept in the database only"
    assert loaded.item in database.session  # the current session's own object, not a detached copy
    database.session.remove()


def test_a_transient_object_is_pickled_as_an_ordinary_object(app):
    client = Client(app)
    page = client.get(client.href(client.get(""), "add"))
    assert shown(page, "draft") == "draft"  # it went through the state and back, with its value


def test_an_unreachable_database_answers_503_with_one_log_line_and_service_resumes(tmp_path, caplog):
    folder = tmp_path / "later"
    app = make_app(models.Root)
    settings = loader.check(None, application.DATABASE, {"activated": "on", "uri": f"sqlite:///{folder}/t.db", "metadata": "tests.database.models:metadata"})
    app.set_databases([settings])
    try:
        client = Client(app)
        caplog.set_level(logging.ERROR)
        page = client.get("")
        assert page.status_int == 503 and page.headers["Retry-After"] == "1"
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "database is unavailable" in errors[0].getMessage() and "\n" not in errors[0].getMessage()
        folder.mkdir()  # the database comes back
        models.metadata.create_all(database.engines()[models.metadata])
        assert client.get("").status_int == 200
    finally:
        database.reset()


def test_with_two_databases_a_text_statement_given_a_mapper_goes_to_the_mapper_s_database(tmp_path):
    import sqlalchemy as sa

    try:
        database.set_metadata(models.metadata, f"sqlite:///{tmp_path}/one.db")
        database.set_metadata(models.other_metadata, f"sqlite:///{tmp_path}/two.db")
        for metadata, engine in database.engines().items():
            metadata.create_all(engine)
        database.session.add_all([models.Item(name="x"), models.Archived()])
        database.session.commit()
        count = database.session.execute(sa.text("select count(*) from archived"), bind_arguments={"mapper": models.Archived})
        assert count.scalar() == 1
        assert database.session.execute(sa.text("select count(*) from item"), bind_arguments={"mapper": models.Item}).scalar() == 1
    finally:
        database.reset()


class Plain:
    """A page that never touches the database, in an application that has one."""

    def __init__(self) -> None:
        self.clicks = 0

    def click(self) -> None:
        self.clicks += 1


@presentation.render_for(Plain)
def render_plain(self: Plain, h, comp, *args):
    return h.a(str(self.clicks), id="click").action(self.click)


@pytest.mark.parametrize("root, made", [(Plain, False), (models.Root, True)])
def test_a_request_that_never_uses_the_database_makes_no_session(tmp_path, monkeypatch, root, made):
    app = make_app(root)
    settings = loader.check(None, application.DATABASE, {"activated": "on", "uri": f"sqlite:///{tmp_path}/t.db", "metadata": "tests.database.models:metadata"})
    app.set_databases([settings])
    models.metadata.create_all(database.engines()[models.metadata])
    sessions = []
    factory = database.session.registry.createfunc
    monkeypatch.setattr(database.session.registry, "createfunc", lambda: sessions.append(factory()) or sessions[-1])
    try:
        client = Client(app)
        page = client.get("")
        assert client.get(client.href(page, "click" if root is Plain else "add")).status_int == 200
    finally:
        database.reset()
    assert bool(sessions) is made  # no SQLAlchemy session (nor flush, nor commit) for the plain page


def test_each_thread_has_its_own_session_made_on_demand_and_forgotten_by_remove():
    import threading

    registry = database.session.registry
    assert not registry.has()
    mine = database.session()
    assert registry.has() and database.session() is mine
    seen = []
    thread = threading.Thread(target=lambda: seen.append((registry.has(), database.session(), registry.has())))
    thread.start()
    thread.join()
    assert seen[0][0] is False and seen[0][1] is not mine and seen[0][2] is True  # not this thread's
    database.session.remove()
    assert not registry.has()
    assert database.session() is not mine  # a new one
    database.session.remove()
    with database.transaction() as end:
        database.session()
        end(True)
    assert not registry.has()  # the transaction's end removes it
