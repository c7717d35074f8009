"""What the session managers of a shared store (memcached, redis) have in common.

Keys, for the application `<app>` (its name, or a hash of it when it is not key-safe), on the
server the session is placed on:

    nagare:<app>:generation                    a counter; invalidate_all() increments it
    nagare:<app>:lock:<sid>                    the session lock (outside the generation: it is
                                               taken before the generation is read)
    nagare:<app>:waiters:<sid>                 how many requests wait for that lock (only while
                                               some do)
    nagare:<app>:<gen>:<sid>                   the record: last state id, secure id, the states
                                               window, shared blob
    nagare:<app>:<gen>:<sid>:<state id>        one key per state (states_history = on)
    nagare:<app>:<gen>:<sid>:state             the only state (states_history = off)

The states window is the list of the session's stored state ids, least recently *used* first,
kept in the record: a state the user loads again moves to its end, so a page left open in a tab
stays usable however many states other tabs made (as in the memory backend). When a store makes
it longer than `nb_states`, its first ids are deleted.

The generation is cached per process but read again with every fetch (it is one more key of the
same read), so an `invalidate_all()` on any machine is seen at once by all of them; sessions
of an older generation are simply never read again and the store reclaims them (ttl or LRU).
Nothing here ever flushes a server: other applications and other data are left alone.

A backend implements the store's commands: `_try_lock`, `_count_waiter`, `_read`, `_write`,
`_release`, `_remove` and the generation's `_read_generation`, `_start_generation` and
`_increment_generation`. What a request knows of its session is in its `Lease`.
"""

from __future__ import annotations

import math
import re
import secrets
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from nagare.config.settings import Setting, boolean, integer, number
from nagare.config.values import Values
from nagare.errors import ExpirationError, LockError, NagareError, StoreUnavailableError
from nagare.sessions import base
from nagare.sessions.serializer import Serializer

_RAW, _ZLIB = b"-", b"z"  # first byte of every value we write: how the rest is encoded
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_RECORD_V1 = b"nagare-session-1 "  # last id, secure id, shared blob: the window was the last ids
_RECORD = b"nagare-session-2 "  # last id, secure id, window, shared blob
_SECURE_ID = re.compile(rb"[A-Za-z0-9_-]{1,128}")
_WINDOW = re.compile(rb"-|\d{1,12}(,\d{1,12}){0,999}")
#: seconds a lock outlives the longest request when `lock_ttl` is automatic, and its minimum
LOCK_TTL_MARGIN, LOCK_TTL_MINIMUM = 10.0, 30.0

SETTINGS = [
    Setting("ttl", integer(0), 0, "seconds a session lives after its last stored state; 0: until the store evicts it"),
    Setting(
        "lock_ttl", number(0), 0.0,
        "seconds a session lock lives when its request dies with it (killed process); 0: automatic, "
        f"the publisher's request_timeout + {LOCK_TTL_MARGIN:.0f} s and at least {LOCK_TTL_MINIMUM:.0f} s; "
        "else it must be above request_timeout",
    ),
    Setting("lock_poll_time", number(0.001), 0.1, "seconds between two attempts to take a busy session lock"),
    Setting("lock_max_wait_time", number(0), 5.0, "seconds a request waits for its session's lock before failing with 503"),
    Setting(
        "lock_max_waiters", integer(0), 10,
        "requests that may wait for one session's lock (in the whole cluster); the next ones answer 503 at once; 0: no limit",
    ),
    Setting("min_compress_len", integer(0), 0, "zlib-compress the stored values of at least this many bytes; 0: never"),
    Setting("reset", boolean, False, "invalidate this application's sessions (only them) at start"),
    Setting("nb_states", integer(1), 20, "states kept per session (the least recently used dropped) when states_history is on"),
]


class StoreError(StoreUnavailableError):
    """The store is unreachable or refused a command: the application answers 503, one log line."""


