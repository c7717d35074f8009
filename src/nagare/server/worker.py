"""A worker: a forked process that accepts connections and serves their requests one at a time.

A worker waits on the pool's shared epoll (`nagare.server.sharing`), one event at a time: the
listening socket or a kept-alive connection with a request. Both are one-shot: the kernel gives
each event to one waiting worker — never to a busy one — and the worker re-arms it (the
listening socket right after its accept, a connection once its request is answered). A
connection it accepts is served at once (its request is usually there already:
TCP_DEFER_ACCEPT); if the web server keeps it (nginx's `fastcgi_keep_conn on`) it becomes the
pool's, and its next request goes to whichever worker is idle: none waits behind a busy worker,
the defect that gives a pre-fork pool a latency tail behind upstream keepalive. Since no worker
holds a connection of its own between requests, a worker that stops (recycled, retired,
reloaded) takes none with it.
"""

from __future__ import annotations

import atexit
import ctypes
import faulthandler
import logging
import os
import random
import resource
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, Generic, Protocol, TypeVar

from nagare.server.policy import State
from nagare.server.scoreboard import SlotWriter
from nagare.server.sharing import LISTENING, Desynced, Shared

log = logging.getLogger("nagare.publisher")

ACCEPT_BATCH = 64  # connections accepted at once into the shared queue (see Worker._queue_accepted)
POLL = 0.2  # seconds the shared epoll is waited on at most: a signal is acted upon within it
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
        """The state of a new connection (`address`: as accept() gives it, None for a shared one),
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
    """The loop of one worker: `shared` is its side of the pool's shared epoll (nagare.server.sharing)."""

    def __init__(
        self,
        listener: socket.socket,
        shared: Shared,
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
        self.shared = shared
        self.slot = slot
        self.handler = handler
        self.master = os.getppid() if master is None else master
        # jitter: workers started together are not all recycled at the same moment
        self.max_requests = max_requests + random.randint(0, max_requests // 10) if max_requests else 0
        self.max_memory = max_memory
        self.report = Report(slot, slow_after)
        self.conns: dict[int, Conn] = {}  # the protocol state of the shared connections served here
        self.stopping = False
        self.reopen_logs = False

    # -- signals: recorded here, acted upon by the loop ------------------------------------------

    def _install_signals(self) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            self.stopping = True

        def reopen(signum: int, frame: FrameType | None) -> None:
            self.reopen_logs = True

        # The handlers only record: the shared epoll's wait is retried after them and ends
        # within POLL (an exception out of it could lose the one-shot event it had just taken)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGQUIT, lambda signum, frame: os._exit(0))
        # Ctrl-C reaches the whole process group: the master decides, the request in flight ends
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGUSR1, reopen)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        faulthandler.register(STUCK_SIGNAL, all_threads=True)
        _stop_with_parent()

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> int:
        self._install_signals()
        epoll, listen_fd = self.shared.epoll, self.listener.fileno()
        slot = self.slot
        slot.state = State.IDLE
        slot.rss = rss()
        slot.write()
        last_check = time.monotonic()
        master = self.master
        if os.getppid() != master:  # it died before the kernel was told to signal us
            self.stopping = True
        try:
            while not self.stopping:
                # one event at a time: an event taken is a request this worker serves next
                for fd, events in epoll.poll(POLL, 1):
                    if fd == listen_fd:
                        self._accept()
                    else:
                        self._serve_shared(fd)
                now = time.monotonic()
                if self.max_memory:
                    slot.rss = rss()
                if now - last_check >= 1.0:
                    last_check = now
                    slot.rss = rss()
                    slot.heartbeat = now
                    slot.write()
                    self.shared.read(self._replaced)  # the numbers of the new connections
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
        except Desynced:
            log.warning("worker %d stops: it fell behind the kept-alive connections", slot.pid)
        slot.state = State.STOPPING
        slot.write()
        # closed now: after a killed master, the next one (supervisor's autorestart) can bind
        self.listener.close()
        return 0

    def _accept(self) -> None:
        try:
            fd, address = _accept(self.listener)
        except (BlockingIOError, InterruptedError):
            return  # another worker took it
        except OSError as exc:  # EMFILE and the like: the pool lives on
            log.warning("accept failed: %s", exc)
            return
        finally:
            # re-armed before serving: the next connection goes to another idle worker
            self.shared.epoll.modify(self.listener.fileno(), LISTENING)
        sock = socket.socket(self.family, self.kind, 0, fd)
        self.slot.accepted += 1
        conn = self.handler.new(sock, address)
        if conn is None:
            sock.close()
            return
        if self.shared.conns:
            self._queue_accepted()
        if self.handler.serve(conn, self.report, True) and self.handler.clean(conn):
            self.shared.share(fd)  # kept by the web server: the pool's now (or closed, if it cannot be)
        sock.close()

    def _queue_accepted(self) -> None:
        """The other connections waiting to be accepted go to the shared epoll's queue.

        With kept-alive connections in the shared epoll, the listening socket is one event among
        theirs: accepted one per turn, new connections would wait a whole turn each, their first
        requests behind all the kept ones (when nginx opens more connections than it keeps, or
        at start). Accepted here and shared, each waits for its turn in arrival order.
        """
        for _ in range(ACCEPT_BATCH):
            try:
                fd, address = _accept(self.listener)
            except OSError:  # none left (or EMFILE: the next accept says it)
                return
            sock = socket.socket(self.family, self.kind, 0, fd)
            self.slot.accepted += 1
            if self.handler.new(sock, address) is not None:  # allowed: shared, served by any worker
                self.shared.share(fd)
            sock.close()

    def _serve_shared(self, number: int) -> None:
        """Serve the request that came on shared connection `number` (the event is ours alone)."""
        shared = self.shared
        try:
            shared.read(self._replaced)
        except Desynced:
            shared.give_back(number)
            raise
        if number not in shared.conns:  # cannot happen: the master tells before it registers
            log.warning("woken for an unknown connection %d: given back", number)
            shared.give_back(number)
            return
        conn = self.conns.get(number)
        if conn is None:
            conn = self.handler.new(socket.socket(fileno=number), None)
            if conn is None:
                shared.give_back(number)
                return
            self.conns[number] = conn
        self.slot.conn = number  # if this worker dies in the request, the master ends it
        try:
            keep = self.handler.serve(conn, self.report)
        finally:
            self.slot.conn = 0
        if keep and self.handler.clean(conn):
            shared.rearm(number)
        else:
            del self.conns[number]
            shared.closed(number)
            self.handler.socket(conn).close()

    def _replaced(self, number: int) -> None:
        """The master gives `number` to another connection: the state kept for it is stale."""
        conn = self.conns.pop(number, None)
        if conn is not None:
            self.handler.socket(conn).detach()  # the descriptor is replaced, not closed here


def _stop_with_parent() -> None:
    """Have the kernel send us SIGTERM when the master dies (Linux prctl PR_SET_PDEATHSIG).

    The loop also checks its parent pid every second: this is only the faster path.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
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
