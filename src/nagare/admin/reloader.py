"""`--reload`: a monitor process runs the serving command in a worker and restarts it on changes.

hupper does the work: the monitor re-runs the same command line (`nagare.admin.main.run`) in a
worker process, watches the files the worker reports (every module it imports, plus what
`watch()` names) and restarts it when one changes. A worker that fails at start reports the error
and waits (`watch_failure()`) with the files the error names watched — above all the module whose
syntax error stopped the import, which never reached `sys.modules`.

The monitor learns a file only when the worker reports it (hupper's worker looks at `sys.modules`
every second), after the worker has read it: `FileMonitor` therefore takes a file it sees for the
first time as changed when it is newer than the start of the worker, so an edit saved between the
import and the report restarts the worker too. `watch_modules()` reports the modules loaded so far
at once, before serving, so that such an edit is seen in one `[reloader] interval`.

Signals: Ctrl-C reaches the whole process group, the worker stops by itself and the monitor
waits for it; SIGTERM to the monitor is passed on to the worker as SIGTERM. A worker still there
after `SHUTDOWN_GRACE` seconds is killed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import site
import sys
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Iterator

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


class FileMonitor(threading.Thread):
    """hupper's `IFileMonitor`: polls the files every `interval`; a file seen for the first time is
    a change when it was modified after the worker serving now was started.

    `since` is a time before the start of the current worker: the creation of the monitor (before
    the first worker), then the moment a change was reported (the next worker starts after it).
    A restart hupper decides alone (SIGHUP) keeps the older `since`: a file first imported by the
    new worker and modified in between costs one restart more, never a missed edit.
    """

    def __init__(self, callback: Callable[[str], object], interval: float = 1.0, **kw: object) -> None:
        super().__init__(name="nagare-reloader", daemon=True)
        self.callback = callback
        self.interval = interval
        self.since = time.time()
        self.paths: set[str] = set()
        self.mtimes: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def add_path(self, path: str) -> None:
        with self.lock:
            self.paths.add(path)

    def run(self) -> None:
        while not self.stopped.is_set():
            self.check()
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()

    def check(self) -> list[str]:
        """Look at every file once; report (and return) the changed ones."""
        with self.lock:
            paths = sorted(self.paths)
        changed = []
        for path in paths:
            mtime = _mtime(path)
            known = self.mtimes.get(path)
            self.mtimes[path] = mtime
            if mtime > (self.since if known is None else known):
                changed.append(path)
        if changed:
            self.since = time.time()
            for path in changed:
                self.callback(path)
        return changed


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:  # not there (yet): its creation is a change
        return 0.0


def in_worker() -> bool:
    """This process is a worker of a monitor: serve, do not monitor again."""
    return bool(hupper.is_active())


def monitor(settings: ReloaderSettings) -> int:
    """Run the command in workers, restarted on changes, until a signal; the last worker's status.

    `settings`: the `[reloader]` section (`interval` between two checks and between restarts).
    """
    try:
        hupper.start_reloader(
            WORKER, reload_interval=settings.interval, shutdown_interval=SHUTDOWN_GRACE, logger=Logger(),
            monitor_factory=FileMonitor,
        )
    except SystemExit as exc:  # hupper ends the monitor with sys.exit(status of the worker)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    return 0


def watch(*files: str | None) -> None:
    """In a worker, have the monitor watch `files` too (None and empty names are skipped)."""
    names = [name for name in files if name]
    if names and in_worker():
        hupper.get_reloader().watch_files(names)


def _system_paths() -> tuple[str, ...]:
    """The folders of the standard library and of the installed distributions: not watched."""
    paths = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.update(site.getsitepackages())
    return tuple(os.path.join(os.path.realpath(path), "") for path in paths if path)


def module_files() -> list[str]:
    """The source files of the modules imported so far, outside the standard library and the
    installed distributions (an editable install, the application's own files, are in)."""
    system = _system_paths()
    files = []
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str) or not filename.endswith(".py"):
            continue
        path = os.path.abspath(filename)
        if os.path.isfile(path) and not os.path.realpath(path).startswith(system):
            files.append(path)
    return files


def watch_modules() -> None:
    """In a worker, have the monitor watch the modules imported so far now, not a second later."""
    if in_worker():
        watch(*module_files())


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
