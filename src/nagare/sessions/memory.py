"""In-memory sessions (`[sessions] type = standalone`, alias `pickle`) for one process.

An LRU of `nb_sessions` sessions, each an LRU of `nb_states` pickled states. The states are
pickled like in every other backend, so an application behaves the same when it moves to
memcache — and the back button gets a true copy of each past state.

The lease of a request is the session's entry itself: its lock is the session lock, and only
the request holding it reads or writes the entry's states. The LRU of sessions (`_sessions`) is
shared by every thread and changed under `_guard`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import AbstractContextManager
from types import TracebackType

from nagare.config.settings import Setting, integer, number
from nagare.config.values import Values
from nagare.errors import ExpirationError, LockError
from nagare.sessions import base
from nagare.sessions.serializer import Serializer


class Entry:
    """One session: its lock, its secure id, its states; the lease of the request holding `lock`."""

    __slots__ = ("session_id", "generation", "lock", "waiters", "secure_id", "shared", "states", "last_state_id")

    def __init__(self, session_id: str, generation: int) -> None:
        self.session_id = session_id
        self.generation = generation  # the manager's when the entry was made; invalidate_all moves it on
        self.lock = threading.Lock()
        self.waiters = 0  # requests waiting for `lock`, changed under the manager's guard
        self.secure_id = ""
        self.shared: bytes | None = None
        self.states: OrderedDict[int, bytes] = OrderedDict()
        self.last_state_id = -1


class Sessions(base.Sessions[Entry]):
    SETTINGS = base.Sessions.SETTINGS.extend(
        [
            Setting("nb_sessions", integer(1), 10000, "sessions kept in memory per process (least recently used dropped)"),
            Setting("nb_states", integer(1), 20, "states kept per session (least recently used dropped)"),
            Setting("lock_max_wait_time", number(0), 5.0, "seconds a request waits for its session's lock before failing with 503"),
            Setting(
                "lock_max_waiters", integer(0), 10,
                "requests that may wait for one session's lock; the next ones answer 503 at once; 0: no limit",
            ),
        ]
    )
    multiprocess_safe = False

    def __init__(self, settings: Values, serializer: Serializer, name: str = "") -> None:
        super().__init__(settings, serializer, name)
        self.nb_sessions: int = settings.nb_sessions
        self.nb_states: int = settings.nb_states
        self.lock_max_wait_time: float = settings.lock_max_wait_time
        self.lock_max_waiters: int = settings.lock_max_waiters
        self._sessions: OrderedDict[str, Entry] = OrderedDict()
        self._generation = 0
        self._guard = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def _lock(self, session_id: str, state_id: int | None = None) -> AbstractContextManager[Entry]:
        return _Locked(self, session_id)

    def _wait(self, entry: Entry) -> None:
        with self._guard:
            if self.lock_max_waiters and entry.waiters >= self.lock_max_waiters:
                raise LockError(f"session {entry.session_id}: {self.lock_max_waiters} requests already wait for its lock (lock_max_waiters)")
            entry.waiters += 1
        try:
            acquired = entry.lock.acquire(timeout=self.lock_max_wait_time)
        finally:
            with self._guard:
                entry.waiters -= 1
        if not acquired:
            raise LockError(f"lock of session {entry.session_id} not acquired within {self.lock_max_wait_time}s")

    def _create(self, lease: Entry) -> None:
        pass  # nobody else knows the session id before the first page is sent

    def _fetch(self, lease: Entry, state_id: int) -> base.Record:
        with self._guard:
            kept = self._sessions.get(lease.session_id) is lease
        if not kept:  # unknown, dropped by the LRU, deleted or invalidated while we waited
            raise ExpirationError("unknown or expired session")
        if not self.states_history:
            state_id = lease.last_state_id
        state = lease.states.get(state_id)
        if state is None:
            raise ExpirationError("unknown or expired state")
        lease.states.move_to_end(state_id)
        return base.Record(lease.secure_id, state, lease.shared, state_id, lease.last_state_id)

    def _store(self, lease: Entry, state_id: int, secure_id: str, state: bytes, shared: bytes) -> None:
        lease.secure_id = secure_id
        lease.last_state_id = max(lease.last_state_id, state_id)
        lease.shared = shared
        states = lease.states
        states[state_id] = state
        states.move_to_end(state_id)
        while len(states) > self.nb_states:
            states.popitem(last=False)
        with self._guard:
            if lease.generation == self._generation and self._sessions.get(lease.session_id) is not lease:
                # A new session, or one the LRU dropped while its request ran: it is kept again
                # (but not one that invalidate_all() forgot meanwhile, as in every backend).
                self._sessions[lease.session_id] = lease
                while len(self._sessions) > self.nb_sessions:
                    self._sessions.popitem(last=False)

    def _delete(self, lease: Entry) -> None:
        with self._guard:
            if self._sessions.get(lease.session_id) is lease:
                del self._sessions[lease.session_id]

    def invalidate_all(self) -> None:
        with self._guard:
            self._generation += 1
            self._sessions.clear()


class _Locked:
    """`Sessions._lock()`'s context manager: the session's entry, its lock held (a class: a
    generator's costs more, once a request)."""

    __slots__ = ("manager", "session_id", "entry")

    def __init__(self, manager: Sessions, session_id: str) -> None:
        self.manager, self.session_id = manager, session_id

    def __enter__(self) -> Entry:
        manager, session_id = self.manager, self.session_id
        with manager._guard:
            entry = manager._sessions.get(session_id)
            if entry is None:
                # Not kept until its first store (a new session), or unknown: `_fetch` says which.
                entry = Entry(session_id, manager._generation)
            else:
                manager._sessions.move_to_end(session_id)
        if not entry.lock.acquire(blocking=False):
            manager._wait(entry)
        self.entry = entry
        return entry

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.entry.lock.release()
