"""The FastCGI publisher: a pre-forked pool of workers behind Apache, Nginx or Lighttpd.

This package owns the sockets and the WSGI glue; the protocol is `nagare.fastcgi` (no I/O), the
process manager `nagare.server` (master, policy, worker, scoreboard). A request goes through
`sockets` (listened on, accepted by a worker), `channel` (its bytes in and out), `request` (the
WSGI environ and body), `response` (start_response and the records out); `handler` drives them
for the worker.
"""

from __future__ import annotations

import logging
import os
import resource
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any

from nagare.config.rules import at_most
from nagare.config.settings import Setting, boolean, integer, number, octal, string, string_list
from nagare.config.values import Values
from nagare.errors import NagareError
from nagare.publishers import base
from nagare.server import handover
from nagare.server.master import CHECK, Master
from nagare.server.policy import PoolSettings
from nagare.server.scoreboard import Scoreboard
from nagare.server.sharing import Shared, Sharing, descriptor_base
from nagare.server.status import Address
from nagare.server.worker import Worker
from nagare.wsgi.access import AccessLog
from nagare.wsgi.loader import LoadedApp

from .handler import Handler
from .sockets import describe, listen_status, listen_tcp, listen_unix, no_delay, unlink

__all__ = ["Publisher"]

log = logging.getLogger("nagare.publisher")


def _umask(value: Any) -> int | None:
    """An octal umask (`022`, `0o22`); empty: the umask of the process."""
    return None if str(value).strip() == "" else octal(value)


_umask.__doc__ = "an octal number such as 022 or 0o22; empty: the process umask"


def _status_address(value: Any) -> Address | None:
    """host:port or the path of a Unix socket; empty: no status endpoint."""
    text = str(value).strip()
    return Address.parse(text) if text else None


class FastCGISettings(Values):
    """The `[publisher]` section of `type = fastcgi`."""

    type: str
    host: str
    port: int
    socket: str
    umask: int | None
    allowed_servers: tuple[str, ...]
    backlog: int
    minSpare: int
    maxSpare: int
    maxChildren: int
    maxRequests: int
    max_memory: int
    idle_timeout: float
    request_timeout: float
    graceful_timeout: float
    read_timeout: float
    slow_request_time: float
    status: Address | None
    access_log: bool


