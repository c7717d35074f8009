"""What is particular to the redis backend: settings and URLs, keys, round trips, locks, failures.

The behaviour every backend shares is in test_backends.py (redis is one of its `BACKENDS`).
These tests run against a real redis-server: the `redis_server` fixture of tests/conftest.py,
or one of their own when they stop it or need a password. Locks across processes use real
forked processes, as the publisher's workers are.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time

import pytest
import redis as redis_py
from webob import Request

from nagare import presentation
from nagare.config import application, loader, publisher
from nagare.errors import ConfigError, ExpirationError, LockError, NagareError, StoreUnavailableError
from nagare.sessions import redis
from nagare.sessions.serializer import Serializer
from nagare.wsgi.app import WSGIApp
from nagare.wsgi.loader import sessions_manager
from tests.sessions.conftest import SECRET, build
from tests.sessions.test_backends import load, new_session, next_state, page
from tests.support.redis import Redis

FORK = multiprocessing.get_context("fork")  # the publisher forks its workers from a built manager
_names = itertools.count()


def unique_name() -> str:
    """An application name of its own: the tests share one redis-server, not their keys."""
    return f"rd{os.getpid()}x{next(_names)}x{time.monotonic_ns()}"


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


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own: the test stops it."""
    server = Redis(tmp_path)
    yield server
    server.stop()


def wait_until(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout}s")
        time.sleep(0.01)


class Hello:
    pass


@presentation.render_for(Hello)
def render_hello(self, h, comp, *args):
    return h.p("hello")


def get(app, name, query=""):
    request = Request.blank("/" + query, {"SCRIPT_NAME": f"/{name}"})
    return request.get_response(app)


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


# --- keys are namespaced per application ---------------------------------------------------------


def test_keys_are_namespaced(make, redis_server, client):
    name = unique_name()
    sessions = make(app=name)
    session_id, secure_id, state_id = new_session(sessions, "x")
    generation = int(client.get(f"nagare:{name}:generation"))
    assert sorted(redis_server.keys(f"nagare:{name}:*")) == sorted(
        [f"nagare:{name}:generation", f"nagare:{name}:{generation}:{session_id}", f"nagare:{name}:{generation}:{session_id}:{state_id}"]
    )  # the lock is released, no waiters count left
    with sessions.open(session_id, str(state_id), secure_id) as session:
        assert client.get(f"nagare:{name}:lock:{session_id}") == session.lease.token


def test_two_applications_do_not_see_each_others_sessions(make, client):
    client.set("unrelated", b"kept")
    app_a, app_b = make(), make()
    a = new_session(app_a, "a")
    b = new_session(app_b, "b")
    with pytest.raises(ExpirationError):
        load(app_b, a[0], a[2], a[1])
    app_a.invalidate_all()
    with pytest.raises(ExpirationError):
        load(app_a, a[0], a[2], a[1])
    assert load(app_b, b[0], b[2], b[1]) == "b"
    assert client.get("unrelated") == b"kept"  # no FLUSHDB


def test_reset_invalidates_only_this_application(make, client):
    client.set("unrelated", b"kept")
    mine_name = unique_name()
    mine, theirs = make(app=mine_name), make()
    a = new_session(mine, "a")
    b = new_session(theirs, "b")
    theirs_generation = client.get(theirs._generation_key)
    restarted = make(app=mine_name, reset="on")  # what a restart of `mine` with reset = on does
    with pytest.raises(ExpirationError):
        load(restarted, a[0], a[2], a[1])
    with pytest.raises(ExpirationError):
        load(mine, a[0], a[2], a[1])  # the other processes of `mine` see it at once
    assert load(theirs, b[0], b[2], b[1]) == "b"
    assert client.get(theirs._generation_key) == theirs_generation
    assert client.get("unrelated") == b"kept"
    fresh = new_session(mine, "fresh")
    assert load(restarted, fresh[0], fresh[2], fresh[1]) == "fresh"


def test_reset_with_redis_unreachable_is_one_line(own_redis):
    own_redis.stop()
    with pytest.raises(NagareError, match=r"^\[sessions\] reset = on: redis at .* unavailable.*set reset = off$") as info:
        build(redis.Sessions, "x", {"url": own_redis.url, "reset": "on"})
    assert "\n" not in str(info.value)


