"""Malformed HTTP input gets the right status and one log line, never a 500 or a traceback."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from webob import Request

from nagare.config import loader
from nagare.demo.app import Demo
from nagare.sessions.memory import Sessions
from nagare.sessions.serializer import Serializer
from nagare.wsgi.app import WSGIApp
from nagare.wsgi.dispatch import Dispatcher
from nagare.wsgi.loader import NAGARE_STATIC


@pytest.fixture(scope="module")
def app():
    sessions = Sessions(loader.check(None, Sessions.SETTINGS, {}), Serializer(b"k" * 32, "demo"), "demo")
    return Dispatcher({"demo": WSGIApp(Demo, name="demo", sessions=sessions)}, {"nagare": NAGARE_STATIC})


def call(app, path, method="GET", body=b"", content_type=None, cookie=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path.split("?")[0], "QUERY_STRING": path.partition("?")[2]}
    request = Request.blank("/", environ)
    request.environ.update(environ)
    if body:
        request.body = body
    if content_type:
        request.environ["CONTENT_TYPE"] = content_type
    if cookie:
        request.headers["Cookie"] = cookie
    return request.get_response(app)


@pytest.mark.parametrize(
    "path, method, body, content_type, status",
    [
        ("/demo/?_s=%ff&_c=1", "GET", b"", None, 400),
        ("/demo/?%ff=1", "GET", b"", None, 400),
        ("/demo/\xff/x", "GET", b"", None, 400),  # PATH_INFO as servers give it: latin-1 of the bytes
        ("/demo/", "POST", b"garbage", "multipart/form-data", 400),
        ("/demo/", "POST", b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end", "multipart/form-data; boundary=x", 200),
        ("/demo/", "POST", b"_s=\xff&_c=\xfe", "application/x-www-form-urlencoded", 301),
        ("/static/nagare/\xff", "GET", b"", None, 404),
        ("/static/nagare/nagare.js", "POST", b"", None, 405),
        ("/demo/?_s=" + "a" * 32 + "&_c=" + "9" * 40, "GET", b"", None, 301),
        ("/demo/?_s=" + "a" * 32 + "&_c=-1", "GET", b"", None, 301),
        ("/demo/?_s=&_c=", "GET", b"", None, 301),
    ],
)
def test_bad_requests(app, caplog, path, method, body, content_type, status):
    with caplog.at_level(logging.WARNING):
        response = call(app, path, method, body, content_type)
    assert response.status_int == status, response.text[:300]
    assert "Traceback" not in caplog.text
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=st.lists(
        st.tuples(
            st.sampled_from(["_s", "_c", "_a", "_action200001", "_action1", "_action4" + "9" * 20, "x", "_action200001.x"]),
            st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
        ),
        max_size=6,
    ),
    cookie=st.one_of(st.none(), st.text(alphabet=st.characters(codec="latin-1"), max_size=60)),
)
def test_random_parameters_never_fail_the_server(app, query, cookie):
    from urllib.parse import urlencode

    response = call(app, "/demo/?" + urlencode(query), cookie=f"_nagare={cookie}" if cookie is not None else None)
    assert response.status_int in (200, 301, 307, 400, 404, 503), response.text[:300]
