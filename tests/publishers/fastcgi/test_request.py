"""The request as the application sees it: the environ from each front server's params, wsgi.input."""

from __future__ import annotations

import pytest

from nagare.publishers.fastcgi.request import Errors, Input, environ
from tests.publishers.fastcgi.served import Served, stdout_of
from tests.support.fcgi_client import encode_request, parse_cgi

NGINX = {
    "QUERY_STRING": "a=1&b=%C3%A9", "REQUEST_METHOD": "GET", "CONTENT_TYPE": "", "CONTENT_LENGTH": "",
    "SCRIPT_NAME": "/demo/caf\xc3\xa9", "REQUEST_URI": "/demo/caf%C3%A9?a=1&b=%C3%A9",
    "DOCUMENT_URI": "/demo/caf\xc3\xa9", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7",
    "SERVER_NAME": "www.myapp.com", "SERVER_PORT": "80", "HTTP_HOST": "www.myapp.com", "PATH_INFO": "/demo/caf\xc3\xa9",
}


def test_nginx_as_the_deployment_guide_configures_it() -> None:
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


def body(*chunks: bytes) -> Input:
    """A wsgi.input reading `chunks`, as STDIN records would bring them."""
    feed = iter([*chunks, b""])
    return Input(lambda: next(feed))


def test_lines_across_chunks_iteration_and_hint() -> None:
    assert list(body(b"a\nb", b"c\n", b"\nd")) == [b"a\n", b"bc\n", b"\n", b"d"]
    assert body(b"1\n22\n", b"333\n").readlines(3) == [b"1\n", b"22\n"]  # stops once the hint is reached
    assert body(b"abc").readline(None) == b"abc" and body(b"abc").read(None) == b"abc"


def test_drain_reads_the_rest_up_to_its_limit() -> None:
    unread = body(b"x" * 10, b"y" * 10, b"z" * 10)
    assert unread.read(5) == b"xxxxx" and unread.drain(limit=100) and unread.read() == b""
    assert body(b"x" * 10, b"y" * 10, b"z" * 10).drain(limit=30)
    assert not body(b"x" * 10, b"y" * 10, b"z" * 10).drain(limit=29)


def test_wsgi_errors_go_out_as_utf8() -> None:
    errors = Errors()
    errors.write("caf\xe9 ")
    errors.writelines(["a", "b\n"])
    errors.flush()
    assert b"".join(errors.chunks) == "caf\xe9 ab\n".encode()