# --- data nobody should find there ----------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [b"garbage", b"", b"-", b"-1 2 3", b"-x secure shared", b"-nagare-session-2 1 s3cure x,y ", b"-nagare-session-2 x s3cure - shared",
     b"-nagare-session-2 1 bad\x00id - shared", b"z\x00\x01", b"12"],
)
def test_an_unreadable_record_is_expired(make, client, garbage):
    sessions = make()
    session_id, secure_id, state_id = new_session(sessions, 1)
    client.set(sessions._record_key(sessions._generation, session_id), garbage)
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)


@pytest.mark.parametrize("garbage", [b"", b"x", b"z\x00", b"z" + b"\x78\x9c" + b"\x00" * 8])
def test_an_unreadable_state_is_expired(make, client, garbage):
    sessions = make()
    session_id, secure_id, state_id = new_session(sessions, 1)
    client.set(sessions._state_key(sessions._generation, session_id, state_id), garbage)
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)


def test_a_spoilt_generation_counter_expires_the_sessions_and_starts_again(make, client):
    sessions = make()
    session_id, secure_id, state_id = new_session(sessions, 1)
    client.set(sessions._generation_key, b"not a number")
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)
    again = new_session(sessions, 2)
    assert load(sessions, again[0], again[2], again[1]) == 2
    client.set(sessions._generation_key, b"not a number")
    sessions.invalidate_all()  # works on a spoilt counter too
    assert client.get(sessions._generation_key).isdigit()


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
    assert b"EVAL" in round_trips[-1] and b"redis.call('set'" in round_trips[-1]  # the writes go with the unlock, in one script
    assert sum(b"MGET" in trip for trip in round_trips) == 1 and not any(b"SCRIPT" in trip for trip in round_trips)


# --- expiry -----------------------------------------------------------------------------------


def test_ttl_is_set_on_the_record_and_the_states(make, client):
    sessions = make(ttl=100)
    session_id, secure_id, state_id = new_session(sessions, 0)
    generation = sessions._generation
    record, state = sessions._record_key(generation, session_id), sessions._state_key(generation, session_id, state_id)
    assert 90 <= client.ttl(record) <= 100 and 90 <= client.ttl(state) <= 100
    assert client.ttl(sessions._generation_key) == -1  # the counter never expires
    forever = make()
    session_id, secure_id, state_id = new_session(forever, 0)
    generation = forever._generation
    assert client.ttl(forever._record_key(generation, session_id)) == -1
    assert client.ttl(forever._state_key(generation, session_id, state_id)) == -1


def test_ttl_expires_the_session(make, client):
    sessions = make(ttl=1)
    session_id, secure_id, state_id = new_session(sessions, 1)
    assert load(sessions, session_id, state_id, secure_id) == 1
    wait_until(lambda: not client.exists(sessions._record_key(sessions._generation, session_id)), "the record's expiry")
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)


def test_the_state_in_use_has_its_ttl_refreshed(make, client):
    sessions = make(ttl=100)
    session_id, secure_id, first = new_session(sessions, 0)
    key = sessions._state_key(sessions._generation, session_id, first)
    client.expire(key, 5)  # as if stored long ago
    second = next_state(sessions, session_id, first, secure_id, 1)  # the user acts on the first page
    assert client.ttl(key) > 5
    assert 90 <= client.ttl(sessions._state_key(sessions._generation, session_id, second)) <= 100


# --- the lock -------------------------------------------------------------------------------


def _increment(sessions, session_id, state_id, secure_id, times):
    try:
        for _ in range(times):
            with sessions.open(session_id, str(state_id), secure_id) as session:
                counter = session.state.root["counter"]
                time.sleep(0.001)  # widen the window a lost update needs
                session.store(page({"counter": counter + 1}), session.state_id)
    except BaseException:  # noqa: BLE001 - the exit code tells the parent
        os._exit(1)
    os._exit(0)


