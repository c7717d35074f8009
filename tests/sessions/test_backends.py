"""The behaviour every session backend shares, run against each of `BACKENDS` (tests/sessions/conftest.py).

A test stores any value as the page's root component: the backends store bytes, and the
serializer pickles whatever it is given.
"""

from __future__ import annotations

import pickle
import threading
import time

import pytest

from nagare import state
from nagare.callbacks import Callbacks
from nagare.errors import ExpirationError, LockError, SessionSecurityError, StateError
from nagare.sessions.base import PageState, Record


def page(root):
    return PageState(root, Callbacks())


def new_session(sessions, value):
    """A session whose first state is `value`: (session id, secure id, state id)."""
    with sessions.create() as session:
        assert session.is_new and session.state is None and session.state_id is None
        session.store(page(value), session.next_state_id)
        return session.session_id, session.secure_id, session.next_state_id


def load(sessions, session_id, state_id, secure_id):
    with sessions.open(session_id, str(state_id), secure_id) as session:
        assert isinstance(session.state, PageState)
        return session.state.root


def next_state(sessions, session_id, state_id, secure_id, value, in_place=False):
    """Store `value` from the state `state_id`: as a new page, or `in_place` (XHR); the id used."""
    with sessions.open(session_id, str(state_id), secure_id) as session:
        target = session.state_id if in_place else session.next_state_id
        session.store(page(value), target)
        return target


def test_create_store_open(backend):
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, {"page": 1, "text": "é" * 100})
    assert len(session_id) == 32 and len(secure_id) >= 32
    assert load(sessions, session_id, state_id, secure_id) == {"page": 1, "text": "é" * 100}


def test_loaded_state_is_a_copy(backend):
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, {"items": []})
    with sessions.open(session_id, str(state_id), secure_id) as session:
        session.state.root["items"].append(1)  # not stored
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


def test_a_state_updated_in_place(backend):
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, "page")
    assert next_state(sessions, session_id, state_id, secure_id, "updated", in_place=True) == state_id
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


def test_the_states_window_keeps_the_states_in_use(backend):
    # 25 tabs opened from one page, with 20 states kept: the page is used by each of them, so it
    # stays; the states dropped are the least recently used ones, the first tabs'.
    sessions = backend.make()
    session_id, secure_id, page_id = new_session(sessions, "page")
    tabs = [next_state(sessions, session_id, page_id, secure_id, f"tab {n}") for n in range(25)]
    assert load(sessions, session_id, page_id, secure_id) == "page"
    for dropped in tabs[:6]:
        with pytest.raises(ExpirationError):
            load(sessions, session_id, dropped, secure_id)
    assert [load(sessions, session_id, tab, secure_id) for tab in tabs[6:]] == [f"tab {n}" for n in range(6, 25)]
    # the page still works: one more tab from it, then an action from that tab
    again = next_state(sessions, session_id, page_id, secure_id, "tab 25")
    assert load(sessions, session_id, next_state(sessions, session_id, again, secure_id, "on"), secure_id) == "on"


def test_an_update_in_place_uses_its_state(backend):
    sessions = backend.make(nb_states=3)
    session_id, secure_id, first = new_session(sessions, 0)
    second = next_state(sessions, session_id, first, secure_id, 1)
    next_state(sessions, session_id, first, secure_id, "first, updated", in_place=True)  # an XHR on the first page
    third = next_state(sessions, session_id, second, secure_id, 2)
    next_state(sessions, session_id, first, secure_id, "first again", in_place=True)
    fourth = next_state(sessions, session_id, third, secure_id, 3)  # drops the least recently used: the second
    with pytest.raises(ExpirationError):
        load(sessions, session_id, second, secure_id)
    assert [load(sessions, session_id, n, secure_id) for n in (first, third, fourth)] == ["first again", 2, 3]


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


def poll(backend, seconds):
    """`lock_poll_time` for the stores polled for a lock (in memory, a waiter is woken up)."""
    return {} if backend.name == "memory" else {"lock_poll_time": seconds}


def test_the_requests_waiting_for_one_session_are_capped(backend):
    sessions = backend.make(lock_max_waiters=2, lock_max_wait_time=20, **poll(backend, 0.01))
    session_id, secure_id, state_id = new_session(sessions, "page")
    loaded = []

    def waiting_request() -> None:
        try:
            loaded.append(load(sessions, session_id, state_id, secure_id))
        finally:
            sessions.close()

    waiting = [threading.Thread(target=waiting_request) for _ in range(2)]
    with sessions.open(session_id, str(state_id), secure_id):
        for thread in waiting:
            thread.start()
        deadline = time.monotonic() + 10
        while backend.waiters(sessions, session_id) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert backend.waiters(sessions, session_id) == 2
        with pytest.raises(LockError, match="2 requests already wait for its lock"):  # at once: not after 20 s
            load(sessions, session_id, state_id, secure_id)
        assert backend.waiters(sessions, session_id) == 2  # the refused one is not counted
    for thread in waiting:
        thread.join(10)
    assert loaded == ["page", "page"] and backend.waiters(sessions, session_id) == 0
    assert load(sessions, session_id, state_id, secure_id) == "page"  # not one more waiter: no count left


