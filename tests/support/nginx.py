"""A real nginx for the tests, on a free loopback port, configured from a `server { }` block."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.deployment import FrontServer

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
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/body;
    fastcgi_temp_path {tmp}/fastcgi;
    proxy_temp_path {tmp}/proxy;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""


class Nginx(FrontServer):
    """nginx running `site` (one or more `server {}` blocks, `{port}` replaced by its port)."""

    name, error_log_name = "nginx", "nginx-error.log"

    def __init__(self, tmp: Path, site: str) -> None:
        if not os.path.exists(NGINX):
            pytest.fail(f"nginx is not installed at {NGINX} (apt-get install nginx)")
        super().__init__(tmp)
        user = "user root;" if os.geteuid() == 0 else ""  # its workers would run as nobody
        (tmp / "site.conf").write_text(site.replace("{port}", str(self.port)))
        (tmp / "nginx.conf").write_text(MAIN.format(tmp=tmp, user=user))
        self.start([NGINX, "-p", tmp, "-c", tmp / "nginx.conf", "-e", tmp / "nginx-error.log"])  # TERM: fast shutdown
