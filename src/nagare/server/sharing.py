"""Kept-alive connections shared by the whole pool: whichever worker is idle serves the next request.

With nginx's `fastcgi_keep_conn on`, the web server keeps its connections open between requests
and sends the next request of any client on any of them. A connection owned by one worker makes
that request wait whenever its worker is busy, while others are idle: the latency tail of a
pre-fork pool behind upstream keepalive. Here no worker owns a kept-alive connection: every
process of the pool has it, at the same file descriptor number, and one epoll instance shared by
the pool (made by the master before the first fork) watches it with EPOLLONESHOT: the kernel
gives its next request to exactly one waiting worker, which serves it and re-arms it. No file
descriptor moves at each request and no other process is in the way: it costs one `epoll_ctl`.
The listening socket is in the same instance, one-shot too (re-armed by the worker that
accepted), so new connections and kept ones wait in one queue for whichever worker is idle.

The numbers are the master's. A worker that accepted a connection the web server keeps sends it
to the master (on the workers' end of the hand-off socket pair: SHARE). The master moves it to
the lowest free descriptor at or above `base` (a range no process uses for anything else),
sends it to every worker on the worker's own channel (NEW: each puts it at that number with
dup2), and only then registers it in the shared epoll: a worker woken for it has it in its
channel already. Workers forked later inherit the master's descriptors at their numbers. A
connection ends with a shutdown by the worker that finds it over (the web server sees the end at
once, whatever copies remain), which tells the master (CLOSE): the master closes its copy, and
its number can be given to a new connection. The workers' copies of a closed connection are
never woken again (its one-shot event was taken by the worker that closed it); each is replaced
when its number is given again, the NEW messages coming in order. A worker reads its channel
before it serves a shared connection, so the numbers it holds are then the master's. A worker whose channel is full (stuck for a long time while many connections
came and went) is cut off: its channel is closed, it reads the end of it, gives back the
connection it was woken for (REARM) and stops; a new worker takes its place.
"""

from __future__ import annotations

import array
import errno
import fcntl
import logging
import os
import resource
import select
import socket
import struct
from collections.abc import Callable

log = logging.getLogger("nagare.publisher")

# worker -> master: share, close, re-arm; master -> worker: new
SHARE, NEW, CLOSE, REARM = b"s", b"n", b"x", b"r"
_MESSAGE = struct.Struct("=ci")  # kind, descriptor number
ARMED = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLONESHOT
LISTENING = select.EPOLLIN | select.EPOLLONESHOT
LOWEST_BASE = 1024  # below, the numbers of an ordinary process's own files
MOST_FILES = 1 << 20  # the soft limit of open files is raised to the hard one, up to this
_FD_SIZE = array.array("i").itemsize


class Desynced(Exception):
    """The master cut this worker off: it missed messages, its numbers may be wrong."""


