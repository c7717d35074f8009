"""`nagare-admin status` against a real FastCGI server (a subprocess), and its error messages."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nagare.admin.status import Address, parse_address, render, uptime
from nagare.errors import CommandError
from tests.support.fcgi_client import request
from tests.support.server import free_port, nagare_admin, wait_for_port

APP = '''\
import time


def app(environ, start_response):
    if environ["PATH_INFO"].endswith("/slow"):
        time.sleep(float(environ["QUERY_STRING"]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
'''
ROW = re.compile(r"^\s*(\d+)\s+(Idle|Running|Starting|Finishing)\s+(\d+)\s+([\d.]+)\s+([\d.]+)s\s+(.*)$")


class Server:
    """`python -m nagare serve -c pub.cfg app.cfg` with the FastCGI publisher, until stop()."""

    def __init__(self, tmp: Path, status: str) -> None:
        self.port = free_port()
        (tmp / "app.py").write_text(APP)
        (tmp / "app.cfg").write_text(f"[application]\nname = hello\npath = file {tmp / 'app.py'}:app\n")
        self.conf = tmp / "pub.cfg"
        self.conf.write_text(f"[publisher]\ntype = fastcgi\nport = {self.port}\nstatus = {status}\n")
        self.log_path = tmp / "server.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nagare", "serve", "-c", str(self.conf), str(tmp / "app.cfg")],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=tmp,
        )
        try:
            wait_for_port(self.port, self.process)
        except Exception:
            self.stop()
            raise RuntimeError(f"server did not start: {self.log_path.read_text()}") from None

    def get(self, path: str = "/hello/", **kw: object):
        return request(("127.0.0.1", self.port), path, **kw)

    def status(self, *args: str) -> subprocess.CompletedProcess[str]:
        return nagare_admin("status", "-c", str(self.conf), *args)

    def wait_for(self, check, timeout: float = 10.0) -> dict:
        """The JSON status once `check(status)` holds (the workers start, count after answering)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.status("--json")
            assert result.returncode == 0, result.stderr
            status = json.loads(result.stdout)
            if check(status):
                return status
            assert time.monotonic() < deadline, status
            time.sleep(0.1)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: the graceful stop
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


@pytest.fixture
def tcp_server(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path, f"127.0.0.1:{free_port()}")
    yield server
    assert server.stop() == 0, server.log_path.read_text()


def five_idle(status: dict) -> bool:
    return [p["state"] for p in status["processes"]] == ["Idle"] * 5


def test_status_of_a_running_pool(tcp_server: Server):
    tcp_server.wait_for(five_idle)
    for _ in range(6):
        assert tcp_server.get().body == b"hello"
    status = tcp_server.wait_for(lambda s: s["requests"] == 6 and five_idle(s))

    result = tcp_server.status()
    assert (result.returncode, result.stderr) == (0, "")
    pool, blank, header, *rows = result.stdout.splitlines()
    assert pool.startswith("pool hello: up ")
    # accepted: the 6 requests and the connection of wait_for_port that saw the server up
    for part in ("accepted 7", "requests 6", "listen queue 0 (max 0, len 1024)",
                 "processes 5 idle / 0 active / 5 total", "max children reached 0", "slow requests 0"):
        assert part in pool
    assert blank == "" and header.split() == ["PID", "STATE", "REQUESTS", "MEMORY", "MB", "DURATION", "REQUEST"]
    parsed = [ROW.match(row) for row in rows]
    assert all(parsed) and len(parsed) == 5, rows
    assert sorted(int(m.group(1)) for m in parsed) == sorted(p["pid"] for p in status["processes"])
    assert {m.group(2) for m in parsed} == {"Idle"}
    assert sum(int(m.group(3)) for m in parsed) == 6
    assert all(float(m.group(4)) > 1 for m in parsed)  # MB of a Python process
    assert any(m.group(6) == "- (last /hello/)" for m in parsed)


