"""The FastCGI publisher's WSGI glue, without processes: the environ, wsgi.input, one request."""

from __future__ import annotations

import socket
import sys
import threading
import time

import pytest

from nagare.publishers.fastcgi import Handler, environ
from nagare.server.scoreboard import Scoreboard
from nagare.server.worker import Report
from tests.support.fcgi_client import encode_request, parse_cgi

NGINX = {
    "QUERY_STRING": "a=1&b=%C3%A9", "REQUEST_METHOD": "GET", "CONTENT_TYPE": "", "CONTENT_LENGTH": "",
    "SCRIPT_NAME": "/demo/caf\xc3\xa9", "REQUEST_URI": "/demo/caf%C3%A9?a=1&b=%C3%A9",
    "DOCUMENT_URI": "/demo/caf\xc3\xa9", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7",
    "SERVER_NAME": "www.myapp.com", "SERVER_PORT": "80", "HTTP_HOST": "www.myapp.com", "PATH_INFO": "/demo/caf\xc3\xa9",
}


def test_nginx_as_the_seed_configures_it() -> None:
    env = environ(dict(NGINX))
    assert env["SCRIPT_NAME"] == "" and env["PATH_INFO"] == "/demo/caf\xc3\xa9"  # PEP 3333: bytes as latin-1
    assert env["QUERY_STRING"] == "a=1&b=%C3%A9" and env["REMOTE_ADDR"] == "10.0.0.7"
    assert "CONTENT_LENGTH" not in env and "CONTENT_TYPE" not in env  # empty: absent
    assert env["wsgi.url_scheme"] == "http" and env["wsgi.multiprocess"] and not env["wsgi.multithread"]
    assert env["wsgi.version"] == (1, 0) and not env["wsgi.run_once"]


@pytest.mark.parametrize(
    "params",
    [
        {"SCRIPT_NAME": "/fcgi", "PATH_INFO": "/demo/x", "REQUEST_URI": "/demo/x"},  # lighttpd
        {"SCRIPT_NAME": "/fcgi/demo/x", "REQUEST_URI": "/demo/x"},  # Apache mod_proxy_fcgi
        {"SCRIPT_NAME": "/fcgi", "PATH_INFO": "//demo/x", "REQUEST_URI": "http://www.myapp.com/demo/x"},
        {"SCRIPT_NAME": "/demo", "PATH_INFO": "/x"},  # no REQUEST_URI: the two joined
    ],
    ids=["lighttpd", "apache", "absolute-uri", "no-request-uri"],
)
def test_every_front_server_gives_the_whole_path(params) -> None:
    env = environ({"REQUEST_METHOD": "GET", **params})
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("", "/demo/x")


def test_https_server_name_and_defaults() -> None:
    env = environ({"HTTPS": "on", "HTTP_HOST": "shop.example:8443", "HTTP_CONTENT_LENGTH": "3", "CONTENT_LENGTH": "12"})
    assert env["wsgi.url_scheme"] == "https" and env["SERVER_NAME"] == "shop.example" and env["SERVER_PORT"] == "443"
    assert env["CONTENT_LENGTH"] == "12" and "HTTP_CONTENT_LENGTH" not in env
    assert env["REQUEST_METHOD"] == "GET" and env["QUERY_STRING"] == "" and env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ({"REQUEST_SCHEME": "https"})["wsgi.url_scheme"] == "https"


