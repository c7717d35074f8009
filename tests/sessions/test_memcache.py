"""What is particular to the memcache backend: settings, compression, the 30-day expiry, commands.

The behaviour every backend shares is in test_backends.py, and what memcached shares with redis
(keys and namespaces, spoilt data, the lock across processes, a server stopped) in its second
part (`shared_backend`). Several servers are in test_memcache_servers.py. These tests run
against the real memcached of tests/conftest.py (the `memcached` fixture).
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from nagare.config import loader
from nagare.errors import ConfigError
from nagare.sessions import memcache
from nagare.sessions.serializer import Serializer
from tests.sessions.conftest import SECRET, build, unique_name
from tests.sessions.test_backends import load, new_session, next_state


@pytest.fixture
def make(memcached):
    created = []

    def make(**values):
        sessions = build(memcache.Sessions, unique_name(), {"host": memcached.host, "port": memcached.port, **values})
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


# --- expiry and compression -------------------------------------------------------------------


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


# --- what goes to memcached ------------------------------------------------------------------


def test_debug_logs_every_command(make, caplog):
    sessions = make(debug="on")
    new_session(sessions, 0)  # the first one also starts the application's generation counter
    with caplog.at_level(logging.DEBUG, logger=sessions.log.name):
        session_id, secure_id, state_id = new_session(sessions, 1)
        load(sessions, session_id, state_id, secure_id)
    commands = [record.getMessage().split()[1] for record in caplog.records if record.getMessage().startswith("memcache ")]
    assert commands == ["add", "gets_many", "set_many", "cas", "add", "gets_many", "cas"]


def test_a_request_waiting_for_the_lock_polls_the_lock_not_the_state(make, memcached, caplog):
    holder = make()
    session_id, secure_id, state_id = new_session(holder, "page")
    # another process's manager of the same application
    waiter = build(memcache.Sessions, holder.name, {"host": memcached.host, "port": memcached.port, "debug": "on", "lock_poll_time": 0.01})
    load(waiter, session_id, state_id, secure_id)  # its generation known: it reads the state with the lock
    state_key = waiter._state_key(waiter._generation, session_id, state_id)
    with caplog.at_level(logging.DEBUG, logger=waiter.log.name):
        with holder.open(session_id, str(state_id), secure_id):
            def waiting_request() -> None:
                try:
                    load(waiter, session_id, state_id, secure_id)
                finally:
                    waiter.close()  # this thread's connection

            waiting = threading.Thread(target=waiting_request)
            waiting.start()
            time.sleep(0.2)  # it polls meanwhile
        waiting.join(10)
    waiter.close()
    reads = [r.getMessage() for r in caplog.records if r.getMessage().startswith("memcache gets_many")]
    assert len(reads) >= 5  # the first try, the polls, the read once the lock is taken
    assert sum(state_key in read for read in reads) == 2  # the first try and the read: no poll


def test_no_command_logged_without_debug(make, caplog):
    sessions = make()
    with caplog.at_level(logging.DEBUG, logger=sessions.log.name):
        new_session(sessions, 1)
    assert "memcache " not in caplog.text


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
