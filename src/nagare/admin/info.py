"""`nagare-admin info`: versions and what is registered; `--settings`: every key of every section."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sys

from nagare import __version__
from nagare.admin.command import ArgumentParser, Command
from nagare.config import logs
from nagare.config.application import APPLICATION, DATABASE
from nagare.config.markdown import markdown
from nagare.config.publisher import PUBLISHERS, RELOADER, SESSIONS
from nagare.config.reference import entry_points, load_entry_point
from nagare.errors import NagareError

GROUPS = ("nagare.applications", "nagare.publishers", "nagare.sessions", "nagare.commands")
DEPENDENCIES = ("WebOb", "lxml", "configobj", "waitress", "cloudpickle", "pymemcache", "SQLAlchemy", "Babel")


def plugin_tables(group: str, section: str) -> list[str]:
    """One key table per registered type of `section` (its aliases named with it)."""
    names: dict[object, list[str]] = {}
    parts = []
    for name, entry in sorted(entry_points(group).items()):
        try:
            names.setdefault(load_entry_point(entry, f"{section} type"), []).append(name)
        except NagareError as exc:
            parts.append(f"### `[{section}] type = {name}`\n\n(broken: {exc})\n")
    for cls, aliases in names.items():
        table = getattr(cls, "SETTINGS")
        # the name the default type is known by (standalone, not its alias threaded) comes first
        default = table["type"].default if "type" in table else None
        aliases.sort(key=lambda name: name != default)
        alias = f" (alias {', '.join(aliases[1:])})" if aliases[1:] else ""
        parts.append(f"### `[{section}] type = {aliases[0]}`{alias}\n\n{markdown(table, complete=True)}")
    return parts


def settings_reference() -> str:
    """Every key of the publisher and application files, for the installed plug-ins, as Markdown."""
    parts = [*plugin_tables(PUBLISHERS, "publisher"), f"### `[reloader]`\n\n{markdown(RELOADER)}"]
    parts += plugin_tables(SESSIONS, "sessions")
    parts += [f"### `[application]`\n\n{markdown(APPLICATION)}", f"### `[database]`\n\n{markdown(DATABASE)}"]
    parts += [f"### `[logging]` `[[{name}]]`\n\n{markdown(table)}" for name, table in logs.SUBSECTIONS.items()]
    return "\n".join(parts)


class Info(Command):
    desc = "Show the versions of Nagare, Python and the libraries, and what is registered"

    def set_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--settings", action="store_true", help="print every key of every section (Markdown) instead")

    def run(self, args: argparse.Namespace) -> int:
        if args.settings:
            print(settings_reference(), end="")
            return 0
        print(f"Nagare {__version__}")
        print(f"Python {platform.python_version()} ({sys.executable})")
        for name in DEPENDENCIES:
            try:
                print(f"{name} {importlib.metadata.version(name)}")
            except importlib.metadata.PackageNotFoundError:
                print(f"{name} not installed")
        for group in GROUPS:
            print(f"\n{group}:")
            for name, entry in sorted(entry_points(group).items()):
                dist = entry.dist.name if entry.dist else "?"
                print(f" - {name} = {entry.value} ({dist})")
        return 0
