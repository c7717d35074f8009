"""Requests sent to a WSGI application in process, the way a browser sends them: its cookie kept."""

from __future__ import annotations

from typing import Any

from webob import Request, Response


class WSGIClient:
    """A browser in miniature for an application mounted at `mount` (its SCRIPT_NAME)."""

    def __init__(self, app: Any, mount: str = "/t") -> None:
        self.app = app
        self.mount = mount
        self.cookie: str | None = None
        #: Headers sent with every request (`Accept-Language`, ...).
        self.headers: dict[str, str] = {}

    def open(self, url: str, post: dict[str, str] | None = None, method: str | None = None) -> Response:
        """`url`: the path from the server's root and the query (`/t/page?_s=…`), as in an href."""
        request = Request.blank(url, base_url="http://localhost", POST=post)
        path = request.path_info
        request.script_name, request.path_info = self.mount, path[len(self.mount):] if path.startswith(self.mount) else path
        if method:
            request.method = method
        request.headers.update(self.headers)
        if self.cookie:
            request.headers["Cookie"] = self.cookie
        response = request.get_response(self.app)
        if "Set-Cookie" in response.headers:
            self.cookie = response.headers["Set-Cookie"].split(";")[0]
        return response