def descriptor_base() -> int | None:
    """The first number of the range kept for shared connections: the upper half of the open
    files limit, raised to its hard limit first. None if the limit leaves no room (sharing off)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MOST_FILES if hard == resource.RLIM_INFINITY else min(hard, MOST_FILES)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    base = soft // 2
    return base if base >= LOWEST_BASE else None


def send(sock: socket.socket, kind: bytes, number: int, fd: int | None = None) -> None:
    """One message, without waiting: `kind`, a descriptor `number`, the descriptor `fd` if given."""
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))] if fd is not None else []
    sock.sendmsg([_MESSAGE.pack(kind, number)], ancillary, socket.MSG_DONTWAIT)


def receive(sock: socket.socket) -> tuple[bytes, int, int | None] | None:
    """The next message on `sock` (kind, number, descriptor), None if none is queued.

    Desynced once the other end is closed.
    """
    try:
        data, ancillary, _, _ = sock.recvmsg(_MESSAGE.size, socket.CMSG_SPACE(_FD_SIZE), socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return None
    fd = None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS and len(payload) >= _FD_SIZE:
            fd = array.array("i", payload[:_FD_SIZE])[0]
    if not data:
        raise Desynced("the master closed the channel")
    while len(data) < _MESSAGE.size:  # a stream: the rest of a message written whole
        more = sock.recv(_MESSAGE.size - len(data))
        if not more:
            raise Desynced("the master closed the channel")
        data += more
    message_kind, number = _MESSAGE.unpack(data)
    return message_kind, number, fd


class Sharing:
    """The master's side: the shared epoll, the shared connections and the workers' channels.

    `inbox`: the master's end of the hand-off socket pair (the workers write on the other end);
    `base`: the first number of the shared range (None: nothing is shared, kept-alive connections
    are closed after their request).
    """

    def __init__(
        self, inbox: socket.socket, listener: socket.socket, base: int | None, epoll: select.epoll | None = None,
        conns: set[int] | None = None, channels: dict[int, socket.socket] | None = None,
    ) -> None:
        self.inbox = inbox
        self.listener = listener.fileno()
        self.base = base
        self.conns = conns if conns is not None else set()
        self.channels = channels if channels is not None else {}  # worker pid -> the master's end
        if epoll is None:
            epoll = select.epoll()
            epoll.register(self.listener, LISTENING)
        self.epoll = epoll

    # -- the pool's lifecycle ----------------------------------------------------------------

    def channel(self) -> tuple[socket.socket, socket.socket] | None:
        """A new worker's channel (the master's end, the worker's end), made before its fork."""
        return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) if self.base is not None else None

    def forked(self, pid: int, ends: tuple[socket.socket, socket.socket] | None) -> None:
        """In the master after a fork: keep our end of the new worker's channel."""
        if ends is not None:
            ends[1].close()
            self.channels[pid] = ends[0]

    def in_child(self, ends: tuple[socket.socket, socket.socket] | None) -> None:
        """In a new worker: the channels are the master's, but the worker's own end."""
        for sock in self.channels.values():
            sock.close()
        self.channels.clear()
        if ends is not None:
            ends[0].close()

    def gone(self, pid: int, conn: int) -> None:
        """Worker `pid` exited; `conn` (0: none) is the shared connection it was serving if it died
        in the middle of a request: the web server must see that connection end."""
        channel = self.channels.pop(pid, None)
        if channel is not None:
            channel.close()
        if conn in self.conns:
            _shutdown(conn)
            self._close(conn)
        # killed between its accept() and the re-arming, it would leave nobody accepting
        self.epoll.modify(self.listener, LISTENING)

    # -- messages ----------------------------------------------------------------------------

    def fileno(self) -> int:
        return self.inbox.fileno()

    def handle(self) -> None:
        """The workers' messages: connections to share, connections closed or given back."""
        while True:
            try:
                message = receive(self.inbox)
            except Desynced:  # every worker end closed: nothing more to read now
                return
            if message is None:
                return
            kind, number, fd = message
            if kind == SHARE and fd is not None:
                self._share(fd)
            elif fd is not None:
                os.close(fd)
            elif kind == CLOSE and number in self.conns:
                self._close(number)
            elif kind == REARM and number in self.conns:
                self.epoll.modify(number, ARMED)

    def _share(self, fd: int) -> None:
        if self.base is None:
            os.close(fd)
            return
        try:
            number = fcntl.fcntl(fd, fcntl.F_DUPFD, self.base)
        except OSError as exc:  # the range is full: the web server sees this one close
            log.warning("kept-alive connection closed: no descriptor left to share it (%s)", exc.strerror or exc)
            os.close(fd)
            return
        os.close(fd)
        os.set_inheritable(number, True)  # at the same number in the workers forked from now on
        self.conns.add(number)
        self._tell(NEW, number, number)
        self.epoll.register(number, ARMED)

    def _close(self, number: int) -> None:
        self.conns.discard(number)
        os.close(number)

    def _tell(self, kind: bytes, number: int, fd: int | None = None) -> None:
        for pid, channel in list(self.channels.items()):
            try:
                send(channel, kind, number, fd)
            except OSError as exc:  # full: it missed this, its numbers can no longer be trusted
                log.warning("worker %d is replaced: it fell behind the kept-alive connections (%s)", pid, exc.strerror or exc)
                del self.channels[pid]
                channel.close()

    # -- reload, stop ------------------------------------------------------------------------

    def encode(self) -> str:
        """What the next master image needs (for the hand-over); made inheritable (exec)."""
        os.set_inheritable(self.epoll.fileno(), True)
        for number in self.conns:
            os.set_inheritable(number, True)
        for sock in self.channels.values():
            sock.set_inheritable(True)
        conns = ",".join(map(str, sorted(self.conns)))
        channels = ",".join(f"{pid}={sock.fileno()}" for pid, sock in self.channels.items())
        return f"{self.epoll.fileno()}/{'' if self.base is None else self.base}/{conns}/{channels}"

    @classmethod
    def decode(cls, text: str, inbox: socket.socket, listener: socket.socket) -> "Sharing":
        """The sharing of the previous master image; ValueError or OSError if `text` is not one."""
        epoll_text, base_text, conns_text, channels_text = text.split("/")
        epoll = select.epoll.fromfd(int(epoll_text))
        os.set_inheritable(epoll.fileno(), False)
        channels = {}
        for item in filter(None, channels_text.split(",")):
            pid, _, fd = item.partition("=")
            channels[int(pid)] = sock = socket.socket(fileno=int(fd))
            sock.set_inheritable(False)
        conns = {int(n) for n in conns_text.split(",") if n}
        return cls(inbox, listener, int(base_text) if base_text else None, epoll, conns, channels)

    def close(self) -> None:
        for number in self.conns:
            _close_fd(number)
        self.conns.clear()
        for sock in self.channels.values():
            sock.close()
        self.channels.clear()
        self.epoll.close()


