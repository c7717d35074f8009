"""Logging: stderr by default (supervisor-friendly), each application under `nagare.application.<name>`.

An application's `[logging]` section configures its logger the way Nagare 0.5 files did:

    [logging]
    [[logger]]
    level = DEBUG
    [[handler]]
    class = logging.FileHandler
    args = "('/var/log/myapp.log',)"
    [[formatter]]
    format = %(asctime)s %(levelname)s %(message)s
"""

from __future__ import annotations

import ast
import atexit
import logging
import logging.handlers
import os
import queue
import sys
import weakref
from typing import Any

from nagare.config.reference import load as load_reference
from nagare.config.settings import string
from nagare.errors import ConfigError, NagareError

DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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


def _level(filename: str, section: str, value: Any) -> int:
    level = logging.getLevelName(str(value).strip().upper())
    if not isinstance(level, int):
        raise ConfigError(filename, section, "level", value, "expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _args(filename: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, (list, tuple)):
        value = ", ".join(value)
    text = str(value).strip()
    streams = {"sys.stderr": sys.stderr, "sys.stdout": sys.stdout}
    if text in ("", "()"):
        return ()
    if text.strip("(), ") in streams:
        return (streams[text.strip("(), ")],)
    try:
        result = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ConfigError(filename, "logging][handler", "args", value, "expected a Python tuple of literals") from None
    return result if isinstance(result, tuple) else (result,)


def configure_application(name: str, conf: dict[str, Any], filename: str) -> logging.Logger:
    """Configure `nagare.application.<name>` from an application's `[logging]` section."""
    return configure(f"nagare.application.{name}", conf, filename)


def configure(name: str, conf: dict[str, Any], filename: str | None) -> logging.Logger:
    """Configure the logger `name` from a `[logging]` section (publisher file: `nagare`)."""
    logger = logging.getLogger(name)
    if not conf:
        return logger
    known = {"logger", "handler", "formatter"}
    for key in conf:
        if key not in known:
            raise ConfigError(filename, "logging", key, reason="unknown key (known sub-sections: logger, handler, formatter)")
    logger_conf = conf.get("logger", {})
    for key in logger_conf:
        if key not in ("level", "propagate"):
            raise ConfigError(filename, "logging][logger", key, reason="unknown key (known keys: level, propagate)")
    if "level" in logger_conf:
        logger.setLevel(_level(filename, "logging][logger", logger_conf["level"]))
    if "propagate" in logger_conf:
        from nagare.config.settings import boolean

        try:
            logger.propagate = boolean(logger_conf["propagate"])
        except ValueError as exc:
            raise ConfigError(filename, "logging][logger", "propagate", logger_conf["propagate"], str(exc)) from None
    formatter_conf = conf.get("formatter", {})
    for key in formatter_conf:
        if key not in ("format", "datefmt"):
            raise ConfigError(filename, "logging][formatter", key, reason="unknown key (known keys: format, datefmt)")
    handler_conf = conf.get("handler")
    if handler_conf is None and formatter_conf:
        handler_conf = {}  # a format alone applies to the default handler (stderr)
    if handler_conf is not None:
        for key in handler_conf:
            if key not in ("class", "args", "level"):
                raise ConfigError(filename, "logging][handler", key, reason="unknown key (known keys: class, args, level)")
        class_name = str(handler_conf.get("class", "logging.StreamHandler"))
        reference = class_name if ":" in class_name else "python " + ":".join(class_name.rsplit(".", 1))
        try:
            handler_class = load_reference(reference)
            handler = handler_class(*_args(filename, handler_conf.get("args", "()")))
        except ConfigError:
            raise
        except (NagareError, Exception) as exc:
            raise ConfigError(filename, "logging][handler", "class", class_name, f"cannot create the handler: {exc}") from None
        if not isinstance(handler, logging.Handler):
            raise ConfigError(filename, "logging][handler", "class", class_name, "cannot create the handler: not a logging.Handler")
        if "level" in handler_conf:
            handler.setLevel(_level(filename, "logging][handler", handler_conf["level"]))
        # ConfigObj reads an unquoted value with commas as a list: join it back
        fmt = string(formatter_conf.get("format", DEFAULT_FORMAT))
        datefmt = string(formatter_conf["datefmt"]) if "datefmt" in formatter_conf else None
        try:
            formatter = logging.Formatter(fmt, datefmt)
        except ValueError as exc:
            raise ConfigError(filename, "logging][formatter", "format", fmt, str(exc)) from None
        handler.setFormatter(formatter)
        logger.handlers = [handler]
        logger.propagate = bool(logger_conf.get("propagate", False)) if "propagate" not in logger_conf else logger.propagate
    return logger
