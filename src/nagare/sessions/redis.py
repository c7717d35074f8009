"""Sessions in redis (`[sessions] type = redis`, redis-py): shared by processes and machines.

The keys and the logic are those of every shared store (nagare.sessions.shared), on one redis
server (`url`, or `host`, `port`, `db`, `password`). A request costs two round trips: one
script takes the lock (`SET NX EX`) and, if it did, reads generation + lock + record + state
(`MGET`), one script writes record + state, drops the states that
left the window and releases the lock, only if the lock still holds our token: a request that
outlived its lock stores nothing (`LockError`, 503) rather than overwrite the states of the
request that took it. The writes of a request are sent with its unlock, when its `with` ends: a
failure there is raised (503), as a failed write of memcache is.

redis-py's connection pool is shared by the threads and started again after a fork.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from nagare.config.settings import Setting, boolean, integer, string
from nagare.config.values import Values
from nagare.errors import LockError
from nagare.sessions import shared
from nagare.sessions.serializer import Serializer
from nagare.sessions.shared import Lease, StoreError

__all__ = ["Lease", "Sessions", "StoreError"]

CONNECT_TIMEOUT = 3.0  # seconds; a dead redis fails the request fast
TIMEOUT = 3.0
# The scripts are sent with EVAL, not EVALSHA: their few hundred bytes cost less than a
# round trip to load them after a restart of redis.
#: takes the lock KEYS[1] with our token ARGV[1] for ARGV[2] seconds if it is free, and then reads
#: the keys KEYS[2...] (nil: the lock is busy). Holding our token already counts as taking it: sent
#: again after a connection broke on its answer, it does not wait for its own lock.
LOCK = (
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] and not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return false end "
    "return redis.call('MGET', unpack(KEYS, 2))"
)
#: adds ARGV[1] to the count KEYS[1], made for ARGV[2] seconds by its first waiter
COUNT = "redis.call('SET', KEYS[1], 0, 'NX', 'EX', ARGV[2]) return redis.call('INCRBY', KEYS[1], ARGV[1])"
#: deletes the lock KEYS[1] only if it still holds our token ARGV[1]: released only by its owner
UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"
#: a request's writes and its unlock, done only if the lock KEYS[1] still holds our token ARGV[1]:
#: a request that outlived its lock does not overwrite the states of the one that took it.
#: ARGV: token, expiry (0: none), number of values, number of keys touched, the values; KEYS:
#: the lock, the keys of the values, the keys touched, the keys deleted.
STORE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local expire, values, touched = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local k = 2
for i = 1, values do
  if expire > 0 then redis.call('SET', KEYS[k], ARGV[4 + i], 'EX', expire) else redis.call('SET', KEYS[k], ARGV[4 + i]) end
  k = k + 1
end
for i = 1, touched do
  redis.call('EXPIRE', KEYS[k], expire)
  k = k + 1
end
if k <= #KEYS then redis.call('DEL', unpack(KEYS, k)) end
redis.call('DEL', KEYS[1])
return 1
"""

