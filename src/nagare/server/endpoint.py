"""The status endpoint: a small HTTP/1.0 server inside the master's loop.

It accepts on the status socket, reads a request (until its blank line), answers it with the
pool status as JSON or OpenMetrics text, then closes. It never blocks the loop waiting for a
client: each has `timeout` seconds to send its request, then it is dropped. The master serves it
at every turn of its loop, during a stop too: a socket with unread bytes makes `select` return at
once, so a turn that skipped it would spin, and a person watching a stop wants to see the pool drain.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Container
from dataclasses import dataclass, field

from nagare.server import status as status_report

REQUEST_MAX = 8192  # bytes of request read at most: the answer does not depend on the rest
SEND_TIMEOUT = 1.0  # seconds a client may take to read its answer (it fits in the socket buffer)
JSON = "application/json"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass
class _Client:
    sock: socket.socket
    deadline: float  # monotonic
    request: bytearray = field(default_factory=bytearray)


class StatusEndpoint:
    """Answers the status requests on `listener` with `report()`; none if `listener` is None."""

    def __init__(self, listener: socket.socket | None, report: Callable[[], status_report.Status], timeout: float = 2.0) -> None:
        self.listener = listener
        self.report = report
        self.timeout = timeout
        self.clients: dict[int, _Client] = {}  # by file descriptor

    def fds(self) -> list[int]:
        """What to wait on: the listening socket and the clients still sending their request."""
        listening = [] if self.listener is None else [self.listener.fileno()]
        return [*listening, *self.clients]

    def serve(self, ready: Container[int], now: float) -> None:
        """Accept, read, answer what `ready` says can be; drop the clients past their deadline."""
        if self.listener is not None and self.listener.fileno() in ready:
            self._accept(now)
        for fd, client in list(self.clients.items()):
            if fd in ready and self._read(client):
                self._answer(client)
            elif now > client.deadline:
                self._close(client)

    def close_clients(self) -> None:
        for client in list(self.clients.values()):
            self._close(client)

    def _accept(self, now: float) -> None:
        assert self.listener is not None
        try:
            sock, _ = self.listener.accept()
        except OSError:  # gone before we accepted it, or EMFILE: the next one may work
            return
        sock.setblocking(False)
        self.clients[sock.fileno()] = _Client(sock, now + self.timeout)

    def _read(self, client: _Client) -> bool:
        """True once the request is complete (False: more to come, or the client is gone)."""
        try:
            data = client.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if not data:
            self._close(client)
            return False
        client.request += data
        request = client.request
        return b"\r\n\r\n" in request or b"\n\n" in request or len(request) > REQUEST_MAX

    def _answer(self, client: _Client) -> None:
        payload, kind = answer(bytes(client.request), self.report())
        head = (
            f"HTTP/1.0 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {len(payload)}\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        )
        try:
            client.sock.settimeout(SEND_TIMEOUT)
            client.sock.sendall(head.encode() + payload)
        except OSError:
            pass
        self._close(client)

    def _close(self, client: _Client) -> None:
        self.clients.pop(client.sock.fileno(), None)
        client.sock.close()


def answer(request: bytes, status: status_report.Status) -> tuple[bytes, str]:
    """The body and content type for `request`: OpenMetrics if it asks for it, else JSON."""
    line = request.split(b"\n", 1)[0].decode("latin-1").split()
    target = line[1] if len(line) >= 2 else "/"
    headers = request.decode("latin-1").lower()
    if "metrics" in target.split("?")[0] or "openmetrics" in target or "application/openmetrics-text" in headers:
        return status_report.to_openmetrics(status), OPENMETRICS
    return status_report.to_json(status), JSON
