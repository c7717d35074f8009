"""An in-process browser of the demo for the benchmarks (bench/click.py, bench/cluster.py): a
WSGI application called with a minimal environ, a GET per click on a link of the last page found
by its id, the cookie kept, the CPU and elapsed time of the calls counted."""

from __future__ import annotations

import io
import re
import sys
import time
from typing import Any

LINK = re.compile(rb'<a[^>]*\sid="([^"]+)"[^>]*>')
HREF = re.compile(rb'href="([^"]*)"')


class Browser:
    """A GET per click, on a link of the last page found by its id; the cookie kept."""

    def __init__(self, app: Any, mount: str) -> None:
        self.app, self.mount, self.cookie, self.status = app, mount, "", ""
        self.elapsed_ns = self.cpu_ns = 0
        self.page = self.get("/", "")

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        self.status = status
        for name, value in headers:
            if name.lower() == "set-cookie":
                self.cookie = value.split(";", 1)[0]

    def get(self, path: str, query: str) -> bytes:
        environ = {
            "REQUEST_METHOD": "GET", "SCRIPT_NAME": self.mount, "PATH_INFO": path, "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
            "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }
        if self.cookie:
            environ["HTTP_COOKIE"] = self.cookie
        cpu, start = time.thread_time_ns(), time.perf_counter_ns()
        body = b"".join(self.app(environ, self.start_response))
        self.elapsed_ns += time.perf_counter_ns() - start
        self.cpu_ns += time.thread_time_ns() - cpu
        return body

    def links(self) -> dict[str, str]:
        found = {}
        for tag in LINK.finditer(self.page):
            href = HREF.search(tag.group(0))
            if href is not None:
                found[tag.group(1).decode()] = href.group(1).decode().replace("&amp;", "&")
        return found

    def click(self, link_id: str = "increase") -> None:
        href = self.links().get(link_id)
        if href is None or not self.status.startswith("200"):
            raise RuntimeError(f"no #{link_id} link in the page ({self.status}): {self.page[:300]!r}")
        path, _, query = href.partition("?")
        if not path.startswith("/"):
            path = f"{self.mount}/{path}"
        self.page = self.get(path.removeprefix(self.mount) or "/", query)
