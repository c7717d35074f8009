"""`nagare-admin serve`: serve applications with the publisher of a publisher file."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from nagare import log
from nagare.admin import reloader
from nagare.admin.command import ArgumentParser, Command
from nagare.config import application, publisher
from nagare.errors import CommandError, ConfigError
from nagare.publishers.base import Publisher
from nagare.wsgi.loader import LoadedApp, load


def check_publisher(conf: publisher.PublisherConfig, apps: Sequence[LoadedApp], debug: bool) -> None:
    """Refuse, in one line, what cannot work with a multi-process publisher (SPEC deviations)."""
    kind = conf.publisher.type
    if not conf.publisher_class.multiprocess:
        return
    for app in apps:
        if app.sessions is not None and not app.sessions.multiprocess_safe:
            raise ConfigError(
                conf.filename, "sessions", "type", app.sessions.settings.type,
                f"in-memory sessions cannot work with the multi-process {kind} publisher: "
                "each process would have its own sessions; use type = memcache or type = redis",
            )
    if debug or any(app.config.application.debug for app in apps):
        raise CommandError(f"--debug (or [application] debug = on) cannot work with the multi-process {kind} publisher; use the standalone publisher to debug")


def add_server_options(parser: ArgumentParser) -> None:
    """The options of the commands that start a server: they override the publisher file."""
    parser.add_argument("-c", "--conf", help="publisher configuration file")
    parser.add_argument("--host", help="address to listen on (overrides the publisher file)")
    parser.add_argument("-p", "--port", help="port to listen on (overrides the publisher file)")
    parser.add_argument("-d", "--debug", action="store_true", default=None, help="debug mode: exceptions shown as pages")
    parser.add_argument("--reload", action="store_true", default=None, help="restart when a source file changes")


def serve(
    args: argparse.Namespace, load_apps: Callable[[publisher.PublisherConfig, Publisher], list[LoadedApp]], *watched: str
) -> int:
    """Read the publisher file; then, with --reload, be the monitor of workers that each come back
    here; otherwise load the applications for the publisher and serve them. `watched`: more files
    for the reloader."""
    with reloader.watch_failure():
        reloader.watch(args.conf, *watched)
        conf = publisher.read(args.conf, {"host": args.host, "port": args.port, "reload": args.reload})
        log.configure_default(logging.DEBUG if args.debug else logging.INFO)
        log.configure("nagare", conf.logging)
        if conf.reloader.activated and not reloader.in_worker():
            return reloader.monitor(conf.reloader)
        reloader.watch(*conf.reloader.files)
        server = conf.publisher_class(conf.publisher)
        apps = load_apps(conf, server)
        reloader.watch_modules()
    server.serve(apps)
    sys.stderr.flush()
    return 0


def print_applications() -> None:
    print("Available applications:")
    for name in sorted(application.registered()):
        print(f" - {name}")


def load_all(conf: publisher.PublisherConfig, references: Sequence[str], debug: bool, server: Publisher | None = None) -> list[LoadedApp]:
    overrides = {"debug": True} if debug else None  # -d: every application in debug mode
    configs = [application.read(ref, overrides) for ref in references]
    reloader.watch(*(app.filename for app in configs))
    names: dict[str, str] = {}
    for app in configs:
        if app.name in names:
            raise ConfigError(app.filename, "application", "name", app.name, f"already served by {names[app.name]}")
        names[app.name] = app.filename
    apps = [load(app, conf, server) for app in configs]
    check_publisher(conf, apps, debug)
    return apps


class Serve(Command):
    desc = "Serve applications (standalone server, or the publisher of -c FILE)"

    def set_arguments(self, parser: ArgumentParser) -> None:
        add_server_options(parser)
        parser.add_argument("apps", nargs="*", metavar="app", help="registered application name or application config file")

    def run(self, args: argparse.Namespace) -> int:
        if not args.apps:
            print_applications()
            return 0
        return serve(args, lambda conf, server: load_all(conf, args.apps, bool(args.debug), server))
