"""What is particular to the redis backend: settings and URLs, databases, passwords, TLS, the
store script, round trips on the wire.

The behaviour every backend shares is in test_backends.py (redis is one of its `BACKENDS`), and
what redis shares with memcached (keys and namespaces, spoilt data, ttl, the lock across
processes, a server stopped and restarted) in its second part (`shared_backend`). These tests
run against a real redis-server: the `redis_server` fixture of tests/conftest.py, or one of
their own when they need a password.
"""

from __future__ import annotations

import logging
import subprocess

import pytest
import redis as redis_py

from nagare.config import application, loader, publisher
from nagare.errors import ConfigError, LockError
from nagare.sessions import redis
from nagare.sessions.serializer import Serializer
from nagare.wsgi.app import WSGIApp
from nagare.wsgi.loader import sessions_manager
from tests.sessions.conftest import SECRET, build, unique_name
from tests.sessions.test_backends import Hello, get, load, new_session, next_state, page, wait_until
from tests.support.redis import Redis
from tests.support.server import free_port, stop_process, wait_for_port


@pytest.fixture
def make(redis_server):
    def make(app=None, **values):
        return build(redis.Sessions, app or unique_name(), {"url": redis_server.url, **values})

    return make


@pytest.fixture
def client(redis_server):
    """A plain redis-py client of the shared server, to look at (or spoil) what the managers wrote."""
    plain = redis_py.Redis(redis_server.host, redis_server.port)
    yield plain
    plain.close()


# --- settings ---------------------------------------------------------------------------------


def test_defaults():
    settings = loader.check(None, redis.Sessions.SETTINGS, {})
    expected = {
        "url": "", "host": "127.0.0.1", "port": 6379, "db": 0, "password": "", "debug": False, "ttl": 0, "lock_ttl": 0.0,
        "lock_poll_time": 0.1, "lock_max_wait_time": 5.0, "lock_max_waiters": 10, "min_compress_len": 0, "reset": False,
        "nb_states": 20, "states_history": True,
    }
    assert {key: settings.as_dict()[key] for key in expected} == expected
    assert redis.Sessions.multiprocess_safe
    sessions = redis.Sessions(settings, Serializer(SECRET, "app"), "app")  # no connection yet
    assert sessions.prefix == "nagare:app:" and sessions.address == "127.0.0.1:6379"
    kwargs = sessions.client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs.get("password")) == ("127.0.0.1", 6379, 0, None)
    assert sessions.lock_ttl == 30  # automatic, without a publisher's request_timeout


@pytest.mark.parametrize(
    "key, value",
    [("port", "0"), ("port", "65536"), ("port", "x"), ("db", "-1"), ("ttl", "-1"), ("lock_ttl", "-1"), ("lock_max_waiters", "-1"),
     ("lock_poll_time", "0"), ("nb_states", "0"), ("debug", "sometimes"), ("reset", "sometimes"), ("servers", "a:1")],
)
def test_bad_settings(key, value):
    with pytest.raises(ConfigError, match=rf"^publisher.cfg: \[sessions\] {key}") as info:
        loader.check("publisher.cfg", redis.Sessions.SETTINGS, {key: value})
    assert "\n" not in str(info.value)


def configs(tmp_path, sessions="", app_sessions="", publisher_keys=""):
    """(application, publisher) configurations read from files, as `nagare-admin serve` reads them."""
    (tmp_path / "pub.cfg").write_text(f"[publisher]\n{publisher_keys}\n[sessions]\ntype = redis\n{sessions}\n")
    (tmp_path / "app.cfg").write_text(f"[application]\nname = app\npath = python {__name__}:Hello\n[sessions]\n{app_sessions}\n")
    return application.read(str(tmp_path / "app.cfg")), publisher.read(str(tmp_path / "pub.cfg"))


@pytest.mark.parametrize(
    "url, reason",
    [("http://127.0.0.1:6379/0", "scheme"), ("127.0.0.1:6379", "scheme"), ("redis://127.0.0.1:sixty/0", "port"),
     ("redis://127.0.0.1:99999/0", "port"), ("redis://[::1/0", "ipv6")],
)
def test_a_bad_url_is_one_config_error(tmp_path, monkeypatch, url, reason):
    monkeypatch.setenv("NAGARE_SECRET_FILE", str(tmp_path / "secret"))
    app, pub = configs(tmp_path, f"url = {url}")
    with pytest.raises(ConfigError) as info:
        sessions_manager(app, pub)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'pub.cfg'}: [sessions]: url = {url}: ") and reason in message.lower().replace(url.lower(), "")
    assert "\n" not in message and info.value.__cause__ is None


