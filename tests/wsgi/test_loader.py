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


APP = "[application]\npath = python nagare.demo.app:Demo\nname = a\n"


@pytest.mark.parametrize(
    "publisher_section, sessions_section, lock_ttl",
    [
        ("type = fastcgi\n", "type = memcache\n", 70.0),  # request_timeout 60 s by default: + 10 s
        ("type = fastcgi\nrequest_timeout = 300\n", "type = redis\n", 310.0),
        ("type = fastcgi\nrequest_timeout = 8\n", "type = memcache\n", 30.0),  # at least 30 s
        ("type = fastcgi\nrequest_timeout = 0\n", "type = memcache\n", 30.0),  # no limit: 30 s
        ("type = standalone\n", "type = memcache\n", 30.0),  # no request_timeout
        ("type = fastcgi\nrequest_timeout = 60\n", "type = memcache\nlock_ttl = 61\n", 61.0),  # above it: as set
    ],
)
def test_the_lock_ttl_outlives_the_longest_request(tmp_path, secret, publisher_section, sessions_section, lock_ttl):
    pub = publisher.read(write(tmp_path / "pub.cfg", f"[publisher]\n{publisher_section}[sessions]\n{sessions_section}"))
    loaded = load(application.read(write(tmp_path / "app.cfg", APP)), pub)
    assert loaded.sessions.lock_ttl == lock_ttl


@pytest.mark.parametrize("where", ["publisher", "application"])
def test_a_lock_ttl_not_above_request_timeout_is_refused_in_one_line(tmp_path, secret, where):
    pub_text = "[publisher]\ntype = fastcgi\nrequest_timeout = 60\n[sessions]\ntype = memcache\n"
    app_text = APP
    if where == "publisher":
        pub_text += "lock_ttl = 60\n"
    else:
        app_text += "[sessions]\nlock_ttl = 60\n"
    pub = publisher.read(write(tmp_path / "pub.cfg", pub_text))
    with pytest.raises(ConfigError) as info:
        load(application.read(write(tmp_path / "app.cfg", app_text)), pub)
    origin = "pub.cfg" if where == "publisher" else "app.cfg"
    assert str(info.value) == (
        f"{tmp_path / origin}: [sessions] lock_ttl = 60: 60 s is not above the publisher's request_timeout (60 s): "
        "the lock of a request still running would expire"
    )


def test_a_redis_url_it_cannot_read_is_one_line(tmp_path, secret):
    pub = publisher.read(write(tmp_path / "pub.cfg", "[sessions]\ntype = redis\nurl = http://localhost\n"))
    with pytest.raises(ConfigError, match=r"pub.cfg: \[sessions\]: url = http://localhost: Redis URL must specify one of .*redis://") as info:
        load(application.read(write(tmp_path / "app.cfg", APP)), pub)
    assert "\n" not in str(info.value)


def test_a_lock_max_wait_time_not_below_request_timeout_is_refused_in_one_line(tmp_path, secret):
    pub = publisher.read(write(tmp_path / "pub.cfg", "[publisher]\ntype = fastcgi\nrequest_timeout = 3\n[sessions]\ntype = redis\nlock_max_wait_time = 5\n"))
    with pytest.raises(ConfigError) as info:
        load(application.read(write(tmp_path / "app.cfg", APP)), pub)
    assert str(info.value) == (
        f"{tmp_path / 'pub.cfg'}: [sessions] lock_max_wait_time = 5: 5 s is not below the publisher's request_timeout (3 s): "
        "a request waiting for a lock would be killed as stuck"
    )
