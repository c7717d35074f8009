"""One connection from the web server: its socket, its FastCGI state, the bytes in and out.

The socket is blocking and every call passes MSG_DONTWAIT: the fast path (the bytes are there,
the buffer has room) is one system call. Python's timeout mode would poll before every recv and
send; here `poll` runs only on the slow path, bounded by the read timeout.
"""

from __future__ import annotations

import select
import socket

from nagare import fastcgi

_CHUNK = 65536  # bytes asked of each recv: a whole request of a web server, most of the time


class ClientGone(OSError):
    """The web server aborted the request or closed the connection while the body was read."""


def _wait(sock: socket.socket, events: int, timeout: float) -> bool:
    """Wait until `sock` is ready for `events` (select.POLLIN, POLLOUT); False after `timeout`."""
    poller = select.poll()
    poller.register(sock, events)
    return bool(poller.poll(timeout * 1000))


class Channel:
    """A connection: `sock`, the protocol state `fcgi` and the `peer` address ("" for Unix sockets).

    `read_timeout`: the seconds the web server may stall in the middle of a request, reading or
    writing, before the connection is given up.
    """

    __slots__ = ("sock", "fcgi", "peer", "read_timeout")

    def __init__(self, sock: socket.socket, peer: str, read_timeout: float) -> None:
        self.sock = sock
        self.fcgi = fastcgi.Connection()
        self.peer = peer
        self.read_timeout = read_timeout

    def receive(self, timeout: float | None = None) -> bool:
        """Bytes from the web server into the protocol; False if none came within `timeout`.

        Without `timeout` the web server is in the middle of a request: a stall longer than the
        read timeout is a ProtocolError.
        """
        sock = self.sock
        while True:
            try:
                data = sock.recv(_CHUNK, socket.MSG_DONTWAIT)
                break
            except BlockingIOError:
                if not _wait(sock, select.POLLIN, self.read_timeout if timeout is None else timeout):
                    if timeout is not None:
                        return False
                    raise fastcgi.ProtocolError(f"the web server stalled for {self.read_timeout:g}s in the middle of a request") from None
        self.fcgi.receive_data(data)
        return True

    def send(self, data: bytes) -> None:
        """All of `data` to the web server; TimeoutError if it reads nothing for the read timeout."""
        sock = self.sock
        try:
            sent = sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return
        view = memoryview(data)[sent:]
        while view:  # the web server reads slower than we write: wait for it
            if not _wait(sock, select.POLLOUT, self.read_timeout):
                raise TimeoutError(f"the web server read nothing for {self.read_timeout:g}s")
            try:
                view = view[sock.send(view, socket.MSG_DONTWAIT):]
            except BlockingIOError:
                pass

    def body_chunk(self) -> bytes:
        """The next chunk of the active request's body; b"" at its end.

        ClientGone if the web server aborts the request or closes the connection instead.
        """
        fcgi = self.fcgi
        while True:
            event = fcgi.next_event()
            if event is fastcgi.NEED_DATA:
                self.receive()
                continue
            kind = type(event)
            if kind is fastcgi.Stdin:
                return event.data  # type: ignore[union-attr]
            if kind is fastcgi.StdinEnd:
                return b""
            if kind is fastcgi.Aborted or kind is fastcgi.Closed:
                raise ClientGone("the web server aborted the request")