def test_a_url_whose_db_is_not_a_number_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("NAGARE_SECRET_FILE", str(tmp_path / "secret"))
    app, pub = configs(tmp_path, "url = redis://127.0.0.1:6379/sessions")
    with pytest.raises(ConfigError, match="sessions"):
        sessions_manager(app, pub)


def test_a_bad_url_stops_nagare_admin_serve_in_one_line(tmp_path):
    from tests.support.server import free_port, nagare_admin

    (tmp_path / "pub.cfg").write_text(f"[publisher]\nport = {free_port()}\n[sessions]\ntype = redis\nurl = http://127.0.0.1:6379/0\n")
    done = nagare_admin("serve", "-c", str(tmp_path / "pub.cfg"), "demo", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "[sessions]" in lines[0] and "http://127.0.0.1:6379/0" in lines[0] and "redis://" in lines[0], done.stderr


def test_lock_ttl_follows_the_publishers_request_timeout(tmp_path, monkeypatch, redis_server, client):
    monkeypatch.setenv("NAGARE_SECRET_FILE", str(tmp_path / "secret"))
    app, pub = configs(tmp_path, f"url = {redis_server.url}", publisher_keys="type = fastcgi\nrequest_timeout = 100")
    sessions = sessions_manager(app, pub)
    assert sessions.lock_ttl == 110  # request_timeout + 10 s
    session_id, secure_id, state_id = new_session(sessions, 1)
    with sessions.open(session_id, str(state_id), secure_id):
        assert client.ttl(sessions._lock_key(session_id)) in (110, 111)  # whole seconds, + 1
    # an explicit lock_ttl must be above it: the file that set it is named
    for pub_keys, app_keys, named in (("lock_ttl = 100", "", "pub.cfg"), ("", "lock_ttl = 50", "app.cfg")):
        app, pub = configs(tmp_path, f"url = {redis_server.url}\n{pub_keys}", app_keys, publisher_keys="type = fastcgi\nrequest_timeout = 100")
        with pytest.raises(ConfigError, match=r"\[sessions\] lock_ttl = .*not above the publisher's request_timeout") as info:
            sessions_manager(app, pub)
        assert str(info.value).startswith(str(tmp_path / named))
    app, pub = configs(tmp_path, f"url = {redis_server.url}\nlock_ttl = 101", publisher_keys="type = fastcgi\nrequest_timeout = 100")
    assert sessions_manager(app, pub).lock_ttl == 101


def test_rediss_urls_use_tls_and_unix_urls_a_socket(tmp_path):
    secure = build(redis.Sessions, "tls", {"url": "rediss://:pw@redis.example:6380/2"})
    pool = secure.client.connection_pool
    assert issubclass(pool.connection_class, redis_py.SSLConnection)
    assert (pool.connection_kwargs["host"], pool.connection_kwargs["port"], pool.connection_kwargs["db"]) == ("redis.example", 6380, 2)
    socket = tmp_path / "none.sock"
    local = build(redis.Sessions, "unix", {"url": f"unix://{socket}?db=1"})
    assert local.address == str(socket)
    with pytest.raises(redis.StoreError, match=rf"^redis at {socket} unavailable: ") as info:
        new_session(local, 1)
    assert "\n" not in str(info.value)


@pytest.fixture
def tls_redis(tmp_path):
    """A redis-server speaking TLS only, with a self-signed certificate for 127.0.0.1: (port, its CA file)."""
    cert, key = tmp_path / "redis.crt", tmp_path / "redis.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    port = free_port()
    command = [
        "/usr/bin/redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", str(cert),
        "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no", "--save", "", "--appendonly", "no",
        "--dir", str(tmp_path), "--logfile", str(tmp_path / "redis.log"),
    ]
    server = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server)
        yield port, cert
    finally:
        stop_process(server)


