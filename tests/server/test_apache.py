"""End to end with Apache 2.4 in front of the FastCGI pool, sessions in memcached.

The deployment guide's Apache setup needs mod_fastcgi's `FastCGIExternalServer`, which Debian 12 does not
ship (`apt-cache search fastcgi`: for Apache only libapache2-mod-fcgid, which spawns and manages
its own processes and has no external-server directive; mod_authnz_fcgi is for authorizers).
Apache 2.4's own mod_proxy_fcgi (in apache2-bin, installed with apache2) does. Kept
from Nagare's deployment guide: the VirtualHost, `Include` of the `create-rules --apache` file first, and a
catch-all rewrite to `/fcgi/`. Changed, each tested below:

- `FastCGIExternalServer <dir>/fcgi -host 127.0.0.1:9000` becomes
  `ProxyPass "/fcgi/" "fcgi://127.0.0.1:9000/"`, and the deployment guide's rule flag `[QSA,L]` becomes
  `[QSA,PT]`: with `L` the rewritten `/fcgi/...` is a file under DocumentRoot and never reaches
  ProxyPass (403/404, tested); `PT` hands it back to the URL mapping, where ProxyPass takes it.
- Or the deployment guide's `RewriteRule ^/(.*)$ /fcgi/$1 [QSA,L]` unchanged, with a `<Files "fcgi">`
  whose handler is `proxy:fcgi://127.0.0.1:9000` in the DocumentRoot (the literal equivalent of
  FastCGIExternalServer: a virtual file that is the external server). The DocumentRoot must
  exist and be searchable by Apache's user (403 "search permissions are missing" otherwise).
- Apache 2.4 (Debian's apache2.conf: `<Directory /> Require all denied`) answers 403 for the
  static folders unless they are granted: one `<Directory "<folder>"> Require all granted` each.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import requests

import nagare
from tests.support.snippets import snippet
from tests.support.apache import Apache
from tests.support.browser import Browser
from tests.support.deployment import Backend, check_echo_environ, concurrent_users, counter, raw_get
from tests.support.server import nagare_admin


GRANT = """\
    <Directory "{folder}">
        Require all granted
    </Directory>
"""

# The deployment guide's VirtualHost, with mod_proxy_fcgi in place of FastCGIExternalServer.
SITES = {
    # recommended: the deployment guide's shape, ProxyPass for FastCGIExternalServer, PT for L
    "proxypass": """\
<VirtualHost *:{{port}}>
    ServerName www.myapp.com
{grants}
    ProxyPass "/fcgi/" "fcgi://127.0.0.1:{backend}/"

    Include {tmp}/rewrite_rules.apache
    RewriteRule ^/(.*)$ /fcgi/$1 [QSA,PT]
</VirtualHost>
""",
    # the same, the connections to the pool kept open
    "proxypass-reuse": """\
<VirtualHost *:{{port}}>
    ServerName www.myapp.com
{grants}
    ProxyPass "/fcgi/" "fcgi://127.0.0.1:{backend}/" enablereuse=on

    Include {tmp}/rewrite_rules.apache
    RewriteRule ^/(.*)$ /fcgi/$1 [QSA,PT]
</VirtualHost>
""",
    # the deployment guide's RewriteRule unchanged: a virtual file <DocumentRoot>/fcgi handled by the pool
    "guide-rule": """\
<VirtualHost *:{{port}}>
    ServerName www.myapp.com
{grants}
    DocumentRoot "{www}"
    <Directory "{www}">
        <Files "fcgi">
            Require all granted
            SetHandler "proxy:fcgi://127.0.0.1:{backend}"
        </Files>
    </Directory>

    Include {tmp}/rewrite_rules.apache
    RewriteRule ^/(.*)$ /fcgi/$1 [QSA,L]
</VirtualHost>
""",
    # no /fcgi prefix at all: what the rules do not catch goes to the pool
    "proxypass-root": """\
<VirtualHost *:{{port}}>
    ServerName www.myapp.com
{grants}
    Include {tmp}/rewrite_rules.apache
    ProxyPass "/" "fcgi://127.0.0.1:{backend}/"
</VirtualHost>
""",
}

def documented_site() -> str:
    """The VirtualHost of docs/deploying.md, read out of it, with this test's ports and folders."""
    return snippet("apache").fill(
        {
            "*:80": "*:{{port}}",
            "127.0.0.1:9000": "127.0.0.1:{backend}",
            "/path/to/rewrite_rules.apache": "{tmp}/rewrite_rules.apache",
            "/path/to/nagare/static": "{nagare_static}",
            "/path/to/myapp/static": "{app_static}",
        }
    )


# the VirtualHost users copy: docs/deploying.md's own
SITES["documented"] = documented_site()

# The deployment guide's rule with its [L] flag and ProxyPass: does not work (tested below).
GUIDE_L_WITH_PROXYPASS = """\
<VirtualHost *:{{port}}>
{grants}
    ProxyPass "/fcgi/" "fcgi://127.0.0.1:{backend}/"
    Include {tmp}/rewrite_rules.apache
    RewriteRule ^/(.*)$ /fcgi/$1 [QSA,L]
</VirtualHost>
"""


def static_folders(rules: str) -> list[str]:
    """The folders of `RewriteRule ^/static/<name>/(.*)$ <folder>/$1 [L]` lines."""
    return [line.split()[2][: -len("/$1")] for line in rules.splitlines() if line.startswith("RewriteRule ")]


