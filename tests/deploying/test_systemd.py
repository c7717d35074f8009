"""docs/deploying.md's systemd unit: checked by `systemd-analyze verify`, then run as systemd would.

systemd does not run in the tests' container (it is not PID 1), so the test plays its part: the
`[Service]` keys of the unit give the environment, the working folder and the command line, and
the reload and stop are the unit's `ExecReload` and `KillSignal`, sent to the main process alone
(`KillMode=mixed`). `User=`/`Group=` are not applied (the tests run as root).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from nagare.publishers.fastcgi import Publisher
from tests.deploying.guide import lay_out, publisher_file
from tests.support.fastcgi_server import alive, children
from tests.support.fcgi_client import Response, request
from tests.support.server import free_port, stop_process, wait_for_port
from tests.support.snippets import snippet

SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"

# A plain WSGI application (app.py may be one, as the page says) at /myapp/; /myapp/slow answers once the
# test creates the file `release`, so that a request is in flight for as long as the test wants.
APP = """\
import os, time

HERE = os.path.dirname(os.path.abspath(__file__))


def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        open(os.path.join(HERE, "started"), "w").close()
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(HERE, "release")) and time.monotonic() < deadline:
            time.sleep(0.02)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{os.getpid()} {environ['PATH_INFO']}".encode()]
"""


def service(unit: str) -> dict[str, list[str]]:
    """The keys of the unit's [Service] section, each with its values (a key may repeat)."""
    keys: dict[str, list[str]] = {}
    section = ""
    for line in unit.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Service" and line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            keys.setdefault(key.strip(), []).append(value.strip())
    return keys


def one(keys: dict[str, list[str]], name: str) -> str:
    assert len(keys.get(name, [])) == 1, f"the unit's [Service] should have one {name}=: {keys.get(name)}"
    return keys[name][0]


def command_line(value: str) -> list[str]:
    """An Exec*= line as systemd splits it, for the plain lines the page may hold (no prefix, no
    specifier, no variable but $MAINPID)."""
    assert value[:1] not in "@-:+!" and "%" not in value, f"an Exec line the test cannot play: {value}"
    return shlex.split(value)


@pytest.fixture
def unit(tmp_path: Path, memcached) -> tuple[Path, dict[str, list[str]], int]:
    """The page's unit in the test's folder (for /path/to), with the application and its
    fastcgi.conf it names: (the unit file, its [Service] keys, the pool's port)."""
    port = free_port()
    lay_out(tmp_path, APP)
    (tmp_path / "application" / "conf" / "fastcgi.conf").write_text(publisher_file(port, memcached_port=memcached.port))
    path = tmp_path / "myapp.service"
    path.write_text(snippet("systemd").fill(folder=tmp_path))
    return path, service(path.read_text()), port


def test_systemd_analyze_verify_accepts_the_unit(unit) -> None:
    path, _, _ = unit
    if not os.path.exists(SYSTEMD_ANALYZE):
        pytest.fail(f"{SYSTEMD_ANALYZE} is missing (apt-get install systemd)")
    done = subprocess.run([SYSTEMD_ANALYZE, "verify", str(path)], capture_output=True, text=True, timeout=60)
    # an unknown key or a bad value is only a warning: any output is a failure here
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


def test_the_unit_serves_reloads_on_hup_and_stops_gracefully_on_term(unit) -> None:
    path, keys, port = unit
    folder = Path(one(keys, "WorkingDirectory"))
    env = dict(os.environ)
    env.pop("NAGARE_SECRET_FILE", None)
    for assignments in keys.get("Environment", []):
        env.update(item.split("=", 1) for item in shlex.split(assignments))
    assert env.get("NAGARE_SECRET_FILE", "").startswith(str(path.parent)), "the unit keeps its secret elsewhere"
    assert one(keys, "Type") == "exec" and one(keys, "KillMode") == "mixed"
    stop_timeout = float(one(keys, "TimeoutStopSec"))
    assert stop_timeout > Publisher.SETTINGS["graceful_timeout"].default  # type: ignore[operator]

    log = open(path.parent / "journal.log", "wb")

    def journal() -> str:
        return (path.parent / "journal.log").read_text(errors="replace")

    master = subprocess.Popen(command_line(one(keys, "ExecStart")), cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, master)
        first = request(("127.0.0.1", port), "/myapp/")
        assert first.status == 200 and first.body.endswith(b" /")
        old_workers = set(children(master.pid))
        assert old_workers

        # systemctl reload: ExecReload with $MAINPID, the master's pid
        reload = [word.replace("$MAINPID", str(master.pid)) for word in command_line(one(keys, "ExecReload"))]
        assert subprocess.run(reload, timeout=30).returncode == 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (set(children(master.pid)) & old_workers or not children(master.pid)):
            time.sleep(0.1)
        assert master.poll() is None and not set(children(master.pid)) & old_workers, "HUP did not replace the workers"
        served = request(("127.0.0.1", port), "/myapp/")
        assert served.status == 200 and int(served.body.split()[0]) not in old_workers

        # systemctl stop: KillSignal to the master alone, a request in flight
        answers: list[Response] = []
        slow = threading.Thread(target=lambda: answers.append(request(("127.0.0.1", port), "/myapp/slow", timeout=30)))
        slow.start()
        started = folder / "started"
        deadline = time.monotonic() + 10
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert started.exists(), "the slow request never started"
        workers = children(master.pid)
        master.send_signal(signal.Signals[one(keys, "KillSignal")])
        deadline = time.monotonic() + 10  # the master got it while the request runs: then it ends
        while "stopping: waiting up to" not in journal() and master.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        (folder / "release").touch()
        slow.join(30)
        assert [a.status for a in answers] == [200] and answers[0].body.endswith(b" /slow")
        # a graceful stop exits 0: Restart=on-failure leaves it stopped
        assert master.wait(stop_timeout) == 0
        assert not [pid for pid in workers if alive(pid)]
    finally:
        stop_process(master, signal.SIGKILL)
        log.close()
    assert "stopping: waiting up to" in journal() and "Traceback" not in journal()
