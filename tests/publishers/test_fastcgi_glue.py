"""The FastCGI publisher's WSGI glue, without processes: the environ, wsgi.input, one request."""

from __future__ import annotations

import socket
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
    """One Handler serving the server end of a socket pair, the client end in the test's hands."""

    def __init__(self, app) -> None:
        self.client, server = socket.socketpair()
        self.handler = Handler(app, 5.0, set())
        self.conn = self.handler.new(server, None)
        self.scoreboard = Scoreboard(1)
        self.report = Report(self.scoreboard.writer(0, 1, time.monotonic()), 0.0)

    def run(self, data: bytes) -> tuple[bool, bytes]:
        self.client.sendall(data)
        keep = self.handler.serve(self.conn, self.report)
        self.client.setblocking(False)
        out = b""
        try:
            while chunk := self.client.recv(1 << 20):
                out += chunk
        except BlockingIOError:
            pass
        self.client.setblocking(True)
        return keep, out


def stdout_of(records: bytes) -> bytes:
    out, i = b"", 0
    while i < len(records):
        kind, length, padding = records[i + 1], int.from_bytes(records[i + 4:i + 6], "big"), records[i + 6]
        if kind == 6:
            out += records[i + 8:i + 8 + length]
        i += 8 + length + padding
    return out


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
    keep, out = Served(app).run(encode_request("/", method="POST", body=payload, keep_conn=True))
    assert keep
    assert seen == {"line": b"first line\n", "part": b"abc", "limited": b"de", "rest": payload[16:], "after": b""}
    status, headers, body = parse_cgi(stdout_of(out))
    assert status == 200 and body == b"ok"


def test_an_application_error_is_a_500_and_the_connection_stays_usable(caplog) -> None:
    def app(env, start_response):
        raise ValueError("boom")

    served = Served(app)
    keep, out = served.run(encode_request("/x", keep_conn=True))
    status, _, body = parse_cgi(stdout_of(out))
    assert keep and status == 500 and b"boom" not in body
    assert "error on GET /x" in caplog.text
    keep, out = served.run(encode_request("/y", keep_conn=True))  # the same connection
    assert keep and parse_cgi(stdout_of(out))[0] == 500


def test_a_body_the_application_did_not_read_is_skipped_before_the_next_request() -> None:
    def app(env, start_response):
        start_response("204 No Content", [])
        return []

    served = Served(app)
    keep, out = served.run(encode_request("/", method="POST", body=b"z" * 50000, keep_conn=True) + encode_request("/", keep_conn=True))
    assert keep and stdout_of(out).count(b"Status: 204") == 2
