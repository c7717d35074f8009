"""A Handler serving one end of a socket pair, the test playing the web server at the other."""

from __future__ import annotations

import socket
import threading
import time

from nagare.publishers.fastcgi.handler import Handler
from nagare.server.scoreboard import Scoreboard
from nagare.server.worker import Report
from tests.support.fcgi_client import encode_request, parse_cgi


class Served:
    """One Handler serving the server end of a socket pair, the client end in the test's hands.

    The client writes from a thread: a request bigger than the socket buffer would otherwise block
    the test before the handler reads it.
    """

    def __init__(self, app) -> None:
        self.app = app
        self.client, self.server = socket.socketpair()
        self.handler = Handler(app, 5.0, set())
        self.conn = self.handler.new(self.server, None)
        self.scoreboard = Scoreboard(1)
        self.report = Report(self.scoreboard.writer(0, 1, time.monotonic()), 0.0)
        self.writer: threading.Thread | None = None

    def __enter__(self) -> "Served":
        return self

    def __exit__(self, *exc_info) -> None:
        self.client.close()
        self.server.close()
        if self.writer is not None:
            self.writer.join(5)

    def send(self, *parts: bytes, pause: float = 0.0) -> None:
        """Write `parts` from a thread, `pause` seconds apart, as a web server whose client is slow."""
        if self.writer is not None:
            self.writer.join(5)

        def write() -> None:
            try:
                for i, part in enumerate(parts):
                    if i:
                        time.sleep(pause)
                    self.client.sendall(part)
            except OSError:  # the handler closed the connection before reading everything
                pass

        self.writer = threading.Thread(target=write, daemon=True)
        self.writer.start()

    def take_over(self) -> None:
        """As a worker the connection is handed to: a new Handler and a new FastCGI state."""
        self.handler = Handler(self.app, 5.0, set())
        self.conn = self.handler.new(self.server, None)

    def received(self) -> bytes:
        """What the handler has sent so far."""
        self.client.setblocking(False)
        out = b""
        try:
            while chunk := self.client.recv(1 << 20):
                out += chunk
        except BlockingIOError:
            pass
        self.client.setblocking(True)
        return out

    def run(self, data: bytes) -> tuple[bool, bytes]:
        self.send(data)
        keep = self.handler.serve(self.conn, self.report)
        return keep, self.received()


def records_of(data: bytes) -> list[tuple[int, bytes]]:
    """(type, content) of each FastCGI record in `data`."""
    records, i = [], 0
    while i < len(data):
        kind, length, padding = data[i + 1], int.from_bytes(data[i + 4:i + 6], "big"), data[i + 6]
        records.append((kind, data[i + 8:i + 8 + length]))
        i += 8 + length + padding
    return records


def record_end(data: bytes, limit: int) -> int:
    """The offset of the last record boundary of `data` at or before `limit`."""
    end = i = 0
    while i < len(data) and (i := i + 8 + int.from_bytes(data[i + 4:i + 6], "big") + data[i + 6]) <= limit:
        end = i
    return end


def stdout_of(data: bytes) -> bytes:
    return b"".join(content for kind, content in records_of(data) if kind == 6)


def ends_of(data: bytes) -> int:
    """How many END_REQUEST records `data` holds."""
    return sum(kind == 3 for kind, _ in records_of(data))


STREAMED = b"s" * (100 << 10)  # above the 64 KiB kept before a body is streamed: the head goes with it


def serve_one(app) -> tuple[bool, int, bytes]:
    """(connection kept, status, body) of one GET served by `app`."""
    with Served(app) as served:
        keep, out = served.run(encode_request("/", keep_conn=True))
    status, _, body = parse_cgi(stdout_of(out))
    assert ends_of(out) == 1
    return keep, status, body
