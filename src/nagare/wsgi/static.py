"""Static files of the applications, served by the standalone publisher only.

In production the front web server serves them (`nagare-admin create-rules`). No request may
escape the static folder: `..` segments are refused, and the real path (symbolic links
resolved) must stay inside the folder's real path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from webob import Request
from webob.static import FileApp

from nagare.wsgi.app import error_page

if TYPE_CHECKING:
    from nagare.types import Environ, StartResponse


def resolve(root: str, segments: Iterable[str]) -> str | None:
    """The file that `segments` names under `root`, or None when it is outside or not a file."""
    parts = []
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == ".." or "\0" in segment or "/" in segment or "\\" in segment:
            return None
        parts.append(segment)
    if not parts:
        return None
    real_root = os.path.realpath(root)
    path = os.path.realpath(os.path.join(real_root, *parts))
    if os.path.commonpath([real_root, path]) != real_root or not os.path.isfile(path):
        return None
    return path


class StaticFiles:
    """A WSGI application serving the files of one folder (conditional and range requests)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        if request.method not in ("GET", "HEAD"):
            response = error_page(405, "Method Not Allowed", "Static files are read only.")
            response.allow = ("GET", "HEAD")
            return response(environ, start_response)
        # PATH_INFO is already %-decoded by the server (PEP 3333): `%2e%2e` arrives as `..` and
        # `%2f` as `/`, so the checks of resolve() see what the file system would see.
        try:
            path = resolve(self.root, request.path_info.split("/"))
        except UnicodeDecodeError:  # not UTF-8: no file of ours has that name
            path = None
        if path is None:
            return error_page(404, "Not Found", "No such file.")(environ, start_response)
        return FileApp(path, cache_control="public, max-age=3600")(environ, start_response)
