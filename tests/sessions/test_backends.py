"""The behaviour every session backend shares, run against each of `BACKENDS` (tests/sessions/conftest.py).

The second part runs against the stores shared by processes only (`shared_backend`: memcached,
redis, real servers): their keys seen through a plain client, data spoilt there, the lock across
real forked processes, a server stopped and restarted.

A test stores any value as the page's root component: the backends store bytes, and the
serializer pickles whatever it is given.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time

import pytest
from webob import Request

from nagare import presentation, state
from nagare.callbacks import Callbacks
from nagare.errors import ExpirationError, LockError, NagareError, SessionSecurityError, StateError, StoreUnavailableError
from nagare.sessions import shared
from nagare.sessions.base import PageState, Record
from nagare.wsgi.app import WSGIApp

FORK = multiprocessing.get_context("fork")  # the publisher forks its workers from a built manager


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


def states_one_after_another(sessions, count):
    """A new session whose states 0, 1, ... `count - 1` are each made from the one before: (session id, secure id, their ids)."""
    session_id, secure_id, first = new_session(sessions, 0)
    ids = [first]
    for n in range(1, count):
        ids.append(next_state(sessions, session_id, ids[-1], secure_id, n))
    return session_id, secure_id, ids


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
    session_id, secure_id, ids = states_one_after_another(sessions, 6)
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
    session_id, secure_id, ids = states_one_after_another(sessions, 5)
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


def test_concurrent_requests_on_one_session_are_serialised(backend):
    """20 requests at once on one session with lock_max_waiters = 0: none refused (the default
    cap is 10), none of their updates lost."""
    sessions = backend.make(lock_max_waiters=0, lock_max_wait_time=30, **poll(backend, 0.002))
    session_id, secure_id, state_id = new_session(sessions, {"counter": 0})
    errors = []
    barrier = threading.Barrier(20)

    def request() -> None:
        try:
            barrier.wait(10)
            for _ in range(5):
                with sessions.open(session_id, str(state_id), secure_id) as session:
                    counter = session.state.root["counter"]
                    time.sleep(0.001)  # widen the window a lost update needs
                    session.store(page({"counter": counter + 1}), session.state_id)
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)
        finally:
            sessions.close()  # this thread's connection, if the backend has one

    threads = [threading.Thread(target=request) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and load(sessions, session_id, state_id, secure_id) == {"counter": 20 * 5}


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


# === the stores shared by processes (memcached, redis): `shared_backend` =====================


def wait_until(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout}s")
        time.sleep(0.01)


# --- keys are namespaced per application ---------------------------------------------------------


def test_keys_are_namespaced(shared_backend):
    sessions = shared_backend.make()
    prefix = f"nagare:{sessions.name}:"
    session_id, secure_id, state_id = new_session(sessions, "x")
    generation = int(shared_backend.raw_get(f"{prefix}generation"))
    record, state_key = f"{prefix}{generation}:{session_id}", f"{prefix}{generation}:{session_id}:{state_id}"
    assert shared_backend.raw_get(record) is not None and shared_backend.raw_get(state_key) is not None
    # released (memcached: by a command sent without waiting for its reply, seen by another connection soon after)
    wait_until(lambda: shared_backend.raw_get(f"{prefix}lock:{session_id}") is None, "the unlock")
    assert sorted(shared_backend.raw_keys(prefix)) == sorted([f"{prefix}generation", record, state_key])  # no waiters count left
    with sessions.open(session_id, str(state_id), secure_id) as session:
        assert shared_backend.raw_get(f"{prefix}lock:{session_id}") == session.lease.token


def test_two_applications_do_not_see_each_others_sessions(shared_backend):
    shared_backend.raw_set("unrelated", b"kept")
    app_a, app_b = shared_backend.make(), shared_backend.make()
    a = new_session(app_a, "a")
    b = new_session(app_b, "b")
    with pytest.raises(ExpirationError):
        load(app_b, a[0], a[2], a[1])
    app_a.invalidate_all()
    with pytest.raises(ExpirationError):
        load(app_a, a[0], a[2], a[1])
    assert load(app_b, b[0], b[2], b[1]) == "b"
    assert shared_backend.raw_get("unrelated") == b"kept"  # no flush_all, no FLUSHDB


def test_reset_invalidates_only_this_application(shared_backend):
    shared_backend.raw_set("unrelated", b"kept")
    mine, theirs = shared_backend.make(), shared_backend.make()
    a = new_session(mine, "a")
    b = new_session(theirs, "b")
    theirs_generation = shared_backend.raw_get(theirs._generation_key)
    restarted = shared_backend.make(app=mine.name, reset="on")  # what a restart of `mine` with reset = on does
    with pytest.raises(ExpirationError):
        load(restarted, a[0], a[2], a[1])
    with pytest.raises(ExpirationError):
        load(mine, a[0], a[2], a[1])  # the other processes of `mine` see it at once
    assert load(theirs, b[0], b[2], b[1]) == "b"
    assert shared_backend.raw_get(theirs._generation_key) == theirs_generation
    assert shared_backend.raw_get("unrelated") == b"kept"
    fresh = new_session(mine, "fresh")
    assert load(restarted, fresh[0], fresh[2], fresh[1]) == "fresh"


def test_reset_is_off_by_default(shared_backend):
    mine = shared_backend.make()
    a = new_session(mine, "a")
    assert load(shared_backend.make(app=mine.name), a[0], a[2], a[1]) == "a"


def test_invalidation_by_another_process_is_seen_at_once(shared_backend):
    here = shared_backend.make()
    there = shared_backend.make(app=here.name)  # two processes of one application
    a = new_session(here, "a")
    assert load(there, a[0], a[2], a[1]) == "a"
    there.invalidate_all()
    with pytest.raises(ExpirationError):
        load(here, a[0], a[2], a[1])
    fresh = new_session(there, "fresh")  # created by a process whose generation was current
    assert load(here, fresh[0], fresh[2], fresh[1]) == "fresh"


# --- data nobody should find there ----------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [b"garbage", b"", b"-", b"-1 2 3", b"-x secure shared", b"-12 bad\x00id shared", b"-nagare-session-2 1 s3cure x,y ",
     b"-nagare-session-2 x s3cure - shared", b"-nagare-session-2 1 bad\x00id - shared", b"z\x00\x01", b"12"],
)
def test_an_unreadable_record_is_expired(shared_backend, garbage):
    sessions = shared_backend.make()
    session_id, secure_id, state_id = new_session(sessions, 1)
    shared_backend.raw_set(sessions._record_key(sessions._generation, session_id), garbage)
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)


@pytest.mark.parametrize("garbage", [b"", b"x", b"z\x00", b"z" + b"\x78\x9c" + b"\x00" * 8])
def test_an_unreadable_state_is_expired(shared_backend, garbage):
    sessions = shared_backend.make()
    session_id, secure_id, state_id = new_session(sessions, 1)
    shared_backend.raw_set(sessions._state_key(sessions._generation, session_id, state_id), garbage)
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)


@pytest.mark.parametrize("garbage", [b"not a number", b"-5"])
def test_a_spoilt_generation_counter_expires_the_sessions_and_starts_again(shared_backend, garbage):
    sessions = shared_backend.make()
    session_id, secure_id, state_id = new_session(sessions, 1)
    shared_backend.raw_set(sessions._generation_key, garbage)
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)
    again = new_session(sessions, 2)
    assert load(sessions, again[0], again[2], again[1]) == 2
    shared_backend.raw_set(sessions._generation_key, garbage)
    sessions.invalidate_all()  # works on a spoilt counter too
    assert shared_backend.raw_get(sessions._generation_key).isdigit()
    again = new_session(sessions, 3)
    assert load(sessions, again[0], again[2], again[1]) == 3


def test_an_evicted_generation_counter_does_not_bring_old_sessions_back(shared_backend):
    sessions = shared_backend.make()
    shared_backend.raw_delete(sessions._generation_key)
    old = new_session(sessions, "old")  # starts a generation
    sessions.invalidate_all()
    shared_backend.raw_delete(sessions._generation_key)  # evicted
    with pytest.raises(ExpirationError):
        load(sessions, old[0], old[2], old[1])


def test_old_states_are_deleted_not_left_to_the_lru(shared_backend):
    sessions = shared_backend.make(nb_states=2)
    session_id, secure_id, ids = states_one_after_another(sessions, 5)
    keys = [sessions._state_key(sessions._generation, session_id, n) for n in ids]
    # memcached: deleted by a command sent without waiting for its reply
    wait_until(lambda: [key for key in keys if shared_backend.raw_get(key) is not None] == keys[-2:], "the old states' deletion")


def test_delete_removes_every_key(shared_backend):
    sessions = shared_backend.make()
    session_id, secure_id, state_id = new_session(sessions, 0)
    second = next_state(sessions, session_id, state_id, secure_id, 1)
    with sessions.open(session_id, str(second), secure_id) as session:
        session.delete()
    prefix = f"{sessions.prefix}{sessions._generation}:{session_id}"
    assert [shared_backend.raw_get(key) for key in (prefix, f"{prefix}:{state_id}", f"{prefix}:{second}")] == [None] * 3


# --- expiry -----------------------------------------------------------------------------------


def test_ttl_is_set_on_the_record_and_the_states(shared_backend):
    sessions = shared_backend.make(ttl=100)
    session_id, secure_id, state_id = new_session(sessions, 0)
    generation = sessions._generation
    record, state_key = sessions._record_key(generation, session_id), sessions._state_key(generation, session_id, state_id)
    assert 90 <= shared_backend.raw_ttl(record) <= 100 and 90 <= shared_backend.raw_ttl(state_key) <= 100
    assert shared_backend.raw_ttl(sessions._generation_key) == -1  # the counter never expires
    forever = shared_backend.make()
    session_id, secure_id, state_id = new_session(forever, 0)
    generation = forever._generation
    assert shared_backend.raw_ttl(forever._record_key(generation, session_id)) == -1
    assert shared_backend.raw_ttl(forever._state_key(generation, session_id, state_id)) == -1


def test_ttl_expires_the_session(shared_backend):
    sessions = shared_backend.make(ttl=1)
    session_id, secure_id, state_id = new_session(sessions, 1)
    assert load(sessions, session_id, state_id, secure_id) == 1
    record = sessions._record_key(sessions._generation, session_id)
    wait_until(lambda: shared_backend.raw_get(record) is None, "the record's expiry")
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)


def test_ttl_is_refreshed_on_store(shared_backend):
    # memcached counts whole seconds: an item given 3 s may live only 2, still twice the 1 s between stores
    sessions = shared_backend.make(ttl=3)
    session_id, secure_id, state_id = new_session(sessions, 0)
    for n in range(1, 5):
        time.sleep(1)
        next_state(sessions, session_id, state_id, secure_id, n, in_place=True)
    assert load(sessions, session_id, state_id, secure_id) == 4  # 4 s after creation, 3 s ttl


def test_the_state_in_use_has_its_ttl_refreshed(shared_backend):
    sessions = shared_backend.make(ttl=100)
    session_id, secure_id, first = new_session(sessions, 0)
    key = sessions._state_key(sessions._generation, session_id, first)
    shared_backend.raw_touch(key, 5)  # as if stored long ago
    second = next_state(sessions, session_id, first, secure_id, 1)  # the user acts on the first page
    wait_until(lambda: shared_backend.raw_ttl(key) > 5, "the state's touch")  # memcached: sent without waiting for its reply
    assert 90 <= shared_backend.raw_ttl(sessions._state_key(sessions._generation, session_id, second)) <= 100


# --- the lock, across real processes ------------------------------------------------------------


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


def test_lock_contention_across_processes(shared_backend):
    sessions = shared_backend.make(lock_poll_time=0.002, lock_max_wait_time=30, lock_max_waiters=0)
    session_id, secure_id, state_id = new_session(sessions, {"counter": 0})  # the parent is connected
    processes = [FORK.Process(target=_increment, args=(sessions, session_id, state_id, secure_id, 20)) for _ in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0] * 6
    assert load(sessions, session_id, state_id, secure_id) == {"counter": 6 * 20}


def test_lock_timeout(shared_backend):
    sessions = shared_backend.make(lock_max_wait_time=0.3, lock_poll_time=0.05)
    session_id, secure_id, state_id = new_session(sessions, 1)
    other = shared_backend.make(app=sessions.name, lock_max_wait_time=0.3, lock_poll_time=0.05)  # another process's manager
    with sessions.open(session_id, str(state_id), secure_id):
        started = time.monotonic()
        with pytest.raises(LockError, match=f"lock of session {session_id} not acquired within 0.3s"):
            load(other, session_id, state_id, secure_id)
        elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 3.0  # waited for the lock, not for ever
    assert load(other, session_id, state_id, secure_id) == 1  # released


def _die_holding_the_lock(sessions, session_id, state_id, secure_id, ready):
    with sessions.open(session_id, str(state_id), secure_id):
        ready.set()
        time.sleep(60)


def test_a_lock_whose_owner_died_expires_after_lock_ttl(shared_backend):
    sessions = shared_backend.make(lock_ttl=1, lock_poll_time=0.05, lock_max_wait_time=0.1)
    session_id, secure_id, state_id = new_session(sessions, "alive")
    ready = FORK.Event()
    owner = FORK.Process(target=_die_holding_the_lock, args=(sessions, session_id, state_id, secure_id, ready))
    owner.start()
    assert ready.wait(10)
    os.kill(owner.pid, signal.SIGKILL)
    owner.join(10)
    killed = time.monotonic()
    assert shared_backend.raw_ttl(sessions._lock_key(session_id)) in (1, 2)  # lock_ttl, a whole second more
    with pytest.raises(LockError):
        load(sessions, session_id, state_id, secure_id)
    patient = shared_backend.make(app=sessions.name, lock_ttl=1, lock_poll_time=0.05, lock_max_wait_time=10)
    assert load(patient, session_id, state_id, secure_id) == "alive"
    assert 0.5 < time.monotonic() - killed < 6.0  # after lock_ttl (+ memcached's one-second clock), not the 10 s of the wait


def test_a_lock_is_released_only_by_its_owner(shared_backend, caplog):
    sessions = shared_backend.make(lock_ttl=0.5, lock_max_wait_time=0)
    session_id, secure_id, state_id = new_session(sessions, 1)
    lock_key = sessions._lock_key(session_id)
    slow = sessions.open(session_id, str(state_id), secure_id)  # a request longer than lock_ttl
    slow.__enter__()
    wait_until(lambda: shared_backend.raw_get(lock_key) is None, "the lock's expiry")
    taker = shared_backend.make(app=sessions.name, lock_ttl=30, lock_max_wait_time=0)
    taken = taker.open(session_id, str(state_id), secure_id)
    taken_session = taken.__enter__()  # the lock expired: another request has it now
    with caplog.at_level(logging.WARNING, logger=sessions.log.name):
        slow.__exit__(None, None, None)
    assert "expired before the request ended" in caplog.text
    assert shared_backend.raw_get(lock_key) == taken_session.lease.token  # still the taker's
    with pytest.raises(LockError):
        load(sessions, session_id, state_id, secure_id)
    taken.__exit__(None, None, None)
    wait_until(lambda: shared_backend.raw_get(lock_key) is None, "the taker's unlock")  # memcached: sent without a reply
    assert load(sessions, session_id, state_id, secure_id) == 1


def _lock_is_taken(sessions, session_id, result):
    try:
        with sessions._lock(session_id):
            result.send("acquired")
    except LockError:
        result.send("busy")
    os._exit(0)


def test_the_lock_holds_against_another_process(shared_backend):
    sessions = shared_backend.make(lock_max_wait_time=0.2, lock_poll_time=0.02)
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


def _wait_in_line(sessions, session_id, state_id, secure_id, result):
    try:
        result.send(("loaded", load(sessions, session_id, state_id, secure_id)))
    except LockError as exc:
        result.send(("refused", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        result.send(("failed", repr(exc)))
    os._exit(0)


def test_lock_max_waiters_is_counted_in_the_store_across_processes(shared_backend):
    sessions = shared_backend.make(lock_max_waiters=2, lock_poll_time=0.02, lock_max_wait_time=20)
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
        wait_until(lambda: shared_backend.raw_get(waiters_key) == b"2", "two waiters counted")
        third = start()
        assert third.poll(10), "the third waiter was not refused at once"
        kind, message = third.recv()
        assert kind == "refused" and "lock_max_waiters" in message, message
        assert shared_backend.raw_get(waiters_key) == b"2"  # the refused one is not counted
        assert all(not results.poll(0) for results in pipes[:2])  # the two still wait
    answers = [results.recv() if results.poll(20) else None for results in pipes[:2]]
    for child in children:
        child.join(10)
    assert answers == [("loaded", "waited for")] * 2
    assert shared_backend.raw_get(waiters_key) in (None, b"0")
    assert shared_backend.raw_ttl(waiters_key) in (-2, *range(1, 23))  # gone, or going: it expires by itself


# --- processes --------------------------------------------------------------------------------


def _use_after_fork(backend, sessions, session, result):
    try:
        inherited = backend.connections(sessions)
        value = load(sessions, session[0], session[2], session[1])
        created = new_session(sessions, "from the child")
        result.send((inherited, backend.connections(sessions), value, created))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        result.send(repr(exc))
    os._exit(0)


def test_a_forked_child_has_connections_of_its_own(shared_backend):
    sessions = shared_backend.make()
    session = new_session(sessions, "parent")  # the parent's connection is open
    parent_ports = shared_backend.connections(sessions)
    assert parent_ports
    results, result = FORK.Pipe()
    child = FORK.Process(target=_use_after_fork, args=(shared_backend, sessions, session, result))
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
    assert shared_backend.connections(sessions) == parent_ports


# --- the store unreachable: stopped, restarted --------------------------------------------------


class Hello:
    pass


@presentation.render_for(Hello)
def render_hello(self, h, comp, *args):
    return h.p("hello")


def get(app, name, query=""):
    return Request.blank("/" + query, {"SCRIPT_NAME": f"/{name}"}).get_response(app)


def test_the_store_stopped_mid_run_then_restarted(shared_backend):
    server = shared_backend.own_server()
    sessions = shared_backend.make_on(server)
    session_id, secure_id, state_id = new_session(sessions, 1)
    server.stop()
    for attempt in (lambda: load(sessions, session_id, state_id, secure_id), lambda: new_session(sessions, 2), sessions.invalidate_all):
        with pytest.raises(shared.StoreError) as info:
            attempt()
        message = str(info.value)
        assert message.startswith(f"{shared_backend.store_name} at 127.0.0.1:{server.port} unavailable: ")
        assert "\n" not in message and info.value.__cause__ is None and info.value.__suppress_context__
        assert isinstance(info.value, StoreUnavailableError)  # the application answers 503
    shared_backend.own_server(server.port)  # back (restarted, empty): the same manager reconnects
    with pytest.raises(ExpirationError):
        load(sessions, session_id, state_id, secure_id)
    again = new_session(sessions, 3)
    assert load(sessions, again[0], again[2], again[1]) == 3


def test_a_connection_closed_by_a_restarted_store_is_opened_again_at_once(shared_backend):
    server = shared_backend.own_server()
    sessions = shared_backend.make_on(server)
    new_session(sessions, 1)  # this thread's connection is open
    server.stop()
    shared_backend.own_server(server.port)
    # the first command goes out on the old connection, finds it closed, and is sent again on
    # a new one: no 503 for the first request after the restart
    session_id, secure_id, state_id = new_session(sessions, 2)
    assert load(sessions, session_id, state_id, secure_id) == 2


def test_a_failed_write_is_raised_not_hidden(shared_backend):
    server = shared_backend.own_server()
    sessions = shared_backend.make_on(server)
    session_id, secure_id, state_id = new_session(sessions, 1)
    with pytest.raises(shared.StoreError, match=shared_backend.failed_write):
        with sessions.open(session_id, str(state_id), secure_id) as session:
            server.stop()
            # fails now (memcached) or when the `with` ends (redis: sent with the unlock); the
            # unlock that follows fails too, quietly (the lock expires)
            session.store(page(2), session.next_state_id)


def test_the_application_answers_503_with_one_log_line_then_recovers(shared_backend, caplog):
    server = shared_backend.own_server()
    sessions = shared_backend.make_on(server, app="down")
    app = WSGIApp(Hello, name="down", sessions=sessions)
    assert get(app, "down").status_int == 200
    server.stop()
    with caplog.at_level(logging.DEBUG):
        response = get(app, "down")
    assert response.status_int == 503 and response.headers["Retry-After"] == "1"
    records = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(records) == 1 and records[0].exc_info is None
    assert f"{shared_backend.store_name} at 127.0.0.1:{server.port} unavailable" in records[0].getMessage()
    shared_backend.own_server(server.port)
    assert get(app, "down").status_int == 200


def test_reset_with_the_store_unreachable_is_one_line(shared_backend):
    server = shared_backend.own_server()
    server.stop()
    with pytest.raises(NagareError, match=rf"^\[sessions\] reset = on: {shared_backend.store_name} at .* unavailable.*set reset = off$") as info:
        shared_backend.make_on(server, reset="on")
    assert "\n" not in str(info.value)
