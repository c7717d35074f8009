"""What is particular to the memcache backend: namespaces, the lock across processes, failures.

The behaviour every backend shares is in test_backends.py. These tests run against a real
memcached (the `memcached` fixture of tests/conftest.py, or one of their own when they stop it);
lock contention and dead lock owners use real processes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time

import pytest
from webob import Request

from nagare import presentation
from nagare.config import loader
from nagare.errors import ConfigError, ExpirationError, LockError, NagareError, StoreUnavailableError
from nagare.sessions import memcache
from nagare.sessions.serializer import Serializer
from nagare.wsgi.app import WSGIApp
from tests.sessions.conftest import SECRET, build
from tests.sessions.test_backends import load, new_session, next_state, page
from tests.support.memcached import Memcached

FORK = multiprocessing.get_context("fork")  # the publisher forks its workers from a built manager


@pytest.fixture
def make(memcached):
    created = []
    counter = iter(range(10**6))

    def make(app=None, **values):
        name = app or f"mc{os.getpid()}x{next(counter)}x{time.monotonic_ns()}"
        sessions = build(memcache.Sessions, name, {"host": memcached.host, "port": memcached.port, **values})
        created.append(sessions)
        return sessions

    yield make
    for sessions in created:
        sessions.close()


# --- settings ---------------------------------------------------------------------------------


def test_defaults():
    settings = loader.check(None, memcache.Sessions.SETTINGS, {})
    expected = {
        "host": ("127.0.0.1",), "port": 11211, "ttl": 0, "lock_ttl": 0.0, "lock_max_waiters": 10, "dead_retry": 10.0, "lock_poll_time": 0.1,
        "lock_max_wait_time": 5.0, "min_compress_len": 0, "reset": False, "debug": False, "nb_states": 20,
        "states_history": True, "security_cookie_name": "_nagare",
    }
    assert {key: settings.as_dict()[key] for key in expected} == expected
    assert memcache.Sessions.multiprocess_safe
    sessions = memcache.Sessions(settings, Serializer(SECRET, "app"), "app")  # no connection yet
    assert sessions.prefix == "nagare:app:"


@pytest.mark.parametrize("key, value", [("port", "0"), ("ttl", "-1"), ("lock_ttl", "-1"), ("lock_max_waiters", "-1"), ("host", "a:b"), ("host", "a:70000"), ("host", "a:1, a:1"), ("host", ","), ("reset", "sometimes"), ("nb_sessions", "9")])
def test_bad_settings(key, value):
    with pytest.raises(ConfigError, match=rf"^publisher.cfg: \[sessions\] {key}"):
        loader.check("publisher.cfg", memcache.Sessions.SETTINGS, {key: value})


def test_application_names_that_are_not_key_safe():
    settings = loader.check(None, memcache.Sessions.SETTINGS, {})
    odd = memcache.Sessions(settings, Serializer(SECRET, "a b:c"), "a b:c")
    assert odd.prefix.startswith("nagare:h") and " " not in odd.prefix and odd.prefix.count(":") == 2


# --- keys are namespaced per application ---------------------------------------------------------


def test_keys_are_namespaced(make, memcache_client):
    sessions = make(app="shop")
    session_id, secure_id, state_id = new_session(sessions, "x")
    generation = int(memcache_client.get("nagare:shop:generation"))
    assert memcache_client.get(f"nagare:shop:{generation}:{session_id}") is not None
    assert memcache_client.get(f"nagare:shop:{generation}:{session_id}:{state_id}") is not None
    assert memcache_client.get(f"nagare:shop:lock:{session_id}") is None  # released


def test_two_applications_do_not_see_each_others_sessions(make, memcache_client):
    memcache_client.set("unrelated", b"kept")
    app_a, app_b = make(), make()
    a = new_session(app_a, "a")
    b = new_session(app_b, "b")
    with pytest.raises(ExpirationError):
        load(app_b, a[0], a[2], a[1])
    app_a.invalidate_all()
    with pytest.raises(ExpirationError):
        load(app_a, a[0], a[2], a[1])
    assert load(app_b, b[0], b[2], b[1]) == "b"
    assert memcache_client.get("unrelated") == b"kept"  # no flush_all


def test_reset_invalidates_only_this_application(make, memcache_client):
    memcache_client.set("unrelated", b"kept")
    mine, theirs = make(app="mine-reset"), make(app="theirs-reset")
    a = new_session(mine, "a")
    b = new_session(theirs, "b")
    restarted = make(app="mine-reset", reset="on")  # what a restart of `mine` with reset = on does
    with pytest.raises(ExpirationError):
        load(restarted, a[0], a[2], a[1])
    with pytest.raises(ExpirationError):
        load(mine, a[0], a[2], a[1])  # the other processes of `mine` see it too
    assert load(theirs, b[0], b[2], b[1]) == "b"
    assert memcache_client.get("unrelated") == b"kept"


def test_reset_is_off_by_default(make):
    mine = make(app="mine-no-reset")
    a = new_session(mine, "a")
    assert load(make(app="mine-no-reset"), a[0], a[2], a[1]) == "a"


def test_invalidation_by_another_process_is_seen_at_once(make):
    here, there = make(app="seen"), make(app="seen")  # two processes of one application
    a = new_session(here, "a")
    assert load(there, a[0], a[2], a[1]) == "a"
    there.invalidate_all()
    with pytest.raises(ExpirationError):
        load(here, a[0], a[2], a[1])
    fresh = new_session(there, "fresh")  # created by a process whose generation was current
    assert load(here, fresh[0], fresh[2], fresh[1]) == "fresh"


# --- data nobody should find there ----------------------------------------------------------


@pytest.mark.parametrize("garbage", [b"garbage", b"", b"-", b"-1 2 3", b"-x secure shared", b"-12 bad\x00id shared", b"z\x00\x01", 12])
def test_an_unreadable_record_is_expired(make, memcache_client, garbage):
    sessions = make()
    session_id, secure_id, state_id = new_session(sessions, 1)
    memcache_client.set(sessions._record_key(sessions._generation, session_id), garbage)
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)


@pytest.mark.parametrize("garbage", [b"", b"x", b"z\x00"])
def test_an_unreadable_state_is_expired(make, memcache_client, garbage):
    sessions = make()
    session_id, secure_id, state_id = new_session(sessions, 1)
    memcache_client.set(sessions._state_key(sessions._generation, session_id, state_id), garbage)
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)


@pytest.mark.parametrize("garbage", [b"not a number", b"-5"])
def test_a_spoilt_generation_counter_expires_the_sessions_and_starts_again(make, memcache_client, garbage):
    sessions = make()
    session_id, secure_id, state_id = new_session(sessions, 1)
    memcache_client.set(sessions._generation_key, garbage)
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)
    again = new_session(sessions, 2)
    assert load(sessions, again[0], again[2], again[1]) == 2
    memcache_client.set(sessions._generation_key, garbage)
    sessions.invalidate_all()  # works on a spoilt counter too
    again = new_session(sessions, 3)
    assert load(sessions, again[0], again[2], again[1]) == 3


def test_an_evicted_generation_counter_does_not_bring_old_sessions_back(make, memcache_client):
    sessions = make()
    memcache_client.delete(sessions._generation_key)
    old = new_session(sessions, "old")  # starts a generation
    sessions.invalidate_all()
    memcache_client.delete(sessions._generation_key)  # evicted
    with pytest.raises(ExpirationError):
        load(sessions, old[0], old[2], old[1])


def test_old_states_are_deleted_not_left_to_the_lru(make, memcache_client):
    sessions = make(nb_states=2)
    session_id, secure_id, state_id = new_session(sessions, 0)
    ids = [state_id]
    for n in range(1, 5):
        ids.append(next_state(sessions, session_id, ids[-1], secure_id, n))
    keys = [sessions._state_key(sessions._generation, session_id, n) for n in ids]
    found = memcache_client.get_many(keys)
    assert sorted(found) == sorted(keys[-2:])


def test_delete_removes_every_key(make, memcache_client):
    sessions = make()
    session_id, secure_id, state_id = new_session(sessions, 0)
    second = next_state(sessions, session_id, state_id, secure_id, 1)
    with sessions.open(session_id, str(second), secure_id) as session:
        session.delete()
    generation = sessions._generation
    prefix = f"{sessions.prefix}{generation}:{session_id}"
    assert memcache_client.get_many([prefix, f"{prefix}:{state_id}", f"{prefix}:{second}"]) == {}


# --- the lock, across real processes -----------------------------------------------------------


def _increment(sessions, session_id, state_id, secure_id, times):
    for _ in range(times):
        with sessions.open(session_id, str(state_id), secure_id) as session:
            counter = session.state.root["counter"]
            time.sleep(0.001)  # widen the window a lost update needs
            session.store(page({"counter": counter + 1}), session.state_id)
    os._exit(0)


def test_lock_contention_across_processes(make):
    sessions = make(lock_poll_time=0.002, lock_max_wait_time=30)
    session_id, secure_id, state_id = new_session(sessions, {"counter": 0})  # the parent is connected
    processes = [FORK.Process(target=_increment, args=(sessions, session_id, state_id, secure_id, 20)) for _ in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0] * 6
    assert load(sessions, session_id, state_id, secure_id) == {"counter": 6 * 20}


def test_lock_timeout(make):
    sessions = make(lock_max_wait_time=0.3, lock_poll_time=0.05)
    session_id, secure_id, state_id = new_session(sessions, 1)
    other = make(app=sessions.name, lock_max_wait_time=0.3, lock_poll_time=0.05)  # another process's manager
    with sessions.open(session_id, str(state_id), secure_id):
        started = time.monotonic()
        with pytest.raises(LockError, match=f"lock of session {session_id} not acquired within 0.3s"):
            load(other, session_id, state_id, secure_id)
        elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.0
    assert load(other, session_id, state_id, secure_id) == 1  # released


def _die_holding_the_lock(sessions, session_id, state_id, secure_id, ready):
    with sessions.open(session_id, str(state_id), secure_id):
        ready.set()
        time.sleep(60)


def test_a_lock_whose_owner_died_expires_after_lock_ttl(make):
    sessions = make(lock_ttl=1, lock_poll_time=0.05, lock_max_wait_time=0.1)
    session_id, secure_id, state_id = new_session(sessions, "alive")
    ready = FORK.Event()
    owner = FORK.Process(target=_die_holding_the_lock, args=(sessions, session_id, state_id, secure_id, ready))
    owner.start()
    assert ready.wait(10)
    os.kill(owner.pid, signal.SIGKILL)
    owner.join(10)
    killed = time.monotonic()
    with pytest.raises(LockError):
        load(sessions, session_id, state_id, secure_id)
    patient = make(app=sessions.name, lock_ttl=1, lock_poll_time=0.05, lock_max_wait_time=5)
    assert load(patient, session_id, state_id, secure_id) == "alive"
    assert 0.5 < time.monotonic() - killed < 3.0  # lock_ttl (+ memcached's one-second clock)


def test_a_lock_is_released_only_by_its_owner(make, memcache_client, caplog):
    sessions = make(lock_ttl=1, lock_max_wait_time=0)
    session_id, secure_id, state_id = new_session(sessions, 1)
    slow = sessions.open(session_id, str(state_id), secure_id)  # a request longer than lock_ttl
    slow.__enter__()
    time.sleep(2.2)
    taker = make(app=sessions.name, lock_ttl=30, lock_max_wait_time=0)
    taken = taker.open(session_id, str(state_id), secure_id)
    taken.__enter__()  # the lock expired: another request has it now
    with caplog.at_level(logging.WARNING, logger=sessions.log.name):
        slow.__exit__(None, None, None)
    assert "expired before the request ended" in caplog.text
    assert memcache_client.get(sessions._lock_key(session_id)) is not None  # still the taker's
    with pytest.raises(LockError):
        load(sessions, session_id, state_id, secure_id)
    taken.__exit__(None, None, None)
    assert load(sessions, session_id, state_id, secure_id) == 1


def _lock_is_taken(sessions, session_id, result):
    try:
        with sessions._lock(session_id):
            result.send("acquired")
    except LockError:
        result.send("busy")
    os._exit(0)


def test_the_lock_holds_against_another_process(make):
    sessions = make(lock_max_wait_time=0.2, lock_poll_time=0.02)
    session_id, secure_id, state_id = new_session(sessions, 1)
    results, result = FORK.Pipe()  # not a Queue: its feeder thread dies with os._exit
    with sessions.open(session_id, str(state_id), secure_id):
        process = FORK.Process(target=_lock_is_taken, args=(sessions, session_id, result))
        process.start()
        assert results.poll(10) and results.recv() == "busy"
        process.join(10)
    process = FORK.Process(target=_lock_is_taken, args=(sessions, session_id, result))
    process.start()
    assert results.poll(10) and results.recv() == "acquired"
    process.join(10)


# --- expiry and compression -------------------------------------------------------------------


def test_ttl(make):
    sessions = make(ttl=1)
    session_id, secure_id, state_id = new_session(sessions, 1)
    assert load(sessions, session_id, state_id, secure_id) == 1
    time.sleep(2.5)
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)


def test_ttl_is_refreshed_on_store(make):
    sessions = make(ttl=2)
    session_id, secure_id, state_id = new_session(sessions, 0)
    for n in range(1, 4):
        time.sleep(1)
        next_state(sessions, session_id, state_id, secure_id, n, in_place=True)
    assert load(sessions, session_id, state_id, secure_id) == 3  # 3 s after creation, 2 s ttl


def test_a_ttl_above_thirty_days_is_not_read_as_a_date(make):
    sessions = make(ttl=40 * 24 * 3600)
    session_id, secure_id, state_id = new_session(sessions, 1)
    assert load(sessions, session_id, state_id, secure_id) == 1


def test_compression(make, memcache_client):
    sessions = make(min_compress_len=200)
    big, small = "spam " * 1000, "s"
    session_id, secure_id, state_id = new_session(sessions, big)
    key = sessions._state_key(sessions._generation, session_id, state_id)
    stored = memcache_client.get(key)
    assert stored[:1] == b"z" and len(stored) < 1000
    assert load(sessions, session_id, state_id, secure_id) == big
    small_id = next_state(sessions, session_id, state_id, secure_id, small)
    assert memcache_client.get(sessions._state_key(sessions._generation, session_id, small_id))[:1] == b"-"
    assert load(sessions, session_id, small_id, secure_id) == small


def test_no_compression_by_default(make, memcache_client):
    sessions = make()
    session_id, secure_id, state_id = new_session(sessions, "spam " * 1000)
    assert memcache_client.get(sessions._state_key(sessions._generation, session_id, state_id))[:1] == b"-"


# --- memcached unreachable ----------------------------------------------------------------------


@pytest.fixture
def own_memcached(tmp_path):
    """A memcached of the test's own: the test stops it."""
    server = Memcached(tmp_path)
    yield server
    server.stop()


