"""From configuration to a served application: the root factory, its sessions, its logger.

The object an application file names is a `WSGIApp` (an instance of it or of a subclass, as
Nagare 0.5 applications define one), a root factory (put in a new `WSGIApp`, as Nagare 0.5's
`create_WSGIApp` did), or a plain WSGI callable (served as it is). A `WSGIApp` is configured
here, once per process that loads it: `set_config`, `set_static_path`, `set_static_url`,
`set_data_path`, `set_publisher`, `set_sessions_manager`, `set_databases`, `set_project`, then
`start()`. An exception in one of them stops the start with one line naming the file.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from nagare import log
from nagare.config import loader as config_loader
from nagare.config.application import AppConfig
from nagare.config.publisher import SESSIONS, PublisherConfig, plugin
from nagare.config.reference import APPLICATIONS, entry_points
from nagare.config.reference import load as load_reference
from nagare.config.settings import Table
from nagare.config.values import Values
from nagare.errors import ConfigError, NagareError
from nagare.sessions.base import SettingConflict, Sessions
from nagare.sessions.serializer import Serializer, load_secret
from nagare.wsgi.app import WSGIApp, create_WSGIApp

if TYPE_CHECKING:  # the publishers import the loader, not the other way round
    from nagare.publishers.base import Publisher

NAGARE_STATIC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")


@dataclass
class LoadedApp:
    """An application ready to be mounted at `/<name>/`."""

    name: str
    wsgi: Any
    static: str | None
    kind: str  # "nagare": a WSGIApp with sessions; "wsgi": served as it is
    config: AppConfig
    sessions: Sessions[Any] | None = None
    app: WSGIApp | None = None  # the application object, before the `wsgi_pipe`


def _reason(exc: Exception) -> str:
    # The reference errors start with the reference, which the ConfigError already shows.
    return re.sub(r"^'[^']*': ", "", str(exc))


def classify(obj: Any) -> str:
    """'application' for a WSGIApp, 'factory' for a component root factory, 'wsgi' for a WSGI callable."""
    if isinstance(obj, WSGIApp):
        return "application"
    if isinstance(obj, type):
        return "factory"
    if not callable(obj):
        raise NagareError(f"{obj!r} is neither a root component factory nor a WSGI application")
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return "wsgi"
    required = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return "wsgi" if len(required) >= 2 else "factory"


def sessions_manager(app: AppConfig, publisher: PublisherConfig) -> Sessions[Any]:
    """The sessions manager of `app`: the publisher's `[sessions]`, overridden by the app's own.

    Each error names the file that set the value: the publisher's or the application's.
    """
    raw = {**publisher.sessions, **app.sessions}
    type_source = app.filename if "type" in app.sessions else publisher.filename
    type_ = str(raw.get("type", "standalone")).strip()
    sessions_class = plugin(SESSIONS, type_, type_source, "sessions")
    table: Table[Values] = sessions_class.SETTINGS
    for key in raw:
        if key not in table:
            origin = app.filename if key in app.sessions else publisher.filename
            known = ", ".join(sorted(table))
            raise ConfigError(origin, "sessions", key, reason=f"unknown key for type {type_} (known keys: {known})")
    settings = config_loader.merge(table, [(publisher.filename, publisher.sessions), (app.filename, app.sessions)])
    serializer = Serializer(load_secret(settings.secret), app.name)
    try:
        manager: Sessions[Any] = sessions_class(settings, serializer, app.name)
    except ValueError as exc:  # a value the backend refuses (a redis URL it cannot read)
        raise ConfigError(type_source, "sessions", reason=str(exc)) from None
    request_timeout = publisher.publisher.as_dict().get("request_timeout")
    if isinstance(request_timeout, (int, float)):
        try:
            manager.set_request_timeout(float(request_timeout))
        except SettingConflict as exc:
            name, value = exc.key, exc.value
            origin = app.filename if name in app.sessions else publisher.filename
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # 60, as a user writes it
            raise ConfigError(origin, "sessions", name, value, str(exc)) from None
    return manager


def project_of(reference: str) -> str | None:
    """The distribution that provides the object of `reference` (None: a file, or no distribution)."""
    kind, _, rest = reference.strip().partition(" ")
    rest = rest.strip()
    if kind == "egg":
        return rest.split(":")[0].strip()
    if kind == "app":
        entry = entry_points(APPLICATIONS).get(rest)
        return entry.dist.name if entry is not None and entry.dist is not None else None
    if kind == "file":
        return None
    top = (rest if kind == "python" else kind).split(":")[0].split(".")[0]
    names = importlib.metadata.packages_distributions().get(top, [])
    return names[0] if names else None


def configure(application: WSGIApp, app: AppConfig, sessions: Sessions[Any], server: Publisher | None = None) -> None:
    """Nagare 0.5's configuration of a `WSGIApp`, in its order, then `start()`."""
    settings = app.application

    def error(message: str) -> NoReturn:
        raise ConfigError(app.filename, reason=" ".join(str(message).split()))

    calls: list[tuple[str, tuple[Any, ...]]] = [
        ("set_config", (app.filename, app.as_configobj(), error)),
        ("set_static_path", (settings.static,)),
        ("set_static_url", (f"/static/{app.name}/",)),
        ("set_data_path", (os.path.join(app.root, "data"),)),
        ("set_publisher", (server,)),
        ("set_sessions_manager", (sessions,)),
        ("set_databases", (tuple(database for database in app.databases if database.activated),)),
        ("set_project", (project_of(settings.path),)),
        ("start", ()),
    ]
    for name, args in calls:
        try:
            getattr(application, name)(*args)
        except NagareError:
            raise
        except Exception as exc:  # the application's code: reported in one line, as its import is
            text = " ".join(str(exc).split())
            raise ConfigError(app.filename, "application", "path", settings.path, f"{name}() failed: {type(exc).__name__}: {text}") from exc


