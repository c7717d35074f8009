"""A real memcached for the tests, on a free loopback port, run in a folder of its own.

`tests/conftest.py` starts one for the whole run (the `memcached` fixture); a test that stops
its server (memcached going away mid-request) starts a `Memcached` of its own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.server import free_port, stop_process

MEMCACHED = "/usr/bin/memcached"


class Memcached:
    """`/usr/bin/memcached` on 127.0.0.1:<port>, TCP only, its log in `folder`; `stop()` ends it.

    Without a `port`, a free one; if another process takes it before memcached binds it (the
    tests of other folders start servers too), memcached exits and another port is tried.
    """

    def __init__(self, folder: Path, port: int | None = None) -> None:
        if not os.path.exists(MEMCACHED):
            pytest.fail(f"memcached is not installed at {MEMCACHED} (apt-get install memcached)")
        self.host = "127.0.0.1"
        self.folder = folder
        self.log = folder / "memcached.log"
        for _ in range(3 if port is None else 1):
            self.port = port or free_port()
            if self._start():
                return
        pytest.fail(f"memcached did not start on {self.host}:{self.port}: {self.log.read_text(errors='replace').strip()}")

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def _start(self, timeout: float = 10.0) -> bool:
        """Start memcached and wait until it answers; False if it exited (its port was taken)."""
        command = [MEMCACHED, "-l", self.host, "-p", str(self.port), "-U", "0", "-m", "64"]
        if os.geteuid() == 0:
            command += ["-u", "root"]  # memcached refuses to run as root without it
        with open(self.log, "ab") as log:  # a file, not a pipe nobody reads: it cannot fill up
            self.process = subprocess.Popen(command, cwd=self.folder, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if self.command(b"version\r\n").startswith(b"VERSION"):
                return True
            time.sleep(0.02)
        self.stop()
        pytest.fail(f"memcached does not answer on {self.host}:{self.port} after {timeout}s")

    def command(self, line: bytes) -> bytes:
        """Send one text-protocol command; its first reply line (b'' if nothing answers)."""
        try:
            with socket.create_connection(self.address, timeout=2) as connection:
                connection.sendall(line)
                reply = b""
                while not reply.endswith(b"\r\n"):
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
                return reply
        except OSError:
            return b""

    def stop(self) -> None:
        stop_process(self.process, timeout=5)