class Hello:
    pass


@presentation.render_for(Hello)
def render_hello(self, h, comp, *args):
    return h.p("hello")


def test_memcached_stopped_mid_run(own_memcached, tmp_path):
    sessions = build(memcache.Sessions, "stopped", {"host": own_memcached.host, "port": own_memcached.port})
    session_id, secure_id, state_id = new_session(sessions, 1)
    own_memcached.stop()
    for attempt in (lambda: load(sessions, session_id, state_id, secure_id), lambda: new_session(sessions, 2), sessions.invalidate_all):
        with pytest.raises(memcache.StoreError) as info:
            attempt()
        message = str(info.value)
        assert message.startswith(f"memcached at 127.0.0.1:{own_memcached.port} unavailable: ")
        assert "\n" not in message and info.value.__cause__ is None and info.value.__suppress_context__
        assert isinstance(info.value, StoreUnavailableError)  # the application answers 503
    # memcached is back (restarted, empty): the same manager reconnects
    restarted = Memcached(tmp_path, own_memcached.port)
    try:
        with pytest.raises(ExpirationError):
            load(sessions, session_id, state_id, secure_id)
        again = new_session(sessions, 3)
        assert load(sessions, again[0], again[2], again[1]) == 3
    finally:
        restarted.stop()
        sessions.close()


