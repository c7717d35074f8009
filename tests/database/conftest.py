"""The database tests' servers and their fixture application (dbapp.py and its files).

- `postgresql`: one real PostgreSQL server for the whole run (tests/support/postgresql.py);
- `new_database`: makes fresh databases on it, dropped after the test (the server started again
  first if the test left it stopped);
- `install(folder, ...)`: a copy of dbapp.py and of its application files in `folder`, the
  templates filled in; `in_process(app_file)`: the application of such a file, built in this
  process (tests/wsgi/test_app.py's `make_app`) with the file's [database] sections bound.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nagare import database
from nagare.config import application, reference
from tests.support.postgresql import PostgreSQL
from tests.wsgi.test_app import make_app

HERE = Path(__file__).parent
#: The session secret the FastCGI servers of these tests share (publisher.cfg).
SECRET = "the secret of the database tests' servers"
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgresql() -> Iterator[PostgreSQL]:
    """A PostgreSQL server of our own for the whole run (a missing package is a failure)."""
    server = PostgreSQL()
    yield server
    server.destroy()


@pytest.fixture
def new_database(postgresql: PostgreSQL) -> Iterator[Callable[[], tuple[str, str]]]:
    """`new_database()`: a fresh, empty database on the server, as (name, URI); dropped after the test."""
    made: list[str] = []

    def make() -> tuple[str, str]:
        name = f"test_{os.getpid()}_{next(_numbers)}"
        uri = postgresql.create_database(name)
        made.append(name)
        return name, uri

    yield make
    if not postgresql.running:  # a test that failed with the server stopped
        postgresql.start()
    for name in made:
        postgresql.drop_database(name)


def install(folder: Path, template: str = "dbapp.cfg", name: str = "dbapp.cfg", **values: Any) -> Path:
    """Copy dbapp.py and the application file `template` into `folder`, filled in with `values`
    (dbapp.cfg: `uri`, and `activated` on, `metadata` 'metadata', `extra` '' unless given;
    twodb.cfg: `notes` and `archive`); the application file's path, `folder/name`."""
    shutil.copy(HERE / "dbapp.py", folder / "dbapp.py")
    if template == "dbapp.cfg":
        values = {"activated": "on", "metadata": "metadata", "extra": "", **values}
    path = folder / name
    path.write_text((HERE / template).read_text().format(**values))
    return path


def install_publisher(folder: Path, memcached_port: int) -> Path:
    """publisher.cfg in `folder`: the FastCGI publisher, its sessions in memcached."""
    path = folder / "publisher.cfg"
    path.write_text((HERE / "publisher.cfg").read_text().format(memcached=memcached_port, secret=SECRET))
    return path


def dbapp(folder: Path) -> Any:
    """The module dbapp.py of `folder` (the one the application file's references load)."""
    return reference.load_file(str(folder / "dbapp.py"), f"file {folder}/dbapp.py")


def in_process(app_file: Path, create: bool = True) -> Any:
    """The application of `app_file` in this process: dbapp's Root with in-memory sessions, the
    file's activated [database] sections bound, their tables created (`create`).

    `nagare.database.reset()` forgets the engines: call it when done."""
    config = application.read(str(app_file))
    module = dbapp(app_file.parent)
    app = make_app(module.Root)
    app.set_databases([settings for settings in config.databases if settings.activated])
    if create:
        for metadata, engine in database.engines().items():
            metadata.create_all(engine)
    return app
