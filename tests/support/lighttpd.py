"""A real lighttpd for the tests (`lighttpd -D -f <conf>`), on a free loopback port."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.server import free_port, wait_for_port

LIGHTTPD = shutil.which("lighttpd") or "/usr/sbin/lighttpd"


class Lighttpd:
    """lighttpd running the configuration `conf`: `{port}` and `{tmp}` in it are replaced."""

    def __init__(self, tmp: Path, conf: str) -> None:
        if not os.path.exists(LIGHTTPD):
            pytest.fail(f"lighttpd is not installed at {LIGHTTPD} (apt-get install lighttpd; see .ci/packages.txt)")
        self.tmp = tmp
        self.port = free_port()
        self.conf = tmp / "lighttpd.conf"
        self.conf.write_text(conf.replace("{port}", str(self.port)).replace("{tmp}", str(tmp)))
        check = subprocess.run([LIGHTTPD, "-tt", "-f", str(self.conf)], capture_output=True, text=True, timeout=60)
        if check.returncode != 0:
            pytest.fail(f"lighttpd refuses its configuration: {check.stdout}{check.stderr}")
        self.process = subprocess.Popen(
            [LIGHTTPD, "-D", "-f", str(self.conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )
        try:
            wait_for_port(self.port, self.process)
        except Exception:
            error = self.process.stderr.read().decode(errors="replace") if self.process.poll() is not None and self.process.stderr else ""
            self.stop()
            pytest.fail(f"lighttpd did not start: {error} {self.error_log()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = self.tmp / "lighttpd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # lighttpd: TERM stops at once
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own session, started above
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