@dataclass(slots=True)
class Lease:
    """What one request holds of its locked session, from `_lock` to the end of its `with`."""

    session_id: str
    token: bytes  # our value of the lock key: the lock is ours while it is there
    server: int = 0  # the index of the session's server (several memcached servers)
    generation: int | None = None  # the generation the session was read (or created) in
    last_state_id: int = -1  # in the record; -1: a new session, nothing stored yet
    loaded: int | None = None  # the state id read by this request
    window: list[int] = field(default_factory=list)  # the stored state ids, least recently used first
    lock_cas: bytes | None = None  # memcached: the lock key's cas id, for the unlock
    locked_at: float = 0.0  # time.monotonic() when the lock was taken
    prefetched: dict[str, bytes] | None = None  # the keys read along with the lock (those that exist)
    prefetched_state: str | None = None  # the state key among them (None: the record and state not read)
    pending: list[Any] | None = None  # redis: the writes sent with the unlock


class KeyValueSessions(base.Sessions[Lease]):
    """The logic of the shared stores; a subclass talks to its store."""

    SETTINGS = base.Sessions.SETTINGS.extend(SETTINGS)
    multiprocess_safe = True
    store_name = "the store"

    def __init__(self, settings: Values, serializer: Serializer, name: str = "") -> None:
        super().__init__(settings, serializer, name)
        self.ttl: int = settings.ttl
        self.configured_lock_ttl: float = settings.lock_ttl
        self.lock_ttl: float = settings.lock_ttl or LOCK_TTL_MINIMUM
        self.lock_poll_time: float = settings.lock_poll_time
        self.lock_max_wait_time: float = settings.lock_max_wait_time
        self.lock_max_waiters: int = settings.lock_max_waiters
        self.min_compress_len: int = settings.min_compress_len
        self.nb_states: int = settings.nb_states
        app = name if _SAFE_NAME.fullmatch(name) else "h" + sha256(name.encode()).hexdigest()[:16]
        self.prefix = f"nagare:{app}:"
        self._generation_key = self.prefix + "generation"
        #: this process's last reading of each server's generation; checked at every fetch
        self._generations: dict[int, int] = {}

    def reset_at_start(self) -> None:
        """`reset = on`: invalidate this application's sessions now, in one line if the store is down."""
        try:
            self.invalidate_all()
        except StoreError as exc:
            raise NagareError(f"[sessions] reset = on: {exc}; start {self.store_name} or set reset = off") from None
        self.close()  # nothing opened in the parent survives into the workers

    def set_request_timeout(self, seconds: float) -> None:
        if seconds > 0 and self.lock_max_wait_time >= seconds:
            raise base.SettingConflict(
                "lock_max_wait_time", self.lock_max_wait_time,
                f"{self.lock_max_wait_time:g} s is not below the publisher's request_timeout ({seconds:g} s): "
                "a request waiting for a lock would be killed as stuck",
            )
        if not self.configured_lock_ttl:
            self.lock_ttl = max(LOCK_TTL_MINIMUM, seconds + LOCK_TTL_MARGIN)
        elif seconds > 0 and self.configured_lock_ttl <= seconds:
            raise base.SettingConflict(
                "lock_ttl", self.configured_lock_ttl,
                f"{self.configured_lock_ttl:g} s is not above the publisher's request_timeout ({seconds:g} s): "
                "the lock of a request still running would expire"
            )

    @property
    def _generation(self) -> int | None:
        """The generation of the first server (the only one but with several memcached servers)."""
        return self._generations.get(0)

    # -- keys and values -----------------------------------------------------------------------

    def _lock_key(self, session_id: str) -> str:
        return f"{self.prefix}lock:{session_id}"

    def _waiters_key(self, session_id: str) -> str:
        return f"{self.prefix}waiters:{session_id}"

    def _record_key(self, generation: int, session_id: str) -> str:
        return f"{self.prefix}{generation}:{session_id}"

    def _state_key(self, generation: int, session_id: str, state_id: int) -> str:
        if not self.states_history:
            return f"{self.prefix}{generation}:{session_id}:state"
        return f"{self.prefix}{generation}:{session_id}:{state_id}"

    def _pack(self, data: bytes) -> bytes:
        if self.min_compress_len and len(data) >= self.min_compress_len:
            compressed = zlib.compress(data)
            if len(compressed) < len(data):
                return _ZLIB + compressed
        return _RAW + data

    def _unpack(self, value: object) -> bytes:
        """The bytes we stored; `ExpirationError` for anything we did not write."""
        if isinstance(value, (bytes, bytearray)):
            kind, data = bytes(value[:1]), bytes(value[1:])
            if kind == _RAW:
                return data
            if kind == _ZLIB:
                try:
                    return zlib.decompress(data)
                except zlib.error:
                    pass
        raise ExpirationError(f"unreadable session data in {self.store_name}")

    @staticmethod
    def _expire(seconds: float) -> int:
        """Whole seconds (a fraction rounds up); 0 stays 0: no expiry."""
        return math.ceil(seconds) if seconds > 0 else 0

    def _record(self, last_state_id: int, secure_id: str, window: list[int], shared: bytes) -> bytes:
        ids = b",".join(b"%d" % n for n in window) if self.states_history else b"-"
        return _RECORD + b"%d %s %s " % (last_state_id, secure_id.encode("ascii"), ids or b"-") + shared

    def _parse_record(self, data: bytes) -> tuple[int, str, list[int], bytes]:
        """(last state id, secure id, window, shared blob) of a record; `ExpirationError` if it is not one."""
        if data.startswith(_RECORD):
            parts = data[len(_RECORD):].split(b" ", 3)
            if len(parts) == 4 and _WINDOW.fullmatch(parts[2]):
                last, secure, ids, shared = parts
                window = [int(n) for n in ids.split(b",")] if ids != b"-" else []
                if _valid_head(last, secure):
                    return int(last), secure.decode("ascii"), window, shared
        elif data.startswith(_RECORD_V1):  # written before the window: it was the last nb_states ids
            parts = data[len(_RECORD_V1):].split(b" ", 2)
            if len(parts) == 3 and _valid_head(parts[0], parts[1]):
                newest = int(parts[0])
                window = list(range(max(newest - self.nb_states + 1, 0), newest + 1))
                return newest, parts[1].decode("ascii"), window, parts[2]
        raise ExpirationError(f"unreadable session record in {self.store_name}")

    # -- the generation ------------------------------------------------------------------------

    def _generation_of(self, server: int, value: object) -> int:
        """The generation read along with other keys (started afresh if missing or garbage)."""
        if isinstance(value, (bytes, bytearray)) and value.isdigit() and len(value) <= 20:
            self._generations[server] = int(value)
            return int(value)
        return self._restart_generation(server, overwrite=value is not None)

    def _restart_generation(self, server: int, overwrite: bool) -> int:
        # Time-based, not 0: if the store evicted the counter, starting again at 0 would bring
        # back the sessions of generation 0.
        fresh = str(time.time_ns() // 1000).encode()
        if not self._start_generation(server, fresh, overwrite):
            # another process started it first: use theirs
            return self._generation_of(server, self._read_generation(server))
        self._generations[server] = int(fresh)
        return int(fresh)

    def _current_generation(self, server: int) -> int:
        generation = self._generations.get(server)
        if generation is None:
            generation = self._generation_of(server, self._read_generation(server))
        return generation

    def _invalidate(self, server: int) -> None:
        # Read first: a missing or unreadable counter is started afresh (an increment would fail on it).
        self._generation_of(server, self._read_generation(server))
        self._generations[server] = self._increment_generation(server)

    def invalidate_all(self) -> None:
        """Forget every session of this application: other applications and keys are untouched."""
        self._invalidate(0)

    # -- the lock ------------------------------------------------------------------------------

    def _server_of(self, session_id: str) -> int:
        """The index of the server keeping `session_id` (one server: 0)."""
        return 0

    @contextmanager
    def _lock(self, session_id: str, state_id: int | None = None) -> Iterator[Lease]:
        key = self._lock_key(session_id)
        lease = Lease(session_id, secrets.token_hex(16).encode(), self._server_of(session_id))
        # +1: memcached's clock has a one-second resolution, so `n` may mean a little less than n s
        expire = self._expire(self.lock_ttl) + 1
        lease.locked_at = time.monotonic()
        if not self._try_lock(lease, key, expire, state_id):
            self._wait_for_lock(lease, key, expire)
        try:
            yield lease
        finally:
            self._finish(lease, key)

    def _wait_for_lock(self, lease: Lease, key: str, expire: int) -> None:
        session_id = lease.session_id
        waiters_key = self._waiters_key(session_id)
        # The count's key lives that long after its first waiter made it: a waiter killed while
        # it waits is not counted for ever (nor does a count made long ago hold back new ones).
        waiters_expire = self._expire(self.lock_max_wait_time) + 2
        if self.lock_max_waiters:
            waiting = self._count_waiter(lease.server, waiters_key, 1, waiters_expire)
            if waiting > self.lock_max_waiters:
                self._count_waiter(lease.server, waiters_key, -1, waiters_expire)
                raise LockError(f"session {session_id}: {self.lock_max_waiters} requests already wait for its lock (lock_max_waiters)")
        try:
            deadline = time.monotonic() + self.lock_max_wait_time
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockError(f"lock of session {session_id} not acquired within {self.lock_max_wait_time}s")
                time.sleep(min(self.lock_poll_time, remaining))
                lease.locked_at = time.monotonic()
                # Without the state: a poll reads the lock, not the page 10 times a second (the
                # request that gets the lock reads it then, one round trip more).
                if self._try_lock(lease, key, expire, None):
                    return
        finally:
            if self.lock_max_waiters:
                try:
                    self._count_waiter(lease.server, waiters_key, -1, waiters_expire)
                except StoreError:
                    pass  # the count expires by itself

    def _finish(self, lease: Lease, key: str) -> None:
        """Release the lock (only ours: another request's is left alone)."""
        try:
            released = self._release(lease, key)
        except StoreError as exc:
            # The state is stored (or the request failed anyway): answering 503 now would hide
            # that. The lock expires by itself after lock_ttl.
            self.log.warning("session %s: lock not released (%s); it expires within %ss", lease.session_id, exc, self.lock_ttl)
            return
        held = time.monotonic() - lease.locked_at
        if released is False or released is None and held > self.lock_ttl:  # None: not known, sent without a reply
            self.log.warning(
                "session %s: its lock expired before the request ended, after %.0fs (lock_ttl = %ss is too short)",
                lease.session_id, held, self.lock_ttl,
            )

    def _check_lock(self, found: Mapping[str, bytes], lease: Lease) -> None:
        if found.get(self._lock_key(lease.session_id)) != lease.token:
            raise LockError(f"lock of session {lease.session_id} lost before its state was read (lock_ttl = {self.lock_ttl}s is too short)")

    # -- the backend interface -----------------------------------------------------------------

    def _create(self, lease: Lease) -> None:
        # Nothing is written until the first store: no one else knows the session id yet.
        found = lease.prefetched
        if found is None:
            found = self._read(lease, [self._generation_key, self._lock_key(lease.session_id)])
        lease.generation = self._generation_of(lease.server, found.get(self._generation_key))
        self._check_lock(found, lease)

    def _fetch(self, lease: Lease, state_id: int) -> base.Record:
        session_id, server = lease.session_id, lease.server
        generation = self._current_generation(server)
        found: Mapping[str, bytes] | None = None
        for _ in range(2):  # a second time only if another process invalidated since our last look
            record_key, state_key = self._record_key(generation, session_id), self._state_key(generation, session_id, state_id)
            if found is None and lease.prefetched_state == state_key:
                found = lease.prefetched  # read with the lock
            if found is None:
                found = self._read(lease, [self._generation_key, self._lock_key(session_id), record_key, state_key])
            current = self._generation_of(server, found.get(self._generation_key))
            if current == generation:
                break
            generation, found = current, None
        else:
            raise ExpirationError("sessions invalidated while reading this one")
        self._check_lock(found, lease)
        lease.generation = generation
        if record_key not in found:
            raise ExpirationError("unknown or expired session")
        last_state_id, secure_id, window, shared = self._parse_record(self._unpack(found[record_key]))
        lease.last_state_id, lease.window = last_state_id, window
        if state_key not in found:
            raise ExpirationError("unknown or expired state")
        state = self._unpack(found[state_key])
        lease.loaded = state_id if self.states_history else last_state_id
        return base.Record(secure_id, state, shared, lease.loaded, last_state_id)

    def _store(self, lease: Lease, state_id: int, secure_id: str, state: bytes, shared: bytes) -> None:
        session_id, generation, previous = lease.session_id, lease.generation, lease.last_state_id
        if generation is None:
            raise RuntimeError(f"session {session_id} stored before it was created or fetched")
        last_state_id = max(previous, state_id)
        touched: list[str] = []
        dropped: list[str] = []
        window = lease.window
        if self.states_history:
            # The states used by this request move to the end of the window, the least recently
            # used beyond nb_states are deleted now (not left to the store's LRU, which would
            # evict other sessions' data first).
            used = [n for n in (lease.loaded, state_id) if n is not None]
            window = [n for n in window if n not in used] + list(dict.fromkeys(used))
            if len(window) > self.nb_states:
                dropped = [self._state_key(generation, session_id, n) for n in window[: -self.nb_states]]
                window = window[-self.nb_states:]
            if self.ttl and lease.loaded is not None and lease.loaded != state_id:
                # the state the user is on lives `ttl` after its last use, not its store
                touched.append(self._state_key(generation, session_id, lease.loaded))
        values = {
            self._record_key(generation, session_id): self._pack(self._record(last_state_id, secure_id, window, shared)),
            self._state_key(generation, session_id, state_id): self._pack(state),
        }
        self._write(lease, values, self._expire(self.ttl), touched, dropped)
        lease.last_state_id, lease.window, lease.loaded = last_state_id, window, state_id

    def _delete(self, lease: Lease) -> None:
        session_id, generation = lease.session_id, lease.generation
        if generation is None:
            return
        keys = [self._record_key(generation, session_id)]
        if self.states_history:
            keys += [self._state_key(generation, session_id, n) for n in lease.window]
        elif lease.last_state_id >= 0:
            keys.append(self._state_key(generation, session_id, 0))
        self._remove(lease, keys)
        lease.last_state_id, lease.window = -1, []

    # -- what a store implements -----------------------------------------------------------------

    def _try_lock(self, lease: Lease, key: str, expire: int, state_id: int | None) -> bool:
        """Take the lock `key` with our token for `expire` seconds if nobody holds it. A store may
        read the session's keys in the same round trip: `_prefetch_keys`, into `lease.prefetched`."""
        raise NotImplementedError

    def _prefetch_keys(self, lease: Lease, key: str, state_id: int | None) -> list[str]:
        """What a request reads with its lock: the generation and the lock, and the record and the
        state `state_id` once the generation is known (`lease.prefetched_state`)."""
        keys = [self._generation_key, key]
        generation = self._generations.get(lease.server)
        lease.prefetched_state = None
        if state_id is not None and generation is not None:
            lease.prefetched_state = self._state_key(generation, lease.session_id, state_id)
            keys += [self._record_key(generation, lease.session_id), lease.prefetched_state]
        return keys

    def _count_waiter(self, server: int, key: str, delta: int, expire: int) -> int:
        """Add `delta` to the waiters count `key` (created for `expire` seconds); the new count."""
        raise NotImplementedError

    def _release(self, lease: Lease, key: str) -> bool | None:
        """Delete the lock `key` if it still holds our token; False if it did not, None: not known."""
        raise NotImplementedError

    def _read(self, lease: Lease, keys: list[str]) -> dict[str, bytes]:
        """The values of those of `keys` that exist (on the lease's server)."""
        raise NotImplementedError

    def _write(self, lease: Lease, values: dict[str, bytes], expire: int, touched: list[str], dropped: list[str]) -> None:
        """Set `values` for `expire` seconds, extend `touched` to `expire`, delete `dropped`."""
        raise NotImplementedError

    def _remove(self, lease: Lease, keys: list[str]) -> None:
        raise NotImplementedError

    def _read_generation(self, server: int) -> bytes | None:
        raise NotImplementedError

    def _start_generation(self, server: int, value: bytes, overwrite: bool) -> bool:
        """Write the generation counter (only if missing unless `overwrite`); False: it existed."""
        raise NotImplementedError

    def _increment_generation(self, server: int) -> int:
        raise NotImplementedError


def _valid_head(last: bytes, secure: bytes) -> bool:
    return last.isdigit() and len(last) <= 12 and _SECURE_ID.fullmatch(secure) is not None
