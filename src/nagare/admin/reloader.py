"""`--reload`: a monitor process runs the serving command in a worker and restarts it on changes.

hupper does the work: the monitor re-runs the same command line (`nagare.admin.main.run`) in a
worker process, watches the files the worker reports (every module it imports, plus what
`watch()` names) and restarts it when one changes. A worker that fails at start reports the error
and waits (`watch_failure()`) with the files the error names watched — above all the module whose
syntax error stopped the import, which never reached `sys.modules`.

Signals: Ctrl-C reaches the whole process group, the worker stops by itself and the monitor
waits for it; SIGTERM to the monitor is passed on to the worker as SIGTERM. A worker still there
after `SHUTDOWN_GRACE` seconds is killed.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
from collections.abc import Iterator

import hupper  # type: ignore[import-untyped]  # hupper ships no type information

from nagare.config.publisher import ReloaderSettings
from nagare.errors import ConfigError, NagareError

WORKER = "nagare.admin.main.run"
#: seconds a worker has to stop (waitress closes in milliseconds) before it is killed
SHUTDOWN_GRACE = 3.0

log = logging.getLogger("nagare.reloader")


class Logger:
    """hupper's `ILogger` on the logger `nagare.reloader`, in the format of the other logs."""

    def error(self, msg: str) -> None:
        log.error(msg)

    def info(self, msg: str) -> None:
        log.info(msg)

    def debug(self, msg: str) -> None:
        log.debug(msg)


def in_worker() -> bool:
    """This process is a worker of a monitor: serve, do not monitor again."""
    return bool(hupper.is_active())


def monitor(settings: ReloaderSettings) -> int:
    """Run the command in workers, restarted on changes, until a signal; the last worker's status.

    `settings`: the `[reloader]` section (`interval` between two checks and between restarts).
    """
    try:
        hupper.start_reloader(
            WORKER, reload_interval=settings.interval, shutdown_interval=SHUTDOWN_GRACE, logger=Logger()
        )
    except SystemExit as exc:  # hupper ends the monitor with sys.exit(status of the worker)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    return 0


def watch(*files: str | None) -> None:
    """In a worker, have the monitor watch `files` too (None and empty names are skipped)."""
    names = [name for name in files if name]
    if names and in_worker():
        hupper.get_reloader().watch_files(names)


def files_of(exc: BaseException) -> list[str]:
    """The files an error comes from: the file a `ConfigError` names, the file of a syntax error
    and of every frame of the tracebacks, along the chain of causes and contexts."""
    files: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConfigError) and current.filename:
            files.append(current.filename)
        if isinstance(current, SyntaxError) and current.filename:
            files.append(current.filename)
        files.extend(frame.filename for frame in traceback.extract_tb(current.__traceback__))
        current = current.__cause__ or current.__context__
    return [name for name in dict.fromkeys(files) if not name.startswith("<")]


@contextlib.contextmanager
def watch_failure() -> Iterator[None]:
    """Around a worker's start: an error is reported, the files it names are watched and the
    worker waits for the monitor to restart it when one of them changes.

    Outside a worker, the error goes on as it is. The worker waits rather than exits: after a worker
    exits, hupper misses a change made in the next second (it sleeps, then clears the changes).
    """
    try:
        yield
    except Exception as exc:
        if not in_worker():
            raise
        watch(*files_of(exc))
        if isinstance(exc, NagareError):
            log.error("%s", exc)  # the one line the command would print
        else:
            log.exception("the server cannot start")
        log.info("waiting for a watched file to change")
        while True:  # until the monitor's SIGTERM (a change, or the end); Ctrl-C: KeyboardInterrupt
            time.sleep(3600)
