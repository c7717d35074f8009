"""The FastCGI pool with real processes: start, crash, stuck, burst, recycle, reload, stop."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.fastcgi_server import POOL_APP, FastCGIServer, alive, children
from tests.support.fcgi_client import FastCGIClient


@pytest.fixture
def server(tmp_path: Path):
    servers: list[FastCGIServer] = []

    def start(**kw) -> FastCGIServer:
        s = FastCGIServer(tmp_path, **kw)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()
        for pid in children(s.pid):
            os.kill(pid, signal.SIGKILL)


def test_five_workers_at_start_serve_requests(server) -> None:
    s = server()
    status = s.status()
    assert status["total processes"] == 5 and status["idle processes"] == 5
    assert sorted(s.workers()) == sorted(children(s.pid))
    pids = {int(s.request("/pool/").text.split()[0]) for _ in range(30)}
    assert pids <= set(s.workers())
    assert s.status()["requests"] == 30


def test_a_worker_killed_while_busy_is_replaced_at_once(server) -> None:
    s = server()
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(s.request, "/pool/sleep", query="s=30", timeout=30)
        s.wait_until(lambda: s.workers("Running"), what="a busy worker")
        busy = s.workers("Running")[0]
        os.kill(busy, signal.SIGKILL)
        with pytest.raises(OSError):  # the web server sees the connection end without a response
            pending.result()
    s.wait_until(lambda: busy not in s.workers() and len(s.workers("Idle")) == 5, what="the replacement")
    s.wait_until(lambda: "was killed by SIGKILL: replaced" in s.log(), what="the log line")
    assert s.request("/pool/").status == 200


def test_a_crashed_worker_is_replaced(server) -> None:
    s = server()
    with pytest.raises(OSError):
        s.request("/pool/crash")
    s.wait_until(lambda: "exited with status 3: replaced" in s.log(), what="the log line")
    s.wait_until(lambda: len(s.workers("Idle")) == 5, what="the replacement")


def test_a_stuck_request_logs_its_stack_then_the_worker_is_killed(server) -> None:
    s = server(publisher={"request_timeout": 1})
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(s.request, "/pool/forever", timeout=30)
        with pytest.raises(OSError):
            pending.result()
    s.wait_until(lambda: "killed" in s.log(), what="the kill")
    log = s.log()
    assert "stuck for" in log and "GET /pool/forever" in log
    assert "in app" in log and "app.py" in log  # faulthandler's dump of the worker's stack
    assert "killed" in log
    s.wait_until(lambda: len(s.workers("Idle")) == 5, what="the replacement")
    assert s.request("/pool/").status == 200


def test_a_burst_grows_the_pool_then_it_shrinks_back_to_max_spare(server) -> None:
    s = server(publisher={"maxChildren": 30, "idle_timeout": 0.5})
    with ThreadPoolExecutor(100) as pool:
        started = time.monotonic()
        results = list(pool.map(lambda _: s.request("/pool/sleep", query="s=0.5", timeout=60), range(100)))
        elapsed = time.monotonic() - started
    assert all(r.status == 200 for r in results)
    status = s.status()
    assert status["max active processes"] > 10
    assert status["total processes"] > 10
    # 100 requests of 0.5s on 5 workers would take 10s: the pool grew quickly
    assert elapsed < 8, elapsed
    s.wait_until(lambda: s.status()["total processes"] == 5, 30, "the pool to shrink back to maxSpare")
    assert len(s.workers("Idle")) == 5


def test_retiring_never_takes_a_busy_worker(server) -> None:
    s = server(publisher={"maxChildren": 12, "idle_timeout": 0.2})
    with ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(s.request, "/pool/sleep", query="s=3", timeout=30) for _ in range(12)]
        time.sleep(1.5)  # the pool grew; extras become idle as the load keeps only some busy
        assert all(f.result().status == 200 for f in futures)


def test_max_children_bounds_the_pool_and_is_reported(server) -> None:
    s = server(publisher={"maxChildren": 6})
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: s.request("/pool/sleep", query="s=0.3", timeout=60), range(20)))
    assert all(r.status == 200 for r in results)
    status = s.status()
    assert status["max active processes"] <= 6
    assert status["max children reached"] >= 1
    s.wait_until(lambda: "reached maxChildren (6)" in s.log(), what="the log line")


def test_max_requests_recycles_workers_without_failing_a_request(server) -> None:
    s = server(publisher={"maxRequests": 10})
    first = set(s.workers())
    for _ in range(120):
        assert s.request("/pool/").status == 200
    s.wait_until(lambda: s.status()["total processes"] == 5, what="the replacements")
    assert set(s.workers()) != first
    s.wait_until(lambda: "recycled after" in s.log(), what="the log line")


def test_term_lets_requests_in_flight_finish(server) -> None:
    s = server()
    with ThreadPoolExecutor(3) as pool:
        pending = [pool.submit(s.request, "/pool/sleep", query="s=1.5", timeout=30) for _ in range(3)]
        s.wait_until(lambda: len(s.workers("Running")) == 3, what="busy workers")
        workers = children(s.pid)
        s.send(signal.SIGTERM)
        assert [p.result().status for p in pending] == [200, 200, 200]
    assert s.process.wait(10) == 0
    assert not [pid for pid in workers if alive(pid)]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", s.port), timeout=1).close()


def test_term_kills_what_outlives_the_graceful_timeout(server) -> None:
    s = server(publisher={"graceful_timeout": 1})
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(s.request, "/pool/forever", timeout=30)
        s.wait_until(lambda: s.workers("Running"), what="a busy worker")
        started = time.monotonic()
        s.send(signal.SIGTERM)
        assert s.process.wait(10) == 0
        assert time.monotonic() - started < 5
        with pytest.raises(OSError):
            pending.result()


def test_quit_stops_at_once(server) -> None:
    s = server()
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(s.request, "/pool/sleep", query="s=20", timeout=30)
        s.wait_until(lambda: s.workers("Running"), what="a busy worker")
        workers = children(s.pid)
        started = time.monotonic()
        s.send(signal.SIGQUIT)
        s.process.wait(10)
        assert time.monotonic() - started < 4
        with pytest.raises(OSError):
            pending.result()
    time.sleep(0.2)
    assert not [pid for pid in workers if alive(pid)]


def test_workers_stop_when_the_master_is_killed(server) -> None:
    s = server()
    workers = children(s.pid)
    os.kill(s.pid, signal.SIGKILL)
    s.process.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)]


def _load(s: FastCGIServer, stop: threading.Event, results: list, errors: list) -> None:
    while not stop.is_set():
        try:
            r = s.request("/pool/", timeout=20)
            results.append(r.text if r.status == 200 else f"status {r.status}")
        except OSError as exc:
            errors.append(repr(exc))


def test_hup_reloads_the_code_under_load_without_a_failed_request(server) -> None:
    s = server()
    old_workers = set(children(s.pid))
    stop, results, errors = threading.Event(), [], []
    threads = [threading.Thread(target=_load, args=(s, stop, results, errors)) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        (s.tmp / "version.py").write_text("VERSION = 2\n")
        s.send(signal.SIGHUP)
        s.wait_until(lambda: results and results[-1].endswith(" 2"), 20, "the new code to answer")
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert all(r.endswith((" 1", " 2")) for r in results), [r for r in results if not r.endswith((" 1", " 2"))]
    assert s.process.poll() is None  # same master process, as supervisor sees it
    s.wait_until(lambda: not old_workers & set(children(s.pid)), 20, "the old workers to go")
    assert s.status()["total processes"] == 5
    s.wait_until(lambda: "reloaded" in s.log(), what="the log line")


def test_hup_keeps_the_listening_address_and_says_so_when_the_file_changed_it(server) -> None:
    s = server()
    pub = s.tmp / "pub.cfg"
    pub.write_text(pub.read_text().replace(f"port = {s.port}", "port = 1"))
    s.send(signal.SIGHUP)
    s.wait_until(lambda: "reloaded" in s.log(), 20, "the reload")
    assert f"reload: still listening on 127.0.0.1:{s.port}, not on 127.0.0.1:1: a new address needs a restart" in s.log()
    assert s.request("/pool/").status == 200


def test_hup_with_inconsistent_pool_sizes_keeps_the_running_code(server) -> None:
    s = server()
    pub = s.tmp / "pub.cfg"
    pub.write_text(pub.read_text() + "minSpare = 9\n")
    s.send(signal.SIGHUP)
    s.wait_until(lambda: "reload refused" in s.log(), 20, "the reload to be refused")
    reason = s.log().split("reload refused", 1)[1].splitlines()[0]
    assert "minSpare" in reason and "9" in reason and "maxSpare" in reason, reason  # the check's one-line error
    assert s.request("/pool/").status == 200 and s.process.poll() is None


def test_hup_with_a_broken_application_keeps_the_running_code(server) -> None:
    s = server()
    (s.tmp / "version.py").write_text("VERSION = (\n")
    s.send(signal.SIGHUP)
    s.wait_until(lambda: "reload refused" in s.log(), 20, "the reload to be refused")
    assert "version.py" in s.log().split("reload refused", 1)[1].splitlines()[0]
    assert s.request("/pool/").text.endswith(" 1")


def test_usr1_reopens_the_logs_and_serving_goes_on(server) -> None:
    s = server()
    s.send(signal.SIGUSR1)
    time.sleep(0.3)
    assert s.request("/pool/").status == 200
    assert s.status()["total processes"] == 5


def test_idle_kept_alive_connections_do_not_pin_the_workers(server) -> None:
    # nginx's `fastcgi_keep_conn on` holds idle connections open: twice as many as workers here
    s = server(publisher={"maxChildren": 5})
    clients = [FastCGIClient(s.address, keep_conn=True, timeout=5) for _ in range(10)]
    try:
        for c in clients:
            assert c.request("/pool/").status == 200
        started = time.monotonic()
        assert s.request("/pool/").status == 200  # a new connection is served at once
        for c in clients:  # and so is a request on each of the idle ones, in any order
            assert c.request("/pool/").status == 200
        for c in reversed(clients):
            assert c.request("/pool/").status == 200
        assert time.monotonic() - started < 3
    finally:
        for c in clients:
            c.close()


def test_kept_alive_connections_survive_a_recycled_worker(server) -> None:
    s = server(publisher={"maxRequests": 3, "maxSpare": 2, "maxChildren": 2})
    with FastCGIClient(s.address, keep_conn=True, timeout=5) as c:
        pids = {int(c.request("/pool/").text.split()[0]) for _ in range(40)}
    assert len(pids) > 2  # workers were replaced under this connection, which lived on


def test_unix_socket_with_umask(server, tmp_path: Path) -> None:
    s = server(unix=True, publisher={"umask": "077"})
    mode = (tmp_path / "fcgi.sock").stat().st_mode & 0o777
    assert mode == 0o700
    assert s.request("/pool/").status == 200
    s.stop()
    assert not (tmp_path / "fcgi.sock").exists()


def test_addresses_not_allowed_are_refused(server) -> None:
    s = server(publisher={"allowed_servers": "10.1.2.3"})
    with pytest.raises(OSError):
        s.request("/pool/")
    s.wait_until(lambda: "connection from 127.0.0.1 refused" in s.log(), what="the log line")


def test_hostile_input_closes_that_connection_only(server) -> None:
    s = server()
    for garbage in (b"\x02\x01\x00\x01\x00\x08\x00\x00" + b"\0" * 8, b"GET / HTTP/1.1\r\n\r\n", b"\x01\x05\x00\x07\x00\x01\x00\x00x"):
        with FastCGIClient(s.address, timeout=5) as c:
            c.send_raw(garbage)
            c.recv_all()  # the server closes it
    s.wait_until(lambda: "unsupported FastCGI version 2" in s.log(), what="the log line")
    assert "Traceback" not in s.log()
    assert s.status()["total processes"] == 5
    assert s.request("/pool/").status == 200


def test_a_peer_stalling_mid_record_is_dropped(server) -> None:
    s = server(publisher={"read_timeout": 0.5})
    with FastCGIClient(s.address, timeout=5) as c:
        c.send_raw(b"\x01\x01\x00\x01\x00\x08")  # half a header, then nothing
        assert c.recv_all() == b""
    s.wait_until(lambda: "stalled" in s.log(), what="the log line")
    assert s.request("/pool/").status == 200


def test_bodies_in_and_out(server) -> None:
    import hashlib

    s = server()
    body = os.urandom(1_000_000)
    r = s.request("/pool/echo", method="POST", body=body, headers={"Content-Type": "application/octet-stream"})
    assert r.text == f"{len(body)} {hashlib.sha256(body).hexdigest()}"
    assert len(s.request("/pool/big", query="n=300000").body) == 300000


def test_environ_as_each_front_server_sends_it(server) -> None:
    s = server()
    nginx = s.request("/pool/environ", query="a=1").text
    assert "PATH_INFO=/environ" in nginx and "SCRIPT_NAME=/pool" in nginx and "QUERY_STRING=a=1" in nginx
    # Apache (mod_fastcgi, RewriteRule ^/(.*)$ /fcgi/$1) and lighttpd ("^(.*)" => "/fcgi/$1")
    for script, path in (("/fcgi", "/pool/environ"), ("/fcgi", "//pool/environ")):
        r = s.request("/pool/environ", params={"SCRIPT_NAME": script, "PATH_INFO": path, "REQUEST_URI": "/pool/environ?a=1"})
        assert "PATH_INFO=/environ" in r.text, r.text
    https = s.request("/pool/environ", params={"HTTPS": "on"}).text
    assert "wsgi.url_scheme=https" in https


@pytest.mark.parametrize(
    "sessions, flags, message",
    [
        ("", [], "[sessions] type = 'standalone': in-memory sessions cannot work with the multi-process fastcgi publisher"),
        ("[sessions]\ntype = memcache\n", ["-d"], "--debug (or [application] debug = on) cannot work with the multi-process fastcgi publisher"),
    ],
    ids=["in-memory sessions", "debug"],
)
def test_what_cannot_work_with_several_processes_is_refused_in_one_line(tmp_path: Path, sessions, flags, message) -> None:
    from tests.support.server import free_port, nagare_admin

    (tmp_path / "pub.cfg").write_text(f"[publisher]\ntype = fastcgi\nport = {free_port()}\n{sessions}")
    done = nagare_admin("serve", "-c", str(tmp_path / "pub.cfg"), *flags, "demo", cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_get_values_is_answered_by_a_worker(server) -> None:
    s = server()
    with FastCGIClient(s.address, timeout=5) as c:
        values = c.get_values(["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"])
    assert values == {"FCGI_MAX_CONNS": "1", "FCGI_MAX_REQS": "1", "FCGI_MPXS_CONNS": "0"}


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    from tests.support.server import nagare_admin

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (tmp_path / "pub.cfg").write_text(f"[publisher]\ntype = fastcgi\nport = {port}\n[sessions]\ntype = memcache\n")
        done = nagare_admin("serve", "-c", str(tmp_path / "pub.cfg"), "demo", cwd=tmp_path)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_worker_above_max_memory_is_replaced_after_its_request(server) -> None:
    s = server(publisher={"max_memory": 80})
    # 20 MB more each time in the worker that serves it, whichever it is: until one is above
    for _ in range(40):
        r = s.request("/pool/grow")
        assert r.status == 200
        if "MB resident, above 80 MB" in s.log():
            break
    s.wait_until(lambda: "MB resident, above 80 MB" in s.log(), what="the recycling")

    def replaced() -> bool:
        processes = s.status()["processes"]
        return len(processes) == 5 and all(p["state"] == "Idle" and p["memory"] < 80 << 20 for p in processes)

    s.wait_until(replaced, what="the workers above 80 MB to be replaced")


def test_wsgi_errors_reach_the_web_server_as_fcgi_stderr(server) -> None:
    s = server()
    r = s.request("/pool/errors")
    assert r.status == 200 and r.stderr == b"something to log\n"


BREAKS_AT_FORK = "import os\nos.register_at_fork(after_in_child=lambda: os._exit(3))\n" + POOL_APP


def test_workers_failing_at_start_stop_the_master_with_a_clear_message(tmp_path: Path) -> None:
    from tests.support.server import free_port, nagare_admin

    (tmp_path / "version.py").write_text("VERSION = 1\n")
    (tmp_path / "app.py").write_text(BREAKS_AT_FORK)
    (tmp_path / "app.cfg").write_text(f"[application]\npath = file {tmp_path}/app.py:app\nname = pool\n")
    (tmp_path / "pub.cfg").write_text(f"[publisher]\ntype = fastcgi\nport = {free_port()}\n")
    started = time.monotonic()
    done = nagare_admin("serve", "-c", str(tmp_path / "pub.cfg"), str(tmp_path / "app.cfg"), cwd=tmp_path,
                        env={"PYTHONPATH": str(tmp_path)}, timeout=60)
    assert time.monotonic() - started < 30
    assert done.returncode == 2
    assert "5 workers in a row failed at start: stopping" in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith("stopped: the workers fail at start (see the errors above)")
    assert "Traceback" not in done.stderr


def test_usr1_reopens_the_log_files_after_they_were_moved(tmp_path: Path, server) -> None:
    log_file = tmp_path / "pool.log"
    app = POOL_APP.replace("def app(environ, start_response):", "import logging\nLOG = logging.getLogger('nagare.application.pool')\n\ndef app(environ, start_response):\n    LOG.warning('served %s', environ['PATH_INFO'])")
    s = server(app=app, app_config=f"[logging]\n[[handler]]\nclass = logging.FileHandler\nargs = \"('{log_file}',)\"\n")
    s.request("/pool/before")
    s.wait_until(lambda: log_file.exists() and "served /before" in log_file.read_text(), what="the first line")
    log_file.rename(tmp_path / "pool.log.1")  # logrotate
    s.send(signal.SIGUSR1)
    time.sleep(0.5)
    for _ in range(10):  # whichever worker serves it
        s.request("/pool/after")
    s.wait_until(lambda: log_file.exists() and "served /after" in log_file.read_text(), what="the new file")
    assert "served /after" not in (tmp_path / "pool.log.1").read_text()


def test_the_status_answers_while_every_worker_is_busy(server) -> None:
    s = server(publisher={"maxChildren": 5})
    with ThreadPoolExecutor(5) as pool:
        pending = [pool.submit(s.request, "/pool/sleep", query="s=3", timeout=30) for _ in range(5)]
        s.wait_until(lambda: len(s.workers("Running")) == 5, what="every worker busy")
        started = time.monotonic()
        status = s.status()
        assert time.monotonic() - started < 1
        assert status["active processes"] == 5 and status["idle processes"] == 0
        assert {p["request uri"] for p in status["processes"]} == {"/pool/sleep?s=3"}
        assert all(p["request duration"] > 0 for p in status["processes"])
        assert [p.result().status for p in pending] == [200] * 5


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by process `pid` (Linux /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def test_the_status_answers_during_a_graceful_stop_and_the_master_sleeps(server) -> None:
    s = server()
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(s.request, "/pool/sleep", query="s=6", timeout=30)
        s.wait_until(lambda: s.workers("Running"), what="a busy worker")
        busy = s.workers("Running")
        # a status client the master accepted before the stop, its request still incomplete
        early = socket.create_connection(("127.0.0.1", s.status_port), timeout=5)
        early.sendall(b"GET /status HTTP/1.0\r\n")
        time.sleep(0.3)
        s.send(signal.SIGTERM)
        s.wait_until(lambda: "stopping: waiting" in s.log(), what="the stop to begin")
        early.sendall(b"\r\n")  # it has something to read now: the master must read it, not spin
        before, started = cpu_seconds(s.pid), time.monotonic()
        time.sleep(2)
        used, elapsed = cpu_seconds(s.pid) - before, time.monotonic() - started
        assert used < 0.3 * elapsed, f"the master used {used:.2f}s of CPU in {elapsed:.2f}s of a graceful stop"
        assert early.recv(65536).startswith(b"HTTP/1.0 200 OK")
        early.close()
        # someone watching the pool drain: the idle workers leave, the busy one finishes its request
        s.wait_until(lambda: [p["pid"] for p in s.status()["processes"]] == busy, what="only the busy worker left")
        assert pending.result().status == 200
    assert s.process.wait(10) == 0


def test_an_idle_kept_alive_connection_does_not_wait_behind_its_busy_worker(server) -> None:
    # Two workers, A and B. A holds two idle kept-alive connections, `kept` and `slow`: the
    # front server then sends a slow request on `slow`, and a quick one on `kept`. Without the
    # hand-off, `kept` sits in A's epoll until A has served the slow one; with it, A gives
    # `kept` to the hand-off socket before it serves `slow`, and B answers it at once.
    s = server(publisher={"minSpare": 1, "maxSpare": 2, "maxChildren": 2})
    with ThreadPoolExecutor(2) as pool:
        # A worker busy while the two connections are made: the other one, A, accepts them both
        # (and, no other worker being idle, keeps them both)
        busy = pool.submit(s.request, "/pool/sleep", query="s=1.5", timeout=30)
        s.wait_until(lambda: s.workers("Running"), what="a busy worker")
        kept, slow = s.client(keep_conn=True, timeout=30), s.client(keep_conn=True, timeout=30)
        try:
            a = {int(c.request("/pool/").text.split()[0]) for c in (kept, slow)}
            assert len(a) == 1 and a != set(s.workers("Running")), "both kept by the idle worker"
            assert busy.result().status == 200
            s.wait_until(lambda: len(s.workers("Idle")) == 2, what="both workers idle")
            pending = pool.submit(slow.request, "/pool/sleep", query="s=4")
            s.wait_until(lambda: s.workers("Running") == list(a), what="A busy on the slow request")
            started = time.monotonic()
            answer = kept.request("/pool/")
            elapsed = time.monotonic() - started
            assert elapsed < 2, f"the idle kept-alive connection waited {elapsed:.1f}s for its busy worker"
            assert int(answer.text.split()[0]) not in a
            assert pending.result().status == 200
        finally:
            kept.close()
            slow.close()


def test_an_idle_kept_alive_connection_never_waits_behind_a_busy_worker_even_when_none_was_idle(server) -> None:
    # As above, but B is still busy when A starts the slow request: nobody could take `kept`
    # then. A parks it with the master, which queues it for whichever worker is idle first once
    # its request comes: B, as soon as B is done, while A is still busy. (Handed over only to a
    # worker idle at that moment, `kept` stayed with A and waited for the slow request.)
    s = server(publisher={"minSpare": 1, "maxSpare": 2, "maxChildren": 2})
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(s.request, "/pool/sleep", query="s=3", timeout=30)
        s.wait_until(lambda: s.workers("Running"), what="a busy worker")
        (b,) = s.workers("Running")
        kept, slow = s.client(keep_conn=True, timeout=30), s.client(keep_conn=True, timeout=30)
        try:
            a = {int(c.request("/pool/").text.split()[0]) for c in (kept, slow)}
            assert a != {b} and len(a) == 1, "both kept by the idle worker"
            pending = pool.submit(slow.request, "/pool/sleep", query="s=6")
            s.wait_until(lambda: sorted(s.workers("Running")) == sorted([*a, b]), what="both workers busy")
            assert not first.done(), "B was idle when A took the slow request: the test proves nothing"
            assert first.result().status == 200  # B is idle again, A is still busy
            answer = kept.request("/pool/")
            assert not pending.done(), "the slow request was over: the test proves nothing"
            assert int(answer.text.split()[0]) == b
            assert pending.result().status == 200
        finally:
            kept.close()
            slow.close()


def test_a_worker_killed_in_a_request_on_a_kept_alive_connection_ends_that_connection(server) -> None:
    # every process of the pool holds the shared connection: the master shuts it down, or the
    # web server would wait for an answer until its own timeout
    s = server(publisher={"maxSpare": 2, "maxChildren": 2})
    with s.client(keep_conn=True, timeout=20) as c, ThreadPoolExecutor(1) as pool:
        assert c.request("/pool/").status == 200  # now the pool's
        pending = pool.submit(c.request, "/pool/sleep", query="s=30")
        s.wait_until(lambda: s.workers("Running"), what="a busy worker")
        started = time.monotonic()
        os.kill(s.workers("Running")[0], signal.SIGKILL)
        with pytest.raises(OSError):
            pending.result()
        assert time.monotonic() - started < 10, "the connection was not ended with its worker"
    with s.client(keep_conn=True, timeout=5) as c:  # and the pool goes on
        assert [c.request("/pool/").status for _ in range(5)] == [200] * 5


def test_kept_alive_connections_live_through_a_reload(server) -> None:
    s = server(publisher={"maxSpare": 2, "maxChildren": 2})
    clients = [s.client(keep_conn=True, timeout=10) for _ in range(4)]
    try:
        old = {int(c.request("/pool/").text.split()[0]) for c in clients}
        (s.tmp / "version.py").write_text("VERSION = 2\n")
        s.send(signal.SIGHUP)
        s.wait_until(lambda: not old & set(children(s.pid)), 20, "the old workers to go")
        answers = [c.request("/pool/").text for c in clients]  # the same connections
        assert all(a.endswith(" 2") for a in answers), answers
        assert not old & {int(a.split()[0]) for a in answers}
    finally:
        for c in clients:
            c.close()


def test_new_connections_wait_their_turn_with_the_kept_ones_not_a_turn_each(server) -> None:
    # Kept-alive connections busy all the time, then 8 new ones at once (nginx opening more
    # connections than it keeps). The listening socket being one event among the kept ones, an
    # accept per turn made the 8th new connection wait 8 whole turns; accepted together into the
    # shared queue, they wait one turn, in arrival order.
    s = server(publisher={"minSpare": 1, "maxSpare": 2, "maxChildren": 2})
    kept = [s.client(keep_conn=True, timeout=30) for _ in range(16)]
    served = []
    stop = threading.Event()

    def busy(c: FastCGIClient) -> None:
        while not stop.is_set():
            c.request("/pool/sleep", query="s=0.01")
            served.append(1)

    threads = [threading.Thread(target=busy, args=(c,)) for c in kept]
    try:
        for c in kept:
            c.request("/pool/")  # kept: the pool's now
        for t in threads:
            t.start()
        time.sleep(0.5)
        with ThreadPoolExecutor(8) as pool:
            before = len(served)
            fresh = [pool.submit(s.request, "/pool/sleep", query="s=0.01", timeout=30) for _ in range(8)]
            assert all(f.result().status == 200 for f in fresh)
            waited = len(served) - before
        # one turn is 16 kept requests, plus the 8 new ones: 8 turns would be about 128
        assert waited < 60, f"{waited} kept requests were served before the 8 new connections"
    finally:
        stop.set()
        for t in threads:
            t.join()
        for c in kept:
            c.close()
