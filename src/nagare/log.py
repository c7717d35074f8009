"""Logging: stderr by default (supervisor-friendly), each application under `nagare.application.<name>`.

An application's `[logging]` section configures its logger the way Nagare 0.5 files did; the
section is checked with the files (`nagare.config.logs`), applied here.

Application code writes to the logger of the application serving the request, as in Nagare 0.5:

    from nagare import log

    log.info('order %d paid', order.id)          # nagare.application.<name>
    log.get_logger('.payments').warning('...')   # nagare.application.<name>.payments

The request cycle makes its application's logger current with `set_logger(name)`, once per
request; outside a request the current logger is `nagare.application`.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import logging.handlers
import os
import queue
import sys
import weakref
from typing import Any

from nagare.config.logs import DEFAULT_FORMAT, HANDLER, HandlerSettings, LoggingConfig
from nagare.config.reference import load as load_reference
from nagare.errors import ConfigError, NagareError


class BackgroundHandler(logging.handlers.QueueHandler):
    """Hands records to a thread that writes them with `handler`.

    The threads answering requests only put records in a queue: none of them waits on stderr, nor
    on the handler's lock while another writes (with the access log on, writing in place halved
    the standalone server's throughput). Records left at exit are written; a forked child starts
    its own writer thread (threads do not survive fork); the parent's is stopped around the fork.
    """

    instances: "weakref.WeakSet[BackgroundHandler]" = weakref.WeakSet()

    def __init__(self, handler: logging.Handler) -> None:
        super().__init__(queue.SimpleQueue())
        self.handler = handler
        self.listener: logging.handlers.QueueListener | None = None
        self._paused = False
        self._start()
        BackgroundHandler.instances.add(self)
        atexit.register(self.stop)
        # The writer thread is stopped around a fork: forked in the middle of a write, the child
        # would inherit the stream's buffer lock held by a thread it does not have, and its first
        # write (a worker's last words at exit, say) would wait for ever.
        os.register_at_fork(before=self._pause, after_in_parent=self._resume, after_in_child=self._resume)

    def _start(self) -> None:
        self.queue = queue.SimpleQueue()
        self.listener = logging.handlers.QueueListener(self.queue, self.handler)
        self.listener.start()

    def _pause(self) -> None:
        if self.listener is not None:
            self.listener.stop()  # it writes the queue, then its thread ends
            self._paused = True

    def _resume(self) -> None:
        if self._paused:
            self._paused = False
            self._start()

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None

    def drain(self) -> None:
        """Write what is queued now (before a message printed on stderr directly, say)."""
        if self.listener is not None:
            self.listener.stop()  # it writes the queue, then its thread ends
            self._start()


def drain() -> None:
    """Write the records queued by every background handler."""
    for handler in list(BackgroundHandler.instances):
        handler.drain()


def configure_default(level: int = logging.INFO) -> None:
    """One stderr handler on the `nagare` logger, unless one is configured already."""
    logger = logging.getLogger("nagare")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(DEFAULT_FORMAT))
        logger.addHandler(BackgroundHandler(handler))
    logger.setLevel(level)
    logger.propagate = False


def configure_application(name: str, conf: LoggingConfig) -> logging.Logger:
    """Configure `nagare.application.<name>` from an application's `[logging]` section."""
    return configure(f"nagare.application.{name}", conf)


def configure(name: str, conf: LoggingConfig) -> logging.Logger:
    """Configure the logger `name` from a checked `[logging]` section (publisher file: `nagare`)."""
    logger = logging.getLogger(name)
    if conf.logger.level is not None:
        logger.setLevel(conf.logger.level)
    if conf.logger.propagate is not None:
        logger.propagate = conf.logger.propagate
    if conf.handler is not None:
        handler = create_handler(conf.filename, conf.handler)
        if conf.handler.level is not None:
            handler.setLevel(conf.handler.level)
        handler.setFormatter(logging.Formatter(conf.formatter.format, conf.formatter.datefmt))
        logger.handlers = [handler]
        if conf.logger.propagate is None:  # its own handler: the records are not written twice
            logger.propagate = False
    return logger


