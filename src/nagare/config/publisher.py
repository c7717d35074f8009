"""The publisher configuration file (`nagare-admin serve -c FILE`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from nagare.config import loader, logs
from nagare.config.reference import entry_points, load_entry_point
from nagare.config.settings import Setting, Table, boolean, number, string_list
from nagare.config.values import Values
from nagare.errors import ConfigError

if TYPE_CHECKING:  # the publishers import the configuration, not the other way round
    from nagare.publishers.base import Publisher

PUBLISHERS = "nagare.publishers"
SESSIONS = "nagare.sessions"
SECTIONS = ("publisher", "reloader", "sessions", "logging")


class ReloaderSettings(Values):
    activated: bool
    interval: float
    files: tuple[str, ...]


RELOADER = Table(
    "reloader",
    [
        Setting("activated", boolean, False, "restart the server when a source or configuration file changes (as `--reload`)"),
        Setting("interval", number(0.05), 1.0, "seconds between two checks of the watched files, and at least between two restarts"),
        Setting("files", string_list, [], "more files to watch, comma-separated (the modules, the application files and this file are watched anyway)"),
    ],
    values_class=ReloaderSettings,
)


@dataclass(frozen=True)
class PublisherConfig:
    """The checked `[publisher]`, `[reloader]`, `[logging]` and raw `[sessions]` sections of a publisher file."""

    filename: str | None
    publisher_class: type[Publisher]
    publisher: Values  # the keys of publisher_class.SETTINGS
    reloader: ReloaderSettings
    sessions: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))  # raw: checked per application
    logging: logs.LoggingConfig = field(default_factory=logs.LoggingConfig)


def plugin(group: str, name: str, filename: str | None, section: str) -> Any:
    """The class registered as `name` in the entry-point `group` (a plug-in: its type is its group's)."""
    registered = entry_points(group)
    entry = registered.get(name)
    if entry is None:
        known = ", ".join(sorted(registered))
        raise ConfigError(filename, section, "type", name, f"unknown type (known: {known})")
    cls = load_entry_point(entry, f"{section} type")
    if not isinstance(getattr(cls, "SETTINGS", None), Table):
        raise ConfigError(filename, section, "type", name, f"{entry.value} is no {section} type: it has no SETTINGS table")
    return cls


def read(filename: str | None, overrides: Mapping[str, object] | None = None) -> PublisherConfig:
    """Read and check a publisher file (None: every default). CLI `overrides` win over the file."""
    config = loader.read(filename, what="publisher configuration file") if filename else loader.empty()
    for section in config.sections():
        if section not in SECTIONS:
            raise ConfigError(filename, section, reason=f"unknown section (known: {', '.join(SECTIONS)})")
    raw = config.items("publisher")
    type_ = str(raw.get("type", "standalone")).strip()
    publisher_class = plugin(PUBLISHERS, type_, filename, "publisher")
    table: Table[Values] = publisher_class.SETTINGS
    # Keys another registered publisher accepts are left alone (switching `type` back and forth
    # must not force the user to delete the pool settings).
    others = set()
    for name, entry in entry_points(PUBLISHERS).items():
        if name != type_:
            try:
                others |= set(entry.load().SETTINGS)
            except Exception:
                continue
    overrides = dict(overrides or {})
    reloader_overrides = {"activated": overrides.pop("reload", None)}
    ignored = others - set(table)
    publisher = config.section(table, overrides, ignored=ignored)
    for key in sorted(ignored & set(raw)):  # not silent: the user may expect them to act
        logging.getLogger("nagare.publisher").warning(
            "%s: [publisher] %s is ignored by the %s publisher", filename, key, type_
        )
    reloader = config.section(RELOADER, reloader_overrides)
    sessions = MappingProxyType(config.items("sessions"))
    return PublisherConfig(filename, publisher_class, publisher, reloader, sessions, logs.read(config))