class Publisher(base.Publisher):
    """Serves the applications with a pool of pre-forked workers, from the web server's FastCGI requests."""

    SETTINGS = base.Publisher.SETTINGS.extend(
        [
            Setting("host", string, "127.0.0.1", "address to listen on"),
            Setting("port", integer(0, 65535), 9000, "TCP port to listen on (0: any free port)"),
            Setting("socket", string, "", "path of a Unix socket to listen on instead of host and port"),
            Setting("umask", _umask, None, "umask applied when the Unix socket is created (octal); empty: the process umask"),
            Setting("allowed_servers", string_list, [], "addresses of the web servers allowed to connect (empty: any; also $FCGI_WEB_SERVER_ADDRS)"),
            Setting("backlog", integer(1), 1024, "connections the kernel queues while every worker is busy"),
            Setting("minSpare", integer(0), 1, "more workers are forked when fewer are idle"),
            Setting("maxSpare", integer(1), 5, "workers forked at start; idle workers above it are retired"),
            Setting("maxChildren", integer(1, 10000), 50, "most workers at once"),
            Setting("maxRequests", integer(0), 0, "a worker is replaced after about this many requests (up to 10% more, so that they do not all restart at once); 0: never"),
            Setting("max_memory", integer(0), 0, "a worker is replaced after a request that leaves it above this resident memory, in MB; 0: never"),
            Setting("idle_timeout", number(0), 10.0, "seconds an idle worker above maxSpare is kept before it is retired"),
            Setting("request_timeout", number(0), 60.0, "seconds a request may run: then the worker logs its stack and is killed (nginx gives up after 60s); 0: no limit"),
            Setting("graceful_timeout", number(0), 30.0, "seconds the requests in flight may take to finish when the server stops or reloads"),
            Setting("read_timeout", number(0.1), 30.0, "seconds a web server may stall in the middle of a request before its connection is closed"),
            Setting("slow_request_time", number(0), 5.0, "requests longer than this are counted as slow in the status; 0: none"),
            Setting("status", _status_address, None, "address of the status endpoint (HTTP: host:port or a Unix socket path); empty: none"),
            Setting("access_log", boolean, False, "log each request (logger nagare.access); the web server usually does"),
        ],
        # checked with the file, so a reload with inconsistent sizes is refused by its check
        rules=[at_most("minSpare", "maxSpare"), at_most("maxSpare", "maxChildren")],
        values_class=FastCGISettings,
    )
    settings: FastCGISettings
    multiprocess = True
    serves_static = False

    def serve(self, apps: Sequence[LoadedApp]) -> None:
        """Serve `apps` until the master stops (or, in a reload's check, return once they loaded)."""
        s = self.settings
        if os.environ.get(CHECK):  # a reload's check: the configuration and applications loaded
            return
        app: Any = self.dispatcher(apps)
        if s.access_log:
            app = AccessLog(app)
        inherited = handover.take()
        if inherited is not None:
            listener, handoff, status, old_workers = inherited.listener, inherited.handoff, inherited.status, inherited.workers
            wanted = s.socket or f"{s.host}:{s.port}"
            if describe(listener) not in (wanted, f"unix:{wanted}"):
                log.warning("reload: still listening on %s, not on %s: a new address needs a restart", describe(listener), wanted)
        else:
            listener = self.listen()
            handoff = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            status = listen_status(s.status, s.umask) if s.status is not None else None
            old_workers = ()
        for sock in (listener, *handoff):
            sock.setblocking(False)
        no_delay(listener)
        sharing = self.sharing(inherited.sharing if inherited is not None else "", handoff[0], listener)
        allowed = set(s.allowed_servers) | set(string_list(os.environ.get("FCGI_WEB_SERVER_ADDRS", "")))
        pool = PoolSettings(
            min_spare=s.minSpare, max_spare=s.maxSpare, max_children=s.maxChildren,
            idle_timeout=s.idle_timeout, request_timeout=s.request_timeout,
            heartbeat_timeout=max(30.0, s.request_timeout),
        )

        def run_worker(index: int, scoreboard: Scoreboard, master: int, shared: Shared) -> int:
            handler = Handler(app, s.read_timeout, allowed)
            worker = Worker(
                listener, shared, scoreboard.writer(index, os.getpid(), time.monotonic()), handler,
                master=master, max_requests=s.maxRequests, max_memory=s.max_memory << 20, slow_after=s.slow_request_time,
            )
            return worker.run()

        names = ", ".join(f"/{a.name}/" for a in apps)
        log.info(
            "serving %s over FastCGI on %s (pid %d, %d workers, up to %d)",
            names, describe(listener), os.getpid(), max(s.maxSpare, 1), s.maxChildren,
        )
        if status is not None:
            log.info("status at %s", describe(status, "http"))
        sys.stderr.flush()
        master = Master(
            listener, handoff, run_worker, pool, name=",".join(a.name for a in apps),
            graceful_timeout=s.graceful_timeout, status=status, backlog=s.backlog, old_workers=old_workers,
            sharing=sharing,
        )
        exit_status = master.run()
        # the files of the sockets listened on (after a reload, those of the first start)
        listened = [listener] if status is None else [listener, status]
        for sock in listened:
            if sock.family == socket.AF_UNIX:
                unlink(sock.getsockname())
        for sock in (*listened, *handoff):
            sock.close()
        if exit_status:
            raise NagareError("stopped: the workers fail at start (see the errors above)")
        log.info("stopped")

    @staticmethod
    def sharing(inherited: str, inbox: socket.socket, listener: socket.socket) -> Sharing:
        """The pool's sharing of kept-alive connections: the previous image's after a reload."""
        if inherited:
            try:
                return Sharing.decode(inherited, inbox, listener)
            except (ValueError, OSError) as exc:
                raise NagareError(f"reload: the kept-alive connections cannot be taken over: {exc}") from None
        base = descriptor_base()
        if base is None:
            log.warning(
                "kept-alive connections are closed after each request: the open files limit (ulimit -n %d) "
                "leaves no room to share them with the pool", resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            )
        return Sharing(inbox, listener, base)

    def listen(self) -> socket.socket:
        """The FastCGI socket of a first start: the Unix socket if set, else host and port."""
        s = self.settings
        if s.socket:
            return listen_unix(s.socket, s.umask, s.backlog)
        # TCP_DEFER_ACCEPT for up to read_timeout: a web server that connects writes at once
        return listen_tcp(s.host, s.port, s.backlog, s.read_timeout)
