"""Fixtures of the sessions tests: every backend behind one interface (memcached, redis: tests/conftest.py).

Adding a backend to the shared suite (tests/sessions/test_backends.py) is one entry in
`BACKENDS`: its name and a function building its `Backend` from the pytest request. The
`shared_backend` fixture gives the stores shared by processes (memcached, redis) only, as a
`SharedBackend`: what the tests of the keys, the lock across processes and a store going away
need to look at, spoil or stop.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import redis as redis_py
from pymemcache.client.base import Client

from nagare.config import loader
from nagare.sessions import memcache, memory, redis
from nagare.sessions.base import Sessions
from nagare.sessions.serializer import Serializer
from tests.support.memcached import Memcached
from tests.support.redis import Redis

SECRET = b"x" * 64
_apps = itertools.count()


def unique_name() -> str:
    """An application name of its own: the tests share one server, not their keys (the clock too:
    pytest imports this module once as a conftest and once more for the tests that import it)."""
    return f"test{os.getpid()}x{next(_apps)}x{time.monotonic_ns()}"


@pytest.fixture
def memcache_client(memcached: Memcached) -> Iterator[Client]:
    """A plain client of the test memcached, to look at (or spoil) what the managers wrote."""
    client = Client(memcached.address, default_noreply=False)
    yield client
    client.close()


def build(cls: type[Sessions], app: str, values: dict[str, Any]) -> Sessions:
    settings = loader.check("publisher.cfg", cls.SETTINGS, {key: str(value) for key, value in values.items()})
    return cls(settings, Serializer(SECRET, app), app)


@dataclass
class Backend:
    """One session backend as the shared suite sees it."""

    name: str
    #: make(app=None, **[sessions] keys): a new manager, of the application `app` (another
    #: process's manager of it), else of an application of its own
    make: Callable[..., Sessions]
    rewrite_state: Callable[[Sessions, str, int, Callable[[bytes], bytes]], None]  # someone writing to the store
    waiters: Callable[[Sessions, str], int]  # how many requests wait for the lock of a session, as the backend counts


@dataclass
class SharedBackend(Backend):
    """A store shared by processes, seen through a plain client of its server, as an operator would."""

    store_name: str  # how its errors name the server: "<store_name> at host:port unavailable: ..."
    failed_write: str  # what a request's failed write is named in its error
    raw_get: Callable[[str], bytes | None]
    raw_set: Callable[[str, bytes], None]
    raw_delete: Callable[[str], None]
    raw_touch: Callable[[str, int], None]  # the key expires in that many seconds
    raw_ttl: Callable[[str], int]  # seconds the key has left; -1: no expiry; -2: no such key
    raw_keys: Callable[[str], list[str]]  # the keys starting with a prefix
    connections: Callable[[Sessions], list[int]]  # the local ports of this process's open connections of a manager
    own_server: Callable[..., Any]  # own_server(port=None): a server of the test's own (`port`: one restarted), stopped at its end
    make_on: Callable[..., Sessions]  # make_on(server, app=None, **[sessions] keys): a manager on that server


def _memory(request: pytest.FixtureRequest) -> Backend:
    def make(app: str | None = None, **values: Any) -> Sessions:
        return build(memory.Sessions, app or "app", values)

    def rewrite(sessions: Any, session_id: str, state_id: int, change: Callable[[bytes], bytes]) -> None:
        states = sessions._sessions[session_id].states
        states[state_id] = change(states[state_id])

    def waiters(sessions: Any, session_id: str) -> int:
        entry = sessions._sessions.get(session_id)
        return entry.waiters if entry is not None else 0

    return Backend("memory", make, rewrite, waiters)


def _own_servers(request: pytest.FixtureRequest, start: Callable[[Path, int | None], Any]) -> Callable[..., Any]:
    """`own_server(port=None)`: a server started in the test's folder, stopped when the test ends."""

    def own_server(port: int | None = None) -> Any:
        server = start(request.getfixturevalue("tmp_path"), port)
        request.addfinalizer(server.stop)
        return server

    return own_server


