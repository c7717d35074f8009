"""Fixtures of the sessions tests: every backend behind one interface (memcached, redis: tests/conftest.py).

Adding a backend to the shared suite (tests/sessions/test_backends.py) is one entry in
`BACKENDS`: its name and a function building its `Backend` from the pytest request.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pymemcache.client.base import Client

from nagare.config import loader
import redis as redis_py

from nagare.sessions import memcache, memory, redis
from nagare.sessions.base import Sessions
from nagare.sessions.serializer import Serializer
from tests.support.memcached import Memcached
from tests.support.redis import Redis

SECRET = b"x" * 64
_apps = itertools.count()


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
    make: Callable[..., Sessions]  # make(**[sessions] keys): a new manager (its own sessions)
    rewrite_state: Callable[[Sessions, str, int, Callable[[bytes], bytes]], None]  # someone writing to the store
    waiters: Callable[[Sessions, str], int]  # how many requests wait for the lock of a session, as the backend counts


def _memory(request: pytest.FixtureRequest) -> Backend:
    def rewrite(sessions: Any, session_id: str, state_id: int, change: Callable[[bytes], bytes]) -> None:
        states = sessions._sessions[session_id].states
        states[state_id] = change(states[state_id])

    def waiters(sessions: Any, session_id: str) -> int:
        entry = sessions._sessions.get(session_id)
        return entry.waiters if entry is not None else 0

    return Backend("memory", lambda **values: build(memory.Sessions, "app", values), rewrite, waiters)


def _memcache(request: pytest.FixtureRequest) -> Backend:
    server: Memcached = request.getfixturevalue("memcached")
    client: Client = request.getfixturevalue("memcache_client")
    created: list[memcache.Sessions] = []

    def make(**values: Any) -> Sessions:
        # A fresh application name per manager: the tests share one memcached, not their sessions.
        sessions = build(memcache.Sessions, f"test{next(_apps)}", {"host": server.host, "port": server.port, **values})
        created.append(sessions)
        return sessions

    def rewrite(sessions: Any, session_id: str, state_id: int, change: Callable[[bytes], bytes]) -> None:
        key = sessions._state_key(sessions._generation, session_id, state_id)
        value = client.get(key)
        client.set(key, sessions._pack(change(sessions._unpack(value))))

    def waiters(sessions: Any, session_id: str) -> int:
        return int(client.get(sessions._waiters_key(session_id)) or 0)

    request.addfinalizer(lambda: [sessions.close() for sessions in created])
    return Backend("memcache", make, rewrite, waiters)


def _redis(request: pytest.FixtureRequest) -> Backend:
    server: Redis = request.getfixturevalue("redis_server")
    client = redis_py.Redis(server.host, server.port)
    request.addfinalizer(client.close)

    def make(**values: Any) -> Sessions:
        return build(redis.Sessions, f"test{next(_apps)}", {"url": server.url, **values})

    def rewrite(sessions: Any, session_id: str, state_id: int, change: Callable[[bytes], bytes]) -> None:
        key = sessions._state_key(sessions._generation, session_id, state_id)
        client.set(key, sessions._pack(change(sessions._unpack(client.get(key)))))

    def waiters(sessions: Any, session_id: str) -> int:
        return int(client.get(sessions._waiters_key(session_id)) or 0)

    return Backend("redis", make, rewrite, waiters)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Backend]] = {
    "memory": _memory,
    "memcache": _memcache,
    "redis": _redis,
}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param](request)
