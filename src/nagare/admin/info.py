"""`nagare-admin info`: versions and what is registered."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sys

from nagare import __version__
from nagare.admin.command import Command
from nagare.config.reference import entry_points

GROUPS = ("nagare.applications", "nagare.publishers", "nagare.sessions", "nagare.commands")
DEPENDENCIES = ("WebOb", "lxml", "configobj", "waitress", "cloudpickle")


class Info(Command):
    desc = "Show the versions of Nagare, Python and the libraries, and what is registered"

    def run(self, args: argparse.Namespace) -> int:
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
