"""`nagare-admin create-db` and `drop-db`: the tables of an application's databases."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any

from nagare.admin.command import ArgumentParser, Command
from nagare.config import application
from nagare.config.application import AppConfig, DatabaseSettings
from nagare.config.reference import load
from nagare.errors import CommandError, NagareError


def _databases(reference: str) -> tuple[AppConfig, list[DatabaseSettings]]:
    app = application.read(reference)
    databases = [database for database in app.databases if database.activated]
    if not databases:
        raise CommandError(f"{app.filename}: no activated [database] section (activated = on)")
    return app, databases


def _where(uri: str) -> str:
    """The URI without its password, for the messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(uri).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(uri)


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _engines(app: AppConfig, databases: list[DatabaseSettings], debug: bool) -> Iterator[tuple[DatabaseSettings, Any, Any]]:
    """(settings, metadata, engine) of each database; a bad URI or metadata is one line."""
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError

    for database in databases:
        if not database.metadata:
            raise CommandError(f"{app.filename}: [database] metadata is required (an object reference: 'package.models:metadata')")
        try:
            metadata = load(database.metadata)
        except NagareError as exc:
            raise CommandError(f"{app.filename}: [database] metadata: {exc}") from None
        if not isinstance(metadata, sa.MetaData):
            raise CommandError(f"{app.filename}: [database] metadata '{database.metadata}' is not an SQLAlchemy MetaData")
        try:
            engine = sa.create_engine(database.uri, echo=debug or database.debug)
        except (ArgumentError, ImportError, ValueError) as exc:
            raise CommandError(f"{app.filename}: [database] uri {_where(database.uri)}: {_reason(exc)}") from None
        path = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
        if path and path != ":memory:" and not path.startswith("file:"):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)  # a new SQLite file's folder
        yield database, metadata, engine


class _DatabaseCommand(Command):
    def set_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("-d", "--debug", action="store_true", help="print the SQL statements")
        parser.add_argument("apps", nargs="+", metavar="app", help="registered application name or config file")

    def run(self, args: argparse.Namespace) -> int:
        from sqlalchemy.exc import DBAPIError

        for reference in args.apps:
            app, databases = _databases(reference)
            for database, metadata, engine in _engines(app, databases, args.debug):
                try:
                    self.apply(args, database, metadata, engine)
                except DBAPIError as exc:
                    raise CommandError(f"{app.name}: database {_where(database.uri)}: {_reason(exc)}") from None
                finally:
                    engine.dispose()
        return 0

    def apply(self, args: argparse.Namespace, database: DatabaseSettings, metadata: Any, engine: Any) -> None:
        raise NotImplementedError


class CreateDB(_DatabaseCommand):
    desc = "Create the tables of the applications' databases, then fill them (their populate function)"

    def set_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--drop", action="store_true", help="drop the tables first")
        parser.add_argument("--no-populate", action="store_true", help="do not call the populate function")
        super().set_arguments(parser)

    def apply(self, args: argparse.Namespace, database: DatabaseSettings, metadata: Any, engine: Any) -> None:
        from nagare import database as db

        db.create_all(metadata, engine, drop=args.drop)
        if database.populate and not args.no_populate:
            populate = load(database.populate)
            db.set_metadata(metadata, database.uri, args.debug or database.debug, database.engine_settings())
            try:
                with db.transaction() as end:
                    populate()
                    end(True)
            finally:
                db.reset()


class DropDB(_DatabaseCommand):
    desc = "Drop the tables of the applications' databases"

    def apply(self, args: argparse.Namespace, database: DatabaseSettings, metadata: Any, engine: Any) -> None:
        from nagare import database as db

        db.drop_all(metadata, engine)
