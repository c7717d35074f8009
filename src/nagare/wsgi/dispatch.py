"""Several applications on one server: each mounted at `/<name>/`, longest prefix first."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import escape
from typing import TYPE_CHECKING

from webob import Response

from nagare.wsgi.static import StaticFiles

if TYPE_CHECKING:
    from nagare.types import Environ, StartResponse, WSGIApplication

_SLASHES = re.compile("/{2,}")


class Dispatcher:
    """Routes a request to the application whose name starts its path.

    `static` maps a name to a folder served at `/static/<name>/` (standalone publisher only).
    """

    def __init__(self, apps: Mapping[str, WSGIApplication], static: Mapping[str, str] | None = None) -> None:
        self.apps = dict(apps)
        self.static = {name: StaticFiles(folder) for name, folder in (static or {}).items()}
        self._mounts = sorted(((f"/{name.strip('/')}", app) for name, app in self.apps.items()), key=lambda m: -len(m[0]))
        self._static_mounts: list[tuple[str, WSGIApplication]] = sorted(
            ((f"/static/{name.strip('/')}", app) for name, app in self.static.items()), key=lambda m: -len(m[0])
        )

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = _SLASHES.sub("/", environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
        for prefix, app in (*self._static_mounts, *self._mounts):
            if path == prefix or path.startswith(prefix + "/"):
                environ["SCRIPT_NAME"] = prefix
                environ["PATH_INFO"] = path[len(prefix):]
                return app(environ, start_response)
        return self.not_found(environ, path)(environ, start_response)

    def not_found(self, environ: Environ, path: str) -> Response:
        if path == "/" and len(self.apps) == 1:
            name = next(iter(self.apps)).strip("/")
            return Response(status=302, location=f"/{name}/")
        items = "".join(f'<li><a href="/{escape(n.strip("/"))}/">{escape(n)}</a></li>' for n in sorted(self.apps))
        body = (
            "<!DOCTYPE html>\n<html><head><title>Nagare applications</title></head><body>"
            f"<h1>{'Not Found' if path != '/' else 'Nagare applications'}</h1>"
            f"<p>The applications served here:</p><ul>{items}</ul></body></html>\n"
        )
        return Response(body=body.encode(), status=200 if path == "/" else 404, content_type="text/html", charset="utf-8")
