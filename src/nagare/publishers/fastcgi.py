"""The FastCGI publisher: a pre-forked pool of workers behind Apache, Nginx or Lighttpd.

This module owns the sockets and the WSGI glue; the protocol is `nagare.fastcgi` (no I/O), the
process manager `nagare.server` (master, policy, worker, scoreboard).
"""

from __future__ import annotations

import logging
import os
import select
import socket
import stat
import sys
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from nagare import fastcgi
from nagare.config.settings import Setting, boolean, integer, number, octal, string, string_list
from nagare.errors import NagareError
from nagare.publishers import base
from nagare.server import handover
from nagare.server.master import CHECK, Master
from nagare.server.policy import PoolSettings
from nagare.server.scoreboard import Scoreboard
from nagare.server.status import Address
from nagare.server.worker import Report, Worker
from nagare.wsgi.access import AccessLog
from nagare.wsgi.loader import LoadedApp

log = logging.getLogger("nagare.publisher")


def _umask(value: Any) -> int | None:
    """An octal umask (`022`, `0o22`); empty: the umask of the process."""
    return None if str(value).strip() == "" else octal(value)


_umask.__doc__ = "an octal number such as 022 or 0o22; empty: the process umask"


def _status_address(value: Any) -> Address | None:
    """host:port or the path of a Unix socket; empty: no status endpoint."""
    text = str(value).strip()
    return Address.parse(text) if text else None


class Publisher(base.Publisher):
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
        ]
    )
    multiprocess = True
    serves_static = False

    def serve(self, apps: Sequence[LoadedApp]) -> None:
        s = self.settings
        if not s["minSpare"] <= s["maxSpare"] <= s["maxChildren"]:
            raise NagareError(
                f"[publisher] minSpare ({s['minSpare']}) <= maxSpare ({s['maxSpare']}) <= maxChildren ({s['maxChildren']}) does not hold"
            )
        if os.environ.get(CHECK):  # a reload's check: the configuration and applications loaded
            return
        app: Any = self.dispatcher(apps)
        if s["access_log"]:
            app = AccessLog(app)
        inherited = handover.take()
        if inherited is not None:
            listener, handoff, status, old_workers = inherited.listener, inherited.handoff, inherited.status, inherited.workers
            wanted = s["socket"] or f"{s['host']}:{s['port']}"
            if describe(listener) not in (wanted, f"unix:{wanted}"):
                log.warning("reload: still listening on %s, not on %s: a new address needs a restart", describe(listener), wanted)
        else:
            listener = self.listen()
            handoff = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            status = listen_status(s["status"], s["umask"]) if s["status"] is not None else None
            old_workers = ()
        for sock in (listener, *handoff):
            sock.setblocking(False)
        allowed = set(s["allowed_servers"]) | set(string_list(os.environ.get("FCGI_WEB_SERVER_ADDRS", "")))
        pool = PoolSettings(
            min_spare=s["minSpare"], max_spare=s["maxSpare"], max_children=s["maxChildren"],
            idle_timeout=s["idle_timeout"], request_timeout=s["request_timeout"],
            heartbeat_timeout=max(30.0, s["request_timeout"]),
        )

        def run_worker(index: int, scoreboard: Scoreboard, master: int) -> int:
            handler = Handler(app, s["read_timeout"], allowed)
            worker = Worker(
                listener, handoff, scoreboard.writer(index, os.getpid(), time.monotonic()), handler,
                scoreboard.idle_count, master=master, max_requests=s["maxRequests"], max_memory=s["max_memory"] << 20,
                slow_after=s["slow_request_time"],
            )
            return worker.run()

        names = ", ".join(f"/{a.name}/" for a in apps)
        log.info(
            "serving %s over FastCGI on %s (pid %d, %d workers, up to %d)",
            names, describe(listener), os.getpid(), max(s["maxSpare"], 1), s["maxChildren"],
        )
        if status is not None:
            log.info("status at %s", describe(status, "http"))
        sys.stderr.flush()
        master = Master(
            listener, handoff, run_worker, pool, name=",".join(a.name for a in apps),
            graceful_timeout=s["graceful_timeout"], status=status, backlog=s["backlog"], old_workers=old_workers,
        )
        exit_status = master.run()
        for sock in (listener, *handoff):
            sock.close()
        if s["socket"]:
            _unlink(s["socket"])
        if status is not None:
            if status.family == socket.AF_UNIX:
                _unlink(s["status"].path)
            status.close()
        if exit_status:
            raise NagareError("stopped: the workers fail at start (see the errors above)")
        log.info("stopped")

    def listen(self) -> socket.socket:
        s = self.settings
        if s["socket"]:
            return listen_unix(s["socket"], s["umask"], s["backlog"])
        host, port = s["host"], s["port"]
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
            family, kind, proto, _, address = infos[0]
            sock = socket.socket(family, kind, proto)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(s["backlog"])
            # accept() returns once the request's first bytes are there: a worker that accepts
            # serves at once instead of waiting for them
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, max(1, int(s["read_timeout"])))
        except OSError as exc:
            raise NagareError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        return sock