def test_a_busy_worker_shows_its_request(tcp_server: Server):
    tcp_server.wait_for(five_idle)
    thread = threading.Thread(target=tcp_server.get, args=("/hello/slow",), kwargs={"query": "1.5"})
    thread.start()
    try:
        tcp_server.wait_for(lambda s: s["active processes"] == 1)
        out = tcp_server.status().stdout
    finally:
        thread.join()
    running = [m for m in map(ROW.match, out.splitlines()) if m and m.group(2) == "Running"]
    assert len(running) == 1 and running[0].group(6) == "GET /hello/slow?1.5", out
    assert "1 active" in out.splitlines()[0]


def test_json_and_metrics(tcp_server: Server):
    tcp_server.wait_for(five_idle)
    tcp_server.get()
    status = tcp_server.wait_for(lambda s: s["requests"] == 1)
    assert status["pool"] == "hello" and status["total processes"] == 5 and len(status["processes"]) == 5
    # and maybe the probe of wait_for_port: it sends no byte, and TCP_DEFER_ACCEPT may never hand it over
    assert status["accepted conn"] in (1, 2)

    metrics = tcp_server.status("--metrics")
    assert (metrics.returncode, metrics.stderr) == (0, "")
    lines = metrics.stdout.splitlines()
    assert lines[-1] == "# EOF"
    assert 'nagare_fastcgi_requests_total{pool="hello"} 1' in lines
    assert 'nagare_fastcgi_total_processes{pool="hello"} 5' in lines
    assert sum(1 for line in lines if line.startswith("nagare_fastcgi_process_requests_total{")) == 5


def test_the_fastcgi_port_is_not_the_status(tcp_server: Server):
    result = nagare_admin("status", "--url", f"127.0.0.1:{tcp_server.port}")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"nagare-admin status: bad answer from the status at 127.0.0.1:{tcp_server.port}: ")
    assert "is it the [publisher] status address, not the FastCGI port?" in result.stderr
    assert result.stderr.count("\n") == 1


def test_status_over_a_unix_socket(tmp_path: Path):
    path = tmp_path / "status.sock"
    server = Server(tmp_path, str(path))
    try:
        server.wait_for(five_idle)
        server.get()
        server.wait_for(lambda s: s["requests"] == 1)
        result = server.status()
        assert result.returncode == 0, result.stderr
        assert "requests 1," in result.stdout and "listen queue 0" in result.stdout
        rows = [m for m in map(ROW.match, result.stdout.splitlines()) if m]
        assert len(rows) == 5
        by_url = nagare_admin("status", "--url", str(path), "--json")
        assert json.loads(by_url.stdout)["total processes"] == 5
    finally:
        assert server.stop() == 0, server.log_path.read_text()
    assert not path.exists()  # removed at stop
    gone = nagare_admin("status", "--url", str(path))
    assert (gone.returncode, gone.stderr) == (2, f"nagare-admin status: cannot reach the status at {path}: no such socket — is the server running?\n")


# -- errors: one line, exit status 2 -----------------------------------------------------------


def one_line_error(*args: str) -> str:
    result = nagare_admin("status", *args)
    assert result.returncode == 2 and result.stdout == "", result
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr.removeprefix("nagare-admin status: ").rstrip("\n")


def test_no_status_configured(tmp_path: Path):
    conf = tmp_path / "pub.cfg"
    conf.write_text("[publisher]\ntype = fastcgi\n")
    assert one_line_error("-c", str(conf)).startswith(f"[publisher] status is empty in {conf}: set it to host:port ")


def test_not_a_fastcgi_publisher(tmp_path: Path):
    conf = tmp_path / "pub.cfg"
    conf.write_text("[publisher]\ntype = standalone\n")
    assert "has no status endpoint" in one_line_error("-c", str(conf))


def test_nothing_listening(tmp_path: Path):
    port = free_port()
    conf = tmp_path / "pub.cfg"
    conf.write_text(f"[publisher]\ntype = fastcgi\nstatus = 127.0.0.1:{port}\n")
    assert one_line_error("-c", str(conf)) == f"cannot reach the status at 127.0.0.1:{port}: connection refused — is the server running?"


def test_no_address_at_all():
    assert one_line_error().startswith("where is the status? give -c publisher.conf")


