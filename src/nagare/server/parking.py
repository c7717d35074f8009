"""The master's parking: the idle kept-alive connections of workers that are busy.

With nginx's `fastcgi_keep_conn on`, the web server keeps connections open between requests and
sends the next request of any client on any of them. A connection held by a worker that is busy
with another request would make that request wait for the worker, while others are idle: the
tail of a pre-fork pool behind upstream keepalive. So a worker never holds an idle connection
while it serves: before a request it parks the others here, in the master, which waits for them
to become readable and only then queues them on the hand-off socket, where the next idle worker
takes them (EPOLLEXCLUSIVE: one worker per connection). The queue holds only connections with a
request waiting: it is the pool's shared run queue, as the listening socket's accept queue is for
new connections. A worker keeps the connection it has just served while it is idle: at low load
a connection stays with its worker and no file descriptor moves.

Both directions go through the one hand-off socket pair: a worker writes parked connections on
its receiving end (the master reads them on the sending end), the master writes readable ones
on the sending end (the workers read them on the receiving end).
"""

from __future__ import annotations

import array
import logging
import os
import select
import socket

log = logging.getLogger("nagare.publisher")

BATCH = 64  # connections sent in one message: the receiver's buffer holds as many descriptors
_FD_SIZE = array.array("i").itemsize
_HUNG_UP = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR


def send_fds(sock: socket.socket, fds: list[int]) -> int:
    """Send `fds` over the Unix socket `sock`, BATCH to a message; how many left (all but on an
    error: BlockingIOError when its buffer is full)."""
    for start in range(0, len(fds), BATCH):
        batch = array.array("i", fds[start:start + BATCH])
        try:
            sock.sendmsg([b"p"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, batch)], socket.MSG_DONTWAIT)
        except OSError as exc:
            log.warning("%d connections not parked: %s", len(fds) - start, exc)
            return start
    return len(fds)


def receive_fds(sock: socket.socket, most: int = BATCH) -> list[int] | None:
    """The descriptors of the next message on `sock` (up to `most`); None if nothing is queued.

    One byte a message: on a stream socket a larger read could join two messages and their
    descriptors, beyond the buffer's room (the kernel would close those silently).
    """
    try:
        _, ancillary, flags, _ = sock.recvmsg(1, socket.CMSG_SPACE(most * _FD_SIZE), socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return None
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % _FD_SIZE])
    if flags & socket.MSG_CTRUNC:
        log.warning("hand-off message truncated: connections lost")
    return fds.tolist()


class Parking:
    """The parked connections and the master's end of the hand-off socket pair (`sock`)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.epoll = select.epoll()
        self.epoll.register(sock.fileno(), select.EPOLLIN)
        self.parked: set[int] = set()
        self.pending: list[int] = []  # readable, but the hand-off socket was full: sent next time
        self.forwarded = 0  # connections queued for a worker, for the tests and the curious

    def fileno(self) -> int:
        """Readable when a connection was parked or a parked one is readable (for select)."""
        return self.epoll.fileno()

    def handle(self) -> None:
        """Take the connections parked, queue the readable ones for the workers."""
        if self.pending:
            self._queue([])
        readable = []
        for fd, events in self.epoll.poll(0):
            if fd == self.sock.fileno():
                self._take()
            elif fd in self.parked:
                self.parked.discard(fd)
                self.epoll.unregister(fd)
                if events & _HUNG_UP:  # the web server closed it (or it broke): nothing to serve
                    _close(fd)
                else:
                    readable.append(fd)
        if readable:
            self._queue(readable)

    def _take(self) -> None:
        while (fds := receive_fds(self.sock)) is not None:
            for fd in fds:
                try:
                    self.epoll.register(fd, select.EPOLLIN | select.EPOLLRDHUP)
                except OSError as exc:
                    log.warning("parked connection closed: %s", exc)
                    _close(fd)
                else:
                    self.parked.add(fd)

    def _queue(self, readable: list[int]) -> None:
        """Each connection in a message of its own: each wakes one idle worker."""
        fds = self.pending + readable
        for index, fd in enumerate(fds):
            try:
                self.sock.sendmsg([b"c"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))], socket.MSG_DONTWAIT)
            except BlockingIOError:  # the workers are behind: the rest waits for the next round
                self.pending = fds[index:]
                return
            except OSError as exc:
                log.warning("connection closed instead of handed off: %s", exc)
            _close(fd)
            self.forwarded += 1
        self.pending = []

    def release(self) -> None:
        """Queue every parked connection for the workers (before the master re-executes itself)."""
        self.handle()
        for fd in list(self.parked):
            self.epoll.unregister(fd)
        fds, self.parked = list(self.parked), set()
        self._queue(fds)
        for fd in self.pending:  # nobody would read them: the web server sees them close
            _close(fd)
        self.pending = []

    def close(self) -> None:
        """Close the parked connections (a stopping master; a forked worker drops its copies)."""
        for fd in [*self.parked, *self.pending]:
            _close(fd)
        self.parked.clear()
        self.pending = []
        self.epoll.close()


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
