"""The `[logging]` section: one table per sub-section, as Nagare 0.5 files write them.

    [logging]
    [[logger]]
    level = DEBUG
    [[handler]]
    class = logging.FileHandler
    args = "('/var/log/myapp.log',)"
    [[formatter]]
    format = %(asctime)s %(levelname)s %(message)s

The section is checked when its file is read, like the others; `nagare.log.configure()` applies
it (the handler is created then: creating it opens its file).
"""

from __future__ import annotations

import ast
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from nagare.config.loader import ConfigFile, check as check_section
from nagare.config.settings import Setting, Table, boolean, string
from nagare.config.values import Values
from nagare.errors import ConfigError

DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def level(value: object) -> int | None:
    """A level name; empty: unchanged."""
    text = string(value).strip().upper()
    if not text:
        return None
    number = logging.getLevelNamesMapping().get(text)
    if number is None:
        raise ValueError("expected " + ", ".join(_LEVELS[:-1]) + f" or {_LEVELS[-1]}")
    return number


level.__doc__ = "DEBUG, INFO, WARNING, ERROR or CRITICAL"


def optional_boolean(value: object) -> bool | None:
    """on/off; empty: not set."""
    return None if string(value).strip() == "" else boolean(value)


def arguments(value: object) -> tuple[object, ...]:
    """A Python tuple of literals; `sys.stderr` and `sys.stdout` name the streams."""
    text = string(value).strip()  # unquoted, ConfigObj reads "('a', 'w')" as a list: joined back
    streams = {"sys.stderr": sys.stderr, "sys.stdout": sys.stdout}
    if text in ("", "()"):
        return ()
    if text.strip("(), ") in streams:
        return (streams[text.strip("(), ")],)
    try:
        result = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ValueError("expected a Python tuple of literals, such as ('/var/log/app.log', 'a')") from None
    return result if isinstance(result, tuple) else (result,)


def log_format(value: object) -> str:
    """A `logging.Formatter` format (`%(name)s` style)."""
    text = string(value)
    try:
        logging.Formatter(text)
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    return text


def optional_string(value: object) -> str | None:
    text = string(value)
    return text or None


class LoggerSettings(Values):
    level: int | None
    propagate: bool | None


class HandlerSettings(Values):
    class_: str
    args: tuple[object, ...]
    level: int | None


class FormatterSettings(Values):
    format: str
    datefmt: str | None


LOGGER = Table(
    "logging][logger",
    [
        Setting("level", level, None, "lowest level logged: DEBUG, INFO, WARNING, ERROR or CRITICAL; empty: unchanged (applications: the level of `nagare`)"),
        Setting("propagate", optional_boolean, None, "also pass the records to the parent logger; empty: off when [[handler]] or [[formatter]] is given, else unchanged"),
    ],
    values_class=LoggerSettings,
)

HANDLER = Table(
    "logging][handler",
    [
        Setting("class", string, "logging.StreamHandler", "dotted name (or object reference) of the `logging.Handler` class"),
        Setting("args", arguments, (), "arguments of the class, a Python tuple of literals: `\"('/var/log/myapp.log',)\"`; `sys.stderr`, `sys.stdout` name the streams"),
        Setting("level", level, None, "lowest level this handler writes; empty: every record of the logger"),
    ],
    values_class=HandlerSettings,
)

FORMATTER = Table(
    "logging][formatter",
    [
        Setting("format", log_format, DEFAULT_FORMAT, "format of a record (`logging.Formatter`)"),
        Setting("datefmt", optional_string, None, "format of `%(asctime)s` (`time.strftime`); empty: ISO 8601"),
    ],
    values_class=FormatterSettings,
)

SUBSECTIONS = {"logger": LOGGER, "handler": HANDLER, "formatter": FORMATTER}


@dataclass(frozen=True)
class LoggingConfig:
    """A checked `[logging]` section; `handler` is None when neither [[handler]] nor [[formatter]]
    is given (the logger keeps its handlers)."""

    filename: str | None = None
    logger: LoggerSettings = field(default_factory=lambda: check_section(None, LOGGER, {}))
    handler: HandlerSettings | None = None
    formatter: FormatterSettings = field(default_factory=lambda: check_section(None, FORMATTER, {}))


def check(filename: str | None, section: Mapping[str, object]) -> LoggingConfig:
    """Check a `[logging]` section given as {sub-section: {key: raw value}}."""
    known = ", ".join(SUBSECTIONS)
    for name, keys in section.items():
        if name not in SUBSECTIONS or not isinstance(keys, Mapping):
            raise ConfigError(filename, "logging", name, reason=f"unknown key (known sub-sections: {known})")
    raw: dict[str, Mapping[str, object]] = {name: keys for name, keys in section.items() if isinstance(keys, Mapping)}
    logger = check_section(filename, LOGGER, raw.get("logger", {}))
    formatter = check_section(filename, FORMATTER, raw.get("formatter", {}))
    handler = None
    # a format alone applies to the default handler (stderr)
    if "handler" in raw or "formatter" in raw:
        handler = check_section(filename, HANDLER, raw.get("handler", {}))
    return LoggingConfig(filename, logger, handler, formatter)


def read(config: ConfigFile) -> LoggingConfig:
    """The `[logging]` section of a file; a key or a sub-section it does not know is an error."""
    section: dict[str, object] = dict(config.items("logging"))
    for name in config.subsections("logging"):
        for nested in config.subsections(["logging", name]):
            raise ConfigError(config.filename, f"logging][{name}][{nested}", reason="unexpected sub-section")
        section[name] = config.items(["logging", name])
    return check(config.filename, section)
