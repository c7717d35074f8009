"""What is particular to the in-memory session manager (`[sessions] type = standalone`).

The behaviour every backend shares is in test_backends.py (concurrent requests on one session
serialised by its lock among them).
"""

import threading
import time

import pytest

from nagare.config import loader
from nagare.errors import ConfigError, ExpirationError, LockError
from nagare.sessions import memory
from nagare.sessions.serializer import Serializer
from tests.sessions.test_backends import load, new_session, next_state, page

SECRET = b"x" * 64


def manager(**values):
    settings = loader.check("publisher.cfg", memory.Sessions.SETTINGS, {k: str(v) for k, v in values.items()})
    return memory.Sessions(settings, Serializer(SECRET, "app"), "app")


# --- settings ---------------------------------------------------------------------------------


def test_defaults():
    settings = loader.check(None, memory.Sessions.SETTINGS, {})
    assert settings.nb_sessions == 10000
    assert settings.nb_states == 20
    assert settings.states_history is True
    assert settings.security_cookie_name == "_nagare"
    assert settings.security_cookie_httponly is True
    assert settings.security_cookie_secure is False
    assert settings.type == "standalone"
    sessions = memory.Sessions(settings, Serializer(SECRET), "app")
    assert (sessions.nb_sessions, sessions.nb_states, sessions.states_history) == (10000, 20, True)
    assert sessions.security_cookie_name == "_nagare"
    assert not sessions.multiprocess_safe


@pytest.mark.parametrize("key, value", [("nb_sessions", "0"), ("nb_states", "many"), ("states_history", "perhaps")])
def test_bad_settings(key, value):
    with pytest.raises(ConfigError) as info:
        manager(**{key: value})
    assert str(info.value).startswith(f"publisher.cfg: [sessions] {key} = '{value}': ")


def test_unknown_setting():
    with pytest.raises(ConfigError, match=r"\[sessions\] host: unknown key"):
        manager(host="127.0.0.1")


# --- create, store, open ------------------------------------------------------------------------


def test_ids_are_unique_and_unguessable():
    sessions = manager()
    ids = [new_session(sessions, None) for _ in range(50)]
    assert len({session_id for session_id, _, _ in ids}) == 50
    assert len({secure_id for _, secure_id, _ in ids}) == 50


@pytest.mark.parametrize(
    "session_id, state_id",
    [
        ("", "0"),
        ("abc", "0"),
        ("0" * 31, "0"),
        ("0" * 33, "0"),
        ("G" * 32, "0"),
        ("A" * 32, "0"),  # ids are lower case
        ("0" * 32, ""),
        ("0" * 32, "-1"),
        ("0" * 32, "1.0"),
        ("0" * 32, "1" * 13),
        ("0" * 32, "\u00b2"),  # a digit for str.isdigit(), not for int()
        ("0" * 32, "\u0661"),  # Arabic-Indic one
        ("0" * 32, None),
    ],
)
def test_malformed_ids_are_expired(session_id, state_id):
    sessions = manager()
    with pytest.raises(ExpirationError):
        with sessions.open(session_id, state_id, "x"):
            pass


def test_malformed_ids_of_a_real_session():
    sessions = manager()
    session_id, secure_id, state_id = new_session(sessions, 1)
    with pytest.raises(ExpirationError):
        load(sessions, session_id.upper(), state_id, secure_id)
    with pytest.raises(ExpirationError):
        load(sessions, session_id, "\u0660", secure_id)


# --- states -----------------------------------------------------------------------------------


def test_nb_states_drops_the_least_recently_used():
    sessions = manager(nb_states=3)
    session_id, secure_id, first = new_session(sessions, 0)
    ids = [first]
    for n in range(1, 4):
        ids.append(next_state(sessions, session_id, ids[-1], secure_id, n))
    with pytest.raises(ExpirationError):
        load(sessions, session_id, ids[0], secure_id)
    for n in (1, 2, 3):
        assert load(sessions, session_id, ids[n], secure_id) == n
    # state 1 was just used: storing one more drops state 2, the least recently used
    load(sessions, session_id, ids[1], secure_id)
    ids.append(next_state(sessions, session_id, ids[3], secure_id, 4))
    with pytest.raises(ExpirationError):
        load(sessions, session_id, ids[2], secure_id)
    assert load(sessions, session_id, ids[1], secure_id) == 1


def test_nb_sessions_drops_the_least_recently_used():
    sessions = manager(nb_sessions=2)
    a = new_session(sessions, "a")
    b = new_session(sessions, "b")
    assert load(sessions, *_order(a)) == "a"  # a is now the most recently used
    c = new_session(sessions, "c")
    assert len(sessions) == 2
    with pytest.raises(ExpirationError):
        load(sessions, *_order(b))
    assert load(sessions, *_order(a)) == "a"
    assert load(sessions, *_order(c)) == "c"


def _order(created):
    session_id, secure_id, state_id = created
    return session_id, state_id, secure_id


def test_session_dropped_while_its_request_runs_comes_back():
    sessions = manager(nb_sessions=1)
    with sessions.create() as session:
        new_session(sessions, "pushes the first one out")
        session.store(page("late"), session.next_state_id)
    assert load(sessions, session.session_id, session.next_state_id, session.secure_id) == "late"
    assert len(sessions) == 1


def test_opened_session_dropped_while_its_request_runs_comes_back():
    sessions = manager(nb_sessions=1)
    session_id, secure_id, state_id = new_session(sessions, 0)
    with sessions.open(session_id, str(state_id), secure_id) as session:
        new_session(sessions, "pushes it out")
        session.store(page(1), session.next_state_id)
    assert load(sessions, session_id, session.next_state_id, secure_id) == 1


# --- what the manager logs -----------------------------------------------------------------


def test_logs_the_size_of_the_states_stored(caplog):
    import logging
    import re

    sessions = manager()
    with caplog.at_level(logging.DEBUG, logger=sessions.log.name):
        new_session(sessions, "x" * 1000)
    state_size, shared_size = map(int, re.search(r"(\d+) bytes, shared objects (\d+) bytes", caplog.text).groups())
    assert state_size > 1000 and shared_size > 0


# --- the lock -------------------------------------------------------------------------------


def test_lock_timeout():
    sessions = manager(lock_max_wait_time=0.05)
    session_id, secure_id, state_id = new_session(sessions, 1)
    with sessions.open(session_id, str(state_id), secure_id):
        failures = []

        def other_request():
            try:
                load(sessions, session_id, state_id, secure_id)
            except LockError as exc:
                failures.append(exc)

        thread = threading.Thread(target=other_request)
        started = time.monotonic()
        thread.start()
        thread.join(5)
        assert not thread.is_alive()
        assert len(failures) == 1 and time.monotonic() - started >= 0.05
    # released: the session is usable again
    assert load(sessions, session_id, state_id, secure_id) == 1


def test_other_sessions_are_not_blocked():
    sessions = manager(lock_max_wait_time=0.05)
    a = new_session(sessions, "a")
    b = new_session(sessions, "b")
    with sessions.open(a[0], str(a[2]), a[1]):
        result = []
        thread = threading.Thread(target=lambda: result.append(load(sessions, *_order(b))))
        thread.start()
        thread.join(5)
        assert result == ["b"]