def listen_unix(path: str, umask: int | None, backlog: int) -> socket.socket:
    """A Unix socket at `path`; a stale socket file (nobody listening) is replaced."""
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise NagareError(f"cannot listen on {path}: the file exists and is not a socket")
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)  # left by a server that died
            else:
                raise NagareError(f"cannot listen on {path}: another server listens on it")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(umask) if umask is not None else None
    try:
        sock.bind(path)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise NagareError(f"cannot listen on {path}: {exc.strerror or exc}") from None
    finally:
        if previous is not None:
            os.umask(previous)
    return sock


def listen_status(address: Address, umask: int | None) -> socket.socket:
    if address.path:
        return listen_unix(address.path, umask, 16)
    try:
        sock = socket.create_server((address.host, address.port), backlog=16)
    except OSError as exc:
        raise NagareError(f"cannot listen on {address.text} for the status: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


def describe(sock: socket.socket, scheme: str = "") -> str:
    address = sock.getsockname()
    if isinstance(address, str):
        return f"unix:{address}"
    text = f"{address[0]}:{address[1]}"
    return f"{scheme}://{text}/" if scheme else text


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# -- one connection: FastCGI records in, WSGI in the middle, FastCGI records out ---------------

def _wait(sock: socket.socket, events: int, timeout: float) -> bool:
    """Wait until `sock` is ready for `events` (select.POLLIN, POLLOUT); False after `timeout`."""
    poller = select.poll()
    poller.register(sock, events)
    return bool(poller.poll(timeout * 1000))


class ClientGone(OSError):
    """The web server aborted the request or closed the connection while the body was read."""


class _Conn:
    __slots__ = ("sock", "fcgi", "peer")

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock = sock
        self.fcgi = fastcgi.Connection()
        self.peer = peer


class Input:
    """`wsgi.input`: the request body, read from the connection as the application asks for it."""

    __slots__ = ("_handler", "_conn", "_buffer", "_eof")

    def __init__(self, handler: "Handler", conn: _Conn) -> None:
        self._handler = handler
        self._conn = conn
        self._buffer = bytearray()
        self._eof = False

    def _fill(self) -> bool:
        """One more chunk of the body into the buffer; False at its end."""
        if self._eof:
            return False
        chunk = self._handler.body_chunk(self._conn)
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    def read(self, size: int | None = -1) -> bytes:
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
        lines = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def drain(self, limit: int = 16 << 20) -> bool:
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
        self.chunks.append(text.encode("utf-8", "replace"))

    def writelines(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


_STATIC = {"wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.input_terminated": True}


def environ(params: dict[str, str]) -> dict[str, Any]:
    """The WSGI environ of a request from the CGI params a front server sent.

    PATH_INFO is the whole request path and SCRIPT_NAME is empty, as with Nagare 0.5. The front
    servers send the path in different ways: nginx as the seed configures it `PATH_INFO
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


_FLUSH = 64 * 1024  # bytes of a streamed body kept before they are sent
_FIRST_BYTES = 0.2  # seconds a worker waits for the request of a connection it just accepted


class Handler:
    """Serves the requests of the connections of one worker (the `server.worker.Handler` protocol)."""

    def __init__(self, app: Any, read_timeout: float, allowed: set[str]) -> None:
        self.app = app
        self.read_timeout = read_timeout
        self.allowed = allowed

    def new(self, sock: socket.socket, address: Any) -> _Conn | None:
        peer = address[0] if isinstance(address, tuple) else ""
        if self.allowed and peer and peer not in self.allowed:
            log.warning("connection from %s refused: not in allowed_servers", peer)
            return None
        # a blocking socket used with MSG_DONTWAIT: no system call for a timeout on the fast
        # path (Python's timeout mode polls before every recv and send); `_wait` on the slow one.
        # An accepted socket is blocking already; one handed off keeps its flags, TCP_NODELAY too.
        if address is None:
            sock.setblocking(True)
        elif peer:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Conn(sock, peer)

    def socket(self, conn: _Conn) -> socket.socket:
        return conn.sock

    def clean(self, conn: _Conn) -> bool:
        return conn.fcgi.active is None and not conn.fcgi.buffered

    def _receive(self, conn: _Conn, timeout: float | None = None) -> bool:
        """Bytes from the web server into the protocol; False if none came within `timeout`."""
        sock = conn.sock
        while True:
            try:
                data = sock.recv(65536, socket.MSG_DONTWAIT)
                break
            except BlockingIOError:
                if not _wait(sock, select.POLLIN, self.read_timeout if timeout is None else timeout):
                    if timeout is not None:
                        return False
                    raise fastcgi.ProtocolError(f"the web server stalled for {self.read_timeout:g}s in the middle of a request") from None
        conn.fcgi.receive_data(data)
        return True

    def _send(self, conn: _Conn, data: bytes) -> None:
        sock = conn.sock
        try:
            sent = sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return
        view = memoryview(data)[sent:]
        while view:  # the web server reads slower than we write: wait for it, within read_timeout
            if not _wait(sock, select.POLLOUT, self.read_timeout):
                raise TimeoutError(f"the web server read nothing for {self.read_timeout:g}s")
            try:
                view = view[sock.send(view, socket.MSG_DONTWAIT):]
            except BlockingIOError:
                pass

    def serve(self, conn: _Conn, report: Report, fresh: bool = False) -> bool:
        fcgi = conn.fcgi
        served = False
        try:
            # just accepted: its request comes at once (a Unix socket has no TCP_DEFER_ACCEPT:
            # the web server writes right after connect), else the worker's epoll waits for it
            if fresh and not self._receive(conn, _FIRST_BYTES):
                return True
            while True:
                event = fcgi.next_event()
                if event is fastcgi.NEED_DATA:
                    pending = fcgi.data_to_send()
                    if pending:
                        self._send(conn, pending)
                    if served and fcgi.active is None and not fcgi.buffered:
                        return True  # idle: back to the worker's epoll
                    self._receive(conn)
                elif type(event) is fastcgi.Params:
                    served = True
                    if not self.respond(conn, event, report):
                        return False
                    if not fcgi.keep_conn:
                        return False
                elif type(event) is fastcgi.Closed:
                    return False
                # RequestStarted: the params follow; Stdin before Params cannot happen (the
                # protocol refuses it); Aborted outside the body reading: nothing to do
        except fastcgi.ProtocolError as exc:
            log.warning("FastCGI connection%s closed: %s", f" from {conn.peer}" if conn.peer else "", exc)
        except OSError as exc:  # the web server went away
            log.info("FastCGI connection closed: %s", exc)
        return False

    def body_chunk(self, conn: _Conn) -> bytes:
        fcgi = conn.fcgi
        while True:
            event = fcgi.next_event()
            if event is fastcgi.NEED_DATA:
                self._receive(conn)
                continue
            kind = type(event)
            if kind is fastcgi.Stdin:
                return event.data  # type: ignore[union-attr]
            if kind is fastcgi.StdinEnd:
                return b""
            if kind is fastcgi.Aborted or kind is fastcgi.Closed:
                raise ClientGone("the web server aborted the request")

    def respond(self, conn: _Conn, event: fastcgi.Params, report: Report) -> bool:
        """Run the application for one request; False: the connection must be closed."""
        request_id = event.request_id
        fcgi = conn.fcgi
        env = environ(event.params)
        body_input = Input(self, conn)
        errors = Errors()
        env["wsgi.input"] = body_input
        env["wsgi.errors"] = errors
        method = env["REQUEST_METHOD"]
        uri = env.get("REQUEST_URI") or env["PATH_INFO"]
        report.start(method.encode("latin-1", "replace"), uri.encode("latin-1", "replace"))
        head: list[bytes] = []
        started = sent = False
        out: list[bytes] = []
        size = 0
        keep = True

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal started
            if exc_info is not None:
                try:
                    if sent:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif started:  # not `head`: it is emptied when sent with a streamed body
                raise RuntimeError("start_response called twice without exc_info")
            started = True
            lines = [f"Status: {status}\r\n", *(f"{name}: {value}\r\n" for name, value in headers), "\r\n"]
            head[:] = ["".join(lines).encode("latin-1")]
            return out.append

        try:
            result = self.app(env, start_response)
            try:
                for chunk in result:
                    if chunk:
                        out.append(chunk)
                        size += len(chunk)
                        if size >= _FLUSH:
                            if not head:
                                raise RuntimeError("the application sent a body before start_response")
                            data = b"".join(out)
                            self._send(conn, fcgi.send_stdout(request_id, (head.pop() if not sent else b"") + data))
                            sent = True
                            out.clear()
                            size = 0
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if not head and not sent:
                raise RuntimeError("the application returned without calling start_response")
        except ClientGone:
            keep = False
            out.clear()
        except Exception:
            logging.getLogger("nagare.application").exception("error on %s %s", method, uri)
            out.clear()
            if not sent:
                head[:] = [b"Status: 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"]
                out.append(b"Internal Server Error\n")
            else:
                keep = False  # a truncated body: the web server must see the connection end
        try:
            data = b"".join(out)
            parts = []
            if head and not sent:
                parts.append(fcgi.send_stdout(request_id, head[0] + data))
            elif data:
                parts.append(fcgi.send_stdout(request_id, data))
            if errors.chunks:
                parts.append(fcgi.send_stderr(request_id, b"".join(errors.chunks)))
            if keep:
                # what the application left of the body is read: the next request of a kept
                # connection follows it, and closing with unread bytes would reset the connection
                # before the web server reads the answer
                keep = body_input.drain()
            parts.append(fcgi.end_request(request_id))
            self._send(conn, b"".join(parts))
        finally:
            report.end()
        return keep