def test_no_cap_on_the_waiters_with_lock_max_waiters_0(backend):
    sessions = backend.make(lock_max_waiters=0, **poll(backend, 0.005))
    session_id, secure_id, state_id = new_session(sessions, 0)
    errors = []

    def request() -> None:
        try:
            for _ in range(3):
                with sessions.open(session_id, str(state_id), secure_id) as session:
                    session.store(page(session.state.root + 1), session.state_id)
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)
        finally:
            sessions.close()

    threads = [threading.Thread(target=request) for _ in range(15)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and load(sessions, session_id, state_id, secure_id) == 45


# --- stateless objects: one copy per session, seen by every state --------------------------


@state.stateless
class Cart:
    def __init__(self):
        self.items = []


class Shop:
    def __init__(self, cart):
        self.cart = cart
        self.number = 0


def test_a_stateless_object_is_shared_by_every_state_of_a_session(backend):
    sessions = backend.make()
    session_id, secure_id, state_a = new_session(sessions, Shop(Cart()))
    with sessions.open(session_id, str(state_a), secure_id) as session:
        shop = session.state.root
        shop.number = 1
        shop.cart.items.append("apple")
        state_b = session.next_state_id
        session.store(session.state, state_b)
    old = load(sessions, session_id, state_a, secure_id)
    assert old.number == 0 and old.cart.items == ["apple"]
    assert load(sessions, session_id, state_b, secure_id).number == 1


# --- the state ids: decided once per request, from what the session holds --------------------


def test_the_next_state_id_is_decided_when_the_session_is_opened(backend):
    sessions = backend.make()
    with sessions.create() as session:
        assert session.next_state_id == 0
        session.store(page("first"), 0)
        assert session.next_state_id == 0  # storing does not move it: the request has one new page
    session_id, secure_id = session.session_id, session.secure_id
    with sessions.open(session_id, "0", secure_id) as session:
        assert (session.state_id, session.next_state_id) == (0, 1)
        session.store(page("second"), 1)
        session.store(page("second, updated"), 1)  # a request may store its page more than once
    with sessions.open(session_id, "0", secure_id) as session:  # back to the first page
        assert (session.state_id, session.next_state_id) == (0, 2)  # after the last id, not the one read
    assert load(sessions, session_id, 1, secure_id) == "second, updated"


def test_a_request_that_stores_nothing_uses_up_no_id(backend):
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, 0)
    with sessions.open(session_id, str(state_id), secure_id) as session:
        unused = session.next_state_id
    with sessions.open(session_id, str(state_id), secure_id) as session:
        assert session.next_state_id == unused


@pytest.mark.parametrize("wrong", [-1, 5, 100])
def test_a_state_id_neither_loaded_nor_next_is_refused(backend, wrong):
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, 0)
    next_state(sessions, session_id, state_id, secure_id, 1)
    with sessions.open(session_id, str(state_id), secure_id) as session:
        with pytest.raises(ValueError, match=f"state {wrong} is neither"):
            session.store(page("overwrites another page's state"), wrong)
    assert [load(sessions, session_id, n, secure_id) for n in (0, 1)] == [0, 1]


def test_history_off_the_next_state_id_is_the_state_id(backend):
    sessions = backend.make(states_history="off")
    with sessions.create() as session:
        assert session.next_state_id == 0
        session.store(page(0), 0)
    with sessions.open(session.session_id, "3", session.secure_id) as opened:  # any id: the only state
        assert opened.state_id == opened.next_state_id == 0


# --- the lease: one per request, nothing kept per thread or per session id ---------------------


def test_the_hooks_with_the_lease_they_are_given(backend):
    """The interface of a backend (docs/architecture.md), called the way `Sessions` calls it."""
    sessions = backend.make()
    session_id, secure_id = "a" * 32, "secure-id"
    with sessions._lock(session_id) as lease:
        sessions._create(lease)
        sessions._store(lease, 0, secure_id, b"state 0", b"shared 0")
    with sessions._lock(session_id) as lease:
        assert sessions._fetch(lease, 0) == Record(secure_id, b"state 0", b"shared 0", 0, 0)
        sessions._store(lease, 1, secure_id, b"state 1", b"shared 1")
        sessions._store(lease, 1, secure_id, b"state 1 again", b"shared 1")
    with sessions._lock(session_id) as lease:
        assert sessions._fetch(lease, 0) == Record(secure_id, b"state 0", b"shared 1", 0, 1)
        assert sessions._fetch(lease, 1) == Record(secure_id, b"state 1 again", b"shared 1", 1, 1)
        with pytest.raises(ExpirationError, match="state"):
            sessions._fetch(lease, 2)
        sessions._delete(lease)
    with sessions._lock(session_id) as lease, pytest.raises(ExpirationError, match="session"):
        sessions._fetch(lease, 0)


