"""Sessions in memcached (`[sessions] type = memcache`): shared by processes and machines.

The keys and the logic are those of every shared store (nagare.sessions.shared). A request
waits for two round trips: the lock and the read (`add`, sent without waiting for its reply,
then one `gets` of generation + lock + record + state on the same connection: the lock read is
our token if the `add` took it), and the write of `set` record + `set` state (pipelined). The
unlock (`cas`) and the deletion of the states that leave the window are `noreply`: sent, never
waited for. Only the client is kept per thread
and per process.

Several servers (`host = 10.0.0.1:11211, 10.0.0.2:11211`): a session is placed on one of them
by rendezvous hashing of its id (highest random weight), and all its keys live there, so a
request still reads them in one round trip. Adding a server to N moves about 1/(N+1) of the
sessions, removing one moves only its own. Each server has its own generation counter. A
server that fails is *down* for `dead_retry` seconds in this process: the sessions placed on it
restart (`ExpirationError`: a fresh session), new sessions are given ids placed on the live
servers, and after `dead_retry` the next request placed on it tries it again. With one server,
or with all of them down, the requests answer 503 instead.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from hashlib import blake2b
from typing import Any

# pymemcache publishes no type information: its Client is Any here
from pymemcache.client.base import Client  # type: ignore[import-untyped]
from pymemcache.exceptions import (  # type: ignore[import-untyped]
    MemcacheError,
    MemcacheIllegalInputError,
    MemcacheUnexpectedCloseError,
)

from nagare.config.settings import Setting, boolean, integer, number, string_list
from nagare.config.values import Values
from nagare.errors import ExpirationError
from nagare.sessions import shared
from nagare.sessions.serializer import Serializer
from nagare.sessions.shared import Lease, StoreError

__all__ = ["Lease", "Sessions", "StoreError"]

CONNECT_TIMEOUT = 3.0  # seconds; a dead memcached fails the request fast, not after the OS's TCP timeout
TIMEOUT = 3.0
THIRTY_DAYS = 30 * 24 * 3600  # memcached reads a larger expiry as an absolute Unix time
#: what a command fails with on a connection the server closed: a restarted memcached
STALE = (MemcacheUnexpectedCloseError, ConnectionResetError, BrokenPipeError)
_ADDRESS = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\s\[\]]+))(?::(?P<port>\d{1,5}))?")


def servers(value: object) -> list[str]:
    """One `host[:port]` or a comma-separated list (`[::1]:11211` for IPv6)."""
    found = string_list(value)
    addresses = [_address(item, None) for item in found]
    for n, address in enumerate(addresses):
        if address in addresses[:n]:
            raise ValueError(f"{found[n]} is listed twice")
    if not found:
        raise ValueError("no server given")
    return found


def _address(item: str, default_port: int | None) -> tuple[str, int | None]:
    match = _ADDRESS.fullmatch(item)
    port = int(match["port"]) if match and match["port"] else default_port
    if match is None or port is not None and not 0 < port < 65536:
        raise ValueError(f"{item!r} is not host or host:port")
    return match["ipv6"] or match["host"], port


servers.__doc__ = "host or host:port, or a comma-separated list of them"


class Sessions(shared.KeyValueSessions):
    SETTINGS = shared.KeyValueSessions.SETTINGS.extend(
        [
            Setting(
                "host", servers, ["127.0.0.1"],
                "memcached server, host or host:port; several: a comma-separated list (sessions spread by consistent hashing)",
            ),
            Setting("port", integer(1, 65535), 11211, "port of the servers given without one"),
            Setting("dead_retry", number(0), 10.0, "with several servers: seconds a failed server is left alone before it is tried again"),
            Setting("debug", boolean, False, "log every memcache command at DEBUG level"),
        ]
    )
    store_name = "memcached"

    def __init__(self, settings: Values, serializer: Serializer, name: str = "") -> None:
        super().__init__(settings, serializer, name)
        self.servers: list[tuple[str, int]] = []
        for item in settings.host:
            host, port = _address(item, settings.port)
            if (host, port or settings.port) in self.servers:
                raise ValueError(f"host = {', '.join(settings.host)}: {host}:{port} is listed twice")
            self.servers.append((host, port or settings.port))
        self.dead_retry: float = settings.dead_retry
        self.debug: bool = settings.debug
        #: the rendezvous hashing weights of each server, by its configured name
        self._seeds = [blake2b(f"{host}:{port}".encode(), digest_size=16).digest() for host, port in self.servers]
        #: per process: server index -> until when it is left alone (several servers only)
        self._dead: dict[int, float] = {}
        # One client per thread (pymemcache's Client is not thread-safe), per process and per
        # server: the manager is built before the publisher forks its workers, and a socket
        # shared by processes interleaves their commands and replies. What a request knows of
        # its session is in its lease, not here.
        self._local = threading.local()
        if settings.reset:
            self.reset_at_start()

    # -- the servers ---------------------------------------------------------------------------

    def _server_of(self, session_id: str) -> int:
        seeds = self._seeds
        if len(seeds) == 1:
            return 0
        key = session_id.encode()
        weights = [blake2b(key, digest_size=8, key=seed).digest() for seed in seeds]
        return weights.index(max(weights))

    def _is_down(self, server: int) -> bool:
        until = self._dead.get(server)
        if until is None:
            return False
        if time.monotonic() < until:
            return True
        self._dead.pop(server, None)  # retried by this request
        return False

    def _new_session_id(self) -> str:
        session_id = super()._new_session_id()
        if len(self.servers) > 1 and self._dead:
            for _ in range(64):  # placed on a live server: expected tries N / live servers
                if not self._is_down(self._server_of(session_id)):
                    break
                session_id = super()._new_session_id()
        return session_id

    # -- the connection ------------------------------------------------------------------------

    def _client(self, server: int = 0) -> Client:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            # After a fork the parent's sockets are dropped, not closed: closing is harmless to
            # the parent, but they are not ours to use. A new connection opens at the first command.
            local.pid = os.getpid()
            local.clients = {}
        client: Client | None = local.clients.get(server)
        if client is None:
            client = local.clients[server] = Client(
                self.servers[server], connect_timeout=CONNECT_TIMEOUT, timeout=TIMEOUT, no_delay=True, default_noreply=False
            )
        return client

    def close(self) -> None:
        """Close this thread's connections (the next command opens new ones)."""
        if getattr(self._local, "pid", None) == os.getpid():
            for client in self._local.clients.values():
                client.close()

    def _call(self, server: int, command: str, *args: Any, **kwargs: Any) -> Any:
        several = len(self.servers) > 1
        host, port = self.servers[server]
        if several and self._is_down(server):
            raise StoreError(f"memcached at {host}:{port} is down (tried again within {self.dead_retry}s)")
        client = self._client(server)
        reused = client.sock is not None
        started = time.perf_counter()
        try:
            try:
                result = getattr(client, command)(*args, **kwargs)
            except STALE:
                if not reused:
                    raise
                # A connection opened before memcached restarted (or dropped it when idle): the
                # command did not reach the server that is there now. Once more, on a new one.
                client.close()
                result = getattr(client, command)(*args, **kwargs)
        except MemcacheIllegalInputError:
            raise  # a key or value we built wrong: a bug, keep the traceback
        except (OSError, MemcacheError) as exc:
            client.close()
            if several:
                self._dead[server] = time.monotonic() + self.dead_retry
                self.log.warning(
                    "memcached at %s:%d unavailable (%s): its sessions restart; tried again in %ss", host, port, type(exc).__name__, self.dead_retry
                )
            raise StoreError(f"memcached at {host}:{port} unavailable: {command} failed ({type(exc).__name__}: {exc})") from None
        if self.debug and self.log.isEnabledFor(logging.DEBUG):
            self.log.debug("memcache %s %s: %s (%.0f µs)", command, _describe(args), _describe_result(result), (time.perf_counter() - started) * 1e6)
        return result

    @staticmethod
    def _expire(seconds: float) -> int:
        expire = shared.KeyValueSessions._expire(seconds)
        return int(time.time()) + expire if expire > THIRTY_DAYS else expire

    # -- the generation --------------------------------------------------------------------------

    def _read_generation(self, server: int) -> bytes | None:
        value: bytes | None = self._call(server, "get", self._generation_key)
        return value

    def _start_generation(self, server: int, value: bytes, overwrite: bool) -> bool:
        if overwrite:
            self._call(server, "set", self._generation_key, value, noreply=False)
            return True
        return bool(self._call(server, "add", self._generation_key, value, noreply=False))

    def _increment_generation(self, server: int) -> int:
        generation: int | None = self._call(server, "incr", self._generation_key, 1)
        if generation is None:
            host, port = self.servers[server]
            raise StoreError(f"memcached at {host}:{port} does not keep the key {self._generation_key}")
        return generation

    def invalidate_all(self) -> None:
        """Forget every session of this application on every server (other keys are untouched).

        A server down now keeps its sessions: when it comes back, they are valid again (a
        restarted memcached has none)."""
        failed: list[StoreError] = []
        for server in range(len(self.servers)):
            try:
                self._invalidate(server)
            except StoreError as exc:
                failed.append(exc)
        if len(failed) == len(self.servers):
            raise failed[0]
        for error in failed:
            self.log.warning("sessions not invalidated: %s", error)

    # -- the lock ------------------------------------------------------------------------------

    def _try_lock(self, lease: Lease, key: str, expire: int, state_id: int | None) -> bool:
        # One round trip: the `add` is sent without waiting for its reply, and the `gets` that
        # follows on the same connection reads the lock it left: our token, or another's.
        keys = self._prefetch_keys(lease, key, state_id)
        try:
            self._call(lease.server, "add", key, lease.token, expire=expire, noreply=True)
            found = self._read(lease, keys)
        except StoreError as exc:
            if len(self.servers) == 1 or all(self._is_down(n) for n in range(len(self.servers))):
                raise  # one server, or every one down: 503
            # Only the sessions of this server restart: the request is given a fresh session.
            raise ExpirationError(f"the session's server is down ({exc})") from None
        if found.get(key) != lease.token:
            return False
        lease.prefetched = found
        return True

    def _count_waiter(self, server: int, key: str, delta: int, expire: int) -> int:
        if delta < 0:
            count = self._call(server, "decr", key, -delta)
            return int(count or 0)
        count = self._call(server, "incr", key, delta)
        if count is None:  # the first waiter: the count lives `expire` seconds
            if self._call(server, "add", key, b"%d" % delta, expire=expire, noreply=False):
                return delta
            count = self._call(server, "incr", key, delta)
        return int(count or delta)

    def _release(self, lease: Lease, key: str) -> bool | None:
        # Released only by its owner, atomically: a `cas` with the cas id read while we held the
        # lock, and a negative expiry, which memcached treats as "delete now". If the lock expired
        # and another request took it, its cas id differs and the `cas` fails: no race left
        # (get + compare + delete would delete the other request's lock in between). Sent without
        # waiting for the reply: whether it expired is told by the time it was held.
        if lease.lock_cas is None:  # a request whose lock was taken without its cas id: read it now
            found = self._call(lease.server, "gets", key)
            if found is None or found[0] != lease.token:
                return False
            lease.lock_cas = found[1]
        self._call(lease.server, "cas", key, b"", lease.lock_cas, expire=-1, noreply=True)
        return None

    # -- reads and writes ----------------------------------------------------------------------

    def _read(self, lease: Lease, keys: list[str]) -> dict[str, bytes]:
        found: dict[str, tuple[bytes, bytes]] = self._call(lease.server, "gets_many", keys)
        lock = found.get(self._lock_key(lease.session_id))
        if lock is not None and lock[0] == lease.token:
            lease.lock_cas = lock[1]
        return {key: value for key, (value, _) in found.items()}

    def _write(self, lease: Lease, values: dict[str, bytes], expire: int, touched: list[str], dropped: list[str]) -> None:
        # The record and the state stored now get the ttl, the state loaded is touched
        failed = self._call(lease.server, "set_many", values, expire=expire, noreply=False)
        if failed:
            host, port = self.servers[lease.server]
            raise StoreError(f"memcached at {host}:{port} did not store {', '.join(failed)}")
        for key in touched:
            self._call(lease.server, "touch", key, expire, noreply=True)
        if dropped:
            self._call(lease.server, "delete_many", dropped, noreply=True)

    def _remove(self, lease: Lease, keys: list[str]) -> None:
        self._call(lease.server, "delete_many", keys, noreply=False)


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
