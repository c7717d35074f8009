"""The interface every session manager implements, and the logic they share.

A request works on one session under its lock:

    with manager.open(session_id, state_id, secure_id) as session:   # or manager.create()
        root, callbacks = session.state
        ...
        session.store((root, callbacks), use_same_state)

A backend (memory, memcache, redis) implements only storage: `_create`, `_lock`, `_fetch`,
`_next_state_id`, `_store`, `_delete` and `invalidate_all`. Ids, authentication, the states
history and the security check are here, so every backend behaves the same.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from nagare.config.settings import Setting, Table, boolean, string
from nagare.errors import ExpirationError, SessionSecurityError
from nagare.sessions.serializer import Serializer

COMMON_SETTINGS = [
    Setting("type", string, "standalone", "the session manager (entry point of nagare.sessions)"),
    Setting("states_history", boolean, True, "keep the past states of a session (the back button works)"),
    Setting("security_cookie_name", string, "_nagare", "name of the cookie carrying the per-browser secure id"),
    Setting("security_cookie_httponly", boolean, True, "the secure-id cookie is hidden from JavaScript"),
    Setting("security_cookie_secure", boolean, False, "the secure-id cookie is sent over HTTPS only"),
    Setting("secret", string, "", "key authenticating the stored states; empty: generated once, kept in ~/.config/nagare/secret"),
]


@dataclass
class Record:
    """What a backend returns for one state of one session."""

    secure_id: str
    state: bytes
    shared: bytes | None
    state_id: int


@dataclass
class Session:
    """One locked session during a request."""

    manager: "Sessions"
    session_id: str
    secure_id: str
    state_id: int | None  # the state loaded (None: a new session)
    state: Any = None
    _shared: dict[int, tuple[str, Any]] = field(default_factory=dict)
    _new_state_id: int | None = None

    @property
    def is_new(self) -> bool:
        """A session created by this request (no state loaded)."""
        return self.state_id is None

    @property
    def new_state_id(self) -> int:
        """The id the next full-page state will be stored under (allocated once per request)."""
        if self._new_state_id is None:
            if self.state_id is not None and not self.manager.states_history:
                self._new_state_id = self.state_id
            else:
                self._new_state_id = self.manager._next_state_id(self.session_id)
        return self._new_state_id

    def store(self, state: Any, use_same_state: bool = False) -> int:
        """Pickle and store `state`; return the id it was stored under."""
        state_id = self.state_id if use_same_state and self.state_id is not None else self.new_state_id
        state_blob, shared_blob = self.manager.serializer.dumps(self.session_id, state, self._shared, state_id)
        self.manager._store(self.session_id, state_id, self.secure_id, state_blob, shared_blob)
        if self.manager.log.isEnabledFor(logging.DEBUG):  # sizes matter with a networked store
            self.manager.log.debug("state %d stored: %d bytes, shared objects %d bytes", state_id, len(state_blob), len(shared_blob))
        return state_id

    def delete(self) -> None:
        self.manager._delete(self.session_id)


class Sessions:
    """Base of the session managers; `SETTINGS` lists the keys of its `[sessions]` section."""

    SETTINGS: ClassVar[Table] = Table("sessions", COMMON_SETTINGS)
    multiprocess_safe: ClassVar[bool] = False

    def __init__(self, settings: dict[str, Any], serializer: Serializer, name: str = "") -> None:
        self.settings = settings
        self.name = name
        self.serializer = serializer
        self.states_history: bool = settings["states_history"]
        self.security_cookie_name: str = settings["security_cookie_name"]
        self.security_cookie_httponly: bool = settings["security_cookie_httponly"]
        self.security_cookie_secure: bool = settings["security_cookie_secure"]
        self.log = logging.getLogger(f"nagare.sessions.{name}" if name else "nagare.sessions")

    # -- what the application calls --------------------------------------------------------

    @contextmanager
    def create(self) -> Iterator[Session]:
        """A new session, locked for the request."""
        session_id = secrets.token_hex(16)
        secure_id = secrets.token_urlsafe(24)
        with self._lock(session_id):
            self._create(session_id, secure_id)
            yield Session(self, session_id, secure_id, None)

    @contextmanager
    def open(self, session_id: str, state_id: str, secure_id: str | None) -> Iterator[Session]:
        """Lock the session, load the state `state_id`; raise if unknown or not the browser's.

        `ExpirationError`: no such session or state; `SessionSecurityError`: the browser's secure
        id differs; `LockError`: the lock was not acquired in time; `StateError`: not authentic.
        """
        if not _valid_session_id(session_id) or not _valid_state_id(state_id):
            raise ExpirationError("malformed session or state id")
        with self._lock(session_id):
            record = self._fetch(session_id, int(state_id))
            if secure_id is None or not secrets.compare_digest(record.secure_id.encode(), secure_id.encode()):
                raise SessionSecurityError("the browser's secure id does not match the session's")
            state, shared = self.serializer.loads(session_id, record.state, record.shared, record.state_id)
            yield Session(self, session_id, record.secure_id, record.state_id, state, _shared=shared)


    # -- what a backend implements ---------------------------------------------------------

    def _lock(self, session_id: str) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _create(self, session_id: str, secure_id: str) -> None:
        raise NotImplementedError

    def _fetch(self, session_id: str, state_id: int) -> Record:
        """The state `state_id` of the session (the last one when history is off)."""
        raise NotImplementedError

    def _next_state_id(self, session_id: str) -> int:
        raise NotImplementedError

    def _store(self, session_id: str, state_id: int, secure_id: str, state: bytes, shared: bytes) -> None:
        raise NotImplementedError

    def _delete(self, session_id: str) -> None:
        raise NotImplementedError

    def invalidate_all(self) -> None:
        """Forget every session of this application (and of no other)."""
        raise NotImplementedError


def _valid_session_id(session_id: str) -> bool:
    return isinstance(session_id, str) and len(session_id) == 32 and all(c in "0123456789abcdef" for c in session_id)


def _valid_state_id(state_id: str) -> bool:
    # ASCII only: str.isdigit() is also true for '²' (int() refuses it) and '٠' (int() reads 0)
    return isinstance(state_id, str) and 0 < len(state_id) <= 12 and all(c in "0123456789" for c in state_id)

