"""End to end as Nagare's deployment guide deploys with lighttpd: lighttpd in front, the FastCGI pool, memcached.

The configuration is docs/deploying.md's lighttpd.conf, read out of the page (tests/support/snippets.py):
the deployment guide's, with `server.document-root = "/"` added. lighttpd 1.4.69 refuses to start
without a document root ("server.document-root is not set"), and create-rules' lighttpd rules rewrite
the URL to the absolute path of the static file, which lighttpd then looks up under the document root:
only "/" makes `<root> + /abs/path/file` the file (any other root answers 404; tested below).
The test replaces the listening address and port, the error log's path, the pool's port and the path
of nagare-admin. `server.indexfiles` is kept: lighttpd 1.4.69 still accepts it.
As root, lighttpd starts without `server.username` (and serves the files as root).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import requests

import nagare
from tests.support.browser import Browser
from tests.support.lighttpd import Lighttpd
from tests.support.deployment import Backend, check_echo_environ, counter, raw_get
from tests.support.snippets import snippet

NAGARE_ADMIN = os.path.join(os.path.dirname(sys.executable), "nagare-admin")


def documented_conf(backend: int, root: str = "/") -> str:
    """docs/deploying.md's lighttpd.conf with this test's ports and paths (`{port}`, `{tmp}`: Lighttpd's)."""
    return snippet("lighttpd").fill({
        'server.errorlog = "/var/log/lighttpd/error.log"': 'server.errorlog = "{tmp}/lighttpd.log"',
        'server.document-root = "/"': f'server.document-root = "{root}"',
        "server.port = 80\n": "server.port = {port}\n",
        'server.bind = "0.0.0.0"': 'server.bind = "127.0.0.1"',
        '"port" => 9000,': f'"port" => {backend},',
    })


@pytest.fixture
def site(tmp_path, memcached):
    """make(root="/"): the FastCGI server, then lighttpd configured as docs/deploying.md says in front of it."""
    if not os.path.exists(NAGARE_ADMIN):
        pytest.fail(f"no nagare-admin next to {sys.executable} (pip install -e .)")
    started = []

    def make(root: str = "/") -> tuple[Backend, Lighttpd]:
        backend = Backend(tmp_path, memcached)
        started.append(backend)
        front = Lighttpd(tmp_path, documented_conf(backend.port, root))
        started.append(front)
        return backend, front

    yield make
    for server in reversed(started):
        server.stop()


def test_the_demo_through_lighttpd_with_sessions_in_memcached(site) -> None:
    backend, lighttpd = site()
    browser = Browser()
    page = browser.get(lighttpd.url + "/demo/")
    assert page.status == 200 and counter(page) == 0
    assert page.response.headers["Server"].startswith("lighttpd")
    for expected in range(1, 11):
        page = page.click("#increase")
        assert page.status == 200 and counter(page) == expected
    assert counter(browser.get(page.url)) == 10  # a reload: the same state, read back from memcached
    assert requests.get(lighttpd.url + "/demo", timeout=10, allow_redirects=False).headers["Location"].endswith("/demo/")
    assert "Traceback" not in backend.server_log()


TRAVERSALS = (
    "/static/demo/../../conf/demo.cfg", "/static/demo/%2e%2e/%2e%2e/conf/demo.cfg",
    "/static/demo/..%2f..%2fconf%2fdemo.cfg", "/static/nagare/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "//etc/passwd", "/etc/passwd", "/static/nagare//etc/passwd",
)


def test_static_files_are_served_by_lighttpd_from_the_create_rules(site) -> None:
    backend, lighttpd = site()
    root = Path(nagare.__file__).parent
    for url, path, mimetype in (
        ("/static/nagare/nagare.js", root / "static" / "nagare.js", "text/javascript"),
        ("/static/demo/demo.css", root / "demo" / "static" / "demo.css", "text/css"),
    ):
        r = requests.get(lighttpd.url + url, timeout=10)
        assert r.status_code == 200 and r.content == path.read_bytes(), url
        assert r.headers["Content-Type"].startswith(mimetype)
        assert r.headers["Server"].startswith("lighttpd")
    # with document-root "/", nothing else of the file system is reachable: all the rest goes to /fcgi
    for path in TRAVERSALS:
        status, body = raw_get(lighttpd.port, path)
        assert status == 404 and b"root:" not in body and b"[application]" not in body, path
    backend.stop()  # lighttpd serves them alone, not the FastCGI server
    assert requests.get(lighttpd.url + "/static/demo/demo.css", timeout=10).content == (root / "demo" / "static" / "demo.css").read_bytes()
    assert requests.get(lighttpd.url + "/demo/", timeout=10).status_code == 503


def test_the_rules_need_the_document_root_slash(site) -> None:
    # create-rules' rules rewrite to an absolute path, which lighttpd takes as a URL under the root
    _, lighttpd = site(root=str(Path(nagare.__file__).parent))
    assert requests.get(lighttpd.url + "/static/nagare/nagare.js", timeout=10).status_code == 404


def test_what_the_application_sees_through_lighttpd(site) -> None:
    _, lighttpd = site()
    # lighttpd sends SCRIPT_NAME=/fcgi PATH_INFO=/echo/a/b; the publisher routes on REQUEST_URI
    check_echo_environ(lighttpd.url, lighttpd.port)
