"""From configuration to applications: kinds of objects, and sessions per application."""

from __future__ import annotations

import pytest

from nagare.config import application, publisher
from nagare.errors import ConfigError
from nagare.wsgi.app import WSGIApp
from nagare.wsgi.loader import classify, load, project_of


def write(path, text):
    path.write_text(text)
    return str(path)


@pytest.fixture
def secret(tmp_path, monkeypatch):
    monkeypatch.setenv("NAGARE_SECRET_FILE", str(tmp_path / "secret"))


def test_classify():
    class Root:
        def __init__(self, x=1):
            pass

    def factory():
        return Root()

    def wsgi(environ, start_response):
        return []

    class WsgiObject:
        def __call__(self, environ, start_response):
            return []

    assert classify(Root) == "factory" and classify(factory) == "factory"
    assert classify(wsgi) == "wsgi" and classify(WsgiObject()) == "wsgi"
    assert classify(WSGIApp(Root)) == "application"  # callable as WSGI, but served with sessions


def test_application_sessions_override_the_publisher(tmp_path, secret):
    pub = publisher.read(write(tmp_path / "pub.cfg", "[sessions]\nnb_states = 7\nnb_sessions = 30\n"))
    app = application.read(write(tmp_path / "app.cfg", "[application]\npath = python nagare.demo.app:Demo\nname = a\n[sessions]\nnb_states = 3\n"))
    other = application.read(write(tmp_path / "other.cfg", "[application]\npath = python nagare.demo.app:Demo\nname = b\n"))
    a, b = load(app, pub), load(other, pub)
    assert (a.sessions.nb_states, a.sessions.nb_sessions) == (3, 30)
    assert (b.sessions.nb_states, b.sessions.nb_sessions) == (7, 30)
    assert a.sessions is not b.sessions and a.kind == "nagare"


def test_unknown_session_key_in_the_application_names_its_file(tmp_path, secret):
    pub = publisher.read(None)
    path = write(tmp_path / "app.cfg", "[application]\npath = python nagare.demo.app:Demo\nname = a\n[sessions]\nttl = 3\n")
    with pytest.raises(ConfigError, match=r"app\.cfg: \[sessions\] ttl: unknown key for type standalone"):
        load(application.read(path), pub)


def test_a_wsgi_application_has_no_sessions(tmp_path, secret):
    write(tmp_path / "hello.py", "def app(environ, start_response):\n    return [b'hi']\n")
    app = application.read(write(tmp_path / "app.cfg", f"[application]\npath = file {tmp_path}/hello.py:app\nname = h\n"))
    loaded = load(app, publisher.read(None))
    assert loaded.kind == "wsgi" and loaded.sessions is None and loaded.wsgi({}, None) == [b"hi"]


def test_a_root_factory_is_served_in_a_configured_wsgiapp(tmp_path, secret):
    app = application.read(write(tmp_path / "app.cfg", "[application]\npath = python nagare.demo.app:Demo\nname = a\nredirect_after_post = on\n"))
    loaded = load(app, publisher.read(None))
    assert isinstance(loaded.app, WSGIApp) and loaded.wsgi is loaded.app
    assert (loaded.app.name, loaded.app.static_url, loaded.app.redirect_after_post) == ("a", "/static/a/", True)
    assert loaded.app.sessions is loaded.sessions and loaded.app.project_name == "nagare"


def test_the_project_is_the_distribution_of_the_reference():
    assert project_of("python nagare.demo.app:Demo") == project_of("nagare.demo.app:Demo") == "nagare"
    assert project_of("app demo") == "nagare"
    assert project_of("egg shop:main") == "shop"
    assert project_of("file /somewhere/app.py:App") is None
    assert project_of("python no_such_module_anywhere:x") is None