def test_the_hooks_with_history_off_read_the_only_state(backend):
    sessions = backend.make(states_history="off")
    with sessions._lock("b" * 32) as lease:
        sessions._create(lease)
        sessions._store(lease, 0, "secure-id", b"only", b"shared")
    with sessions._lock("b" * 32) as lease:
        assert sessions._fetch(lease, 7) == Record("secure-id", b"only", b"shared", 0, 0)


def test_requests_on_two_sessions_interleaved_in_one_thread(backend):
    sessions = backend.make()
    a = new_session(sessions, "a")
    b = new_session(sessions, "b")
    with sessions.open(a[0], str(a[2]), a[1]) as session_a, sessions.open(b[0], str(b[2]), b[1]) as session_b:
        session_b.store(page("b2"), session_b.next_state_id)
        session_a.store(page("a2"), session_a.next_state_id)
        session_b.store(page("b2, updated"), session_b.next_state_id)
    assert load(sessions, a[0], session_a.next_state_id, a[1]) == "a2"
    assert load(sessions, b[0], session_b.next_state_id, b[1]) == "b2, updated"
    assert load(sessions, b[0], b[2], b[1]) == "b"


def test_a_session_locked_in_one_thread_stored_from_another(backend):
    """The lease goes with the request, not with the thread that took the lock."""
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, 0)
    def store_and_close() -> None:
        session.store(page(1), session.next_state_id)
        sessions.close()  # the thread's connection, if the backend has one

    with sessions.open(session_id, str(state_id), secure_id) as session:
        worker = threading.Thread(target=store_and_close)
        worker.start()
        worker.join(10)
    assert load(sessions, session_id, session.next_state_id, secure_id) == 1


def test_a_request_waiting_for_a_session_deleted_meanwhile_finds_it_expired(backend):
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, 0)
    outcome = []

    def waiting_request() -> None:
        try:
            load(sessions, session_id, state_id, secure_id)
        except ExpirationError as exc:
            outcome.append(exc)
        finally:
            sessions.close()

    with sessions.open(session_id, str(state_id), secure_id) as session:
        waiting = threading.Thread(target=waiting_request)
        waiting.start()
        time.sleep(0.1)  # it waits for the lock
        session.delete()
    waiting.join(10)
    assert len(outcome) == 1


def test_a_session_invalidated_while_its_request_runs_is_not_brought_back(backend):
    sessions = backend.make()
    session_id, secure_id, state_id = new_session(sessions, 0)
    with sessions.open(session_id, str(state_id), secure_id) as session:
        sessions.invalidate_all()  # by another request, or another process
        session.store(page(1), session.next_state_id)
    for old in (state_id, session.next_state_id):
        with pytest.raises(ExpirationError):
            load(sessions, session_id, old, secure_id)


# --- what is stored -----------------------------------------------------------------------


def test_a_page_state_is_stored_as_a_plain_tuple(backend):
    """No bytes more than (root, callbacks): a named tuple would be pickled with its class's name."""
    from nagare.component import Component
    from nagare.demo.app import Demo
    from nagare.namespaces import xhtml5

    sessions = backend.make()
    root = Component(Demo())
    root().select("counter")
    callbacks = Callbacks()
    h = xhtml5.Renderer(callbacks=callbacks, session_params={"_s": "0" * 32, "_c": "00000"}, static_url="/static/demo/")
    h.page(root.render(h))
    with sessions.create() as session:
        session.store(PageState(root, callbacks), 0)
    stored = {}
    backend.rewrite_state(sessions, session.session_id, 0, lambda blob: stored.setdefault("blob", blob))
    plain, _ = sessions.serializer.dumps(session.session_id, (root, callbacks), {}, 0)
    assert len(stored["blob"]) == len(plain) and b"PageState" not in stored["blob"]
    with sessions.open(session.session_id, "0", session.secure_id) as opened:
        assert type(opened.state) is PageState and opened.state.root().tab == "counter"


def test_an_authentic_state_that_is_not_a_page_state_is_refused(backend):
    sessions = backend.make()
    with sessions.create() as session:
        session.store(page("x"), 0)
    session_id = session.session_id
    blob, _ = sessions.serializer.dumps(session_id, ["not", "a", "page"], {}, 0)
    backend.rewrite_state(sessions, session_id, 0, lambda _: blob)
    with pytest.raises(StateError, match="not a page state"):
        load(sessions, session_id, 0, session.secure_id)