class Shared:
    """A worker's side: its channel from the master (None: sharing is off), the workers' end of
    the hand-off pair (`outbox`), and the numbers of the shared connections it holds."""

    def __init__(self, epoll: select.epoll, channel: socket.socket | None, outbox: socket.socket, conns: set[int]) -> None:
        self.epoll = epoll
        self.channel = channel
        self.outbox = outbox
        self.conns = conns

    def read(self, replaced: Callable[[int], None]) -> None:
        """Apply the master's messages; `replaced(number)` is called before a number changes.

        Desynced if the master cut this worker off.
        """
        channel = self.channel
        if channel is None:
            return
        while (message := receive(channel)) is not None:
            kind, number, fd = message
            if kind == NEW and fd is not None:
                replaced(number)
                if fd != number:
                    os.dup2(fd, number, inheritable=False)
                    os.close(fd)
                self.conns.add(number)
            elif fd is not None:
                os.close(fd)

    def share(self, fd: int) -> None:
        """Give the idle connection `fd` (the web server keeps it) to the pool; the caller closes
        its own copy either way (not shared: the web server sees it close)."""
        if self.channel is None:
            return
        try:
            send(self.outbox, SHARE, 0, fd)
        except OSError as exc:
            log.warning("kept-alive connection closed instead of shared: %s", exc.strerror or exc)

    def closed(self, number: int) -> None:
        """The shared connection `number` ends: the web server sees it at once, the pool through
        the master (the caller closes the descriptor)."""
        _shutdown(number)
        self.conns.discard(number)
        self._tell(CLOSE, number)

    def give_back(self, number: int) -> None:
        """Woken for `number` but unable to serve it: the master re-arms it for another worker."""
        self._tell(REARM, number)

    def rearm(self, number: int) -> None:
        """Served, idle again: the next request on it goes to whichever worker is idle."""
        self.epoll.modify(number, ARMED)

    def _tell(self, kind: bytes, number: int) -> None:
        try:
            send(self.outbox, kind, number)
        except OSError as exc:
            log.warning("the master was not told of connection %d: %s", number, exc.strerror or exc)


def _shutdown(fd: int) -> None:
    """End the connection for every process holding it (a close() drops only one copy)."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.detach()


def _close_fd(fd: int) -> None:
    try:
        os.close(fd)
    except OSError as exc:
        if exc.errno != errno.EBADF:
            raise
