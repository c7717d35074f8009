"""The in-memory session manager (`[sessions] type = standalone`)."""

import threading
import time

import pytest

from nagare import state
from nagare.config import loader
from nagare.errors import ConfigError, ExpirationError, LockError, SessionSecurityError
from nagare.sessions import memory
from nagare.sessions.serializer import Serializer

SECRET = b"x" * 64


def manager(**values):
    settings = loader.check("publisher.cfg", memory.Sessions.SETTINGS, {k: str(v) for k, v in values.items()})
    return memory.Sessions(settings, Serializer(SECRET, "app"), "app")


def new_session(sessions, value):
    """A session whose first state is `value`: (session id, secure id, state id)."""
    with sessions.create() as session:
        assert session.is_new and session.state is None and session.state_id is None
        state_id = session.store(value)
        return session.session_id, session.secure_id, state_id


def load(sessions, session_id, state_id, secure_id):
    with sessions.open(session_id, str(state_id), secure_id) as session:
        return session.state


# --- settings ---------------------------------------------------------------------------------


def test_defaults():
    settings = loader.check(None, memory.Sessions.SETTINGS, {})
    assert settings["nb_sessions"] == 10000
    assert settings["nb_states"] == 20
    assert settings["states_history"] is True
    assert settings["security_cookie_name"] == "_nagare"
    assert settings["security_cookie_httponly"] is True
    assert settings["security_cookie_secure"] is False
    assert settings["type"] == "standalone"
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


def test_create_store_open():
    sessions = manager()
    session_id, secure_id, state_id = new_session(sessions, {"page": 1})
    assert len(session_id) == 32 and len(secure_id) >= 32
    assert load(sessions, session_id, state_id, secure_id) == {"page": 1}
    assert len(sessions) == 1


def test_ids_are_unique_and_unguessable():
    sessions = manager()
    ids = [new_session(sessions, None) for _ in range(50)]
    assert len({session_id for session_id, _, _ in ids}) == 50
    assert len({secure_id for _, secure_id, _ in ids}) == 50


def test_loaded_state_is_a_copy():
    sessions = manager()
    session_id, secure_id, state_id = new_session(sessions, {"items": []})
    with sessions.open(session_id, str(state_id), secure_id) as session:
        session.state["items"].append(1)  # not stored
    assert load(sessions, session_id, state_id, secure_id) == {"items": []}


@pytest.mark.parametrize("secure", [None, "", "wrong", "x" * 32])
def test_wrong_or_missing_secure_id(secure):
    sessions = manager()
    session_id, _, state_id = new_session(sessions, 1)
    with pytest.raises(SessionSecurityError):
        load(sessions, session_id, state_id, secure)


def test_secure_id_of_another_session():
    sessions = manager()
    session_a, _, state_a = new_session(sessions, "a")
    _, secure_b, _ = new_session(sessions, "b")
    with pytest.raises(SessionSecurityError):
        load(sessions, session_a, state_a, secure_b)


def test_unknown_session_and_state():
    sessions = manager()
    session_id, secure_id, state_id = new_session(sessions, 1)
    with pytest.raises(ExpirationError, match="session"):
        load(sessions, "0" * 32, 0, secure_id)
    with pytest.raises(ExpirationError, match="state"):
        load(sessions, session_id, state_id + 1, secure_id)


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


def test_session_delete():
    sessions = manager()
    session_id, secure_id, state_id = new_session(sessions, 1)
    with sessions.open(session_id, str(state_id), secure_id) as session:
        session.delete()
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)


def test_invalidate_all():
    sessions = manager()
    opened = [new_session(sessions, n) for n in range(3)]
    sessions.invalidate_all()
    assert len(sessions) == 0
    for session_id, secure_id, state_id in opened:
        with pytest.raises(ExpirationError):
            load(sessions, session_id, state_id, secure_id)
    # and it still works afterwards
    session_id, secure_id, state_id = new_session(sessions, "after")
    assert load(sessions, session_id, state_id, secure_id) == "after"


def test_invalidate_all_leaves_other_managers_alone():
    mine, theirs = manager(), manager()
    session_id, secure_id, state_id = new_session(theirs, "kept")
    mine.invalidate_all()
    assert load(theirs, session_id, state_id, secure_id) == "kept"


# --- states -----------------------------------------------------------------------------------