def test_memcached_stopped_during_a_request_does_not_hide_the_error(own_memcached):
    sessions = build(memcache.Sessions, "stopped2", {"host": own_memcached.host, "port": own_memcached.port})
    session_id, secure_id, state_id = new_session(sessions, 1)
    with pytest.raises(memcache.StoreError, match="set_many"):
        with sessions.open(session_id, str(state_id), secure_id) as session:
            own_memcached.stop()
            session.store(page(2), session.next_state_id)  # fails; the unlock that follows fails too, quietly (the lock expires)


def test_the_application_answers_503_with_one_log_line(own_memcached, caplog):
    sessions = build(memcache.Sessions, "down", {"host": own_memcached.host, "port": own_memcached.port})
    app = WSGIApp(Hello, name="down", sessions=sessions)
    request = Request.blank("/")
    request.script_name = "/down"
    assert request.get_response(app).status_int == 200
    own_memcached.stop()
    with caplog.at_level(logging.DEBUG):
        response = Request.blank("/", {"SCRIPT_NAME": "/down"}).get_response(app)
    assert response.status_int == 503
    records = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(records) == 1 and records[0].exc_info is None
    assert f"memcached at 127.0.0.1:{own_memcached.port} unavailable" in records[0].getMessage()


def test_reset_with_memcached_unreachable_is_one_line(own_memcached):
    own_memcached.stop()
    with pytest.raises(NagareError, match=r"^\[sessions\] reset = on: memcached at .* unavailable.*set reset = off$"):
        build(memcache.Sessions, "x", {"host": own_memcached.host, "port": own_memcached.port, "reset": "on"})


