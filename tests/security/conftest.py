"""What the security tests share: a WSGI application wired the way the request cycle is, served for real."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import waitress
from waitress import wasyncore
from webob import Request, Response
from webob.exc import HTTPException

from nagare import security


class Clock:
    """A wall clock the test moves: `clock.now += 700`."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Protected:
    """A WSGI application guarded by a manager: what the request cycle does around its actions.

    `view(context, request)` answers the page (a string); it may raise the manager's refusals.
    The sessions it would rotate or delete are recorded in `self.events`.
    """

    def __init__(self, manager: Any, view: Callable[[security.Context, Request], str]) -> None:
        self.manager = manager
        self.view = view
        self.events: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ, charset="utf-8")
        response = Response(charset="utf-8")
        sent: Response
        with security.bind(self.manager, request, response) as context:
            try:
                response.text = self.view(context, request)
                sent = response
            except HTTPException as exc:
                sent = exc
            if context.login:
                self.events.append(f"new session for {context.identity}")
            if context.logout is not None:
                self.events.append(f"logout to {context.logout.location!r}, delete={context.logout.delete_session}")
            context.finish(sent, None)
        return sent(environ, start_response)


@contextmanager
def served(app: Callable[..., Any]) -> Iterator[str]:
    """`app` served by waitress on a free port, in a thread; yields its base URL."""
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    port = server.socket.getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        # close() alone leaves the kept-alive channels in the loop's map: the loop would go on.
        # The channels are closed in the loop's own thread (through its trigger): closed from
        # here, the loop's select() could meet a closed descriptor (EBADF in its thread).
        server.task_dispatcher.shutdown()
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))  # type: ignore[union-attr]
        except OSError:
            # The loop closed its trigger already (its poll saw the pipe's descriptor invalid,
            # once in a CI run: EBADF here): nothing can wake it, the channels are closed from
            # here and the loop ends at its next turn, its map empty.
            wasyncore.close_all(server._map)  # type: ignore[union-attr]
        thread.join(5)
        assert not thread.is_alive()
