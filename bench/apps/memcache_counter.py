"""A plain WSGI counter keeping its count in memcached: the peer of the demo counter in bench/cluster.py.

No framework: a cookie names the session, memcached keeps one integer per session, and every
click is one `incr`. It answers any path with a page shaped like the demo counter's for the
bench's wrk script: the value, and an `<a id="increase">` whose link carries the session id
(`_s`, which the script uses to find the session's cookie) and the value (`_c`).

- no cookie (or an unknown one): a new session, `set counter:<id> 0` (1 round trip), shown at 0;
- the cookie and a `_c` in the query: `incr counter:<id> 1` (1 round trip), the new value shown;
  if memcached lost the key, a new session as above (2 round trips).

The server is `$COUNTER_MEMCACHED` (`host:port`, default 127.0.0.1:11211). One pymemcache client
per process, opened by the first request of each process (gunicorn forks its workers after
importing this module), with TCP_NODELAY, as nagare.sessions.memcache opens its own.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from pymemcache.client.base import Client

COOKIE = "counter"
COUNTER = "counter"  # the keys' prefix: counter:<session id>
PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Counter</title></head><body>"
    '<p>Value: <span id="value">%d</span></p>'
    '<p><a id="increase" href="?_s=%s&amp;_c=%d">++</a></p>'
    "</body></html>\n"
)

_client: list[Any] = [0, None]  # the pid the client was opened in, the client


def client() -> Client:
    if _client[0] != os.getpid():
        host, _, port = os.environ.get("COUNTER_MEMCACHED", "127.0.0.1:11211").rpartition(":")
        _client[:] = [os.getpid(), Client((host, int(port)), connect_timeout=3, timeout=3, no_delay=True, default_noreply=False)]
    return _client[1]


def session_of(environ: dict[str, Any]) -> str | None:
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and value.isalnum() and len(value) == 32:
            return value
    return None


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    memcached = client()
    session = session_of(environ)
    value = None
    if session is not None and "_c=" in environ.get("QUERY_STRING", ""):
        value = memcached.incr(f"{COUNTER}:{session}", 1)
    elif session is not None:
        found = memcached.get(f"{COUNTER}:{session}")
        value = int(found) if found is not None else None
    headers = [("Content-Type", "text/html; charset=utf-8")]
    if value is None:  # a new session, or one memcached no longer has
        session, value = secrets.token_hex(16), 0
        memcached.set(f"{COUNTER}:{session}", b"0")
        headers.append(("Set-Cookie", f"{COOKIE}={session}; Path=/; HttpOnly"))
    body = (PAGE % (value, session, value)).encode()
    headers.append(("Content-Length", str(len(body))))
    start_response("200 OK", headers)
    return [body]


application = app
