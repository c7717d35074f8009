"""`nagare-admin create-db` and `drop-db`, the real commands (`python -m nagare ...` in a subprocess)
on the fixture application's file: on SQLite, on PostgreSQL with two databases, and their
one-line errors."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

from tests.database.conftest import install
from tests.support.postgresql import PostgreSQL
from tests.support.server import free_port, nagare_admin

POPULATED = [(1, "welcome"), (2, "read me")]
TABLES = "select table_name from information_schema.tables where table_schema = 'public' order by 1"


def admin(folder: Path, *args: str) -> str:
    """Run the command in `folder`; it succeeds without a traceback; its standard output."""
    done = nagare_admin(*args, cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done.stdout


def sqlite_rows(path: Path) -> list[tuple[int, str]] | None:
    """The notes of the SQLite file (None: no table)."""
    with closing(sqlite3.connect(path)) as db:  # (`with` a connection alone does not close it)
        if not db.execute("select name from sqlite_master where name = 'note'").fetchall():
            return None
        return db.execute("select id, title from note order by id").fetchall()


def test_create_db_and_drop_db_on_sqlite(tmp_path):
    app = install(tmp_path, uri=f"sqlite:///{tmp_path}/notes.db")
    db = tmp_path / "notes.db"
    assert admin(tmp_path, "create-db", str(app)) == ""  # quiet without -d
    assert sqlite_rows(db) == POPULATED  # the tables, then the populate function in a transaction
    with closing(sqlite3.connect(db)) as connection, connection:
        connection.execute("insert into note (title) values ('mine')")
    admin(tmp_path, "create-db", "--drop", str(app))
    assert sqlite_rows(db) == POPULATED  # dropped first: the row of the previous run is gone
    admin(tmp_path, "create-db", "--drop", "--no-populate", str(app))
    assert sqlite_rows(db) == []  # the table, empty
    admin(tmp_path, "drop-db", str(app))
    assert sqlite_rows(db) is None
    sql = admin(tmp_path, "create-db", "-d", str(app))
    assert "CREATE TABLE note" in sql and "INSERT INTO note" in sql and "COMMIT" in sql
    sql = admin(tmp_path, "drop-db", "-d", str(app))
    assert "DROP TABLE note" in sql and sqlite_rows(db) is None


def test_create_db_and_drop_db_on_postgresql_with_two_databases(tmp_path, postgresql: PostgreSQL, new_database):
    (notes, notes_uri), (archive, archive_uri) = new_database(), new_database()
    app = install(tmp_path, "twodb.cfg", notes=notes_uri, archive=archive_uri)
    admin(tmp_path, "create-db", str(app))
    # each database has its own table, filled by its own populate function
    assert postgresql.query(notes, TABLES) == [("note",)] and postgresql.query(archive, TABLES) == [("entry",)]
    assert postgresql.query(notes, "select id, title from note order by id") == POPULATED
    assert postgresql.query(archive, "select text from entry") == [("archive opened",)]
    postgresql.query(notes, "insert into note (title) values ('mine')")
    postgresql.query(archive, "insert into entry (text) values ('mine')")
    admin(tmp_path, "create-db", "--drop", str(app))
    assert postgresql.query(notes, "select id, title from note order by id") == POPULATED
    assert postgresql.query(archive, "select text from entry") == [("archive opened",)]
    admin(tmp_path, "create-db", "--drop", "--no-populate", str(app))
    assert postgresql.query(notes, "select count(*) from note") == [(0,)]
    assert postgresql.query(archive, "select count(*) from entry") == [(0,)]
    sql = admin(tmp_path, "drop-db", "-d", str(app))
    assert "DROP TABLE note" in sql and "DROP TABLE entry" in sql
    assert postgresql.query(notes, TABLES) == [] and postgresql.query(archive, TABLES) == []


def test_create_db_of_two_applications_at_once(tmp_path, postgresql: PostgreSQL, new_database):
    """SQLite for one, PostgreSQL for the other: each gets its tables and rows."""
    name, uri = new_database()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = install(tmp_path / "a", uri=f"sqlite:///{tmp_path}/a/notes.db")
    second = install(tmp_path / "b", uri=uri)
    admin(tmp_path, "create-db", str(first), str(second))
    assert sqlite_rows(tmp_path / "a" / "notes.db") == POPULATED
    assert postgresql.query(name, "select id, title from note order by id") == POPULATED


ERRORS = {
    "bad-uri": ({"uri": "nosuchdriver://x"}, "nosuchdriver"),
    "unreachable": ({"uri": "postgresql+psycopg2://nagare@127.0.0.1:{closed}/x"}, "Connection refused"),
    "no-such-metadata": ({"metadata": "nosuchmetadata"}, "nosuchmetadata"),
    "not-activated": ({"activated": "off"}, "no activated [database] section"),
}


def test_errors_are_one_line_and_a_failure_status(tmp_path):
    """A bad URI, an unreachable server, a metadata that does not exist, no activated [database]:
    one line on stderr, nothing on stdout, a failure status (the commands run at once: faster)."""
    cases = []
    for case, (settings, expected) in ERRORS.items():
        folder = tmp_path / case
        folder.mkdir()
        values = {"uri": f"sqlite:///{folder}/notes.db", **settings}
        values["uri"] = values["uri"].format(closed=free_port())  # nothing listens there
        app = install(folder, **values)
        cases += [(case, command, folder, app, expected) for command in ("create-db", "drop-db")]
    with ThreadPoolExecutor(len(cases)) as pool:
        results = list(pool.map(lambda c: nagare_admin(c[1], str(c[3]), cwd=c[2]), cases))
    for (case, command, folder, _, expected), done in zip(cases, results):
        what = f"{command} ({case}): {done.returncode} {done.stdout}{done.stderr}"
        assert done.returncode != 0, what
        assert "Traceback" not in done.stdout + done.stderr and done.stdout == "", what
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"nagare-admin {command}: ") and expected in lines[0], what
        assert not (folder / "notes.db").exists() or sqlite_rows(folder / "notes.db") is None, what  # nothing made