class Sessions(shared.KeyValueSessions):
    SETTINGS = shared.KeyValueSessions.SETTINGS.extend(
        [
            Setting(
                "url", string, "",
                "the server as a URL: redis://[:password@]host[:port][/db], rediss:// (TLS), unix:///path/redis.sock?db=0; "
                "when set, host, port, db and password are not used",
            ),
            Setting("host", string, "127.0.0.1", "redis server address"),
            Setting("port", integer(1, 65535), 6379, "redis server port"),
            Setting("db", integer(0), 0, "redis database number"),
            Setting("password", string, "", "redis password (AUTH); empty: none"),
            Setting("debug", boolean, False, "log every round trip to redis at DEBUG level"),
        ]
    )
    store_name = "redis"

    def __init__(self, settings: Values, serializer: Serializer, name: str = "") -> None:
        super().__init__(settings, serializer, name)
        self.debug: bool = settings.debug
        # Once more at once on a connection that broke (redis restarted), not redis-py's ten times
        # with a growing backoff: a redis that is down answers 503 within the timeouts.
        options: dict[str, Any] = {"socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": TIMEOUT, "retry": Retry(NoBackoff(), 1)}
        if settings.url:
            try:
                parts = urlsplit(settings.url)
                db = parts.path.strip("/") if parts.scheme in ("redis", "rediss") else ""
                if db and not db.isdigit():
                    raise ValueError(f"the database {db!r} is not a number")
                self.client = redis.Redis.from_url(settings.url, **options)
            except ValueError as exc:
                raise ValueError(f"url = {settings.url}: {exc}") from None
        else:
            self.client = redis.Redis(settings.host, settings.port, settings.db, settings.password or None, **options)
        kwargs = self.client.connection_pool.connection_kwargs
        self.address = kwargs["path"] if "path" in kwargs else f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
        if settings.reset:
            self.reset_at_start()

    def close(self) -> None:
        """Nothing per thread: the pool's connections are shared (a fork starts a new pool)."""

    def _run(self, what: str, command: Callable[[Any], Any]) -> Any:
        """One round trip: `command` sent by the client, its result (one command, no pipeline:
        redis-py's pipelines cost more than the scripts doing the same)."""
        started = time.perf_counter()
        try:
            result = command(self.client)
        except RedisError as exc:
            text = " ".join(str(exc).split())
            raise StoreError(f"redis at {self.address} unavailable: {what} failed ({type(exc).__name__}: {text})") from None
        if self.debug and self.log.isEnabledFor(logging.DEBUG):
            self.log.debug("redis %s: %s (%.0f µs)", what, _describe(result), (time.perf_counter() - started) * 1e6)
        return result

    # -- the generation ------------------------------------------------------------------------

    def _read_generation(self, server: int) -> bytes | None:
        value: bytes | None = self._run("get generation", lambda client: client.get(self._generation_key))
        return value

    def _start_generation(self, server: int, value: bytes, overwrite: bool) -> bool:
        return bool(self._run("set generation", lambda client: client.set(self._generation_key, value, nx=not overwrite)))

    def _increment_generation(self, server: int) -> int:
        return int(self._run("incr generation", lambda client: client.incr(self._generation_key)))

    # -- the lock ------------------------------------------------------------------------------

    def _try_lock(self, lease: Lease, key: str, expire: int, state_id: int | None) -> bool:
        keys = self._prefetch_keys(lease, key, state_id)
        found = self._run("lock", lambda client: client.eval(LOCK, 1 + len(keys), key, *keys, lease.token, expire))
        if found is None:
            return False
        # read under the lock (the SET came first): `_create` or `_fetch` needs no other round trip
        lease.prefetched = {k: v for k, v in zip(keys, found) if v is not None}
        return True

    def _count_waiter(self, server: int, key: str, delta: int, expire: int) -> int:
        return int(self._run("count waiters", lambda client: client.eval(COUNT, 1, key, delta, expire)))

    def _release(self, lease: Lease, key: str) -> bool:
        return bool(self._run("unlock", lambda client: client.eval(UNLOCK, 1, key, lease.token)))

    def _finish(self, lease: Lease, key: str) -> None:
        pending = lease.pending
        if not pending:
            super()._finish(lease, key)
            return
        lease.pending = None
        expire, values, touched, dropped = pending
        keys = [key, *values, *touched, *dropped]
        # A failure is raised: the state of the request is not stored (503).
        stored = self._run(
            "store and unlock", lambda client: client.eval(STORE, len(keys), *keys, lease.token, expire, len(values), len(touched), *values.values())
        )
        if not stored:
            raise LockError(
                f"lock of session {lease.session_id} expired before the request ended (lock_ttl = {self.lock_ttl}s is too short): "
                "its state is not stored"
            )

    # -- reads and writes ----------------------------------------------------------------------

    def _read(self, lease: Lease, keys: list[str]) -> dict[str, bytes]:
        values = self._run("read", lambda client: client.mget(keys))
        return {key: value for key, value in zip(keys, values) if value is not None}

    def _write(self, lease: Lease, values: dict[str, bytes], expire: int, touched: list[str], dropped: list[str]) -> None:
        # Sent with the unlock, in one script (`_finish`); a second store of the request replaces
        # the first one's values (the same keys: an update in place).
        if lease.pending:
            _, before, before_touched, before_dropped = lease.pending
            values = {**before, **values}
            touched = list(dict.fromkeys([*before_touched, *touched]))
            dropped = list(dict.fromkeys([*before_dropped, *dropped]))
        lease.pending = [expire, values, [k for k in touched if k not in values], [k for k in dropped if k not in values]]

    def _remove(self, lease: Lease, keys: list[str]) -> None:
        lease.pending = None  # a state stored by this request goes too
        self._run("delete", lambda client: client.delete(*keys))


def _describe(result: object) -> str:
    if isinstance(result, list):
        return "[" + ", ".join(_describe(item) for item in result) + "]"
    if isinstance(result, bytes):
        return f"{len(result)} bytes"
    return repr(result)
