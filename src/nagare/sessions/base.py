"""The interface every session manager implements, and the logic they share.

A request works on one session under its lock:

    with manager.open(session_id, state_id, secure_id) as session:   # or manager.create()
        page = session.state                                          # a PageState (None: new)
        ...
        session.store(page, session.next_state_id)                    # or session.state_id

A backend (memory, memcache, redis) implements only storage, around a *lease*: `_lock` takes the
session's lock and yields the lease, its own object holding what this request knows of the
session (a lock token, what it read); `_create`, `_fetch`, `_store` and `_delete` take that lease.
Ids, authentication, the states history, the state id of the next page and the security check
are here, so every backend behaves the same. docs/architecture.md describes the contract.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Generic, NamedTuple, TypeVar

from nagare.config.settings import Setting, Table, boolean, string
from nagare.config.values import Values
from nagare.errors import ExpirationError, SessionSecurityError, StateError
from nagare.sessions.serializer import Serializer, Shared

if TYPE_CHECKING:  # types only: the sessions store these objects, they do not use them
    from nagare.callbacks import Callbacks
    from nagare.component import Component

COMMON_SETTINGS = [
    Setting("type", string, "standalone", "the session manager (entry point of nagare.sessions)"),
    Setting("states_history", boolean, True, "keep the past states of a session (the back button works)"),
    Setting("security_cookie_name", string, "_nagare", "name of the cookie carrying the per-browser secure id"),
    Setting("security_cookie_httponly", boolean, True, "the secure-id cookie is hidden from JavaScript"),
    Setting("security_cookie_secure", boolean, False, "the secure-id cookie is sent over HTTPS only"),
    Setting("secret", string, "", "key authenticating the stored states; empty: generated once, kept in ~/.config/nagare/secret"),
]

LeaseT = TypeVar("LeaseT")


class SettingConflict(ValueError):
    """A key of `[sessions]` that cannot work with the publisher's settings (a configuration error)."""

    def __init__(self, key: str, value: object, reason: str) -> None:
        super().__init__(reason)
        self.key, self.value = key, value


class PageState(NamedTuple):
    """What one state of a session is: the component tree and the actions its page registered."""

    root: Component
    callbacks: Callbacks


@dataclass(slots=True)
class Record:
    """What a backend's `_fetch` returns: one state of one session, and the session's last id."""

    secure_id: str
    state: bytes
    shared: bytes | None
    state_id: int  # the id of `state` (with states_history off: the only state's, whatever was asked)
    last_state_id: int  # the highest id stored in the session


@dataclass(slots=True)
class Session(Generic[LeaseT]):
    """One locked session during a request."""

    manager: Sessions[LeaseT]
    lease: LeaseT
    session_id: str
    secure_id: str
    state_id: int | None  # the state loaded (None: a new session)
    #: the id a new page of this request is stored under: decided once, when the lock is taken
    #: (the state's own id with states_history off)
    next_state_id: int
    state: PageState | None = None
    _shared: Shared = field(default_factory=dict)
    #: Called before each store: the application commits its database work there, so that the
    #: state stored never refers to rows that are not written.
    before_store: Callable[[], None] | None = None

    @property
    def is_new(self) -> bool:
        """A session created by this request (no state loaded)."""
        return self.state_id is None

    def shared_object(self, pid: str) -> object | None:
        """The object kept for the whole session under `pid` (`share`), or None."""
        for known, obj in self._shared.values():
            if known == pid:
                return obj
        return None

    def share(self, pid: str, obj: object) -> None:
        """Keep `obj` for the whole session under `pid`, stored with the session's shared objects:
        every state of the session, the older ones too, finds it (`shared_object`)."""
        self._shared[id(obj)] = (pid, obj)

    def store(self, page: PageState, state_id: int) -> None:
        """Pickle and store `page` under `state_id`: `next_state_id`, or `state_id` to update in place."""
        if state_id != self.next_state_id and state_id != self.state_id:
            # Any other id would overwrite a state that pages already shown still point to.
            raise ValueError(f"state {state_id} is neither the loaded state {self.state_id} nor the next one {self.next_state_id}")
        if self.before_store is not None:
            self.before_store()
        manager = self.manager
        # A plain tuple, not the PageState: a named tuple is pickled with a reference to its class,
        # bytes more in every stored state.
        state_blob, shared_blob = manager.serializer.dumps(self.session_id, (page.root, page.callbacks), self._shared, state_id)
        manager._store(self.lease, state_id, self.secure_id, state_blob, shared_blob)
        if manager.log.isEnabledFor(logging.DEBUG):  # sizes matter with a networked store
            manager.log.debug("state %d stored: %d bytes, shared objects %d bytes", state_id, len(state_blob), len(shared_blob))

    def delete(self) -> None:
        self.manager._delete(self.lease)


