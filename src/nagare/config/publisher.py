"""The publisher configuration file (`nagare-admin serve -c FILE`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from nagare.config import loader
from nagare.config.reference import entry_points, load_entry_point
from nagare.config.settings import Setting, Table, boolean, number, string_list
from nagare.errors import ConfigError

PUBLISHERS = "nagare.publishers"
SESSIONS = "nagare.sessions"

RELOADER = Table(
    "reloader",
    [
        Setting("activated", boolean, False, "restart the server when a source or configuration file changes"),
        Setting("interval", number(0.05), 1.0, "seconds between two checks of the watched files"),
        Setting("files", string_list, [], "more files to watch"),
    ],
)


@dataclass
class PublisherConfig:
    """The checked `[publisher]`, `[reloader]` and raw `[sessions]` sections of a publisher file."""

    filename: str | None
    publisher_class: Any
    publisher: dict[str, Any]
    reloader: dict[str, Any]
    sessions: dict[str, Any] = field(default_factory=dict)  # raw: checked per application
    logging: dict[str, Any] = field(default_factory=dict)


def plugin(group: str, name: str, filename: str | None, section: str) -> Any:
    """The class registered as `name` in the entry-point `group`."""
    registered = entry_points(group)
    entry = registered.get(name)
    if entry is None:
        known = ", ".join(sorted(registered))
        raise ConfigError(filename, section, "type", name, f"unknown type (known: {known})")
    return load_entry_point(entry, f"{section} type")


def read(filename: str | None, overrides: dict[str, Any] | None = None) -> PublisherConfig:
    """Read and check a publisher file (None: every default). CLI `overrides` win over the file."""
    config = loader.read(filename, what="publisher configuration file") if filename else loader.empty()
    for section in config.sections():
        if section not in ("publisher", "reloader", "sessions", "logging"):
            raise ConfigError(filename, section, reason="unknown section (known: publisher, reloader, sessions, logging)")
    raw = config.items("publisher")
    type_ = str(raw.get("type", "standalone")).strip()
    publisher_class = plugin(PUBLISHERS, type_, filename, "publisher")
    table: Table = publisher_class.SETTINGS
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
    return PublisherConfig(
        filename, publisher_class, publisher, reloader, dict(config.items("sessions")), _nested(config, "logging")
    )


def _nested(config: loader.ConfigFile, section: str) -> dict[str, Any]:
    result: dict[str, Any] = dict(config.items(section))
    for sub in config.subsections(section):
        result[sub] = dict(config.items([section, sub]))
    return result