def next_state(sessions, session_id, state_id, secure_id, value, use_same_state=False):
    with sessions.open(session_id, str(state_id), secure_id) as session:
        return session.store(value, use_same_state)


def test_new_state_id_is_allocated_once_per_request():
    sessions = manager()
    session_id, secure_id, state_id = new_session(sessions, 0)
    with sessions.open(session_id, str(state_id), secure_id) as session:
        allocated = session.new_state_id
        assert session.new_state_id == allocated
        assert session.store("x") == allocated


def test_use_same_state():
    sessions = manager()
    session_id, secure_id, state_id = new_session(sessions, "page")
    same = next_state(sessions, session_id, state_id, secure_id, "updated by XHR", use_same_state=True)
    assert same == state_id
    assert load(sessions, session_id, state_id, secure_id) == "updated by XHR"
    # the next full page still gets a new id
    assert next_state(sessions, session_id, state_id, secure_id, "page 2") > state_id


def test_use_same_state_on_a_new_session_allocates_one():
    sessions = manager()
    with sessions.create() as session:
        state_id = session.store("first", use_same_state=True)
    assert load(sessions, session.session_id, state_id, session.secure_id) == "first"


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
        state_id = session.store("late")
    assert load(sessions, session.session_id, state_id, session.secure_id) == "late"
    assert len(sessions) == 1


def test_opened_session_dropped_while_its_request_runs_comes_back():
    sessions = manager(nb_sessions=1)
    session_id, secure_id, state_id = new_session(sessions, 0)
    with sessions.open(session_id, str(state_id), secure_id) as session:
        new_session(sessions, "pushes it out")
        new_id = session.store(1)
    assert load(sessions, session_id, new_id, secure_id) == 1


def test_states_history_off_keeps_one_state_under_one_id():
    sessions = manager(states_history="off")
    session_id, secure_id, state_id = new_session(sessions, 0)
    for n in range(1, 4):
        assert next_state(sessions, session_id, state_id, secure_id, n) == state_id
    # whatever state the browser asks for, it gets the last one
    assert load(sessions, session_id, state_id, secure_id) == 3
    assert load(sessions, session_id, state_id + 7, secure_id) == 3


# --- stateless objects across states --------------------------------------------------------


@state.stateless
class Cart:
    def __init__(self):
        self.items = []


class Page:
    def __init__(self, cart):
        self.cart = cart
        self.number = 0


def test_stateless_object_is_shared_by_every_state_of_a_session():
    sessions = manager()
    session_id, secure_id, state_a = new_session(sessions, Page(Cart()))
    with sessions.open(session_id, str(state_a), secure_id) as session:
        page = session.state
        page.number = 1
        page.cart.items.append("apple")
        state_b = session.store(page)
    old = load(sessions, session_id, state_a, secure_id)
    assert old.number == 0
    assert old.cart.items == ["apple"]
    assert load(sessions, session_id, state_b, secure_id).number == 1


def test_logs_the_size_of_the_states_stored(caplog):
    import logging
    import re

    sessions = manager()
    with caplog.at_level(logging.DEBUG, logger=sessions.log.name):
        new_session(sessions, "x" * 1000)
    state_size, shared_size = map(int, re.search(r"(\d+) bytes, shared objects (\d+) bytes", caplog.text).groups())
    assert state_size > 1000 and shared_size > 0


# --- the lock -------------------------------------------------------------------------------


def test_concurrent_requests_on_one_session_are_serialised():
    sessions = manager()
    session_id, secure_id, first = new_session(sessions, {"counter": 0})
    errors = []
    barrier = threading.Barrier(20)

    def request():
        barrier.wait()
        try:
            with sessions.open(session_id, str(first), secure_id) as session:
                value = session.state["counter"]
                time.sleep(0.005)
                session.store({"counter": value + 1}, use_same_state=True)
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert load(sessions, session_id, first, secure_id) == {"counter": 20}


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


def test_a_state_swapped_for_another_state_of_the_session_is_refused():
    from nagare.errors import StateError

    sessions = manager()
    session_id, secure_id, first = new_session(sessions, {"n": 1})
    with sessions.open(session_id, str(first), secure_id) as session:
        second = session.store({"n": 2})
    states = sessions._sessions[session_id].states
    states[first], states[second] = states[second], states[first]  # someone with write access to the store
    with pytest.raises(StateError):
        with sessions.open(session_id, str(first), secure_id):
            pass
