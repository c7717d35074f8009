"""A worker: a forked process that accepts connections and serves their requests one at a time.

A worker waits in one `epoll` on three things: the listening socket, the hand-off socket (kept-alive
connections with a request waiting, queued by the master) and the idle connection it holds. A
connection it accepts is served at once (its request is usually there already: TCP_DEFER_ACCEPT)
and held only if the web server keeps it open. Before it serves a request, a worker parks the
other idle connections it holds with the master (`nagare.server.parking`), which queues them
for the next idle worker once their next request comes: an idle kept-alive connection (nginx's
`fastcgi_keep_conn on`) never waits behind a busy worker — the defect that gives a pre-fork pool
a latency tail behind upstream keepalive. A worker that stops (recycled, retired, reloaded) parks
its connections too, so the front server's kept-alive connections survive it.

The listening and hand-off sockets are registered with EPOLLEXCLUSIVE: the kernel wakes one
waiting worker per event, not the whole pool (and a busy worker, not waiting, is not woken).
"""

from __future__ import annotations

import atexit
import ctypes
import faulthandler
import logging
import os
import random
import resource
import select
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, Generic, Protocol, TypeVar

from nagare.server.parking import receive_fds, send_fds
from nagare.server.policy import State
from nagare.server.scoreboard import SlotWriter

log = logging.getLogger("nagare.publisher")

STUCK_SIGNAL = signal.SIGUSR2  # "log your stack": faulthandler writes it to stderr at once
_PAGE = resource.getpagesize()
# socket.accept() converts family and type to enums on every call: measurable. The private
# method it wraps gives the file descriptor and the address (Any, as typeshed has addresses).
_accept: Callable[[socket.socket], tuple[int, Any]] = getattr(socket.socket, "_accept")

Conn = TypeVar("Conn")  # the protocol side's state of one connection


class Report:
    """What the handler tells the scoreboard of the request it serves."""

    __slots__ = ("slot", "slow_after", "started", "served")

    def __init__(self, slot: SlotWriter, slow_after: float) -> None:
        self.slot = slot
        self.slow_after = slow_after
        self.started = 0.0
        self.served = 0

    def start(self, method: bytes, uri: bytes) -> None:
        slot = self.slot
        self.started = slot.since = slot.heartbeat = time.monotonic()
        slot.state = State.BUSY
        slot.method = method
        slot.uri = uri
        slot.write()

    def end(self) -> None:
        slot = self.slot
        now = slot.since = slot.heartbeat = time.monotonic()
        slot.last_duration = duration = now - self.started
        if self.slow_after and duration > self.slow_after:
            slot.slow += 1
        slot.requests += 1
        self.served += 1
        slot.state = State.IDLE
        slot.write()


class Handler(Protocol[Conn]):
    """The protocol side (FastCGI): what to do with a connection that has bytes to read."""

    def new(self, sock: socket.socket, address: Any) -> Conn | None:
        """The state of a new connection (`address`: as accept() gives it, None if handed over),
        or None to refuse it (closed at once)."""

    def serve(self, conn: Conn, report: Report, fresh: bool = False) -> bool:
        """Serve what `conn` brings; False: close it. `fresh`: just accepted, maybe nothing to read yet."""

    def clean(self, conn: Conn) -> bool:
        """Idle at a record boundary with nothing buffered: another worker can take it over."""

    def socket(self, conn: Conn) -> socket.socket: ...


