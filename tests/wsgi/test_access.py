import logging
import re

from nagare.wsgi.access import AccessLog


def app(environ, start_response):
    start_response("201 Created", [("Content-Type", "text/plain")])
    return [b"abc", b"de"]


def failing(environ, start_response):
    start_response("200 OK", [])
    yield b"x"
    raise RuntimeError("broken body")


ENVIRON = {"REMOTE_ADDR": "10.1.2.3", "REQUEST_METHOD": "POST", "SCRIPT_NAME": "/demo", "PATH_INFO": "/a", "QUERY_STRING": "_s=1", "SERVER_PROTOCOL": "HTTP/1.1"}


def test_one_line_per_request_with_status_size_and_time(caplog):
    statuses = []
    with caplog.at_level(logging.INFO, logger="nagare.access"):
        body = b"".join(AccessLog(app)(dict(ENVIRON), lambda status, headers: statuses.append(status)))
    assert body == b"abcde" and statuses == ["201 Created"]
    [record] = caplog.records
    assert re.fullmatch(r'10\.1\.2\.3 "POST /demo/a\?_s=1 HTTP/1\.1" 201 5 \d+\.\dms', record.getMessage())


def test_a_body_that_fails_is_logged_too(caplog):
    with caplog.at_level(logging.INFO, logger="nagare.access"):
        try:
            list(AccessLog(failing)(dict(ENVIRON), lambda status, headers: None))
        except RuntimeError:
            pass
    assert '"POST /demo/a?_s=1 HTTP/1.1" 200 1 ' in caplog.text


def test_nothing_is_measured_when_the_logger_is_off(caplog):
    with caplog.at_level(logging.WARNING, logger="nagare.access"):
        result = AccessLog(app)(dict(ENVIRON), lambda status, headers: None)
    assert result == [b"abc", b"de"] and caplog.records == []
