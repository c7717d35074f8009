"""The production path of docs/deploying.md, laid out in a test's folder from the page's own snippets.

The folder stands for `/path/to` (tests/support/snippets.py): `publisher.conf` and the
`application/` of the deployment guide's layout (`app.py`, `conf/myapp.conf`, `conf/fastcgi.conf`,
`static/`, `logs/`). The commands are the page's, run as a user types them in that folder:
`nagare-admin` is found on the PATH, the one of this Python's environment.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.nginx import Nginx
from tests.support.server import free_port, stop_process, wait_for_port
from tests.support.snippets import snippet

BIN = Path(sys.executable).parent

# A Nagare application: a counter, as small as the one of `nagare-admin create-app`.
COUNTER = """\
from nagare import presentation


class Counter:
    def __init__(self):
        self.value = 0

    def increase(self):
        self.value += 1


@presentation.render_for(Counter)
def render(self, h, comp, *args):
    h.head.css_url("myapp.css")
    h << h.span(self.value, id="value")
    h << h.a("++", id="increase").action(self.increase)
    return h.root


app = Counter
"""

CSS = b".myapp { color: teal }\n"


def environment(tmp: Path) -> dict[str, str]:
    """A user's shell: this Python's environment first on the PATH; the session secret in the folder."""
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", NAGARE_SECRET_FILE=str(tmp / "secret"))


def publisher_file(pool_port: int, sessions: str | None = None, memcached_port: int = 11211) -> str:
    """The page's publisher file on `pool_port`: its own `[sessions]` (memcached on `memcached_port`),
    or, as the page says for the other stores, `sessions` (a `[sessions]` snippet) in its place."""
    text = snippet("publisher").fill({"port = 9000": f"port = {pool_port}", "port = 11211": f"port = {memcached_port}"})
    if sessions is not None:
        text = text[: text.index("[sessions]")] + sessions
    return text


def lay_out(tmp: Path, app: str = COUNTER) -> Path:
    """The guide's application folder, `tmp/application`, with the page's application file; its path."""
    application = tmp / "application"
    for folder in ("conf", "static", "logs"):
        (application / folder).mkdir(parents=True, exist_ok=True)
    (application / "app.py").write_text(app)
    (application / "static" / "myapp.css").write_bytes(CSS)
    conf = application / "conf" / "myapp.conf"
    conf.write_text(snippet("application").fill(folder=tmp))
    return conf


def shell(tmp: Path, command: str) -> subprocess.CompletedProcess[str]:
    """Run `command` in a shell in `tmp`, as typed (redirections included)."""
    return subprocess.run(command, shell=True, cwd=tmp, env=environment(tmp), capture_output=True, text=True, timeout=60)


class Pool:
    """The page's `nagare-admin serve -c publisher.conf <app_name>`, run in `tmp` (its publisher file
    already there, listening on `port`) until `stop()`; its output in `tmp/pool.log`."""

    def __init__(self, tmp: Path, port: int, app_name: str) -> None:
        self.tmp, self.port = tmp, port
        self.args = shlex.split(snippet("serve").fill({"<app_name>": app_name}))
        self._log = open(tmp / "pool.log", "wb")
        self.process = subprocess.Popen(self.args, cwd=tmp, env=environment(tmp), stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, self.process)
        except Exception:
            self.stop()
            pytest.fail(f"`{shlex.join(self.args)}` did not serve: {self.log()}")

    def log(self) -> str:
        return (self.tmp / "pool.log").read_text(errors="replace")

    def stop(self) -> int:
        status = stop_process(self.process, signal.SIGTERM, 30)
        self._log.close()
        return status


class Site:
    """The whole path in `tmp`: the application, `publisher.conf` (its `[sessions]` replaced by
    `sessions`, if given), the rules command, the pool and the page's nginx server block in front,
    with the page's line for nginx on another port than 80."""

    def __init__(self, tmp: Path, memcached_port: int = 11211, sessions: str | None = None) -> None:
        self.tmp = tmp
        self.pool_port = free_port()
        app_file = str(lay_out(tmp))
        (tmp / "publisher.conf").write_text(publisher_file(self.pool_port, sessions, memcached_port))
        rules = shell(tmp, snippet("rules-nginx").fill({"<app_name>": app_file}, folder=tmp))
        assert rules.returncode == 0 and "location /static/myapp/" in (tmp / "rewrite_rules.nginx").read_text(), rules.stderr
        self.pool = Pool(tmp, self.pool_port, app_file)
        include = "include /etc/nginx/fastcgi_params;\n"
        server = snippet("nginx").fill(
            {
                "listen 80;": "listen 127.0.0.1:{port};",
                "fastcgi_pass 127.0.0.1:9000;": f"fastcgi_pass 127.0.0.1:{self.pool_port};",
                # nginx is on another port than 80: the page's line that keeps it in the redirections
                include: include + snippet("nginx-port").text,
            },
            folder=tmp,
        )
        try:
            self.nginx = Nginx(tmp, server)
        except BaseException:
            self.pool.stop()
            raise
        self.url = self.nginx.url + "/myapp/"

    def stop(self) -> None:
        self.nginx.stop()
        self.pool.stop()
