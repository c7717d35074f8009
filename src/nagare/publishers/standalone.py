"""The standalone publisher: a threaded HTTP/1.1 server (waitress) for development.

Sessions may live in memory: there is one process. Static files are served here. In debug mode,
the debugger (one process: its frames in memory) shows the exceptions as pages.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

import waitress.server

from nagare.config.settings import Setting, boolean, integer, string
from nagare.config.values import Values
from nagare.errors import NagareError
from nagare.publishers import base
from nagare.wsgi.access import AccessLog
from nagare.wsgi.debug import debugger
from nagare.wsgi.loader import LoadedApp

log = logging.getLogger("nagare.publisher")


class StandaloneSettings(Values):
    type: str
    host: str
    port: int
    threads: int
    access_log: bool


class Publisher(base.Publisher):
    SETTINGS = base.Publisher.SETTINGS.extend(
        [
            Setting("host", string, "127.0.0.1", "address to listen on"),
            Setting("port", integer(0, 65535), 8080, "TCP port to listen on (0: any free port)"),
            Setting("threads", integer(1, 1000), 8, "threads answering requests"),
            Setting(
                "access_log", boolean, True,
                "one line per request on the logger `nagare.access`: client, request line, status, bytes, time",
            ),
        ],
        values_class=StandaloneSettings,
    )
    settings: StandaloneSettings
    serves_static = True

    def serve(self, apps: Sequence[LoadedApp]) -> None:
        host, port = self.settings.host, self.settings.port
        app: Any = self.dispatcher(apps)
        if any(loaded.config.application.debug for loaded in apps):
            app = debugger(app)
        if self.settings.access_log:
            app = AccessLog(app)
        try:
            server: Any = waitress.server.create_server(
                app, host=host, port=port, threads=self.settings.threads, ident="nagare"
            )
        except OSError as exc:
            raise NagareError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

        def stop(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        names = ", ".join(f"/{app.name}/" for app in apps)
        log.info("serving %s on http://%s:%s/", names, host, server.effective_port)
        sys.stderr.flush()
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
            log.info("stopped")
