"""The request as the application sees it: the WSGI environ, `wsgi.input` and `wsgi.errors`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

DRAIN_LIMIT = 16 << 20  # bytes of an unread body read to keep the connection; above: it is closed

_STATIC = {"wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.input_terminated": True}


def environ(params: dict[str, str]) -> dict[str, Any]:
    """The WSGI environ of a request from the CGI params a front server sent (`params` becomes it).

    PATH_INFO is the whole request path and SCRIPT_NAME is empty, as with Nagare 0.5. The front
    servers send the path in different ways: nginx as docs/deploying.md configures it `PATH_INFO
    $fastcgi_script_name`; lighttpd `SCRIPT_NAME=/fcgi` (the prefix its rewrite rule adds) and
    the rest in PATH_INFO; Apache's mod_proxy_fcgi the whole path in SCRIPT_NAME and no PATH_INFO.
    REQUEST_URI, the path the browser asked for, is what all of them send alike; without it,
    SCRIPT_NAME + PATH_INFO.
    """
    env: dict[str, Any] = params
    uri = env.get("REQUEST_URI")
    if uri is not None:
        path = uri.split("?", 1)[0]
        if path[:1] != "/":  # absolute form: http://host/path
            path = urlsplit(path).path or "/"
        # PEP 3333: the decoded bytes as latin-1 (the URL encodes UTF-8: the app re-decodes)
        env["PATH_INFO"] = unquote_to_bytes(path).decode("latin-1") if "%" in path else path
    else:
        env["PATH_INFO"] = env.get("SCRIPT_NAME", "") + env.get("PATH_INFO", "")
    env["SCRIPT_NAME"] = ""
    env.update(_STATIC)
    https = env.get("HTTPS", "").lower()
    env["wsgi.url_scheme"] = "https" if https in ("on", "1") or env.get("REQUEST_SCHEME") == "https" else "http"
    if not env.get("CONTENT_LENGTH"):
        env.pop("CONTENT_LENGTH", None)
    if not env.get("CONTENT_TYPE"):
        env.pop("CONTENT_TYPE", None)
    env.pop("HTTP_CONTENT_LENGTH", None)
    env.pop("HTTP_CONTENT_TYPE", None)
    if "SERVER_NAME" not in env:
        host = env.get("HTTP_HOST", "localhost")
        env["SERVER_NAME"] = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    env.setdefault("SERVER_PORT", "443" if env["wsgi.url_scheme"] == "https" else "80")
    env.setdefault("REQUEST_METHOD", "GET")
    env.setdefault("QUERY_STRING", "")
    env.setdefault("SERVER_PROTOCOL", "HTTP/1.1")
    return env


def _no_chunk() -> bytes:
    return b""


class Input:
    """`wsgi.input`: the request body, read from the connection as the application asks for it.

    `chunk` returns the next chunk of the body, b"" at its end.
    """

    __slots__ = ("_chunk", "_buffer", "_eof")

    def __init__(self, chunk: Callable[[], bytes]) -> None:
        self._chunk = chunk
        self._buffer = bytearray()
        self._eof = False

    @classmethod
    def whole(cls, body: bytes) -> Input:
        """The body of a request received whole."""
        self = cls(_no_chunk)
        self._buffer += body
        self._eof = True
        return self

    def _fill(self) -> bool:
        """One more chunk of the body into the buffer; False at its end."""
        if self._eof:
            return False
        chunk = self._chunk()
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    def read(self, size: int | None = -1) -> bytes:
        """At most `size` bytes of the body (all the rest if None or negative)."""
        if size is None or size < 0:
            while self._fill():
                pass
            size = len(self._buffer)
        while len(self._buffer) < size and self._fill():
            pass
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def readline(self, size: int | None = -1) -> bytes:
        """The next line of the body, its b"\\n" included; at most `size` bytes."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                end += 1
                break
            if size is not None and 0 <= size <= len(self._buffer) or not self._fill():
                end = len(self._buffer)
                break
        if size is not None and size >= 0:
            end = min(end, size)
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        """The next lines, until their length reaches `hint` (if positive)."""
        lines = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def drain(self, limit: int = DRAIN_LIMIT) -> bool:
        """Read what the application left of the body; False if it is too long to keep the connection."""
        self._buffer.clear()
        read = 0
        while read <= limit and self._fill():
            read += len(self._buffer)
            self._buffer.clear()
        return read <= limit


class Errors:
    """`wsgi.errors`: text sent to the web server's error log (FCGI_STDERR) with the response."""

    __slots__ = ("chunks",)

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, text: str) -> None:
        """Queue `text` (UTF-8) for the end of the response."""
        self.chunks.append(text.encode("utf-8", "replace"))

    def writelines(self, lines: Sequence[str]) -> None:
        """`write` each of `lines`."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Nothing to do: the text leaves with the response."""
