"""The deployment guide's supervisor setup as docs/deploying.md gives it, with a real supervisord: start,
autorestart, stop."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.fastcgi_server import alive, children
from tests.support.fcgi_client import request
from tests.support.server import free_port
from tests.support.snippets import snippet

BIN = Path(sys.executable).parent
SUPERVISORD, SUPERVISORCTL, NAGARE_ADMIN = BIN / "supervisord", BIN / "supervisorctl", BIN / "nagare-admin"

APP = "def app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'hello']\n"


@pytest.fixture
def supervised(tmp_path: Path, memcached):
    for tool in (SUPERVISORD, SUPERVISORCTL):
        if not tool.exists():
            pytest.fail(f"{tool} is missing: pip install -e '.[test]' installs supervisor")
    port = free_port()
    for folder in ("supervisord", "application/conf", "application/logs"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "application" / "app.py").write_text(APP)
    (tmp_path / "application/conf/myapp.conf").write_text(snippet("application").fill(folder=tmp_path))
    (tmp_path / "application/conf/fastcgi.conf").write_text(
        snippet("publisher").fill({"port = 9000": f"port = {port}", "port = 11211": f"port = {memcached.port}"})
    )
    conf = tmp_path / "supervisord.conf"
    conf.write_text(snippet("supervisord").fill(folder=tmp_path))
    # docs/deploying.md's files, `/path/to` the test's folder; as in the deployment guide,
    # supervisord daemonizes itself; its programs inherit its environment (the secret's file)
    command = shlex.split(snippet("supervisord-start").fill(folder=tmp_path))
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", NAGARE_SECRET_FILE=str(tmp_path / "secret"))
    subprocess.run(command, check=True, timeout=30, env=env)

    def ctl(*args: str) -> str:
        done = subprocess.run([SUPERVISORCTL, "-c", conf, *args], capture_output=True, text=True, timeout=60)
        return done.stdout

    def master() -> int | None:
        out = ctl("pid", "myapp").strip()
        return int(out) if out.isdigit() and out != "0" else None

    def wait_serving(timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if request(("127.0.0.1", port), "/myapp/", timeout=2).body == b"hello":
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError((tmp_path / "application/logs/myapp.log").read_text())

    yield ctl, master, wait_serving, tmp_path
    ctl("shutdown")
    pid_file = tmp_path / "supervisord/supervisord.pid"
    deadline = time.monotonic() + 20
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def test_supervisor_starts_restarts_and_stops_the_pool(supervised) -> None:
    ctl, master, wait_serving, tmp = supervised
    wait_serving()
    deadline = time.monotonic() + 10  # supervisor says RUNNING after startsecs (1 s)
    while "RUNNING" not in ctl("status", "myapp") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "RUNNING" in ctl("status", "myapp")
    first = master()
    assert first is not None
    workers = children(first)
    assert len(workers) == 5

    os.kill(first, signal.SIGKILL)  # autorestart=true: a new master, and the old workers go
    deadline = time.monotonic() + 30
    # the new master serving: its workers forked (the old ones may answer for a moment after
    # their master's death: the port answering is not enough)
    while time.monotonic() < deadline and (master() in (None, first) or len(children(master() or first)) < 5):
        time.sleep(0.2)
    wait_serving(30)
    assert master() not in (None, first)
    assert not [pid for pid in workers if alive(pid)]

    second = master()
    workers = children(second)
    assert "stopped" in ctl("stop", "myapp").lower()  # TERM: a graceful stop
    assert not alive(second)
    assert not [pid for pid in workers if alive(pid)]
    log = (tmp / "application/logs/myapp.log").read_text()
    assert "stopping: waiting up to" in log and "Traceback" not in log
