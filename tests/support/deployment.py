"""The deployment guide's production setup for the tests: the FastCGI pool with sessions in memcached, and the
process handling shared by the front servers started for real (nginx, Apache, lighttpd)."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support.memcached import Memcached
from tests.support.server import free_port, stop_process, wait_for_port
from tests.support.snippets import snippet

# A plain WSGI application that answers the environ it is given, as JSON.
ECHO = '''\
import json

def app(environ, start_response):
    keys = ("PATH_INFO", "SCRIPT_NAME", "REQUEST_URI", "QUERY_STRING", "HTTP_HOST", "SERVER_PORT", "wsgi.url_scheme")
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({k: environ.get(k) for k in keys}).encode()]
'''


class Backend:
    """`python -m nagare serve -c publisher.conf demo [echo.cfg]`: /demo/ (and /echo/)."""

    def __init__(self, tmp: Path, memcached: Memcached, echo: bool = True) -> None:
        self.tmp = tmp
        self.port = free_port()
        # docs/deploying.md's publisher file, ports aside
        publisher = snippet("publisher").fill({"port = 9000": f"port = {self.port}", "port = 11211": f"port = {memcached.port}"})
        (tmp / "publisher.conf").write_text(publisher)
        apps = ["demo"]
        if echo:
            (tmp / "echo" / "conf").mkdir(parents=True)
            (tmp / "echo" / "echo.py").write_text(ECHO)
            (tmp / "echo" / "conf" / "echo.cfg").write_text(f"[application]\npath = file {tmp}/echo/echo.py:app\nname = echo\n")
            apps.append(str(tmp / "echo" / "conf" / "echo.cfg"))
        env = dict(os.environ, NAGARE_SECRET_FILE=str(tmp / "secret"))
        self.log = open(tmp / "fastcgi.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nagare", "serve", "-c", str(tmp / "publisher.conf"), *apps],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=tmp,
        )
        try:
            wait_for_port(self.port, self.process)
        except Exception:
            self.stop()
            pytest.fail(f"the FastCGI server did not start: {self.server_log()}")

    def server_log(self) -> str:
        return (self.tmp / "fastcgi.log").read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process, signal.SIGTERM, 30)
        self.log.close()


class FrontServer:
    """A web server process in its own session, on a free loopback port, stopped with TERM."""

    name = ""
    error_log_name = ""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()

    def start(self, command: Sequence[str | Path]) -> None:
        self.process = subprocess.Popen(
            [str(c) for c in command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )
        try:
            wait_for_port(self.port, self.process)
        except Exception:
            error = self.process.stderr.read().decode(errors="replace") if self.process.poll() is not None and self.process.stderr else ""
            self.stop()
            pytest.fail(f"{self.name} did not start: {error} {self.error_log()}")

    def check(self, command: Sequence[str | Path]) -> None:
        """Fail the test at once if the server refuses its configuration."""
        done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            pytest.fail(f"{self.name} refuses its configuration: {done.stdout}{done.stderr}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = self.tmp / self.error_log_name
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:  # what outlived it (its own session, started above)
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()


def counter(page) -> int:
    """The demo counter's value on a page of tests.support.browser."""
    return int(page.text_of(".counter .value"))


def raw_get(port: int, path: str) -> tuple[int, bytes]:
    """GET `path` exactly as written (no client normalises its dot segments)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def concurrent_users(base: str, users: int = 16, clicks: int = 10) -> list[list[int]]:
    """The counters seen by `users` browsers clicking `++` `clicks` times each, all at once."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.browser import Browser

    def user(_: int) -> list[int]:
        page = Browser().get(base + "/demo/")
        values = []
        for _ in range(clicks):
            page = page.click("#increase")
            values.append(counter(page))
        return values

    with ThreadPoolExecutor(users) as pool:
        return list(pool.map(user, range(users)))


def check_echo_environ(url: str, port: int) -> None:
    """What the echo application sees behind a front server at `url`: the publisher's environ."""
    import requests

    seen = requests.get(url + "/echo/a/b?x=1&y=%2F", timeout=10).json()
    assert seen == {
        "PATH_INFO": "/a/b", "SCRIPT_NAME": "/echo", "REQUEST_URI": "/echo/a/b?x=1&y=%2F", "QUERY_STRING": "x=1&y=%2F",
        "HTTP_HOST": f"127.0.0.1:{port}", "SERVER_PORT": str(port), "wsgi.url_scheme": "http",
    }
    utf8 = requests.get(url + "/echo/%C3%A9t%C3%A9", timeout=10).json()
    assert utf8["PATH_INFO"] == "/été".encode().decode("latin-1")  # PEP 3333
