"""Sessions in memcached (`[sessions] type = memcache`): shared by processes and machines.

Keys, for the application `<app>` (its name, or a hash of it when it is not key-safe):

    nagare:<app>:generation                    a counter; invalidate_all() increments it
    nagare:<app>:lock:<sid>                    the session lock (outside the generation: it is
                                               taken before the generation is read)
    nagare:<app>:<gen>:<sid>                   the record: last state id, secure id, shared blob
    nagare:<app>:<gen>:<sid>:<state id>        one key per state (states_history = on)
    nagare:<app>:<gen>:<sid>:state             the only state (states_history = off)

A request costs four round trips: `add` (lock), one `gets` of generation + lock + record +
state, one write of `set` record + `set` state (pipelined), `cas` (unlock). Dropping the state
that leaves the window of the `nb_states` most recent ids is a `noreply` delete: sent, never
waited for. A request's new state id is the record's last id + 1, read under the lock (no
counter key). What a request knows of its session (lock token and cas id, generation, last
state id) is in its `Lease`; only the client is kept per thread and per process.

The generation is cached per process but read again with every fetch (it is one more key of the
same `gets`), so an `invalidate_all()` on any machine is seen at once by all of them; sessions
of an older generation are simply never read again and memcached's LRU reclaims them. Nothing
here ever sends `flush_all`: other applications and other data of the server are left alone.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

# pymemcache publishes no type information: its Client is Any here
from pymemcache.client.base import Client  # type: ignore[import-untyped]
from pymemcache.exceptions import MemcacheError, MemcacheIllegalInputError  # type: ignore[import-untyped]

from nagare.config.settings import Setting, boolean, integer, number, string
from nagare.config.values import Values
from nagare.errors import ExpirationError, LockError, NagareError, StoreUnavailableError
from nagare.sessions import base
from nagare.sessions.serializer import Serializer

CONNECT_TIMEOUT = 3.0  # seconds; a dead memcached fails the request fast, not after the OS's TCP timeout
TIMEOUT = 3.0
THIRTY_DAYS = 30 * 24 * 3600  # memcached reads a larger expiry as an absolute Unix time
_RAW, _ZLIB = b"-", b"z"  # first byte of every value we write: how the rest is encoded
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_RECORD = b"nagare-session-1 "  # a record's first bytes: anything else in its key is not ours
_SECURE_ID = re.compile(rb"[A-Za-z0-9_-]{1,128}")


class StoreError(StoreUnavailableError):
    """memcached is unreachable or refused a command: the application answers 503, one log line."""


@dataclass(slots=True)
class Lease:
    """What one request holds of its locked session, from `_lock` to the end of its `with`."""

    session_id: str
    token: bytes  # our value of the lock key: the lock is ours while it is there
    lock_cas: bytes | None = None  # the lock key's cas id, read with the first `gets`: the unlock
    generation: int | None = None  # the generation the session was read (or created) in
    last_state_id: int = -1  # in the record; -1: a new session, nothing stored yet


class Sessions(base.Sessions[Lease]):
    SETTINGS = base.Sessions.SETTINGS.extend(
        [
            Setting("host", string, "127.0.0.1", "memcached server address"),
            Setting("port", integer(1, 65535), 11211, "memcached server port"),
            Setting("ttl", integer(0), 0, "seconds a session lives after its last stored state; 0: until memcached evicts it"),
            Setting(
                "lock_ttl", number(1), 30.0,
                "seconds a session lock lives when its request dies with it (killed process); "
                "keep it above the longest request time (default 30)",
            ),
            Setting("lock_poll_time", number(0.001), 0.1, "seconds between two attempts to take a busy session lock"),
            Setting("lock_max_wait_time", number(0), 5.0, "seconds a request waits for its session's lock before failing with 503"),
            Setting("min_compress_len", integer(0), 0, "zlib-compress the stored values of at least this many bytes; 0: never"),
            Setting("reset", boolean, False, "invalidate this application's sessions (only them) at start"),
            Setting("debug", boolean, False, "log every memcache command at DEBUG level"),
            Setting("nb_states", integer(1), 20, "states kept per session (the most recent ids) when states_history is on"),
        ]
    )
    multiprocess_safe = True

    def __init__(self, settings: Values, serializer: Serializer, name: str = "") -> None:
        super().__init__(settings, serializer, name)
        self.host: str = settings.host
        self.port: int = settings.port
        self.ttl: int = settings.ttl
        self.lock_ttl: float = settings.lock_ttl
        self.lock_poll_time: float = settings.lock_poll_time
        self.lock_max_wait_time: float = settings.lock_max_wait_time
        self.min_compress_len: int = settings.min_compress_len
        self.debug: bool = settings.debug
        self.nb_states: int = settings.nb_states
        app = name if _SAFE_NAME.fullmatch(name) else "h" + sha256(name.encode()).hexdigest()[:16]
        self.prefix = f"nagare:{app}:"
        self._generation_key = self.prefix + "generation"
        self._generation: int | None = None  # this process's last reading; checked at every fetch
        # One client per thread (pymemcache's Client is not thread-safe) and per process: the
        # manager is built before the publisher forks its workers, and a socket shared by
        # processes interleaves their commands and replies. What a request knows of its session
        # is in its lease, not here.
        self._local = threading.local()
        if settings.reset:
            try:
                self.invalidate_all()
            except StoreError as exc:
                raise NagareError(f"[sessions] reset = on: {exc}; start memcached or set reset = off") from None
            self.close()  # nothing opened in the parent survives into the workers

    # -- the connection ------------------------------------------------------------------------

    def _client(self) -> Client:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            # After a fork the parent's socket is dropped, not closed: closing is harmless to the
            # parent, but it is not ours to use. A new connection is opened on the first command.
            local.pid = os.getpid()
            local.client = Client(
                (self.host, self.port), connect_timeout=CONNECT_TIMEOUT, timeout=TIMEOUT, no_delay=True, default_noreply=False
            )
        client: Client = local.client
        return client

    def close(self) -> None:
        """Close this thread's connection (the next command opens a new one)."""
        client = getattr(self._local, "client", None)
        if client is not None and self._local.pid == os.getpid():
            client.close()

    def _call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        client = self._client()
        started = time.perf_counter()
        try:
            result = getattr(client, command)(*args, **kwargs)
        except MemcacheIllegalInputError:
            raise  # a key or value we built wrong: a bug, keep the traceback
        except (OSError, MemcacheError) as exc:
            client.close()
            raise StoreError(f"memcached at {self.host}:{self.port} unavailable: {command} failed ({type(exc).__name__}: {exc})") from None
        if self.debug and self.log.isEnabledFor(logging.DEBUG):
            self.log.debug("memcache %s %s: %s (%.0f µs)", command, _describe(args), _describe_result(result), (time.perf_counter() - started) * 1e6)
        return result

    # -- keys and values -----------------------------------------------------------------------

    def _lock_key(self, session_id: str) -> str:
        return f"{self.prefix}lock:{session_id}"

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

    @staticmethod
    def _unpack(value: object) -> bytes:
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
        raise ExpirationError("unreadable session data in memcached")

    @staticmethod
    def _expire(seconds: float) -> int:
        if seconds <= 0:
            return 0
        seconds = math.ceil(seconds)
        return int(time.time()) + seconds if seconds > THIRTY_DAYS else seconds

    # -- the generation ------------------------------------------------------------------------

    def _generation_of(self, found: dict[str, Any]) -> int:
        """The generation read along with other keys (started afresh if missing or garbage)."""
        value = found.get(self._generation_key)
        if value is not None:
            value = value[0] if isinstance(value, tuple) else value
            if isinstance(value, bytes) and value.isdigit() and len(value) <= 20:
                self._generation = int(value)
                return self._generation
        return self._restart_generation(overwrite=value is not None)

    def _restart_generation(self, overwrite: bool) -> int:
        # Time-based, not 0: if memcached evicted the counter, starting again at 0 would bring
        # back the sessions of generation 0.
        fresh = str(time.time_ns() // 1000).encode()
        if overwrite:
            self._call("set", self._generation_key, fresh, noreply=False)
        elif not self._call("add", self._generation_key, fresh, noreply=False):
            # another process started it first: use theirs
            return self._generation_of({self._generation_key: self._call("get", self._generation_key)})
        self._generation = int(fresh)
        return self._generation

    def invalidate_all(self) -> None:
        """Forget every session of this application: other applications and keys are untouched."""
        # Read first: a missing or unreadable counter is started afresh (`incr` would fail on it).
        self._generation_of({self._generation_key: self._call("get", self._generation_key)})
        generation = self._call("incr", self._generation_key, 1)
        if generation is None:
            raise StoreError(f"memcached at {self.host}:{self.port} does not keep the key {self._generation_key}")
        self._generation = generation

    # -- the lock ------------------------------------------------------------------------------

    @contextmanager
    def _lock(self, session_id: str) -> Iterator[Lease]:
        key = self._lock_key(session_id)
        lease = Lease(session_id, secrets.token_hex(16).encode())
        # +1: memcached's clock has a one-second resolution, so `n` may mean a little less than n s
        expire = self._expire(self.lock_ttl) + 1
        deadline = time.monotonic() + self.lock_max_wait_time
        while not self._call("add", key, lease.token, expire=expire, noreply=False):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.log.warning("session %s: lock not acquired within %ss", session_id, self.lock_max_wait_time)
                raise LockError(f"lock of session {session_id} not acquired within {self.lock_max_wait_time}s")
            time.sleep(min(self.lock_poll_time, remaining))
        try:
            yield lease
        finally:
            self._unlock(key, lease)

    def _unlock(self, key: str, lease: Lease) -> None:
        # Released only by its owner, atomically: a `cas` with the cas id read while we held the
        # lock, and a negative expiry, which memcached treats as "delete now". If the lock expired
        # and another request took it, its cas id differs and the `cas` fails: no race left
        # (get + compare + delete would delete the other request's lock in between).
        try:
            if lease.lock_cas is None:  # a request that fetched nothing: read it now
                found = self._call("gets", key)
                if found is not None and found[0] == lease.token:
                    lease.lock_cas = found[1]
            released = lease.lock_cas is not None and self._call("cas", key, b"", lease.lock_cas, expire=-1, noreply=False)
        except StoreError as exc:
            # The state is stored (or the request failed anyway): answering 503 now would hide
            # that. The lock expires by itself after lock_ttl.
            self.log.warning("session %s: lock not released (%s); it expires within %ss", lease.session_id, exc, self.lock_ttl)
            return
        if not released:
            self.log.warning(
                "session %s: its lock expired before the request ended (lock_ttl = %ss is too short)", lease.session_id, self.lock_ttl
            )

    def _lock_cas(self, found: dict[str, Any], lease: Lease) -> None:
        lock = found.get(self._lock_key(lease.session_id))
        if lock is None or lock[0] != lease.token:
            raise LockError(f"lock of session {lease.session_id} lost before its state was read (lock_ttl = {self.lock_ttl}s is too short)")
        lease.lock_cas = lock[1]

    # -- the backend interface -----------------------------------------------------------------

    def _create(self, lease: Lease) -> None:
        # Nothing is written until the first store: no one else knows the session id yet.
        found = self._call("gets_many", [self._generation_key, self._lock_key(lease.session_id)])
        lease.generation = self._generation_of(found)
        self._lock_cas(found, lease)

    def _fetch(self, lease: Lease, state_id: int) -> base.Record:
        session_id = lease.session_id
        generation = self._generation
        if generation is None:
            generation = self._generation_of({self._generation_key: self._call("get", self._generation_key)})
        for _ in range(2):  # a second time only if another process invalidated since our last look
            record_key, state_key = self._record_key(generation, session_id), self._state_key(generation, session_id, state_id)
            found = self._call("gets_many", [self._generation_key, self._lock_key(session_id), record_key, state_key])
            current = self._generation_of(found)
            if current == generation:
                break
            generation = current
        else:
            raise ExpirationError("sessions invalidated while reading this one")
        self._lock_cas(found, lease)
        lease.generation = generation
        if record_key not in found:
            raise ExpirationError("unknown or expired session")
        last_state_id, secure_id, shared = _parse_record(self._unpack(found[record_key][0]))
        lease.last_state_id = last_state_id
        if state_key not in found:
            raise ExpirationError("unknown or expired state")
        state = self._unpack(found[state_key][0])
        return base.Record(secure_id, state, shared, state_id if self.states_history else last_state_id, last_state_id)

    def _store(self, lease: Lease, state_id: int, secure_id: str, state: bytes, shared: bytes) -> None:
        session_id, generation, previous = lease.session_id, lease.generation, lease.last_state_id
        if generation is None:
            raise RuntimeError(f"session {session_id} stored before it was created or fetched")
        last_state_id = max(previous, state_id)
        record = _RECORD + b"%d %s " % (last_state_id, secure_id.encode("ascii")) + shared
        values = {
            self._record_key(generation, session_id): self._pack(record),
            self._state_key(generation, session_id, state_id): self._pack(state),
        }
        # The record and the state stored now get the ttl; a past state lives `ttl` after it
        # was stored (touching the nb_states keys at every store costs more than it is worth).
        failed = self._call("set_many", values, expire=self._expire(self.ttl), noreply=False)
        if failed:
            raise StoreError(f"memcached at {self.host}:{self.port} did not store {', '.join(failed)}")
        if self.states_history and state_id > previous:
            # The ids leaving the window of the nb_states most recent ones are deleted now (not
            # left to memcached's LRU, which would evict other sessions' data first).
            dropped = range(max(previous - self.nb_states + 1, 0), min(state_id - self.nb_states, previous) + 1)
            if dropped:
                self._call("delete_many", [self._state_key(generation, session_id, n) for n in dropped], noreply=True)
        lease.last_state_id = last_state_id

    def _delete(self, lease: Lease) -> None:
        session_id, generation, last = lease.session_id, lease.generation, lease.last_state_id
        if generation is None:
            return
        keys = [self._record_key(generation, session_id)]
        if self.states_history:
            keys += [self._state_key(generation, session_id, n) for n in range(max(last - self.nb_states + 1, 0), last + 1)]
        elif last >= 0:
            keys.append(self._state_key(generation, session_id, 0))
        self._call("delete_many", keys, noreply=False)
        lease.last_state_id = -1


def _parse_record(data: bytes) -> tuple[int, str, bytes]:
    """(last state id, secure id, shared blob) of a record; `ExpirationError` if it is not one."""
    parts = data[len(_RECORD):].split(b" ", 2) if data.startswith(_RECORD) else []
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 12 or not _SECURE_ID.fullmatch(parts[1]):
        raise ExpirationError("unreadable session record in memcached")
    return int(parts[0]), parts[1].decode("ascii"), parts[2]


def _describe(args: tuple[object, ...]) -> str:
    described = []
    for arg in args:
        if isinstance(arg, dict):
            described.append(", ".join(f"{key} ({len(value)} bytes)" for key, value in arg.items()))
        elif isinstance(arg, (list, tuple)):
            described.append(", ".join(map(str, arg)))
        elif isinstance(arg, bytes):
            described.append(f"({len(arg)} bytes)")
        else:
            described.append(str(arg))
    return " ".join(described)


def _describe_result(result: object) -> str:
    if isinstance(result, dict):
        return "found " + (", ".join(map(str, result)) or "nothing")
    if isinstance(result, bytes):
        return f"{len(result)} bytes"
    if isinstance(result, tuple) and result and isinstance(result[0], bytes):
        return f"{len(result[0])} bytes"
    return repr(result)
