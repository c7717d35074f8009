"""The Handler the worker calls: requests in a row on a kept connection, a body the application ignored."""

from __future__ import annotations

import socket

from nagare.publishers.fastcgi.handler import Handler
from nagare.publishers.fastcgi.request import DRAIN_LIMIT
from tests.publishers.fastcgi.served import Served, ends_of, record_end, stdout_of
from tests.support.fcgi_client import encode_request


IGNORED = b"z" * (100 << 10)


def ignore_body(env, start_response):
    start_response("204 No Content", [])
    return []


def test_a_body_the_application_did_not_read_is_read_before_the_next_request() -> None:
    request = encode_request("/", method="POST", body=IGNORED, keep_conn=True)
    cut = record_end(request, 32 << 10)
    with Served(ignore_body) as served:
        # the application answers from the first part; the rest of the body comes later, and must
        # not be left for whoever reads the connection next
        served.send(request[:cut], request[cut:], pause=0.2)
        keep = served.handler.serve(served.conn, served.report)
        out = served.received()
        assert keep and ends_of(out) == 1 and stdout_of(out).startswith(b"Status: 204")
        # idle at a request boundary: the worker may hand the connection to another, whose
        # FastCGI state knows nothing of the request answered here
        assert served.handler.clean(served.conn)
        served.take_over()
        keep, out = served.run(encode_request("/next", keep_conn=True))
        assert keep and ends_of(out) == 1 and stdout_of(out).startswith(b"Status: 204")


def test_the_next_request_in_the_same_write_is_answered_too() -> None:
    with Served(ignore_body) as served:
        keep, out = served.run(encode_request("/", method="POST", body=IGNORED, keep_conn=True) + encode_request("/", keep_conn=True))
        while ends_of(out) < 2 and keep:  # the worker serves again when the socket is readable
            keep = served.handler.serve(served.conn, served.report)
            out += served.received()
        assert keep and stdout_of(out).count(b"Status: 204") == 2


def test_an_unread_body_above_the_drain_limit_closes_the_connection() -> None:
    with Served(ignore_body) as served:
        keep, out = served.run(encode_request("/", method="POST", body=b"z" * (DRAIN_LIMIT + (256 << 10)), keep_conn=True))
        assert not keep  # reading it all would hold the worker: the web server opens another connection
        assert ends_of(out) == 1 and stdout_of(out).startswith(b"Status: 204")


def test_a_web_server_not_in_allowed_servers_is_refused(caplog) -> None:
    handler = Handler(ignore_body, 5.0, {"10.0.0.1"})
    with socket.socket() as sock:
        assert handler.new(sock, ("10.0.0.2", 40000)) is None
        assert handler.new(sock, ("10.0.0.1", 40000)) is not None
    assert "connection from 10.0.0.2 refused" in caplog.text


def test_a_fresh_connection_without_bytes_yet_is_left_to_the_worker() -> None:
    with Served(ignore_body) as served:
        assert served.handler.serve(served.conn, served.report, fresh=True)  # back to epoll, not closed
        assert served.handler.clean(served.conn)