class Served:
    """One Handler serving the server end of a socket pair, the client end in the test's hands.

    The client writes from a thread: a request bigger than the socket buffer would otherwise block
    the test before the handler reads it.
    """

    def __init__(self, app) -> None:
        self.app = app
        self.client, self.server = socket.socketpair()
        self.handler = Handler(app, 5.0, set())
        self.conn = self.handler.new(self.server, None)
        self.scoreboard = Scoreboard(1)
        self.report = Report(self.scoreboard.writer(0, 1, time.monotonic()), 0.0)
        self.writer: threading.Thread | None = None

    def __enter__(self) -> "Served":
        return self

    def __exit__(self, *exc_info) -> None:
        self.client.close()
        self.server.close()
        if self.writer is not None:
            self.writer.join(5)

    def send(self, *parts: bytes, pause: float = 0.0) -> None:
        """Write `parts` from a thread, `pause` seconds apart, as a web server whose client is slow."""
        if self.writer is not None:
            self.writer.join(5)

        def write() -> None:
            try:
                for i, part in enumerate(parts):
                    if i:
                        time.sleep(pause)
                    self.client.sendall(part)
            except OSError:  # the handler closed the connection before reading everything
                pass

        self.writer = threading.Thread(target=write, daemon=True)
        self.writer.start()

    def take_over(self) -> None:
        """As a worker the connection is handed to: a new Handler and a new FastCGI state."""
        self.handler = Handler(self.app, 5.0, set())
        self.conn = self.handler.new(self.server, None)

    def received(self) -> bytes:
        self.client.setblocking(False)
        out = b""
        try:
            while chunk := self.client.recv(1 << 20):
                out += chunk
        except BlockingIOError:
            pass
        self.client.setblocking(True)
        return out

    def run(self, data: bytes) -> tuple[bool, bytes]:
        self.send(data)
        keep = self.handler.serve(self.conn, self.report)
        return keep, self.received()


def records_of(data: bytes) -> list[tuple[int, bytes]]:
    """(type, content) of each FastCGI record in `data`."""
    records, i = [], 0
    while i < len(data):
        kind, length, padding = data[i + 1], int.from_bytes(data[i + 4:i + 6], "big"), data[i + 6]
        records.append((kind, data[i + 8:i + 8 + length]))
        i += 8 + length + padding
    return records


def record_end(data: bytes, limit: int) -> int:
    """The offset of the last record boundary of `data` at or before `limit`."""
    end = i = 0
    while i < len(data) and (i := i + 8 + int.from_bytes(data[i + 4:i + 6], "big") + data[i + 6]) <= limit:
        end = i
    return end


def stdout_of(data: bytes) -> bytes:
    return b"".join(content for kind, content in records_of(data) if kind == 6)


def ends_of(data: bytes) -> int:
    """How many END_REQUEST records `data` holds."""
    return sum(kind == 3 for kind, _ in records_of(data))


def test_wsgi_input_reads_lines_sizes_and_the_rest() -> None:
    seen = {}

    def app(env, start_response):
        body = env["wsgi.input"]
        seen["line"] = body.readline()
        seen["part"] = body.read(3)
        seen["limited"] = body.readline(2)
        seen["rest"] = body.read()
        seen["after"] = body.read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    payload = b"first line\nabcdefgh\nlast" * 1 + b"x" * 20000  # in several STDIN records
    with Served(app) as served:
        keep, out = served.run(encode_request("/", method="POST", body=payload, keep_conn=True))
    assert keep
    assert seen == {"line": b"first line\n", "part": b"abc", "limited": b"de", "rest": payload[16:], "after": b""}
    status, headers, body = parse_cgi(stdout_of(out))
    assert status == 200 and body == b"ok"


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


# -- start_response (PEP 3333) ---------------------------------------------------------------

STREAMED = b"s" * (100 << 10)  # above the 64 KiB kept before a body is streamed: the head goes with it


def serve_one(app) -> tuple[bool, int, bytes]:
    """(connection kept, status, body) of one GET served by `app`."""
    with Served(app) as served:
        keep, out = served.run(encode_request("/", keep_conn=True))
    status, _, body = parse_cgi(stdout_of(out))
    assert ends_of(out) == 1
    return keep, status, body


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


# -- a body the application did not read -------------------------------------------------------

IGNORED = b"z" * (100 << 10)


def ignore_body(env, start_response):
    start_response("204 No Content", [])
    return []


def test_a_body_the_application_did_not_read_is_read_before_the_next_request() -> None:
    request = encode_request("/", method="POST", body=IGNORED, keep_conn=True)
    cut = record_end(request, 32 << 10)
    with Served(ignore_body) as served:
        # the application answers from the first part; the rest of the body comes later
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
        keep, out = served.run(encode_request("/", method="POST", body=b"z" * ((16 << 20) + (256 << 10)), keep_conn=True))
        assert not keep  # reading it all would hold the worker: the web server opens another connection
        assert ends_of(out) == 1 and stdout_of(out).startswith(b"Status: 204")