def test_sessions_over_tls(tls_redis):
    port, ca = tls_redis
    sessions = build(redis.Sessions, unique_name(), {"url": f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}"})
    session_id, secure_id, state_id = new_session(sessions, "over TLS")
    assert load(sessions, session_id, next_state(sessions, session_id, state_id, secure_id, "again"), secure_id) == "again"
    # the same server without TLS: refused in one line (503), not a hang
    plain = build(redis.Sessions, unique_name(), {"url": f"redis://127.0.0.1:{port}/0"})
    with pytest.raises(redis.StoreError, match=rf"^redis at 127.0.0.1:{port} unavailable: ") as info:
        new_session(plain, 1)
    assert "\n" not in str(info.value)


# --- the server and its databases -------------------------------------------------------------


def test_the_url_selects_the_database(make, redis_server):
    sessions = make(url=f"redis://{redis_server.host}:{redis_server.port}/3")
    session_id, secure_id, state_id = new_session(sessions, "in db 3")
    db3 = redis_py.Redis(redis_server.host, redis_server.port, db=3)
    db0 = redis_py.Redis(redis_server.host, redis_server.port, db=0)
    try:
        generation = int(db3.get(sessions._generation_key))
        assert db3.exists(sessions._record_key(generation, session_id), sessions._state_key(generation, session_id, state_id)) == 2
        assert db0.keys(f"{sessions.prefix}*") == []
        assert load(sessions, session_id, state_id, secure_id) == "in db 3"
    finally:
        db3.close()
        db0.close()


def test_host_port_and_db_keys(redis_server):
    name = unique_name()
    sessions = build(redis.Sessions, name, {"host": redis_server.host, "port": redis_server.port, "db": 5})
    session_id, secure_id, state_id = new_session(sessions, "in db 5")
    db5 = redis_py.Redis(redis_server.host, redis_server.port, db=5)
    try:
        assert sorted(k.decode() for k in db5.keys(f"nagare:{name}:*")) == sorted(
            [f"nagare:{name}:generation", sessions._record_key(sessions._generation, session_id), sessions._state_key(sessions._generation, session_id, state_id)]
        )
    finally:
        db5.close()
    assert redis_server.keys(f"nagare:{name}:*") == []  # nothing in db 0
    assert load(sessions, session_id, state_id, secure_id) == "in db 5"


@pytest.fixture
def protected(tmp_path):
    server = Redis(tmp_path, password="s3cret-pw")
    yield server
    server.stop()


@pytest.mark.parametrize("how", ["url", "password key"])
def test_a_password(protected, how):
    values = {"url": protected.url} if how == "url" else {"host": protected.host, "port": protected.port, "password": "s3cret-pw"}
    sessions = build(redis.Sessions, unique_name(), values)
    session_id, secure_id, state_id = new_session(sessions, "authenticated")
    assert load(sessions, session_id, state_id, secure_id) == "authenticated"
    assert len(protected.keys(f"{sessions.prefix}*")) == 3


@pytest.mark.parametrize("password", ["wrong", ""])
def test_a_wrong_password_is_one_line_and_503(protected, caplog, password):
    auth = f":{password}@" if password else ""
    name = unique_name()
    sessions = build(redis.Sessions, name, {"url": f"redis://{auth}{protected.host}:{protected.port}/0"})
    with pytest.raises(redis.StoreError) as info:
        new_session(sessions, 1)
    message = str(info.value)
    assert message.startswith(f"redis at {protected.host}:{protected.port} unavailable: ")
    assert "\n" not in message and info.value.__cause__ is None and "s3cret-pw" not in message
    app = WSGIApp(Hello, name=name, sessions=sessions)
    with caplog.at_level(logging.DEBUG):
        response = get(app, name)
    assert response.status_int == 503
    records = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(records) == 1 and records[0].exc_info is None and "unavailable" in records[0].getMessage()


# --- round trips ------------------------------------------------------------------------------


@pytest.fixture
def round_trips(monkeypatch):
    """The commands each client connection sends to redis, one list a send (a round trip)."""
    sent = []
    original = redis_py.connection.Connection.send_packed_command

    def send_packed_command(self, command, check_health=True):
        packets = command if isinstance(command, list) else [command]
        sent.append(b"".join(packets))
        return original(self, command, check_health)

    monkeypatch.setattr(redis_py.connection.Connection, "send_packed_command", send_packed_command)
    return sent


def test_debug_logs_two_round_trips_for_an_existing_session(make, caplog):
    sessions = make(debug="on")
    session_id, secure_id, state_id = new_session(sessions, 0)  # the generation is known now
    with caplog.at_level(logging.DEBUG, logger=sessions.log.name):
        load(sessions, session_id, state_id, secure_id)
        next_state(sessions, session_id, state_id, secure_id, 1)
    trips = [record.getMessage().split(":")[0] for record in caplog.records if record.getMessage().startswith("redis ")]
    assert trips == ["redis lock", "redis unlock", "redis lock", "redis store and unlock"]


def test_no_round_trip_logged_without_debug(make, caplog):
    sessions = make()
    with caplog.at_level(logging.DEBUG, logger=sessions.log.name):
        session_id, secure_id, state_id = new_session(sessions, 1)
        load(sessions, session_id, state_id, secure_id)
    assert "redis " not in caplog.text


def test_two_round_trips_on_the_wire_for_an_existing_session(make, round_trips):
    sessions = make()
    session_id, secure_id, state_id = new_session(sessions, 0)
    load(sessions, session_id, state_id, secure_id)  # connected, the generation known
    del round_trips[:]
    next_state(sessions, session_id, state_id, secure_id, 1)
    assert len(round_trips) == 2, round_trips
    del round_trips[:]
    load(sessions, session_id, state_id, secure_id)
    assert len(round_trips) == 2, round_trips


def test_the_lock_and_the_reads_share_one_round_trip(make, round_trips):
    sessions = make()
    session_id, secure_id, state_id = new_session(sessions, 0)
    load(sessions, session_id, state_id, secure_id)
    del round_trips[:]
    next_state(sessions, session_id, state_id, secure_id, 1)
    first = round_trips[0]
    assert b"SET" in first and b"NX" in first and b"MGET" in first  # lock + generation, lock, record, state
    assert b"EVAL" in round_trips[-1] and b"redis.call('SET'" in round_trips[-1]  # the writes go with the unlock, in one script
    assert sum(b"MGET" in trip for trip in round_trips) == 1 and not any(b"SCRIPT" in trip for trip in round_trips)


# --- the store script: written under the lock only ------------------------------------------------


def test_a_request_that_outlived_its_lock_stores_nothing(make, client):
    """Its writes go with its unlock, in one script that runs only while the lock holds its token."""
    sessions = make(lock_ttl=0.5, lock_max_wait_time=0)
    session_id, secure_id, state_id = new_session(sessions, 1)
    lock_key = sessions._lock_key(session_id)
    slow = sessions.open(session_id, str(state_id), secure_id)  # a request longer than lock_ttl
    slow.__enter__().store(page("late"), state_id)
    wait_until(lambda: not client.exists(lock_key), "the lock's expiry")
    taken = make(app=sessions.name, lock_ttl=30, lock_max_wait_time=0).open(session_id, str(state_id), secure_id)
    taken_session = taken.__enter__()  # the lock expired: another request has it now
    taken_session.store(page("taker"), state_id)
    with pytest.raises(LockError, match=f"lock of session {session_id} expired before the request ended .*its state is not stored"):
        slow.__exit__(None, None, None)  # the application answers 503: the late page is not kept
    assert client.get(lock_key) == taken_session.lease.token  # the script left the taker's lock alone
    taken.__exit__(None, None, None)
    assert not client.exists(lock_key)
    assert load(sessions, session_id, state_id, secure_id) == "taker"  # never overwritten by the late request


def test_the_lock_sent_again_after_its_answer_was_lost_is_still_ours(make, client):
    sessions = make()
    session_id, secure_id, state_id = new_session(sessions, "page")
    lease = redis.Lease(session_id, b"our token")
    key = sessions._lock_key(session_id)
    assert sessions._try_lock(lease, key, 30, state_id)
    assert sessions._try_lock(lease, key, 30, state_id)  # the same command again: not busy for its own lock
    assert client.get(key) == b"our token" and lease.prefetched
    assert not sessions._try_lock(redis.Lease(session_id, b"another token"), key, 30, state_id)
    client.delete(key)


def test_a_broken_connection_is_tried_once_more_not_ten_times():
    sessions = build(redis.Sessions, "retry", {"url": "redis://127.0.0.1:1/0"})
    assert sessions.client.get_retry()._retries == 1
    with pytest.raises(redis.StoreError, match="redis at 127.0.0.1:1 unavailable"):
        new_session(sessions, 1)
