"""In-memory sessions (`[sessions] type = standalone`, alias `pickle`) for one process.

An LRU of `nb_sessions` sessions, each an LRU of `nb_states` pickled states. The states are
pickled like in every other backend, so an application behaves the same when it moves to
memcache — and the back button gets a true copy of each past state.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from nagare.config.settings import Setting, integer, number
from nagare.errors import ExpirationError, LockError
from nagare.sessions import base


class _Entry:
    __slots__ = ("lock", "secure_id", "shared", "states", "last_state_id")

    def __init__(self, secure_id: str) -> None:
        self.lock = threading.Lock()
        self.secure_id = secure_id
        self.shared: bytes | None = None
        self.states: OrderedDict[int, bytes] = OrderedDict()
        self.last_state_id = -1


class Sessions(base.Sessions):
    SETTINGS = base.Sessions.SETTINGS.extend(
        [
            Setting("nb_sessions", integer(1), 10000, "sessions kept in memory per process (least recently used dropped)"),
            Setting("nb_states", integer(1), 20, "states kept per session (least recently used dropped)"),
            Setting("lock_max_wait_time", number(0), 5.0, "seconds a request waits for its session's lock before failing with 503"),
        ]
    )
    multiprocess_safe = False

    def __init__(self, settings: dict[str, Any], serializer: Any, name: str = "") -> None:
        super().__init__(settings, serializer, name)
        self.nb_sessions: int = settings["nb_sessions"]
        self.nb_states: int = settings["nb_states"]
        self.lock_max_wait_time: float = settings["lock_max_wait_time"]
        self._sessions: OrderedDict[str, _Entry] = OrderedDict()
        self._pending: dict[str, _Entry] = {}
        self._guard = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def _entry(self, session_id: str) -> _Entry | None:
        with self._guard:
            entry = self._sessions.get(session_id)
            if entry is not None:
                self._sessions.move_to_end(session_id)
            return entry

    @contextmanager
    def _lock(self, session_id: str) -> Iterator[None]:
        entry = self._entry(session_id)
        if entry is None:
            with self._guard:
                entry = self._pending.setdefault(session_id, _Entry(""))
        if not entry.lock.acquire(timeout=self.lock_max_wait_time):
            raise LockError(f"session lock not acquired within {self.lock_max_wait_time}s")
        try:
            yield
        finally:
            entry.lock.release()

    def _create(self, session_id: str, secure_id: str) -> None:
        with self._guard:
            entry = self._pending.pop(session_id)
            entry.secure_id = secure_id
            self._sessions[session_id] = entry
            while len(self._sessions) > self.nb_sessions:
                self._sessions.popitem(last=False)

    def _fetch(self, session_id: str, state_id: int) -> base.Record:
        with self._guard:
            self._pending.pop(session_id, None)
            entry = self._sessions.get(session_id)
            if entry is None:
                raise ExpirationError("unknown or expired session")
            if not self.states_history:
                state_id = entry.last_state_id
            state = entry.states.get(state_id)
            if state is None:
                raise ExpirationError("unknown or expired state")
            entry.states.move_to_end(state_id)
            return base.Record(entry.secure_id, state, entry.shared, state_id)

    def _revive(self, session_id: str, secure_id: str) -> _Entry:
        """The entry of a session dropped by the LRU while its request ran: it comes back."""
        entry = self._sessions[session_id] = _Entry(secure_id)
        while len(self._sessions) > self.nb_sessions:
            self._sessions.popitem(last=False)
        return entry

    def _next_state_id(self, session_id: str) -> int:
        with self._guard:
            entry = self._sessions.get(session_id)
            if entry is None:
                entry = self._revive(session_id, "")  # `_store` sets the secure id
            entry.last_state_id += 1
            return entry.last_state_id

    def _store(self, session_id: str, state_id: int, secure_id: str, state: bytes, shared: bytes) -> None:
        with self._guard:
            entry = self._sessions.get(session_id)
            if entry is None:
                entry = self._revive(session_id, secure_id)
            entry.secure_id = secure_id
            entry.last_state_id = max(entry.last_state_id, state_id)
            entry.shared = shared
            entry.states[state_id] = state
            entry.states.move_to_end(state_id)
            while len(entry.states) > self.nb_states:
                entry.states.popitem(last=False)

    def _delete(self, session_id: str) -> None:
        with self._guard:
            self._sessions.pop(session_id, None)

    def invalidate_all(self) -> None:
        with self._guard:
            self._sessions.clear()