def create_handler(filename: str | None, settings: HandlerSettings) -> logging.Handler:
    """`class(*args)`; a class that cannot be loaded or created is the file's mistake: one line."""

    def refuse(reason: str) -> ConfigError:
        return ConfigError(filename, HANDLER.section, "class", settings.class_, f"cannot create the handler: {reason}")

    name = settings.class_.strip()
    reference = name if ":" in name else "python " + ":".join(name.rsplit(".", 1))
    try:
        handler_class = load_reference(reference)
    except NagareError as exc:
        raise refuse(str(exc)) from None
    try:
        handler = handler_class(*settings.args)
    except Exception as exc:  # a missing folder, wrong arguments, ...: reported, not traced
        raise refuse(" ".join(f"{type(exc).__name__}: {exc}".split())) from None
    if not isinstance(handler, logging.Handler):
        raise refuse("not a logging.Handler")
    return handler


# -- The application functions ----------------------------------------------------------------

APPLICATIONS = "nagare.application"

# A context variable, not a global: threads serving requests of different applications at the
# same time each see their own (a new thread starts with none: `nagare.application`).
_current: contextvars.ContextVar[logging.Logger] = contextvars.ContextVar("nagare_log_current")


def set_logger(name: str) -> contextvars.Token[logging.Logger]:
    """Make the logger `name` the current one, for the rest of the request (the current context).

    The request cycle calls it with its application's logger, `nagare.application.<name>`. The
    token returned restores the previous one: `token.var.reset(token)`.
    """
    return _current.set(logging.getLogger(name))


def get_logger(name: str = ".") -> logging.Logger:
    """The logger `name`; a name that starts with '.' is relative to the current application's.

    `get_logger()` (or `'.'`) is the current application's logger, `get_logger('.db')` its child
    `nagare.application.<name>.db`; other names are absolute, as with `logging.getLogger`.
    """
    if not name.startswith("."):
        return logging.getLogger(name)
    current = _current.get(None) or logging.getLogger(APPLICATIONS)
    return current if name == "." else current.getChild(name[1:])


def _at_caller(kw: dict[str, Any]) -> dict[str, Any]:
    # The record names the line that called log.info(...), not this module's.
    kw.setdefault("stacklevel", 2)
    return kw


def debug(msg: object, *args: object, **kw: Any) -> None:
    """Log `msg % args` at level DEBUG on the current application's logger."""
    get_logger().debug(msg, *args, **_at_caller(kw))


def info(msg: object, *args: object, **kw: Any) -> None:
    """Log `msg % args` at level INFO on the current application's logger."""
    get_logger().info(msg, *args, **_at_caller(kw))


def warning(msg: object, *args: object, **kw: Any) -> None:
    """Log `msg % args` at level WARNING on the current application's logger."""
    get_logger().warning(msg, *args, **_at_caller(kw))


def error(msg: object, *args: object, **kw: Any) -> None:
    """Log `msg % args` at level ERROR on the current application's logger."""
    get_logger().error(msg, *args, **_at_caller(kw))


def critical(msg: object, *args: object, **kw: Any) -> None:
    """Log `msg % args` at level CRITICAL on the current application's logger."""
    get_logger().critical(msg, *args, **_at_caller(kw))


def exception(msg: object, *args: object, **kw: Any) -> None:
    """Log `msg % args` at level ERROR with the exception being handled (call it in `except`)."""
    get_logger().exception(msg, *args, **_at_caller(kw))


def log(level: int, msg: object, *args: object, **kw: Any) -> None:
    """Log `msg % args` at `level` on the current application's logger."""
    get_logger().log(level, msg, *args, **_at_caller(kw))
