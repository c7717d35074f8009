"""End to end as Nagare's deployment guide deploys: nginx in front, the FastCGI pool, sessions in memcached."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.support.browser import Browser
from tests.support.deployment import Backend, concurrent_users, counter
from tests.support.memcached import Memcached
from tests.support.nginx import Nginx
from tests.support.server import nagare_admin

# The deployment guide's server block: listen port and log paths aside.
SITE = """\
server {{
    listen 127.0.0.1:{{port}};
    server_name www.myapp.com;
    access_log {tmp}/myapp.access.log;
    error_log {tmp}/myapp.error.log;

    # serve the static files
    include {tmp}/rewrite_rules.nginx;

    # serve the application
    location / {{
        include /etc/nginx/fastcgi_params;
        # Nagare applications need a properly set PATH_INFO variable
        # either pass the request URI or use fastcgi_split_path_info to split the URI
        fastcgi_param PATH_INFO $fastcgi_script_name;
        fastcgi_pass {upstream};
        {extra}
    }}
}}
{upstream_block}
"""


def documented_site(tmp: Path, address: str) -> str:
    """The server block of docs/deploying.md, read out of it, with this test's port and paths."""
    text = (Path(__file__).parents[2] / "docs" / "deploying.md").read_text()
    section = text[text.index("Nginx, as in Nagare's deployment guide") :]
    block = re.search(r"```nginx\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    replaced = {
        "listen 80;": "listen 127.0.0.1:{port};",
        "/path/to/rewrite_rules.nginx": f"{tmp}/rewrite_rules.nginx",
        "fastcgi_pass 127.0.0.1:9000;": f"fastcgi_pass {address};",
    }
    for old, new in replaced.items():
        assert old in block, f"docs/deploying.md's nginx server block has no {old!r} any more"
        block = block.replace(old, new)
    return block


class Deployment:
    """The demo behind nginx: docs/deploying.md's own server block, or (keepalive) the upstream
    variant it describes."""

    def __init__(self, tmp: Path, memcached: Memcached, keepalive: bool = False) -> None:
        rules = nagare_admin("create-rules", "--nginx", "demo", cwd=tmp)
        assert rules.returncode == 0, rules.stderr
        (tmp / "rewrite_rules.nginx").write_text(rules.stdout)
        self.backend = Backend(tmp, memcached, echo=False)
        address = f"127.0.0.1:{self.backend.port}"
        if keepalive:
            site = SITE.format(tmp=tmp, upstream="nagare", extra="fastcgi_keep_conn on;",
                               upstream_block=f"upstream nagare {{ server {address}; keepalive 8; }}")
        else:
            site = documented_site(tmp, address)
        self.nginx = Nginx(tmp, site)
        self.tmp = tmp

    def stop(self) -> None:
        self.nginx.stop()
        self.backend.stop()

    def server_log(self) -> str:
        return self.backend.server_log()


@pytest.fixture
def deployment(tmp_path, memcached):
    made = []

    def make(**kw):
        d = Deployment(tmp_path, memcached, **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()


def test_the_demo_through_nginx_with_sessions_in_memcached(deployment) -> None:
    d = deployment()
    browser = Browser()
    page = browser.get(d.nginx.url + "/demo/")
    assert page.status == 200 and counter(page) == 0
    for expected in range(1, 21):  # 20 clicks, each served by whichever worker takes it: one session
        page = page.click("#increase")
        assert counter(page) == expected
    assert counter(browser.get(page.url)) == 20  # a reload: the same state, read back from memcached
    assert "Traceback" not in d.server_log()


def test_static_files_are_served_by_nginx_from_the_create_rules(deployment) -> None:
    d = deployment()
    import nagare

    static = Path(nagare.__file__).parent / "static" / "nagare.js"
    r = requests.get(d.nginx.url + "/static/nagare/nagare.js", timeout=10)
    assert r.status_code == 200 and r.content == static.read_bytes()
    assert r.headers["Server"].startswith("nginx")
    demo_css = Path(nagare.__file__).parent / "demo" / "static" / "demo.css"
    assert requests.get(d.nginx.url + "/static/demo/demo.css", timeout=10).content == demo_css.read_bytes()
    assert requests.get(d.nginx.url + "/static/demo/../../conf/demo.cfg", timeout=10).status_code in (400, 404)


def test_concurrent_sessions_through_nginx_keepalive(deployment) -> None:
    d = deployment(keepalive=True)

    assert concurrent_users(d.nginx.url) == [list(range(1, 11))] * 16
    assert "upstream prematurely closed" not in (d.tmp / "myapp.error.log").read_text()


def test_a_multipart_form_with_an_upload_through_nginx(deployment) -> None:
    d = deployment()
    page = Browser().get(d.nginx.url + "/demo/form")
    page = page.submit("#registration", {"name": "", "age": "abc", "email": "nope"}, button="#save")
    assert len(page.tree.cssselect(".nagare-error-message")) == 3
    photo = b"\x89PNG" + bytes(range(256)) * 800  # 200 KB: several STDIN records, nginx buffers it
    page = page.submit(
        "#registration", {"name": "Ada", "age": "36", "email": "ada@example.org"}, button="#save",
        files={"photo": ("photo.png", photo)},
    )
    assert page.text_of("#saved") == "Saved: Ada, 36 years, ada@example.org"
    assert page.text_of("#upload") == f"Received photo.png ({len(photo)} bytes)"
