"""The behaviour every session backend shares (STYLE habit 9), run against each of `BACKENDS`."""

from __future__ import annotations

import pickle

import pytest

from nagare.errors import ExpirationError, SessionSecurityError, StateError


def new_session(sessions, value):
    """A session whose first state is `value`: (session id, secure id, state id)."""
    with sessions.create() as session:
        assert session.is_new and session.state is None
        state_id = session.store(value)
        return session.session_id, session.secure_id, state_id


def load(sessions, session_id, state_id, secure_id):
    with sessions.open(session_id, str(state_id), secure_id) as session:
        return session.state


def next_state(sessions, session_id, state_id, secure_id, value, use_same_state=False):
    with sessions.open(session_id, str(state_id), secure_id) as session:
        return session.store(value, use_same_state)


def test_create_store_open(backend):
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, {"page": 1, "text": "é" * 100})
    assert len(session_id) == 32 and len(secure_id) >= 32
    assert load(sessions, session_id, state_id, secure_id) == {"page": 1, "text": "é" * 100}


def test_loaded_state_is_a_copy(backend):
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, {"items": []})
    with sessions.open(session_id, str(state_id), secure_id) as session:
        session.state["items"].append(1)  # not stored
    assert load(sessions, session_id, state_id, secure_id) == {"items": []}


def test_states_history_and_back_to_an_older_state(backend):
    sessions = backend.make()
    session_id, secure_id, first = new_session(sessions, 0)
    ids = [first]
    for n in range(1, 6):
        ids.append(next_state(sessions, session_id, ids[-1], secure_id, n))
    assert ids == sorted(ids) and len(set(ids)) == 6
    for n, state_id in enumerate(ids):
        assert load(sessions, session_id, state_id, secure_id) == n
    # going back and acting again makes a new state, not an overwrite
    branch = next_state(sessions, session_id, ids[1], secure_id, "branch")
    assert branch > ids[-1]
    assert load(sessions, session_id, ids[2], secure_id) == 2
    assert load(sessions, session_id, branch, secure_id) == "branch"


def test_use_same_state_updates_in_place(backend):
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, "page")
    assert next_state(sessions, session_id, state_id, secure_id, "updated", use_same_state=True) == state_id
    assert load(sessions, session_id, state_id, secure_id) == "updated"
    assert next_state(sessions, session_id, state_id, secure_id, "page 2") > state_id


def test_nb_states_keeps_the_most_recent(backend):
    sessions = backend.make(nb_states=3)
    session_id, secure_id, first = new_session(sessions, 0)
    ids = [first]
    for n in range(1, 5):
        ids.append(next_state(sessions, session_id, ids[-1], secure_id, n))
    for old in ids[:2]:
        with pytest.raises(ExpirationError):
            load(sessions, session_id, old, secure_id)
    assert [load(sessions, session_id, state_id, secure_id) for state_id in ids[2:]] == [2, 3, 4]


def test_history_off_keeps_one_state_under_one_id(backend):
    sessions = backend.make(states_history="off")
    session_id, secure_id, state_id = new_session(sessions, 0)
    for n in range(1, 4):
        assert next_state(sessions, session_id, state_id, secure_id, n) == state_id
    # whatever state the browser asks for, it gets the last one
    assert load(sessions, session_id, state_id, secure_id) == 3
    assert load(sessions, session_id, state_id + 7, secure_id) == 3


def test_unknown_session_and_state_are_expired(backend):
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, 1)
    with pytest.raises(ExpirationError, match="session"):
        load(sessions, "0" * 32, 0, secure_id)
    with pytest.raises(ExpirationError, match="state"):
        load(sessions, session_id, state_id + 1, secure_id)
    with pytest.raises(ExpirationError):
        load(sessions, session_id.upper(), state_id, secure_id)


@pytest.mark.parametrize("secure", [None, "", "wrong", "x" * 32])
def test_secure_id_mismatch(backend, secure):
    sessions = backend.make()
    session_id, _, state_id = new_session(sessions, 1)
    with pytest.raises(SessionSecurityError):
        load(sessions, session_id, state_id, secure)


def test_secure_id_of_another_session(backend):
    sessions = backend.make()
    session_a, _, state_a = new_session(sessions, "a")
    _, secure_b, _ = new_session(sessions, "b")
    with pytest.raises(SessionSecurityError):
        load(sessions, session_a, state_a, secure_b)


class Trap:
    """Unpickling it is the failure the authentication prevents."""

    unpickled = False

    def __reduce__(self):
        return (_sprung, ())


def _sprung():
    Trap.unpickled = True
    return "sprung"


def test_tampered_state_is_refused_and_never_unpickled(backend):
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, "harmless")
    evil = pickle.dumps(Trap())
    backend.rewrite_state(sessions, session_id, state_id, lambda blob: blob[:32] + evil)  # the MAC kept, the data replaced
    with pytest.raises(StateError):
        load(sessions, session_id, state_id, secure_id)
    assert not Trap.unpickled
    backend.rewrite_state(sessions, session_id, state_id, lambda blob: blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(StateError):
        load(sessions, session_id, state_id, secure_id)


def test_a_state_swapped_for_another_of_the_session_is_refused(backend):
    sessions = backend.make()
    session_id, secure_id, first = new_session(sessions, {"n": 1})
    second = next_state(sessions, session_id, first, secure_id, {"n": 2})
    saved = {}
    backend.rewrite_state(sessions, session_id, second, lambda blob: saved.setdefault("second", blob))
    backend.rewrite_state(sessions, session_id, first, lambda blob: saved["second"])
    with pytest.raises(StateError):
        load(sessions, session_id, first, secure_id)


def test_delete(backend):
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, 1)
    other = new_session(sessions, "other")
    with sessions.open(session_id, str(state_id), secure_id) as session:
        session.delete()
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)
    assert load(sessions, other[0], other[2], other[1]) == "other"


def test_a_new_session_deleted_before_any_store(backend):
    sessions = backend.make()
    with sessions.create() as session:
        session.delete()
    with pytest.raises(ExpirationError):
        load(sessions, session.session_id, 0, session.secure_id)


def test_invalidate_all(backend):
    sessions = backend.make()
    opened = [new_session(sessions, n) for n in range(3)]
    sessions.invalidate_all()
    for session_id, secure_id, state_id in opened:
        with pytest.raises(ExpirationError):
            load(sessions, session_id, state_id, secure_id)
    session_id, secure_id, state_id = new_session(sessions, "after")
    assert load(sessions, session_id, state_id, secure_id) == "after"


def test_invalidate_all_leaves_other_managers_alone(backend):
    mine, theirs = backend.make(), backend.make()
    session_id, secure_id, state_id = new_session(theirs, "kept")
    mine.invalidate_all()
    assert load(theirs, session_id, state_id, secure_id) == "kept"


def test_lock_is_released_after_an_error(backend):
    sessions = backend.make(lock_max_wait_time=0.05)
    session_id, secure_id, state_id = new_session(sessions, 1)
    with pytest.raises(SessionSecurityError):
        load(sessions, session_id, state_id, "wrong")
    with pytest.raises(ZeroDivisionError):
        with sessions.open(session_id, str(state_id), secure_id):
            1 / 0
    assert load(sessions, session_id, state_id, secure_id) == 1