def _memcache(request: pytest.FixtureRequest) -> SharedBackend:
    server: Memcached = request.getfixturevalue("memcached")
    client: Client = request.getfixturevalue("memcache_client")
    created: list[memcache.Sessions] = []
    request.addfinalizer(lambda: [sessions.close() for sessions in created])

    def make_on(on: Memcached, app: str | None = None, **values: Any) -> Sessions:
        sessions = build(memcache.Sessions, app or unique_name(), {"host": on.host, "port": on.port, **values})
        created.append(sessions)
        return sessions

    def rewrite(sessions: Any, session_id: str, state_id: int, change: Callable[[bytes], bytes]) -> None:
        key = sessions._state_key(sessions._generation, session_id, state_id)
        client.set(key, sessions._pack(change(sessions._unpack(client.get(key)))))

    def waiters(sessions: Any, session_id: str) -> int:
        return int(client.get(sessions._waiters_key(session_id)) or 0)

    def ttl(key: str) -> int:
        reply = client.raw_command(f"mg {key} t".encode(), b"\r\n")  # meta get, its ttl flag (memcached >= 1.6)
        return -2 if reply == b"EN" else int(reply.split(b" t")[1].split()[0])

    def connections(sessions: Any) -> list[int]:
        clients = getattr(sessions._local, "clients", {})  # this thread's, inherited too after a fork
        return sorted(c.sock.getsockname()[1] for c in clients.values() if c.sock is not None)

    return SharedBackend(
        "memcache", lambda app=None, **values: make_on(server, app, **values), rewrite, waiters,
        store_name=memcache.Sessions.store_name, failed_write="set_many",
        raw_get=client.get, raw_set=lambda key, value: client.set(key, value), raw_delete=client.delete,
        raw_touch=lambda key, seconds: client.touch(key, seconds), raw_ttl=ttl,
        raw_keys=lambda prefix: [key for key in _memcached_keys(server) if key.startswith(prefix)],
        connections=connections, own_server=_own_servers(request, Memcached), make_on=make_on,
    )


def _memcached_keys(server: Memcached) -> list[str]:
    """Every key memcached holds (`lru_crawler metadump all`: a test server holds few)."""
    with socket.create_connection(server.address, timeout=5) as connection:
        connection.sendall(b"lru_crawler metadump all\r\n")
        dump = b""
        while not dump.endswith(b"END\r\n"):
            chunk = connection.recv(65536)
            dump += chunk
            if not chunk or dump.startswith((b"BUSY", b"ERROR", b"CLIENT_ERROR")) and dump.endswith(b"\r\n"):
                raise RuntimeError(f"memcached answered {dump[:80]!r} to metadump")
    return [unquote(line.split()[0].removeprefix(b"key=").decode()) for line in dump.splitlines() if line.startswith(b"key=")]


def _redis(request: pytest.FixtureRequest) -> SharedBackend:
    server: Redis = request.getfixturevalue("redis_server")
    client = redis_py.Redis(server.host, server.port)
    request.addfinalizer(client.close)

    def make_on(on: Redis, app: str | None = None, **values: Any) -> Sessions:
        return build(redis.Sessions, app or unique_name(), {"url": on.url, **values})

    def rewrite(sessions: Any, session_id: str, state_id: int, change: Callable[[bytes], bytes]) -> None:
        key = sessions._state_key(sessions._generation, session_id, state_id)
        client.set(key, sessions._pack(change(sessions._unpack(client.get(key)))))

    def waiters(sessions: Any, session_id: str) -> int:
        return int(client.get(sessions._waiters_key(session_id)) or 0)

    def connections(sessions: Any) -> list[int]:
        pool = sessions.client.connection_pool
        return sorted(c._sock.getsockname()[1] for c in pool._available_connections if c._sock is not None)

    return SharedBackend(
        "redis", lambda app=None, **values: make_on(server, app, **values), rewrite, waiters,
        store_name=redis.Sessions.store_name, failed_write="store and unlock",
        raw_get=client.get, raw_set=lambda key, value: client.set(key, value), raw_delete=client.delete,
        raw_touch=lambda key, seconds: client.expire(key, seconds), raw_ttl=client.ttl,
        raw_keys=lambda prefix: server.keys(prefix + "*"),
        connections=connections, own_server=_own_servers(request, Redis), make_on=make_on,
    )


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Backend]] = {
    "memory": _memory,
    "memcache": _memcache,
    "redis": _redis,
}
SHARED_BACKENDS = ["memcache", "redis"]


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param](request)


@pytest.fixture(params=SHARED_BACKENDS)
def shared_backend(request: pytest.FixtureRequest) -> SharedBackend:
    built = BACKENDS[request.param](request)
    assert isinstance(built, SharedBackend)
    return built
