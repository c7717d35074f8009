"""`nagare-admin serve-module`: serve a root factory or WSGI callable without writing any file."""

from __future__ import annotations

import argparse
import os

from nagare.admin.command import ArgumentParser, Command
from nagare.admin.serve import add_server_options, check_publisher, serve
from nagare.config import application, publisher
from nagare.errors import CommandError
from nagare.publishers.base import Publisher
from nagare.wsgi.loader import LoadedApp, load


class ServeModule(Command):
    desc = "Serve a component factory or WSGI callable given as <module_or_file>:<factory>"

    def set_arguments(self, parser: ArgumentParser) -> None:
        add_server_options(parser)
        parser.add_argument("reference", help="module.name:factory or path/to/file.py:factory")
        parser.add_argument("name", help="URL segment to serve it at")

    def run(self, args: argparse.Namespace) -> int:
        target, sep, factory = args.reference.rpartition(":")
        if not sep or not target or not factory:
            raise CommandError(f"'{args.reference}': expected <module_or_file>:<factory>")
        kind = "file" if target.endswith(".py") or os.sep in target else "python"
        reference = f"{kind} {os.path.abspath(target) if kind == 'file' else target}:{factory}"

        def load_apps(conf: publisher.PublisherConfig, server: Publisher) -> list[LoadedApp]:
            overrides = {"debug": True} if args.debug else None
            app_config = application.from_reference(reference, args.name.strip("/"), overrides)
            apps = [load(app_config, conf, server)]
            check_publisher(conf, apps, bool(args.debug))
            return apps

        return serve(args, load_apps, *([target] if kind == "file" else []))
