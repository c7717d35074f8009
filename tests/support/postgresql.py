"""A real PostgreSQL server for the tests: a cluster made by `initdb` in a temp folder, on a free port.

Debian's `postgresql` package provides the binaries (/usr/lib/postgresql/<version>/bin, the newest
version is used); a missing package is a failure, not a skip. `initdb` refuses to run as root:
as root (CI), the cluster belongs to the `postgres` user and every server command runs as it.

    server = PostgreSQL()                 # initdb, then started on 127.0.0.1:<free port>
    uri = server.create_database("t1")    # postgresql+psycopg2://nagare@127.0.0.1:<port>/t1
    server.stop(); server.start()         # the same cluster on the same port
    server.destroy()                      # stopped, its folder removed

The superuser is `nagare`, trusted without a password on the loopback address. The server runs
without fsync (the data of a test run need not survive a crash), so it starts in about a second.
"""

from __future__ import annotations

import atexit
import glob
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import free_port

USER = "nagare"
#: The Debian package's folders of binaries, one per major version.
BINARIES = "/usr/lib/postgresql/*/bin"


def binaries() -> Path:
    """The folder of the newest PostgreSQL's `initdb`, `pg_ctl` and `postgres` (a failure if none)."""
    found = [Path(folder) for folder in glob.glob(BINARIES) if os.path.exists(os.path.join(folder, "initdb"))]
    if not found:
        pytest.fail(f"PostgreSQL is not installed: no initdb in {BINARIES} (apt-get install postgresql)")
    return max(found, key=lambda folder: [int(n) for n in re.findall(r"\d+", folder.parent.name)] or [0])


class PostgreSQL:
    """A PostgreSQL cluster of its own, running on 127.0.0.1:`port` until `stop()` or `destroy()`."""

    def __init__(self, port: int | None = None) -> None:
        self.bin = binaries()
        # Not under pytest's tmp_path: its /tmp/pytest-of-root is closed to the `postgres` user.
        # A short path too: the Unix socket's name must fit in 107 bytes.
        self.folder = Path(tempfile.mkdtemp(prefix="nagare-pg-"))
        self.data = self.folder / "data"
        self.sockets = self.folder / "sockets"
        self.log = self.folder / "server.log"
        self.sockets.mkdir()
        atexit.register(self.destroy)  # stopped even if the run ends without its fixtures' teardown
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8", "--locale=C", "--no-sync")
        self.port = port or free_port()
        for attempt in range(3):
            try:
                self.start()
                return
            except RuntimeError:
                # another process took the free port before the server bound it: another port
                if port is not None or attempt == 2:
                    self.destroy()
                    raise
                self.port = free_port()

    # --- the server --------------------------------------------------------------------------

    def run(self, program: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run one of the binaries (as `postgres` when we are root); RuntimeError with its output if it fails."""
        command: Sequence[str] = [str(self.bin / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, cwd=self.folder, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if done.returncode:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stdout}{done.stderr}{self.server_log()}")
        return done

    def start(self) -> None:
        """Start the server on its port and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: the sessions are ended, `immediate`: it quits at once)."""
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    @property
    def running(self) -> bool:
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), "status"]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL).returncode == 0

    def destroy(self) -> None:
        """Stop the server if it runs, and remove its folder (again: nothing)."""
        if not self.folder.exists():
            return
        try:
            if self.data.exists() and self.running:
                self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def server_log(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    # --- databases ---------------------------------------------------------------------------

    def uri(self, database: str = "postgres") -> str:
        """The SQLAlchemy URI of `database` (driver psycopg2)."""
        return f"postgresql+psycopg2://{USER}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", autocommit: bool = True) -> Any:
        """A psycopg2 connection to `database`, of the test's own (not through SQLAlchemy)."""
        import psycopg2  # a test dependency: missing is a failure

        deadline = time.monotonic() + 10
        while True:
            try:
                connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=USER, dbname=database, connect_timeout=5)
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # the server is still starting (a start() just returned)
        connection.autocommit = autocommit
        return connection

    def create_database(self, name: str) -> str:
        """A new, empty database `name`; its URI."""
        connection = self.connect()  # not `with connection`: that would open a transaction
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.uri(name)

    def drop_database(self, name: str) -> None:
        """Drop `name`, ending the sessions still connected to it."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            connection.close()

    def query(self, database: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """The rows of `sql` run on `database` in a connection of its own."""
        connection = self.connect(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()
