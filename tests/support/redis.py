"""A real redis-server for the tests, on a free loopback port, run in a folder of its own.

As `tests/support/memcached.py`: a test (or a fixture of a test folder) starts a `Redis`, points
`[sessions] type = redis` at its `url`, and stops it. Nothing is written to disk (no RDB
snapshot, no append-only file), so a stopped server starts again empty, as memcached does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.server import free_port, stop_process

REDIS = "/usr/bin/redis-server"


class Redis:
    """`/usr/bin/redis-server` on 127.0.0.1:<port>, TCP only, its log in `folder`; `stop()` ends it.

    Without a `port`, a free one; if another process takes it before redis binds it (the tests of
    other folders start servers too), redis exits and another port is tried.
    """

    def __init__(self, folder: Path, port: int | None = None, password: str = "") -> None:
        if not os.path.exists(REDIS):
            pytest.fail(f"redis-server is not installed at {REDIS} (apt-get install redis-server)")
        self.host = "127.0.0.1"
        self.folder = folder
        self.password = password
        self.log = folder / "redis.log"
        for _ in range(3 if port is None else 1):
            self.port = port or free_port()
            if self._start():
                return
        pytest.fail(f"redis-server did not start on {self.host}:{self.port}: {self.log.read_text(errors='replace').strip()}")

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def url(self) -> str:
        """The `[sessions] url` of this server, database 0."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    def _start(self, timeout: float = 10.0) -> bool:
        """Start redis-server and wait until it answers; False if it exited (its port was taken)."""
        command = [
            REDIS, "--bind", self.host, "--port", str(self.port), "--dir", str(self.folder),
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
            "--unixsocket", "", "--logfile", str(self.log),
        ]
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(command, cwd=self.folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if self.command("PING") in (b"+PONG", b"-NOAUTH Authentication required."):
                return True
            time.sleep(0.02)
        self.stop()
        pytest.fail(f"redis-server does not answer on {self.host}:{self.port} after {timeout}s")

    def command(self, *words: str) -> bytes:
        """Send one command (RESP array of bulk strings, AUTH first with a password); its first
        reply line, without CRLF (b'' if nothing answers)."""
        commands = ([("AUTH", self.password)] if self.password else []) + [words]
        request = b"".join(_resp(c) for c in commands)
        try:
            with socket.create_connection(self.address, timeout=2) as connection:
                connection.sendall(request)
                reply = b""
                while reply.count(b"\r\n") < len(commands):
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
                return reply.split(b"\r\n")[len(commands) - 1]
        except OSError:
            return b""

    def keys(self, pattern: str = "*") -> list[str]:
        """The keys matching `pattern` (KEYS: a test server holds few)."""
        commands = ([("AUTH", self.password)] if self.password else []) + [("KEYS", pattern)]
        with socket.create_connection(self.address, timeout=5) as connection:
            connection.sendall(b"".join(_resp(c) for c in commands))
            reader = connection.makefile("rb")
            if self.password:
                reader.readline()
            header = reader.readline()
            if not header.startswith(b"*"):
                raise RuntimeError(f"redis answered {header!r} to KEYS")
            found = []
            for _ in range(int(header[1:])):
                length = int(reader.readline()[1:])
                found.append(reader.read(length + 2)[:-2].decode())
            return found

    def stop(self) -> None:
        stop_process(self.process, timeout=5)


def _resp(words: tuple[str, ...]) -> bytes:
    encoded = [w.encode() for w in words]
    return b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in encoded)
