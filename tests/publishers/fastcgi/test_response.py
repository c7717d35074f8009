"""start_response (PEP 3333) and the body: kept, streamed past 64 KiB, a 500 for an error."""

from __future__ import annotations

import socket
import sys

from tests.publishers.fastcgi.served import STREAMED, Served, records_of, serve_one, stdout_of
from tests.support.fcgi_client import encode_request, parse_cgi


def test_a_second_start_response_without_exc_info_raises() -> None:
    seen = []

    def app(env, start_response):
        start_response("200 OK", [])
        try:
            start_response("201 Created", [])
        except RuntimeError as exc:
            seen.append(str(exc))
        return [b"first"]

    assert serve_one(app) == (True, 200, b"first")
    assert seen == ["start_response called twice without exc_info"]


def test_a_second_start_response_without_exc_info_raises_after_the_head_was_sent() -> None:
    seen = []

    def app(env, start_response):
        start_response("200 OK", [])
        yield STREAMED  # the head is sent with it
        try:
            start_response("500 Internal Server Error", [])
        except RuntimeError as exc:
            seen.append(str(exc))
        yield b"end"

    assert serve_one(app) == (True, 200, STREAMED + b"end")
    assert seen == ["start_response called twice without exc_info"]


def test_start_response_with_exc_info_replaces_a_head_not_sent_yet() -> None:
    def app(env, start_response):
        start_response("200 OK", [("X-First", "yes")])
        try:
            raise ValueError("boom")
        except ValueError:
            start_response("503 Service Unavailable", [("Retry-After", "5")], sys.exc_info())
        return [b"later"]

    with Served(app) as served:
        keep, out = served.run(encode_request("/", keep_conn=True))
    assert keep and parse_cgi(stdout_of(out)) == (503, [("Retry-After", "5")], b"later")


def test_start_response_with_exc_info_after_the_head_was_sent_reraises(caplog) -> None:
    seen = []

    def app(env, start_response):
        start_response("200 OK", [])
        yield STREAMED
        try:
            raise ValueError("boom")
        except ValueError as error:
            try:
                start_response("500 Internal Server Error", [], sys.exc_info())
            except ValueError as again:
                seen.append(again is error)
                raise

    keep, status, body = serve_one(app)
    assert seen == [True]
    assert not keep and (status, body) == (200, STREAMED)  # a truncated body: the connection ends
    assert "error on GET /" in caplog.text


def test_an_application_error_is_a_500_and_the_connection_stays_usable(caplog) -> None:
    def app(env, start_response):
        raise ValueError("boom")

    with Served(app) as served:
        keep, out = served.run(encode_request("/x", keep_conn=True))
        status, _, body = parse_cgi(stdout_of(out))
        assert keep and status == 500 and b"boom" not in body
        assert "error on GET /x" in caplog.text
        keep, out = served.run(encode_request("/y", keep_conn=True))  # the same connection
        assert keep and parse_cgi(stdout_of(out))[0] == 500


class CountedSends:
    """A socket whose sends are recorded."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sends: list[bytes] = []

    def send(self, data: bytes, flags: int = 0) -> int:
        self.sends.append(bytes(data))
        return self.sock.send(data, flags)

    def __getattr__(self, name: str):
        return getattr(self.sock, name)


def test_a_small_response_leaves_in_one_send_with_the_end_of_the_request() -> None:
    def app(env, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"hello ")
        env["wsgi.errors"].write("logged")
        return [b"", b"world"]

    with Served(app) as served:
        served.conn.sock = counted = CountedSends(served.conn.sock)
        keep, out = served.run(encode_request("/", keep_conn=True))
    assert keep and counted.sends == [out]
    assert [kind for kind, _ in records_of(out)] == [6, 7, 6, 7, 3]  # stdout, stderr, the ends of both, END_REQUEST
    assert parse_cgi(stdout_of(out)) == (200, [("Content-Type", "text/plain")], b"hello world")


def test_a_long_body_is_streamed_with_the_head_once() -> None:
    def app(env, start_response):
        start_response("200 OK", [])
        return [STREAMED, STREAMED, b"end"]

    keep, status, body = serve_one(app)
    assert keep and status == 200 and body == STREAMED + STREAMED + b"end"


def test_no_start_response_is_a_500(caplog) -> None:
    assert serve_one(lambda env, start_response: [b"body"])[:2] == (True, 500)
    assert "without calling start_response" in caplog.text