def load(app: AppConfig, publisher: PublisherConfig, server: Publisher | None = None) -> LoadedApp:
    """The application of `app`, configured, started and ready to mount; `server`: the publisher
    that will serve it (None: `nagare-admin shell`)."""
    settings = app.application
    try:
        obj = load_reference(settings.path)
    except NagareError as exc:
        raise ConfigError(app.filename, "application", "path", settings.path, _reason(exc)) from None
    try:
        kind = classify(obj)
    except NagareError as exc:
        raise ConfigError(app.filename, "application", "path", settings.path, _reason(exc)) from None
    log.configure_application(app.name, app.logging)
    static = settings.static if settings.static and os.path.isdir(settings.static) else None
    sessions = application = None
    if kind == "wsgi":
        wsgi = obj
    else:
        sessions = sessions_manager(app, publisher)
        application = create_WSGIApp(obj)
        configure(application, app, sessions, server)
        wsgi = application
    if settings.wsgi_pipe:
        try:
            pipe = load_reference(settings.wsgi_pipe)
        except NagareError as exc:
            raise ConfigError(app.filename, "application", "wsgi_pipe", settings.wsgi_pipe, _reason(exc)) from None
        wsgi = apply_pipe(pipe, wsgi, app.filename, settings.wsgi_pipe)
    return LoadedApp(app.name, wsgi, static, "wsgi" if application is None else "nagare", app, sessions, application)


def apply_pipe(pipe: Any, wsgi: Any, filename: str, reference: str) -> Any:
    """`pipe(wsgi)`; a reference that is no middleware factory is the user's mistake: one line."""

    def refuse(reason: str) -> ConfigError:
        return ConfigError(filename, "application", "wsgi_pipe", reference, reason)

    if not callable(pipe):
        raise refuse(f"{pipe!r} is not callable: expected a middleware factory pipe(app) -> app")
    try:
        wrapped = pipe(wsgi)
    except Exception as exc:  # like an application that fails to import: reported, not traced
        text = " ".join(str(exc).split())
        raise refuse(f"pipe(app) failed: {type(exc).__name__}: {text}") from exc
    if not callable(wrapped):
        raise refuse(f"pipe(app) returned {wrapped!r}, not a WSGI application")
    return wrapped