def test_json_and_metrics_are_exclusive():
    assert "not allowed with argument" in one_line_error("--url", "127.0.0.1:1", "--json", "--metrics")


class FakeStatus:
    """A status endpoint that answers `answer` to anything (a thread)."""

    def __init__(self, answer: bytes) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        client, _ = self.sock.accept()
        with client:
            client.recv(4096)
            client.sendall(self.answer)

    def close(self) -> None:
        self.thread.join(5)
        self.sock.close()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"HTTP/1.0 404 Not Found\r\n\r\n", "404 Not Found"),
        (b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{not json", "not JSON"),
        (b"HTTP/1.0 200 OK\r\n\r\n[1, 2]", "a JSON object expected"),
        (b'HTTP/1.0 200 OK\r\n\r\n{"pool": "x"}', "no 'start since'"),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\n{}", "2 bytes instead of the 100 announced"),
        (b"SSH-2.0-OpenSSH\r\n", "not HTTP"),
        (b"", "the connection closed without an answer"),
    ],
    ids=["404", "not-json", "not-object", "missing-keys", "truncated", "not-http", "empty"],
)
def test_a_bad_answer(answer: bytes, reason: str):
    fake = FakeStatus(answer)
    try:
        message = one_line_error("--url", f"127.0.0.1:{fake.port}")
    finally:
        fake.close()
    assert message.startswith(f"bad answer from the status at 127.0.0.1:{fake.port}: ") and reason in message


# -- the pure parts --------------------------------------------------------------------------


def test_addresses():
    assert Address.parse("127.0.0.1:9001") == Address("127.0.0.1:9001", host="127.0.0.1", port=9001)
    assert Address.parse(":9001").host == "127.0.0.1"
    assert Address.parse("http://[::1]:9001/").host == "::1"
    assert Address.parse("/run/nagare/status.sock").path == "/run/nagare/status.sock"
    assert Address.parse("unix:status.sock").path == "status.sock"  # as the server logs it
    for bad in ("localhost", "host:port", "host:0", "host:70000"):
        with pytest.raises(CommandError, match="expected host:port or the path of a Unix socket"):
            parse_address(bad)


def test_uptime():
    assert [uptime(s) for s in (0, 59, 60, 3599, 3600, 86399, 86400 * 3 + 3600 * 2)] == [
        "0s", "59s", "1m00s", "59m59s", "1h00m", "23h59m", "3d02h"
    ]


def test_render_with_plain_data():
    status = {
        "pool": "app", "start since": 65, "accepted conn": 10, "requests": 9, "listen queue": None,
        "max listen queue": 0, "listen queue len": 128, "idle processes": 1, "active processes": 1,
        "total processes": 2, "max active processes": 2, "max children reached": 1, "slow requests": 3,
        "processes": [
            {"pid": 7, "state": "Idle", "requests": 5, "memory": 30 << 20, "request duration": 10_000,
             "request method": "-", "request uri": "-", "last request uri": ""},
            {"pid": 12345, "state": "Running", "requests": 4, "memory": 31 << 20, "request duration": 2_500_000,
             "request method": "POST", "request uri": "/app/?x", "last request uri": "/app/?x"},
        ],
    }
    assert render(status).splitlines() == [
        "pool app: up 1m05s, accepted 10, requests 9, listen queue - (max 0, len 128), "
        "processes 1 idle / 1 active / 2 total, max active 2, max children reached 1, slow requests 3",
        "",
        "  PID  STATE    REQUESTS  MEMORY MB  DURATION  REQUEST",
        "    7  Idle            5       30.0    0.010s  -",
        "12345  Running         4       31.0    2.500s  POST /app/?x",
    ]


def test_a_bad_status_address_in_the_publisher_file_is_a_config_error(tmp_path):
    conf = tmp_path / "pub.cfg"
    conf.write_text("[publisher]\ntype = fastcgi\nstatus = localhost\n")
    done = nagare_admin("serve", "-c", str(conf), "demo", cwd=tmp_path)
    assert done.returncode == 2
    assert f"{conf}: [publisher] status = 'localhost': expected host:port or the path of a Unix socket" in done.stderr