class Sessions(Generic[LeaseT]):
    """Base of the session managers; `SETTINGS` lists the keys of its `[sessions]` section.

    `LeaseT` is the type of the backend's lease: what `_lock` yields and the other hooks take.
    """

    SETTINGS: ClassVar[Table[Values]] = Table("sessions", COMMON_SETTINGS)
    multiprocess_safe: ClassVar[bool] = False

    def __init__(self, settings: Values, serializer: Serializer, name: str = "") -> None:
        self.settings = settings
        self.name = name
        self.serializer = serializer
        self.states_history: bool = settings.states_history
        self.security_cookie_name: str = settings.security_cookie_name
        self.security_cookie_httponly: bool = settings.security_cookie_httponly
        self.security_cookie_secure: bool = settings.security_cookie_secure
        self.log = logging.getLogger(f"nagare.sessions.{name}" if name else "nagare.sessions")

    # -- what the application calls --------------------------------------------------------

    @contextmanager
    def create(self) -> Iterator[Session[LeaseT]]:
        """A new session, locked for the request; its first state is stored under `next_state_id` (0)."""
        session_id = self._new_session_id()
        secure_id = secrets.token_urlsafe(24)
        with self._lock(session_id) as lease:
            self._create(lease)
            yield Session(self, lease, session_id, secure_id, None, 0)

    def open(self, session_id: str, state_id: str, secure_id: str | None) -> AbstractContextManager[Session[LeaseT]]:
        """Lock the session, load the state `state_id`; raise if unknown or not the browser's.

        `ExpirationError`: no such session or state; `SessionSecurityError`: the browser's secure
        id differs; `LockError`: the lock was not acquired in time; `StateError`: not authentic.
        """
        return _Opened(self, session_id, state_id, secure_id)

    def _load(self, lease: LeaseT, session_id: str, state_id: int, secure_id: str | None) -> Session[LeaseT]:
        """What `open` yields: the state read with the lock held, checked and unpickled."""
        record = self._fetch(lease, state_id)
        if secure_id is None or not secrets.compare_digest(record.secure_id.encode(), secure_id.encode()):
            raise SessionSecurityError("the browser's secure id does not match the session's")
        loaded, shared = self.serializer.loads(session_id, record.state, record.shared, record.state_id)
        if type(loaded) is not tuple or len(loaded) != 2:
            raise StateError("stored state is not a page state (root, callbacks)")
        # Under the lock nobody else stores in this session: the last id read is still the last.
        next_state_id = record.last_state_id + 1 if self.states_history else record.state_id
        return Session(self, lease, session_id, record.secure_id, record.state_id, next_state_id, PageState(*loaded), shared)

    # -- what a backend implements (see docs/architecture.md) ------------------------------

    def set_request_timeout(self, seconds: float) -> None:
        """The longest a request may run in the publisher (0: no limit): a lock must outlive it.
        `SettingConflict` (a configuration error) if a setting of the backend cannot work with it."""

    def _new_session_id(self) -> str:
        """A new session id: 32 hexadecimal digits."""
        return secrets.token_hex(16)

    def _lock(self, session_id: str, state_id: int | None = None) -> AbstractContextManager[LeaseT]:
        """Take the session's lock (`LockError` after `lock_max_wait_time`, or at once when
        `lock_max_waiters` requests already wait for it); yield the lease; release. `state_id`:
        the state `_fetch` will read, for a store that can read it with the lock."""
        raise NotImplementedError

    def _create(self, lease: LeaseT) -> None:
        """Prepare the lease of a new session; nothing needs to be written before the first store."""
        raise NotImplementedError

    def _fetch(self, lease: LeaseT, state_id: int) -> Record:
        """The state `state_id` of the session (the last one when history is off); `ExpirationError`."""
        raise NotImplementedError

    def _store(self, lease: LeaseT, state_id: int, secure_id: str, state: bytes, shared: bytes) -> None:
        """Write the state, the secure id and the shared blob; drop the states beyond `nb_states`."""
        raise NotImplementedError

    def _delete(self, lease: LeaseT) -> None:
        """Forget the session: every later `_fetch` of it is an `ExpirationError`."""
        raise NotImplementedError

    def invalidate_all(self) -> None:
        """Forget every session of this application (and of no other)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the calling thread holds (a connection to the store); the next request opens it again."""


_SESSION_ID = re.compile("[0-9a-f]{32}")
# ASCII only: str.isdigit() is also true for '²' (int() refuses it) and '٠' (int() reads 0)
_STATE_ID = re.compile("[0-9]{1,12}")


def _valid_session_id(session_id: str) -> bool:
    return isinstance(session_id, str) and _SESSION_ID.fullmatch(session_id) is not None


def _valid_state_id(state_id: str) -> bool:
    return isinstance(state_id, str) and _STATE_ID.fullmatch(state_id) is not None


class _Opened(Generic[LeaseT]):
    """`Sessions.open()`'s context manager: the backend's lock held around the session loaded
    (a class: a generator's costs more, once a request)."""

    __slots__ = ("manager", "session_id", "state_id", "secure_id", "lock")

    def __init__(self, manager: Sessions[LeaseT], session_id: str, state_id: str, secure_id: str | None) -> None:
        self.manager, self.session_id, self.state_id, self.secure_id = manager, session_id, state_id, secure_id

    def __enter__(self) -> Session[LeaseT]:
        session_id, state_id = self.session_id, self.state_id
        if not _valid_session_id(session_id) or not _valid_state_id(state_id):
            raise ExpirationError("malformed session or state id")
        number = int(state_id)
        manager = self.manager
        self.lock = lock = manager._lock(session_id, number)
        lease = lock.__enter__()
        try:
            return manager._load(lease, session_id, number, self.secure_id)
        except BaseException as exc:
            lock.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> bool | None:
        return self.lock.__exit__(kind, error, tb)
