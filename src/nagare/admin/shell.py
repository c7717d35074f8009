"""`nagare-admin shell` and `batch`: Python with the applications loaded, for maintenance work."""

from __future__ import annotations

import argparse
import code
import os
import runpy
import sys
from typing import Any

from nagare.admin.command import ArgumentParser, Command
from nagare.config import application, publisher
from nagare.errors import CommandError
from nagare.wsgi.loader import load


def namespace(conf_file: str | None, references: list[str]) -> dict[str, Any]:
    conf = publisher.read(conf_file)
    apps = {}
    for reference in references:
        loaded = load(application.read(reference), conf)
        apps[loaded.name] = loaded
    names: dict[str, Any] = {"apps": apps}
    if len(apps) == 1:
        names["app"] = next(iter(apps.values()))
    return names


class Shell(Command):
    desc = "Interactive Python shell with applications loaded (as `apps`, and `app` for one)"

    def set_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("-c", "--conf", help="publisher configuration file")
        parser.add_argument("apps", nargs="*", metavar="app", help="registered application name or config file")

    def run(self, args: argparse.Namespace) -> int:
        names = namespace(args.conf, args.apps)
        if not sys.stdin.isatty():
            # `nagare-admin shell app < script.py`: run it as a script (blocks, exit status),
            # not line by line with prompts as an interactive session would.
            names["__name__"] = "__main__"
            exec(compile(sys.stdin.read(), "<stdin>", "exec"), names)
            return 0
        banner = "Nagare shell: " + (", ".join(names["apps"]) or "no application") + " loaded in `apps`"
        code.interact(banner=banner, local=names, exitmsg="")
        return 0


class Batch(Command):
    desc = "Run a Python file with an application loaded (as `app`); extra arguments in sys.argv"

    def set_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("-c", "--conf", help="publisher configuration file")
        parser.add_argument("app", help="registered application name or config file")
        parser.add_argument("file", help="the Python file to run")
        parser.add_argument("arguments", nargs=argparse.REMAINDER, help="its arguments")

    def run(self, args: argparse.Namespace) -> int:
        if not os.path.isfile(args.file):
            raise CommandError(f"{args.file}: no such file")
        names = namespace(args.conf, [args.app])
        sys.argv = [args.file, *args.arguments]
        runpy.run_path(args.file, init_globals=names, run_name="__main__")
        return 0
