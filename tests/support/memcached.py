"""A real memcached for the tests, on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from tests.support.server import free_port

MEMCACHED = "/usr/bin/memcached"


class Memcached:
    """`/usr/bin/memcached` started on 127.0.0.1:<free port>, TCP only; `stop()` ends it."""

    def __init__(self, port: int | None = None) -> None:
        if not os.path.exists(MEMCACHED):
            pytest.fail(f"memcached is not installed at {MEMCACHED} (apt-get install memcached)")
        self.host = "127.0.0.1"
        self.port = port or free_port()
        command = [MEMCACHED, "-l", self.host, "-p", str(self.port), "-U", "0", "-m", "64"]
        if os.geteuid() == 0:
            command += ["-u", "root"]  # memcached refuses to run as root without it
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def _wait(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace").strip() if self.process.stderr else ""
                pytest.fail(f"memcached exited with status {self.process.returncode}: {error}")
            if self.command(b"version\r\n").startswith(b"VERSION"):
                return
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
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
