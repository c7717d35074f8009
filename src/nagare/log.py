"""Logging: stderr by default (supervisor-friendly), each application under `nagare.application.<name>`.

An application's `[logging]` section configures its logger the way Nagare 0.5 files did; the
section is checked with the files (`nagare.config.logs`), applied here.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import os
import queue
import sys
import weakref

from nagare.config.logs import DEFAULT_FORMAT, HANDLER, HandlerSettings, LoggingConfig
from nagare.config.reference import load as load_reference
from nagare.errors import ConfigError, NagareError


class BackgroundHandler(logging.handlers.QueueHandler):
    """Hands records to a thread that writes them with `handler`.

    The threads answering requests only put records in a queue: none of them waits on stderr, nor
    on the handler's lock while another writes (with the access log on, writing in place halved
    the standalone server's throughput). Records left at exit are written; a forked child starts
    its own writer thread (threads do not survive fork).
    """

    instances: "weakref.WeakSet[BackgroundHandler]" = weakref.WeakSet()

    def __init__(self, handler: logging.Handler) -> None:
        super().__init__(queue.SimpleQueue())
        self.handler = handler
        self.listener: logging.handlers.QueueListener | None = None
        self._start()
        BackgroundHandler.instances.add(self)
        atexit.register(self.stop)
        os.register_at_fork(after_in_child=self._restart_in_child)

    def _start(self) -> None:
        self.queue = queue.SimpleQueue()
        self.listener = logging.handlers.QueueListener(self.queue, self.handler)
        self.listener.start()

    def _restart_in_child(self) -> None:
        if self.listener is not None:  # its thread stayed in the parent
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