def test_lock_contention_across_processes(make):
    sessions = make(lock_poll_time=0.002, lock_max_wait_time=30, lock_max_waiters=0)
    session_id, secure_id, state_id = new_session(sessions, {"counter": 0})  # the parent is connected
    processes = [FORK.Process(target=_increment, args=(sessions, session_id, state_id, secure_id, 15)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0] * 4
    assert load(sessions, session_id, state_id, secure_id) == {"counter": 4 * 15}


def _die_holding_the_lock(sessions, session_id, state_id, secure_id, ready):
    with sessions.open(session_id, str(state_id), secure_id):
        ready.set()
        time.sleep(60)


def test_a_lock_whose_owner_died_expires_after_lock_ttl(make, client):
    sessions = make(lock_ttl=1, lock_poll_time=0.05, lock_max_wait_time=0.1)
    session_id, secure_id, state_id = new_session(sessions, "alive")
    ready = FORK.Event()
    owner = FORK.Process(target=_die_holding_the_lock, args=(sessions, session_id, state_id, secure_id, ready))
    owner.start()
    assert ready.wait(10)
    os.kill(owner.pid, signal.SIGKILL)
    owner.join(10)
    assert client.ttl(sessions._lock_key(session_id)) in (1, 2)  # lock_ttl, a whole second more
    with pytest.raises(LockError):
        load(sessions, session_id, state_id, secure_id)
    patient = make(app=sessions.name, lock_poll_time=0.05, lock_max_wait_time=10)
    assert load(patient, session_id, state_id, secure_id) == "alive"


def test_a_lock_is_released_only_by_its_owner_and_written_under_it_only(make, client):
    sessions = make(lock_ttl=0.5, lock_max_wait_time=0)
    session_id, secure_id, state_id = new_session(sessions, 1)
    lock_key = sessions._lock_key(session_id)
    slow = sessions.open(session_id, str(state_id), secure_id)  # a request longer than lock_ttl
    slow.__enter__().store(page("late"), state_id)
    wait_until(lambda: not client.exists(lock_key), "the lock's expiry")
    taker = make(app=sessions.name, lock_ttl=30, lock_max_wait_time=0)
    taken = taker.open(session_id, str(state_id), secure_id)
    taken_session = taken.__enter__()  # the lock expired: another request has it now
    taken_session.store(page("taker"), state_id)
    with pytest.raises(LockError, match=f"lock of session {session_id} expired before the request ended .*its state is not stored"):
        slow.__exit__(None, None, None)  # the application answers 503: the late page is not kept
    assert client.get(lock_key) == taken_session.lease.token  # still the taker's
    with pytest.raises(LockError):
        load(sessions, session_id, state_id, secure_id)
    taken.__exit__(None, None, None)
    assert not client.exists(lock_key)
    assert load(sessions, session_id, state_id, secure_id) == "taker"  # never overwritten by the late request


def _wait_in_line(sessions, session_id, state_id, secure_id, result):
    try:
        result.send(("loaded", load(sessions, session_id, state_id, secure_id)))
    except LockError as exc:
        result.send(("refused", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        result.send(("failed", repr(exc)))
    os._exit(0)


def test_lock_max_waiters_is_counted_in_redis_across_processes(make, client, caplog):
    sessions = make(lock_max_waiters=2, lock_poll_time=0.02, lock_max_wait_time=20)
    session_id, secure_id, state_id = new_session(sessions, "waited for")
    waiters_key = sessions._waiters_key(session_id)
    pipes, children = [], []

    def start():
        results, result = FORK.Pipe()
        child = FORK.Process(target=_wait_in_line, args=(sessions, session_id, state_id, secure_id, result))
        child.start()
        pipes.append(results)
        children.append(child)
        return results

    with sessions.open(session_id, str(state_id), secure_id):
        start(), start()
        wait_until(lambda: client.get(waiters_key) == b"2", "two waiters counted")
        third = start()
        assert third.poll(10), "the third waiter was not refused at once"
        kind, message = third.recv()
        assert kind == "refused" and "lock_max_waiters" in message, message
        assert client.get(waiters_key) == b"2"  # the refused one is not counted
        assert all(not results.poll(0) for results in pipes[:2])  # the two still wait
    answers = [results.recv() if results.poll(20) else None for results in pipes[:2]]
    for child in children:
        child.join(10)
    assert answers == [("loaded", "waited for")] * 2
    assert client.get(waiters_key) in (None, b"0")
    assert client.ttl(waiters_key) in (-2, *range(1, 23))  # gone, or going: it expires by itself


def test_threads_on_one_session_are_serialised(make):
    sessions = make(lock_poll_time=0.002, lock_max_waiters=0)
    session_id, secure_id, state_id = new_session(sessions, {"counter": 0})
    errors = []

    def request():
        try:
            for _ in range(10):
                with sessions.open(session_id, str(state_id), secure_id) as session:
                    counter = session.state.root["counter"]
                    time.sleep(0.001)
                    session.store(page({"counter": counter + 1}), session.state_id)
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert load(sessions, session_id, state_id, secure_id) == {"counter": 50}


# --- processes --------------------------------------------------------------------------------


def _local_ports(sessions):
    return sorted(c._sock.getsockname()[1] for c in sessions.client.connection_pool._available_connections if c._sock is not None)


def _use_after_fork(sessions, session, result):
    try:
        inherited = _local_ports(sessions)
        value = load(sessions, session[0], session[2], session[1])
        created = new_session(sessions, "from the child")
        result.send((inherited, _local_ports(sessions), value, created))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        result.send(repr(exc))
    os._exit(0)


def test_a_forked_child_has_connections_of_its_own(make):
    sessions = make()
    session = new_session(sessions, "parent")  # the parent's connection is open
    parent_ports = _local_ports(sessions)
    assert parent_ports
    results, result = FORK.Pipe()
    child = FORK.Process(target=_use_after_fork, args=(sessions, session, result))
    child.start()
    assert results.poll(10)
    answer = results.recv()
    child.join(10)
    assert isinstance(answer, tuple), answer
    inherited, own, value, created = answer
    assert inherited == parent_ports and own and not set(own) & set(parent_ports)
    assert value == "parent"
    # the parent's connection was not disturbed, and it sees the child's session
    assert load(sessions, created[0], created[2], created[1]) == "from the child"
    assert _local_ports(sessions) == parent_ports


# --- redis unreachable --------------------------------------------------------------------------


def test_redis_stopped_mid_run_then_restarted(own_redis, tmp_path):
    sessions = build(redis.Sessions, "stopped", {"url": own_redis.url})
    session_id, secure_id, state_id = new_session(sessions, 1)
    own_redis.stop()
    for attempt in (lambda: load(sessions, session_id, state_id, secure_id), lambda: new_session(sessions, 2), sessions.invalidate_all):
        with pytest.raises(redis.StoreError) as info:
            attempt()
        message = str(info.value)
        assert message.startswith(f"redis at 127.0.0.1:{own_redis.port} unavailable: ")
        assert "\n" not in message and info.value.__cause__ is None and info.value.__suppress_context__
        assert isinstance(info.value, StoreUnavailableError)  # the application answers 503
    restarted = Redis(tmp_path, own_redis.port)  # back, empty: the same manager reconnects
    try:
        with pytest.raises(ExpirationError):
            load(sessions, session_id, state_id, secure_id)
        again = new_session(sessions, 3)
        assert load(sessions, again[0], again[2], again[1]) == 3
    finally:
        restarted.stop()


def test_the_application_answers_503_with_one_log_line_then_recovers(own_redis, tmp_path, caplog):
    sessions = build(redis.Sessions, "down", {"url": own_redis.url})
    app = WSGIApp(Hello, name="down", sessions=sessions)
    assert get(app, "down").status_int == 200
    own_redis.stop()
    with caplog.at_level(logging.DEBUG):
        response = get(app, "down")
    assert response.status_int == 503 and response.headers["Retry-After"] == "1"
    records = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(records) == 1 and records[0].exc_info is None
    assert f"redis at 127.0.0.1:{own_redis.port} unavailable" in records[0].getMessage()
    restarted = Redis(tmp_path, own_redis.port)
    try:
        assert get(app, "down").status_int == 200
    finally:
        restarted.stop()


def test_a_write_failing_at_the_end_of_the_request_is_raised(own_redis):
    sessions = build(redis.Sessions, "stopped2", {"url": own_redis.url})
    session_id, secure_id, state_id = new_session(sessions, 1)
    with pytest.raises(redis.StoreError, match="store and unlock"):
        with sessions.open(session_id, str(state_id), secure_id) as session:
            session.store(page(2), session.next_state_id)  # sent with the unlock, when the `with` ends
            own_redis.stop()