def rss() -> int:
    """Resident memory of this process in bytes (Linux)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class Worker(Generic[Conn]):
    def __init__(
        self,
        listener: socket.socket,
        handoff: tuple[socket.socket, socket.socket],
        slot: SlotWriter,
        handler: Handler[Conn],
        *,
        master: int | None = None,
        max_requests: int = 0,
        max_memory: int = 0,
        slow_after: float = 0.0,
    ) -> None:
        self.listener = listener
        self.family, self.kind = listener.family, listener.type
        self.handoff_send, self.handoff_receive = handoff
        self.slot = slot
        self.handler = handler
        self.master = os.getppid() if master is None else master
        # jitter: workers started together are not all recycled at the same moment
        self.max_requests = max_requests + random.randint(0, max_requests // 10) if max_requests else 0
        self.max_memory = max_memory
        self.report = Report(slot, slow_after)
        self.conns: dict[int, Conn] = {}
        self.stopping = False
        self.reopen_logs = False
        self.epoll: select.epoll | None = None

    # -- signals: recorded here, acted upon by the loop ------------------------------------------

    def _install_signals(self) -> tuple[int, int]:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)

        def stop(signum: int, frame: FrameType | None) -> None:
            self.stopping = True

        def reopen(signum: int, frame: FrameType | None) -> None:
            self.reopen_logs = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGQUIT, lambda signum, frame: os._exit(0))
        # Ctrl-C reaches the whole process group: the master decides, the request in flight ends
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGUSR1, reopen)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        faulthandler.register(STUCK_SIGNAL, all_threads=True)
        _stop_with_parent()
        return wake_r, wake_w

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> int:
        wake_r, _ = self._install_signals()
        epoll = self.epoll = select.epoll()
        listen_fd, handoff_fd = self.listener.fileno(), self.handoff_receive.fileno()
        epoll.register(listen_fd, select.EPOLLIN | select.EPOLLEXCLUSIVE)
        epoll.register(handoff_fd, select.EPOLLIN | select.EPOLLEXCLUSIVE)
        epoll.register(wake_r, select.EPOLLIN)
        slot = self.slot
        slot.state = State.IDLE
        slot.rss = rss()
        slot.write()
        last_check = time.monotonic()
        master = self.master
        if os.getppid() != master:  # it died before the kernel was told to signal us
            self.stopping = True
        while not self.stopping:
            events = epoll.poll(1.0)
            served = self.report.served
            for fd, _ in events:
                if fd == listen_fd:
                    self._accept()
                elif fd == handoff_fd:
                    self._take_over()
                elif fd == wake_r:
                    drain(wake_r)
                elif fd in self.conns:
                    self._serve(fd)
                if self.stopping:
                    break
            now = time.monotonic()
            if self.max_memory and self.report.served != served:
                slot.rss = rss()
            if now - last_check >= 1.0:
                last_check = now
                slot.rss = rss()
                slot.heartbeat = now
                slot.write()
                if os.getppid() != master:  # the master was killed: nobody would stop or replace us
                    log.warning("worker %d stops: its master is gone", slot.pid)
                    break
            if self.reopen_logs:
                self.reopen_logs = False
                reopen_log_files()
            if self.max_requests and slot.requests >= self.max_requests:
                log.info("worker %d recycled after %d requests", slot.pid, slot.requests)
                break
            if self.max_memory and slot.rss > self.max_memory:
                log.info("worker %d recycled: %d MB resident, above %d MB", slot.pid, slot.rss >> 20, self.max_memory >> 20)
                break
        slot.state = State.STOPPING
        slot.write()
        epoll.unregister(listen_fd)
        # closed now: after a killed master, the next one (supervisor's autorestart) can bind
        self.listener.close()
        self._park(keep=None)
        return 0

    def _accept(self) -> None:
        try:
            fd, address = _accept(self.listener)
        except (BlockingIOError, InterruptedError):
            return  # another worker took it
        except OSError as exc:  # EMFILE and the like: the pool lives on
            log.warning("accept failed: %s", exc)
            return
        sock = socket.socket(self.family, self.kind, 0, fd)
        self.slot.accepted += 1
        conn = self.handler.new(sock, address)
        if conn is None:
            sock.close()
            return
        self.conns[fd] = conn
        self._serve(fd, fresh=True)

    def _hold(self, sock: socket.socket, conn: Conn) -> None:
        fd = sock.fileno()
        self.conns[fd] = conn
        assert self.epoll is not None
        self.epoll.register(fd, select.EPOLLIN | select.EPOLLRDHUP)

    def _drop(self, fd: int, held: bool = True) -> None:
        conn = self.conns.pop(fd)
        if held:
            assert self.epoll is not None
            try:
                self.epoll.unregister(fd)
            except (OSError, ValueError):
                pass
        self.handler.socket(conn).close()

    def _serve(self, fd: int, fresh: bool = False) -> None:
        if len(self.conns) > 1:
            self._park(keep=fd)
        conn = self.conns[fd]
        keep = False
        try:
            keep = self.handler.serve(conn, self.report, fresh)
        finally:
            if not keep:
                self._drop(fd, held=not fresh)
            elif fresh:
                assert self.epoll is not None
                self.epoll.register(fd, select.EPOLLIN | select.EPOLLRDHUP)

    def _park(self, keep: int | None) -> None:
        """Park the idle connections held (but `keep`) with the master (see nagare.server.parking).

        Those the master cannot take now a serving worker keeps (they wait for it, as without
        parking); a stopping one closes them, which the web server copes with.
        """
        fds = [fd for fd in self.conns if fd != keep]
        clean = [fd for fd in fds if self.handler.clean(self.conns[fd])]
        sent = send_fds(self.handoff_receive, clean)
        kept = set(clean[sent:]) if keep is not None else set()
        for fd in fds:
            if fd not in kept:
                self._drop(fd)

    def _take_over(self) -> None:
        fds = receive_fds(self.handoff_receive, 1)
        for fd in fds or ():
            sock = socket.socket(fileno=fd)
            conn = self.handler.new(sock, None)
            if conn is None:
                sock.close()
            else:
                self._hold(sock, conn)


def _stop_with_parent() -> None:
    """Have the kernel send us SIGTERM when the master dies (Linux prctl PR_SET_PDEATHSIG).

    The loop also checks its parent pid every second: this is only the faster path.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def drain(fd: int) -> None:
    """Empty the signal wake-up pipe `fd` (non-blocking)."""
    try:
        while os.read(fd, 512):
            pass
    except (BlockingIOError, InterruptedError):
        pass


def reopen_log_files() -> None:
    """Close the log files so that the next record reopens them (after logrotate moved them)."""
    for logger in [logging.getLogger(), *(l for l in logging.Logger.manager.loggerDict.values() if isinstance(l, logging.Logger))]:
        for handler in logger.handlers:
            target = getattr(handler, "handler", handler)  # our BackgroundHandler wraps the real one
            if isinstance(target, logging.FileHandler):
                target.acquire()
                try:
                    if target.stream is not None:
                        target.stream.close()
                        target.stream = None  # reopened by emit()
                finally:
                    target.release()


def exit_worker(status: int) -> None:
    """Leave the forked process without running the master's code above the fork."""
    try:
        atexit._run_exitfuncs()  # our log writer thread flushes its queue there
    finally:
        os._exit(status)
