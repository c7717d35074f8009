"""The answer to one request: WSGI's start_response and body in, FastCGI STDOUT records out."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from nagare import fastcgi

ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
StartResponse = Callable[..., Callable[[bytes], None]]
Application = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

STREAM_AFTER = 64 * 1024  # bytes of body kept before they are sent: a small response leaves in one send
_ERROR_HEAD = b"Status: 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
_ERROR_BODY = b"Internal Server Error\n"


class Response:
    """The response of the active request `request_id` of `fcgi`, streamed through `send`.

    The body is kept until it reaches STREAM_AFTER bytes, then sent with the head before it; what
    is left when the application returns comes out of `rest`, for the caller to send with the
    end of the request.
    """

    __slots__ = ("_fcgi", "_request_id", "_send", "_head", "_sent", "_body", "_size")

    def __init__(self, fcgi: fastcgi.Connection, request_id: int, send: Callable[[bytes], None]) -> None:
        self._fcgi = fcgi
        self._request_id = request_id
        self._send = send
        # b"" until start_response; never emptied, even once sent: a second call without
        # exc_info must raise whether the head left or not (PEP 3333)
        self._head = b""
        self._sent = False  # the head is sent: it can no longer change
        self._body: list[bytes] = []
        self._size = 0

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None) -> Callable[[bytes], None]:
        """PEP 3333's start_response: keep the head; returns the `write` callable.

        With `exc_info`, the call replaces the head if it was not sent yet, and re-raises the
        application's exception if it was.
        """
        if exc_info is not None and exc_info[1] is not None:
            try:
                if self._sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # the traceback would keep this frame alive (PEP 3333)
        elif self._head:
            raise RuntimeError("start_response called twice without exc_info")
        self._head = "".join([f"Status: {status}\r\n", *[f"{name}: {value}\r\n" for name, value in headers], "\r\n"]).encode("latin-1")
        return self.write

    def write(self, data: bytes) -> None:
        """A chunk of the body: PEP 3333's `write` and each item of the application's iterable."""
        if data:
            self._body.append(data)
            self._size += len(data)
            if self._size >= STREAM_AFTER:
                self._stream()

    def _stream(self) -> None:
        if not self._head:
            raise RuntimeError("the application sent a body before start_response")
        data = b"".join(self._body)
        self._send(self._fcgi.send_stdout(self._request_id, data if self._sent else self._head + data))
        self._sent = True
        self._body.clear()
        self._size = 0

    def run(self, app: Application, environ: dict[str, Any]) -> None:
        """Call `app` and take its body; what it raises propagates, after its `close()` (PEP 3333)."""
        result = app(environ, self.start_response)
        try:
            write = self.write
            for chunk in result:
                write(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not self._head:
            raise RuntimeError("the application returned without calling start_response")

    def fail(self) -> bool:
        """After an error of the application: a 500 instead, if nothing was sent yet.

        False if the head was sent: the body is truncated, the web server must see the connection end.
        """
        self._body.clear()
        if self._sent:
            return False
        self._head = _ERROR_HEAD
        self._body.append(_ERROR_BODY)
        return True

    def discard(self) -> None:
        """Drop the body kept so far: the web server aborted the request, nobody reads it."""
        self._body.clear()

    def rest(self) -> bytes:
        """The output still to send (the head too, if not sent), for the end of the request.

        Ending the request is the caller's: it reads what is left of the request before.
        """
        data = b"".join(self._body)
        return data if self._sent else self._head + data
