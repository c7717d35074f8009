"""A real nginx for the tests, on a free loopback port, configured from a `server { }` block."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.server import free_port, wait_for_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

MAIN = """\
daemon off;
master_process on;
worker_processes 1;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log info;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    client_body_temp_path {tmp}/body;
    fastcgi_temp_path {tmp}/fastcgi;
    proxy_temp_path {tmp}/proxy;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""


class Nginx:
    """nginx running `site` (one or more `server {}` blocks, `{port}` replaced by its port)."""

    def __init__(self, tmp: Path, site: str) -> None:
        if not os.path.exists(NGINX):
            pytest.fail(f"nginx is not installed at {NGINX} (apt-get install nginx)")
        self.tmp = tmp
        self.port = free_port()
        user = "user root;" if os.geteuid() == 0 else ""  # its workers would run as nobody
        (tmp / "site.conf").write_text(site.replace("{port}", str(self.port)))
        (tmp / "nginx.conf").write_text(MAIN.format(tmp=tmp, user=user))
        self.process = subprocess.Popen(
            [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "nginx-error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(self.port, self.process)
        except Exception:
            error = self.process.stderr.read().decode(errors="replace") if self.process.poll() is not None and self.process.stderr else ""
            self.stop()
            pytest.fail(f"nginx did not start: {error} {self.error_log()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = self.tmp / "nginx-error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # nginx: TERM is a fast shutdown
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