# --- processes and threads -------------------------------------------------------------------


def _use_after_fork(sessions, session, result):
    try:
        inherited = sessions._local.clients[0]
        value = load(sessions, session[0], session[2], session[1])
        created = new_session(sessions, "from the child")
        result.send((sessions._client() is not inherited and inherited.sock is not None, value, created))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        result.send(repr(exc))
    os._exit(0)


def test_reconnect_after_fork(make):
    sessions = make()
    session = new_session(sessions, "parent")  # the parent's socket is open
    parent_client = sessions._client()
    assert parent_client.sock is not None
    results, result = FORK.Pipe()
    child = FORK.Process(target=_use_after_fork, args=(sessions, session, result))
    child.start()
    assert results.poll(10)
    own_client, value, created = results.recv()
    child.join(10)
    assert own_client and value == "parent"
    # the parent's connection was not disturbed, and it sees the child's session
    assert sessions._client() is parent_client
    assert load(sessions, created[0], created[2], created[1]) == "from the child"


def test_threads_have_their_own_connections(make):
    import threading

    sessions = make(lock_poll_time=0.002)
    session_id, secure_id, state_id = new_session(sessions, {"counter": 0})
    errors = []

    def request():
        try:
            for _ in range(10):
                with sessions.open(session_id, str(state_id), secure_id) as session:
                    session.store(page({"counter": session.state.root["counter"] + 1}), session.state_id)
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)
        finally:
            sessions.close()  # this thread's connection

    threads = [threading.Thread(target=request) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert load(sessions, session_id, state_id, secure_id) == {"counter": 50}


def test_debug_logs_every_command(make, caplog):
    sessions = make(debug="on")
    new_session(sessions, 0)  # the first one also starts the application's generation counter
    with caplog.at_level(logging.DEBUG, logger=sessions.log.name):
        session_id, secure_id, state_id = new_session(sessions, 1)
        load(sessions, session_id, state_id, secure_id)
    commands = [record.getMessage().split()[1] for record in caplog.records if record.getMessage().startswith("memcache ")]
    assert commands == ["add", "gets_many", "set_many", "cas", "add", "gets_many", "cas"]


def test_no_command_logged_without_debug(make, caplog):
    sessions = make()
    with caplog.at_level(logging.DEBUG, logger=sessions.log.name):
        new_session(sessions, 1)
    assert "memcache " not in caplog.text


def test_a_connection_closed_by_a_restarted_memcached_is_opened_again_at_once(own_memcached, tmp_path):
    sessions = build(memcache.Sessions, "restarted", {"host": own_memcached.host, "port": own_memcached.port})
    new_session(sessions, 1)  # this thread's connection is open
    own_memcached.stop()
    restarted = Memcached(tmp_path, own_memcached.port)
    try:
        # the first command goes out on the old connection, finds it closed, and is sent again on
        # a new one: no 503 for the first request after the restart
        session_id, secure_id, state_id = new_session(sessions, 2)
        assert load(sessions, session_id, state_id, secure_id) == 2
    finally:
        restarted.stop()
        sessions.close()


class CountingSocket:
    """A client's socket that counts the round trips: the times it waits for an answer after sending."""

    def __init__(self, sock):
        self.sock, self.sent, self.round_trips = sock, False, 0

    def sendall(self, data):
        self.sent = True
        return self.sock.sendall(data)

    def recv(self, size):
        if self.sent:
            self.round_trips, self.sent = self.round_trips + 1, False
        return self.sock.recv(size)

    def __getattr__(self, name):
        return getattr(self.sock, name)


def test_a_request_waits_for_two_round_trips(make):
    sessions = make()
    session_id, secure_id, state_id = new_session(sessions, 0)  # the generation is known now
    client = sessions._client(0)
    counting = client.sock = CountingSocket(client.sock)
    state_id = next_state(sessions, session_id, state_id, secure_id, 1)
    # the lock (`add`, no reply) with the read, then the writes; the unlock (`cas`) is not waited for
    assert counting.round_trips == 2
    created = new_session(sessions, "new")
    assert counting.round_trips == 4  # a new session: the lock with the generation, the writes
    assert load(sessions, session_id, state_id, secure_id) == 1 and load(sessions, created[0], created[2], created[1]) == "new"
