"""What a worker does with a connection: read its requests, run the application, answer."""

from __future__ import annotations

import logging
import socket
from typing import Any

from nagare import fastcgi
from nagare.server.worker import Report

from .channel import Channel, ClientGone
from .request import Errors, Input, environ
from .response import Application, Response

log = logging.getLogger("nagare.publisher")
_app_log = logging.getLogger("nagare.application")

FIRST_BYTES = 0.2  # seconds a worker waits for the request of a connection it just accepted


class Handler:
    """Serves the requests of the connections of one worker (the `nagare.server.worker.Handler` protocol).

    `read_timeout`: the seconds a web server may stall in the middle of a request; `allowed`: the
    addresses of the web servers that may connect (empty: any).
    """

    def __init__(self, app: Application, read_timeout: float, allowed: set[str]) -> None:
        self.app = app
        self.read_timeout = read_timeout
        self.allowed = allowed

    def new(self, sock: socket.socket, address: Any) -> Channel | None:
        """The channel of a connection accepted from `address` (None: handed over by another
        worker); None if its web server is not allowed."""
        peer = address[0] if isinstance(address, tuple) else ""
        if self.allowed and peer and peer not in self.allowed:
            log.warning("connection from %s refused: not in allowed_servers", peer)
            return None
        # the channel wants a blocking socket (see nagare.publishers.fastcgi.channel). An accepted
        # socket is blocking already, and TCP_NODELAY from the listening socket; one shared keeps
        # its flags.
        if address is None:
            sock.setblocking(True)
        return Channel(sock, peer, self.read_timeout)

    def socket(self, channel: Channel) -> socket.socket:
        """The socket the worker waits on."""
        return channel.sock

    def clean(self, channel: Channel) -> bool:
        """Idle at a record boundary, nothing buffered: another worker can take it over."""
        return channel.fcgi.active is None and not channel.fcgi.buffered

    def serve(self, channel: Channel, report: Report, fresh: bool = False) -> bool:
        """Serve the requests `channel` brings until it is idle (True) or must be closed (False)."""
        fcgi = channel.fcgi
        served = False
        try:
            # just accepted: its request comes at once (a Unix socket has no TCP_DEFER_ACCEPT:
            # the web server writes right after connect), else the worker's epoll waits for it
            if fresh and not channel.receive(FIRST_BYTES):
                return True
            while True:
                whole = fcgi.next_request()  # the usual case: the request read at once
                if whole is not None:
                    served = True
                    if not self.respond(channel, whole.request_id, whole.params, whole.body, report) or not whole.keep_conn:
                        return False
                    # nothing more came, most of the time: what next_event would say, without asking
                    event = fastcgi.NEED_DATA if not fcgi.buffered else fcgi.next_event()
                else:
                    event = fcgi.next_event()
                if event is fastcgi.NEED_DATA:
                    pending = fcgi.data_to_send()
                    if pending:
                        channel.send(pending)
                    if served and fcgi.active is None and not fcgi.buffered:
                        return True  # idle: back to the worker's epoll
                    channel.receive()
                elif type(event) is fastcgi.Params:
                    served = True
                    if not self.respond(channel, event.request_id, event.params, None, report) or not fcgi.keep_conn:
                        return False
                elif type(event) is fastcgi.Closed:
                    return False
                # RequestStarted: the params follow; Stdin before Params cannot happen (the
                # protocol refuses it); Aborted outside the body reading: nothing to do
        except fastcgi.ProtocolError as exc:
            log.warning("FastCGI connection%s closed: %s", f" from {channel.peer}" if channel.peer else "", exc)
        except OSError as exc:  # the web server went away
            log.info("FastCGI connection closed: %s", exc)
        return False

    def respond(self, channel: Channel, request_id: int, params: dict[str, str], body_bytes: bytes | None, report: Report) -> bool:
        """Run the application for one request (`body_bytes`: its whole body, None: read from
        the channel as the application asks); False: the connection must be closed."""
        fcgi = channel.fcgi
        env = environ(params)
        body = Input(channel.body_chunk) if body_bytes is None else Input.whole(body_bytes)
        errors = Errors()
        env["wsgi.input"] = body
        env["wsgi.errors"] = errors
        method = env["REQUEST_METHOD"]
        uri = env.get("REQUEST_URI") or env["PATH_INFO"]
        report.start(method.encode("latin-1", "replace"), uri.encode("latin-1", "replace"))
        response = Response(fcgi, request_id, channel.send)
        keep = True
        try:
            response.run(self.app, env)
        except ClientGone:
            keep = False
            response.discard()
        except Exception:
            _app_log.exception("error on %s %s", method, uri)
            keep = response.fail()
        try:
            stdout = response.rest()
            if keep:
                # what the application left of the body is read: the next request of a kept
                # connection follows it (a worker it is handed to would not know the request it
                # belongs to), and closing with unread bytes would reset the connection before the
                # web server reads the answer
                keep = body.drain()
            channel.send(fcgi.end_request(request_id, stdout=stdout, stderr=b"".join(errors.chunks)))
        finally:
            report.end()
        return keep
