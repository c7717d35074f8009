"""From configuration to a served application: the root factory, its sessions, its logger."""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass
from typing import Any

from nagare import log
from nagare.config import loader as config_loader
from nagare.config.application import AppConfig
from nagare.config.publisher import SESSIONS, PublisherConfig, plugin
from nagare.config.reference import load as load_reference
from nagare.config.settings import Table
from nagare.config.values import Values
from nagare.errors import ConfigError, NagareError
from nagare.sessions.base import Sessions
from nagare.sessions.serializer import Serializer, load_secret
from nagare.wsgi.app import WSGIApp

NAGARE_STATIC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")


@dataclass
class LoadedApp:
    """An application ready to be mounted at `/<name>/`."""

    name: str
    wsgi: Any
    static: str | None
    kind: str  # "nagare": root component factory with sessions; "wsgi": served as it is
    config: AppConfig
    sessions: Sessions[Any] | None = None


def _reason(exc: Exception) -> str:
    # The reference errors start with the reference, which the ConfigError already shows.
    return re.sub(r"^'[^']*': ", "", str(exc))


def classify(obj: Any) -> str:
    """'factory' for a component root factory, 'wsgi' for a WSGI callable."""
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
    manager: Sessions[Any] = sessions_class(settings, serializer, app.name)
    return manager


def load(app: AppConfig, publisher: PublisherConfig) -> LoadedApp:
    settings = app.application
    try:
        obj = load_reference(settings.path)
    except NagareError as exc:
        raise ConfigError(app.filename, "application", "path", settings.path, _reason(exc)) from None
    try:
        kind = classify(obj)
    except NagareError as exc:
        raise ConfigError(app.filename, "application", "path", settings.path, _reason(exc)) from None
    logger = log.configure_application(app.name, app.logging)
    static = settings.static if settings.static and os.path.isdir(settings.static) else None
    sessions = None
    if kind == "wsgi":
        wsgi = obj
    else:
        sessions = sessions_manager(app, publisher)
        wsgi = WSGIApp(
            obj,
            name=app.name,
            sessions=sessions,
            always_html=settings.always_html,
            redirect_after_post=settings.redirect_after_post,
            logger=logger,
            debug=settings.debug,
        )
    if settings.wsgi_pipe:
        try:
            pipe = load_reference(settings.wsgi_pipe)
        except NagareError as exc:
            raise ConfigError(app.filename, "application", "wsgi_pipe", settings.wsgi_pipe, _reason(exc)) from None
        wsgi = apply_pipe(pipe, wsgi, app.filename, settings.wsgi_pipe)
    return LoadedApp(app.name, wsgi, static, "nagare" if kind == "factory" else "wsgi", app, sessions)


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
