"""The access log: one line per request, on the logger `nagare.access`.

    127.0.0.1 "GET /demo/?_s=…&_c=00003 HTTP/1.1" 200 1843 1.4ms

The status and size are those the application sent; the time runs until its body is complete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nagare.types import Environ, OptExcInfo, StartResponse, WSGIApplication

log = logging.getLogger("nagare.access")


class AccessLog:
    """WSGI middleware writing the access log of `app`."""

    def __init__(self, app: WSGIApplication, logger: logging.Logger = log) -> None:
        self.app = app
        self.log = logger

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not self.log.isEnabledFor(logging.INFO):
            return self.app(environ, start_response)
        start = time.monotonic()
        seen: dict[str, str] = {}

        def recording_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        body = self.app(environ, recording_start_response)
        if type(body) is list:  # a complete body (WebOb's): logged now, handed on as it is, so
            # that the server still sees a one-chunk list (waitress sends it in one write)
            self._log(environ, seen, sum(map(len, body)), start)
            return body
        return self._logged(environ, body, seen, start)

    def _logged(self, environ: Environ, body: Iterable[bytes], seen: dict[str, str], start: float) -> Iterator[bytes]:
        size = 0
        try:
            for chunk in body:
                size += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            self._log(environ, seen, size, start)

    def _log(self, environ: Environ, seen: dict[str, str], size: int, start: float) -> None:
        query = environ.get("QUERY_STRING")
        target = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "") + ("?" + query if query else "")
        self.log.info(
            '%s "%s %s %s" %s %d %.1fms',
            environ.get("REMOTE_ADDR", "-"), environ.get("REQUEST_METHOD", "-"), target,
            environ.get("SERVER_PROTOCOL", "-"), seen.get("status", "-"), size, (time.monotonic() - start) * 1000,
        )
