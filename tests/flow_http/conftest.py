"""The flow fixture application (flowapp.py) served for real by FastCGI servers sharing memcached.

`install()` puts a copy of flowapp.py, its application file and the publisher file (cluster.cfg:
the FastCGI publisher, memcache sessions, the session secret) in a folder; `start()` runs
`nagare-admin serve` there. The tests talk FastCGI to the servers directly, as nginx would:
`RoundRobin` is a transport of `requests` that sends each request of a browser
(tests/support/browser.py) to the next server in turn, a load balancer without affinity.
"""

from __future__ import annotations

import http.client
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from tests.support.browser import Browser, Page
from tests.support.fastcgi_server import children
from tests.support.fcgi_client import request as fcgi_request
from tests.support.memcached import Memcached
from tests.support.server import NagareServer, free_port

HERE = Path(__file__).parent
SECRET = "the secret of the flow tests' cluster"
#: The URL the browsers of these tests ask for: the transport sends it to a server of the cluster.
BASE = "http://cluster.test"
APP = BASE + "/flowapp/"


def install(folder: Path, memcached: Memcached) -> Path:
    """Copy the application into `folder` (a copy a test may edit); the application file's path."""
    shutil.copy(HERE / "flowapp.py", folder / "flowapp.py")
    shutil.copy(HERE / "flowapp.cfg", folder / "flowapp.cfg")
    template = (HERE / "cluster.cfg").read_text()
    (folder / "cluster.cfg").write_text(template.format(memcached=memcached.port, secret=SECRET))
    return folder / "flowapp.cfg"


def start(folder: Path, name: str, port: int | None = None) -> NagareServer:
    """`nagare-admin serve -c cluster.cfg flowapp.cfg` in `folder`, a process tree of its own.

    Each server keeps its generated secret in a file of its own: only the secret of cluster.cfg
    can make the servers read each other's states.
    """
    return NagareServer(
        ["-c", str(folder / "cluster.cfg"), str(folder / "flowapp.cfg")],
        folder,
        port=port or free_port(),
        env={"NAGARE_SECRET_FILE": str(folder / f"generated-secret-{name}")},
    )


@dataclass
class Served:
    """One request as the transport sent it: to which server, and its answer."""

    server: int
    method: str
    url: str
    status: int


class _Original:
    """What `requests` reads the Set-Cookie headers from (`raw._original_response.msg`)."""

    def __init__(self, headers: Sequence[tuple[str, str]]) -> None:
        self.msg = http.client.HTTPMessage()
        for name, value in headers:
            self.msg[name] = value  # appends: several Set-Cookie headers stay apart


class _Raw:
    def __init__(self, headers: Sequence[tuple[str, str]]) -> None:
        self._original_response = _Original(headers)

    def close(self) -> None:
        pass


class RoundRobin(BaseAdapter):
    """Sends each request to the next FastCGI server of `addresses`, as nginx does to its upstreams."""

    def __init__(self, addresses: Sequence[tuple[str, int]]) -> None:
        super().__init__()
        self.addresses = list(addresses)
        self.served: list[Served] = []

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        index = len(self.served) % len(self.addresses)
        url = request.url or ""
        parts = urlsplit(url)
        headers = {name: value for name, value in request.headers.items() if name.lower() not in ("content-length", "accept-encoding", "connection")}
        headers["Host"] = parts.netloc
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        answer = fcgi_request(
            self.addresses[index], parts.path, method=request.method or "GET", query=parts.query, body=body, headers=headers,
            timeout=timeout if isinstance(timeout, (int, float)) else 15.0,
        )
        self.served.append(Served(index, request.method or "GET", url, answer.status))
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response.raw = _Raw(answer.headers)
        response._content = answer.body
        response._content_consumed = True
        response.encoding = get_encoding_from_headers(response.headers)
        response.url = url
        response.request = request
        response.reason = http.client.responses.get(answer.status, "")
        return response

    def close(self) -> None:
        pass


def browser(servers: Sequence[NagareServer]) -> tuple[Browser, RoundRobin]:
    """A browser whose requests go to each of `servers` in turn, and its transport (what it served)."""
    b = Browser()
    transport = RoundRobin([("127.0.0.1", s.port) for s in servers])
    b.session.mount(BASE + "/", transport)
    return b, transport


# --- playing the flows on a page ------------------------------------------------------------------


def message(page: Page, where: str) -> str:
    """The text the flow in `#where` shows (the message of its Ask or Confirm)."""
    return page.text_of(f"#{where} form p")


def answer(page: Page, where: str, text: str | None = None, button: str | None = None) -> Page:
    """Submit the form of the flow in `#where`: `text` typed in its input, `button` (its label) clicked."""
    form = page.find(f"#{where} form")
    fields = {}
    if text is not None:
        fields[form.cssselect("input[type=text]")[0].get("name")] = text
    submits = form.cssselect("input[type=submit]")
    chosen = submits[0] if button is None else next(s for s in submits if s.get("value") == button)
    result = page.submit(f"#{where} form", fields=fields, button=f"input[name='{chosen.get('name')}']")
    assert result.status == 200, result.text[:2000]
    return result


def click(page: Page, selector: str) -> Page:
    result = page.click(selector)
    assert result.status == 200, result.text[:2000]
    return result


def items(page: Page) -> list[str]:
    """The items of the basket, in order."""
    return [li.text_content().split()[0] for li in page.find("#items").cssselect("li")]


def served_by(page: Page, servers: Sequence[NagareServer]) -> int:
    """The index of the server whose worker rendered `page` (the pid the page shows is its child)."""
    pid = int(page.text_of("#pid"))
    owners = [i for i, server in enumerate(servers) if pid in children(server.process.pid)]
    assert len(owners) == 1, f"pid {pid} is no worker of the servers {[s.process.pid for s in servers]}"
    return owners[0]


def state_url(page: Page, where: str) -> str:
    """The URL of the state a page shows, from the hidden fields of its form in `#where` (a reload of it)."""
    form = page.find(f"#{where} form")
    ids = {field.get("name"): field.get("value") for field in form.cssselect("input[type=hidden]")}
    return f"{APP}?_s={ids['_s']}&_c={ids['_c']}"