@pytest.fixture
def site(tmp_path, memcached):
    """make(template): the FastCGI server, then Apache with that VirtualHost in front of it."""
    started = []
    # an (empty) DocumentRoot Apache's user can search: pytest's tmp_path is private to root
    www = tempfile.TemporaryDirectory(prefix="nagare-apache-www-")
    os.chmod(www.name, 0o755)

    def make(template: str) -> tuple[Backend, Apache]:
        # as in the deployment guide: nagare-admin create-rules --apache <application> > rewrite_rules.apache
        rules = nagare_admin("create-rules", "--apache", "demo", cwd=tmp_path)
        assert rules.returncode == 0, rules.stderr
        (tmp_path / "rewrite_rules.apache").write_text(rules.stdout)
        folders = static_folders(rules.stdout)
        grants = "".join(GRANT.format(folder=folder) for folder in folders)
        nagare_static = next(f for f in folders if f.rstrip("/").endswith("nagare/static"))
        app_static = next(f for f in folders if f != nagare_static)
        backend = Backend(tmp_path, memcached)
        started.append(backend)
        site = template.format(tmp=tmp_path, www=www.name, backend=backend.port, grants=grants, nagare_static=nagare_static, app_static=app_static)
        front = Apache(tmp_path, site)
        started.append(front)
        return backend, front

    yield make
    for server in reversed(started):
        server.stop()
    www.cleanup()


TRAVERSALS = (
    "/static/demo/../../conf/demo.cfg", "/static/demo/%2e%2e/%2e%2e/conf/demo.cfg",
    "/static/demo/..%2f..%2fconf%2fdemo.cfg", "/static/nagare/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "//etc/passwd", "/etc/passwd", "/static/nagare//etc/passwd",
)


@pytest.mark.parametrize("variant", sorted(SITES))
def test_the_demo_through_apache_with_sessions_in_memcached(site, variant) -> None:
    backend, apache = site(SITES[variant])
    browser = Browser()
    page = browser.get(apache.url + "/demo/")
    assert page.status == 200 and counter(page) == 0, apache.error_log()
    assert page.response.headers["Server"].startswith("Apache")
    for expected in range(1, 11):
        page = page.click("#increase")
        assert page.status == 200 and counter(page) == expected
    assert counter(browser.get(page.url)) == 10  # a reload: the same state, read back from memcached
    assert requests.get(apache.url + "/demo", timeout=10, allow_redirects=False).headers["Location"].endswith("/demo/")
    assert "Traceback" not in backend.server_log()


@pytest.mark.parametrize("variant", sorted(SITES))
def test_static_files_are_served_by_apache_from_the_create_rules(site, variant) -> None:
    backend, apache = site(SITES[variant])
    root = Path(nagare.__file__).parent
    files = (
        ("/static/nagare/nagare.js", root / "static" / "nagare.js", "text/javascript"),
        ("/static/demo/demo.css", root / "demo" / "static" / "demo.css", "text/css"),
    )
    for url, path, mimetype in files:
        r = requests.get(apache.url + url, timeout=10)
        assert r.status_code == 200 and r.content == path.read_bytes(), (url, r.status_code, apache.error_log())
        assert r.headers["Content-Type"].startswith(mimetype)
    for path in TRAVERSALS:
        status, body = raw_get(apache.port, path)
        assert status in (400, 403, 404) and b"root:" not in body and b"[application]" not in body, (path, status)
    backend.stop()  # Apache serves them alone, not the FastCGI server
    for url, path, _ in files:
        assert requests.get(apache.url + url, timeout=10).content == path.read_bytes()
    assert requests.get(apache.url + "/demo/", timeout=10).status_code == 503


@pytest.mark.parametrize("variant", sorted(SITES))
def test_what_the_application_sees_through_apache(site, variant) -> None:
    _, apache = site(SITES[variant])
    # mod_proxy_fcgi sends no PATH_INFO with ProxyPass (SCRIPT_NAME=/fcgi/echo/a/b, or /echo/a/b
    # without the prefix), PATH_INFO=/echo/a/b with the <Files> handler; REQUEST_URI is always
    # the browser's: the publisher routes on it
    check_echo_environ(apache.url, apache.port)


def test_concurrent_sessions_through_apache_with_enablereuse(site) -> None:
    _, apache = site(SITES["proxypass-reuse"])

    assert concurrent_users(apache.url) == [list(range(1, 11))] * 16, apache.error_log()[-3000:]


def test_the_guide_rule_with_its_L_flag_does_not_reach_proxypass(site) -> None:
    # why the recommended setup says [QSA,PT]: with L, /fcgi/... is a file under DocumentRoot
    _, apache = site(GUIDE_L_WITH_PROXYPASS)
    assert requests.get(apache.url + "/demo/", timeout=10).status_code in (403, 404)
    assert requests.get(apache.url + "/static/nagare/nagare.js", timeout=10).status_code == 200


def test_without_the_grants_apache_refuses_the_static_files(site) -> None:
    # Apache 2.4 with Debian's <Directory /> Require all denied: the rules alone answer 403
    _, apache = site(SITES["proxypass"].replace("{grants}", ""))
    assert requests.get(apache.url + "/static/nagare/nagare.js", timeout=10).status_code == 403
    assert requests.get(apache.url + "/demo/", timeout=10).status_code == 200
