"""`--reload` with real processes: a monitor restarts its worker when a watched file changes,
survives syntax errors, and leaves nothing behind after Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.support.server import free_port, port_is_free

HELLO = '''\
from nagare import presentation


class Hello:
    pass


@presentation.render_for(Hello)
def render(self, h, comp, *args):
    return h.p("hello {version}", id="hello")
'''

BROKEN = HELLO.replace("return h.p(", "return h.p((")

# The worker reports the modules it imported every second (hupper); the monitor polls the files
# every [reloader] interval. The tests that pause this long edit a file the monitor knows already;
# the "right after" tests edit one it has not heard of yet.
SEEN = 2.0


def wait_until(check: Callable[[], object], timeout: float = 15.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, what
            return result
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux: /proc/<pid>/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is gone; only its exit status is left


class Monitor:
    """`python -m nagare <command> --reload ...` in its own process group, as from a terminal."""

    def __init__(self, tmp: Path, *args: str, command: str = "serve") -> None:
        self.port = free_port()
        self.log_path = tmp / f"monitor-{self.port}.log"
        self._log = open(self.log_path, "wb")
        env = {**os.environ, "NAGARE_SECRET_FILE": str(tmp / "secret")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nagare", command, "--reload", "--port", str(self.port), *args],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp, env=env,
            start_new_session=True,  # the terminal's Ctrl-C is a SIGINT to the whole group
        )
        self.workers: set[int] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker(self) -> int:
        """The worker running now (remembered, to check at the end that it is gone)."""
        found = wait_until(lambda: children(self.process.pid), what=f"no worker:\n{self.log()}")
        assert isinstance(found, list) and len(found) == 1, found
        self.workers.add(found[0])
        return found[0]

    def text(self, path: str = "/hello/") -> str:
        try:
            return requests.get(self.url + path, timeout=5).text
        except requests.ConnectionError:
            return ""

    def wait_for_text(self, text: str, path: str = "/hello/", timeout: float = 15.0) -> None:
        wait_until(lambda: text in self.text(path), timeout, f"{text!r} not served:\n{self.log()}")

    def wait_for_log(self, text: str, timeout: float = 15.0) -> None:
        wait_until(lambda: text in self.log(), timeout, f"{text!r} not in the log:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, group: bool = False) -> int:
        """Send `sig` to the monitor (or to its whole group); its exit status, once nothing is left."""
        if self.process.poll() is None:
            self.workers.update(children(self.process.pid))
            if group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        try:
            status = self.process.wait(15)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self._log.close()
        wait_until(lambda: not any(alive(pid) for pid in self.workers), 5, f"a worker is left: {self.workers}")
        wait_until(lambda: port_is_free(self.port), 5, "the port is still taken")
        return status


@pytest.fixture
def hello(tmp_path) -> Path:
    (tmp_path / "hello.py").write_text(HELLO.format(version=1))
    (tmp_path / "hello.cfg").write_text(f"[application]\nname = hello\npath = file {tmp_path}/hello.py:Hello\n")
    (tmp_path / "extra.txt").write_text("extra\n")
    (tmp_path / "publisher.cfg").write_text(f"[reloader]\ninterval = 0.2\nfiles = {tmp_path}/extra.txt\n")
    return tmp_path


def edit(path: Path, text: str) -> None:
    path.write_text(text)
    stamp = time.time() + 1  # a later mtime, whatever the file system's resolution
    os.utime(path, (stamp, stamp))


def test_an_edited_module_is_served_then_a_syntax_error_waits_for_the_fix(hello):
    monitor = Monitor(hello, "-c", "publisher.cfg", "hello.cfg")
    try:
        monitor.wait_for_text("hello 1")
        first = monitor.worker()
        time.sleep(SEEN)
        edit(hello / "hello.py", HELLO.format(version=2))
        monitor.wait_for_text("hello 2", timeout=5)
        assert f"{hello}/hello.py changed; reloading" in monitor.log()
        assert monitor.worker() != first

        time.sleep(SEEN)
        edit(hello / "hello.py", BROKEN.format(version=3))
        monitor.wait_for_log(f"syntax error in {hello}/hello.py, line 10")
        monitor.wait_for_log("waiting for a watched file to change")
        assert monitor.process.poll() is None and monitor.text() == ""
        assert "Traceback" not in monitor.log()

        edit(hello / "hello.py", HELLO.format(version=4))
        monitor.wait_for_text("hello 4", timeout=5)
    finally:
        assert monitor.stop() == 0


def test_a_module_broken_at_start_is_watched_until_fixed(hello):
    (hello / "hello.py").write_text(BROKEN.format(version=1))
    monitor = Monitor(hello, "-c", "publisher.cfg", "hello.cfg")
    try:
        monitor.wait_for_log(f"syntax error in {hello}/hello.py")
        time.sleep(1)  # the monitor's next look at the files it was given
        assert monitor.process.poll() is None
        edit(hello / "hello.py", HELLO.format(version=2))
        monitor.wait_for_text("hello 2")
    finally:
        assert monitor.stop() == 0


@pytest.mark.parametrize("changed", ["hello.cfg", "publisher.cfg", "extra.txt"])
def test_configuration_and_reloader_files_restart_the_worker(hello, changed):
    monitor = Monitor(hello, "-c", "publisher.cfg", "hello.cfg")
    try:
        monitor.wait_for_text("hello 1")
        first = monitor.worker()
        time.sleep(SEEN)
        edit(hello / changed, (hello / changed).read_text())
        monitor.wait_for_log(f"{hello}/{changed} changed; reloading")
        wait_until(lambda: children(monitor.process.pid) not in ([], [first]), 5, "no new worker")
        monitor.wait_for_text("hello 1")
        assert monitor.worker() != first
    finally:
        assert monitor.stop() == 0


def test_an_edit_right_after_the_first_answer_is_served(hello):
    # No pause: the edit comes before the worker has told the monitor which modules it imported.
    monitor = Monitor(hello, "-c", "publisher.cfg", "hello.cfg")
    try:
        monitor.wait_for_text("hello 1")
        edit(hello / "hello.py", HELLO.format(version=2))
        monitor.wait_for_text("hello 2", timeout=8)
        assert f"{hello}/hello.py changed; reloading" in monitor.log()
    finally:
        assert monitor.stop() == 0


def test_an_edit_right_after_the_start_is_served(hello):
    monitor = Monitor(hello, "-c", "publisher.cfg", "hello.cfg")
    try:
        monitor.worker()  # the worker is starting: it may or may not have imported hello.py yet
        edit(hello / "hello.py", HELLO.format(version=2))
        monitor.wait_for_text("hello 2", timeout=8)
        time.sleep(SEEN)  # and it stays served: no reload loop, no old version
        assert monitor.text() and "hello 2" in monitor.text()
    finally:
        assert monitor.stop() == 0


def test_serve_module_reloads_too(hello):
    monitor = Monitor(hello, "-c", "publisher.cfg", f"{hello}/hello.py:Hello", "hello", command="serve-module")
    try:
        monitor.wait_for_text("hello 1")
        time.sleep(SEEN)
        edit(hello / "hello.py", HELLO.format(version=2))
        monitor.wait_for_text("hello 2", timeout=5)
    finally:
        assert monitor.stop() == 0


@pytest.mark.parametrize(
    "sig, group, status",
    [(signal.SIGINT, True, 0), (signal.SIGTERM, False, 0), (signal.SIGINT, False, None)],
    ids=["ctrl-c", "SIGTERM-to-monitor", "SIGINT-to-monitor"],
)
def test_a_signal_leaves_nothing_behind(hello, sig, group, status):
    monitor = Monitor(hello, "-c", "publisher.cfg", "hello.cfg")
    monitor.wait_for_text("hello 1")
    monitor.worker()
    code = monitor.stop(sig, group=group)  # checks that the worker is gone and the port free
    if status is not None:  # SIGINT to the monitor alone: the worker, which got nothing, is killed
        assert code == status, monitor.log()
    assert "Traceback" not in monitor.log()


def test_the_files_of_a_failed_start_include_the_module_that_did_not_import(tmp_path):
    from nagare.admin.reloader import files_of
    from nagare.config.reference import load
    from nagare.errors import ConfigError

    (tmp_path / "bad.py").write_text("def broken(:\n")
    try:
        try:
            load(f"file {tmp_path}/bad.py:app")
        except Exception:
            raise ConfigError(str(tmp_path / "bad.cfg"), "application", "path", "x", "cannot be loaded") from None
    except ConfigError as exc:
        files = files_of(exc)
    assert files[0] == str(tmp_path / "bad.cfg") and str(tmp_path / "bad.py") in files
    assert not any(name.startswith("<") for name in files)


def test_a_file_first_seen_is_a_change_when_newer_than_the_worker(tmp_path):
    from nagare.admin.reloader import FileMonitor

    old, new, known = tmp_path / "old.py", tmp_path / "new.py", tmp_path / "known.py"
    for path in (old, new, known):
        path.write_text("")
    os.utime(old, (time.time() - 60, time.time() - 60))
    reported: list[str] = []
    monitor = FileMonitor(reported.append, interval=0.2)
    monitor.add_path(str(known))
    os.utime(known, (monitor.since - 30, monitor.since - 30))
    assert monitor.check() == []  # known from before the worker: its mtime is the baseline
    stamp = monitor.since + 1
    os.utime(new, (stamp, stamp))  # edited after the worker read it, before the monitor heard of it
    os.utime(known, (stamp, stamp))
    monitor.add_path(str(old))
    monitor.add_path(str(new))
    assert monitor.check() == [str(known), str(new)] == reported
    assert monitor.since >= stamp - 1 and monitor.check() == []  # reported once
