"""Start the FastCGI publisher for real: `python -m nagare serve -c pub.cfg app.cfg` in a temp dir."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.fcgi_client import FastCGIClient, Response
from tests.support.server import free_port, stop_process

# A WSGI application with the endpoints the pool tests need.
POOL_APP = '''
import hashlib, os, time
import version

BALLAST = []

def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)
    if path == "/sleep":
        time.sleep(float(query.get("s", "1")))
    elif path == "/forever":
        while True:
            time.sleep(0.05)
    elif path == "/crash":
        os._exit(3)
    elif path == "/grow":  # keeps 20 MB more in this worker at each call
        BALLAST.append(bytearray(20 << 20))
    elif path == "/errors":
        environ["wsgi.errors"].write("something to log\\n")
    if path == "/echo":
        body = environ["wsgi.input"].read()
        text = f"{len(body)} {hashlib.sha256(body).hexdigest()}"
    elif path == "/big":
        text = "x" * int(query.get("n", "200000"))
    elif path == "/environ":
        keys = ("PATH_INFO", "SCRIPT_NAME", "QUERY_STRING", "wsgi.url_scheme", "SERVER_NAME", "SERVER_PORT", "REMOTE_ADDR", "CONTENT_LENGTH")
        text = "\\n".join(f"{k}={environ.get(k)!s}" for k in keys)
    else:
        text = f"{os.getpid()} {version.VERSION}"
    body = text.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''


class FastCGIServer:
    """The publisher serving `app.py:app` (POOL_APP by default) mounted at /pool/."""

    def __init__(self, tmp: Path, publisher: dict[str, Any] | None = None, app: str = POOL_APP, unix: bool = False, app_config: str = "") -> None:
        self.tmp = tmp
        self.port = free_port()
        self.status_port = free_port()
        settings: dict[str, Any] = {"type": "fastcgi", "port": self.port, "status": f"127.0.0.1:{self.status_port}", "idle_timeout": 1}
        if unix:
            settings["socket"] = str(tmp / "fcgi.sock")
        settings.update(publisher or {})
        self.max_spare = int(settings.get("maxSpare", 5))
        self.address: tuple[str, int] | str = settings["socket"] if unix else ("127.0.0.1", self.port)
        (tmp / "app.py").write_text(app)
        (tmp / "version.py").write_text("VERSION = 1\n")
        (tmp / "app.cfg").write_text(f"[application]\npath = file {tmp}/app.py:app\nname = pool\n{app_config}")
        (tmp / "pub.cfg").write_text("[publisher]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        self.log_path = tmp / "server.log"
        self._log = open(self.log_path, "wb")
        env = dict(os.environ, PYTHONPATH=f"{tmp}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", NAGARE_SECRET_FILE=str(tmp / "secret"))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nagare", "serve", "-c", str(tmp / "pub.cfg"), str(tmp / "app.cfg")],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=tmp,
        )
        self.wait_until(self._started, 20, "the server to start")

    @property
    def pid(self) -> int:
        return self.process.pid

    def request(self, path: str = "/pool/", **kw: Any) -> Response:
        with FastCGIClient(self.address, timeout=kw.pop("timeout", 10.0)) as client:
            return client.request(path, **kw)

    def client(self, **kw: Any) -> FastCGIClient:
        return FastCGIClient(self.address, **kw)

    def _started(self) -> bool:
        status = self._status_or_none()
        return status is not None and [p["state"] for p in status["processes"]] == ["Idle"] * self.max_spare

    def _status_or_none(self) -> dict[str, Any] | None:
        if self.process.poll() is not None:
            raise RuntimeError(f"the server exited with status {self.process.returncode}:\n{self.log()}")
        try:
            return self.status()
        except OSError:
            return None

    def status(self) -> dict[str, Any]:
        with socket.create_connection(("127.0.0.1", self.status_port), timeout=5) as s:
            s.sendall(b"GET /status HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return json.loads(data.split(b"\r\n\r\n", 1)[1])

    def workers(self, state: str | None = None) -> list[int]:
        return [p["pid"] for p in self.status()["processes"] if state is None or p["state"] == state]

    def wait_until(self, condition: Any, timeout: float = 10.0, what: str = "the condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def send(self, signum: int) -> None:
        os.kill(self.process.pid, signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        status = stop_process(self.process, signum, timeout)
        self._log.close()
        return status


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (Linux /proc)."""
    result = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            result += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return result


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False
