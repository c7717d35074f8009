"""The application configuration file (`conf/<name>.cfg`) and finding registered applications.

Our sections (`[application]`, `[sessions]`, `[database]`, `[logging]`) are checked: an unknown
key in one of them is an error. Any other section is the application's own: it is left alone
here, and the application reads it in `WSGIApp.set_config()` (`AppConfig.as_configobj()`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import configobj  # type: ignore[import-untyped]  # ConfigObj ships no type information

from nagare.config import loader, logs
from nagare.config.reference import APPLICATIONS, entry_points
from nagare.config.rules import COMMAND_LINE
from nagare.config.settings import Setting, Table, boolean, integer, number, string
from nagare.config.values import Values
from nagare.errors import ConfigError, NagareError


class ApplicationSettings(Values):
    path: str
    name: str
    debug: bool
    redirect_after_post: bool
    always_html: bool
    wsgi_pipe: str
    static: str


class DatabaseSettings(Values):
    activated: bool
    uri: str
    metadata: str
    populate: str
    debug: bool
    pool_size: int | None
    max_overflow: int | None
    pool_timeout: float | None
    pool_recycle: int
    pool_pre_ping: bool

    def engine_settings(self) -> dict[str, object]:
        """What goes to `sqlalchemy.create_engine` besides the URI (what the file sets)."""
        settings: dict[str, object] = {"pool_recycle": self.pool_recycle, "pool_pre_ping": self.pool_pre_ping}
        for key in ("pool_size", "max_overflow", "pool_timeout"):
            value = getattr(self, key)
            if value is not None:  # left to the engine's pool (SQLite's has none of them)
                settings[key] = value
        return settings


APPLICATION = Table(
    "application",
    [
        Setting("path", string, None, "object reference of the root component factory — or of a plain WSGI application", required=True),
        Setting("name", string, None, "the URL segment: the application answers at `/<name>/`", required=True),
        Setting(
            "debug", boolean, False,
            "debug mode (as `-d`): an exception in a view or an action shows Werkzeug's debugger page, "
            "with consoles behind a PIN (see deploying.md); standalone publisher only",
        ),
        Setting("redirect_after_post", boolean, False, "a POST that ran actions answers 303 to the new state's URL"),
        Setting("always_html", boolean, True, "a view returning a fragment is wrapped in a complete HTML page"),
        Setting("wsgi_pipe", string, "", "object reference of a WSGI middleware factory `pipe(app) -> app`"),
        Setting("static", string, "$root/static", "folder served at `/static/<name>/` (if it exists); relative: to the file's folder"),
    ],
    values_class=ApplicationSettings,
)

DATABASE = Table(
    "database",
    [
        Setting("activated", boolean, False, "use this database"),
        Setting("uri", string, "", "SQLAlchemy database URI"),
        Setting("metadata", string, "", "object reference of the SQLAlchemy metadata"),
        Setting("populate", string, "", "object reference of a function filling a new database"),
        Setting("debug", boolean, False, "log the SQL statements"),
        Setting("pool_size", integer(1), None, "connections kept open per process (SQLAlchemy's default: 5)"),
        Setting("max_overflow", integer(0), None, "connections opened beyond `pool_size` under load (default: 10)"),
        Setting("pool_timeout", number(0), None, "seconds a request waits for a free connection (default: 30), then 503"),
        Setting("pool_recycle", integer(-1), -1, "seconds after which a connection is replaced (-1: never)"),
        Setting("pool_pre_ping", boolean, True, "check a connection before using it: a restarted server is reconnected"),
    ],
    values_class=DatabaseSettings,
)


@dataclass(frozen=True)
class AppConfig:
    """A checked application configuration."""

    filename: str
    name: str
    root: str
    application: ApplicationSettings
    databases: tuple[DatabaseSettings, ...] = ()
    logging: logs.LoggingConfig = field(default_factory=logs.LoggingConfig)
    sessions: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))  # raw: merged with the publisher's
    config: loader.ConfigFile | None = None

    def as_configobj(self) -> Any:
        """The whole file as a new ConfigObj, what Nagare 0.5 gave `WSGIApp.set_config()`.

        Every section is there (the application's own too), interpolated when read (`$here`,
        `$root`, `$name`); `[application]` holds the checked values (booleans, the command
        line's `-d`, `static` made absolute), the other sections the text of the file.
        """
        raw = _raw(self.config.conf) if self.config is not None else {}
        # `$` doubled: the checked values are interpolated already
        checked = self.application.as_dict().items()
        raw["application"] = {key: value.replace("$", "$$") if isinstance(value, str) else value for key, value in checked}
        return configobj.ConfigObj(raw, interpolation="template")


def _raw(section: Any) -> dict[str, Any]:
    """The keys and sub-sections of a ConfigObj section, as written (not interpolated)."""
    # dict.__getitem__ bypasses ConfigObj's Section.__getitem__, which is where it interpolates
    found: dict[str, Any] = {key: dict.__getitem__(section, key) for key in section.scalars}
    found.update((name, _raw(section[name])) for name in section.sections)
    return found


def registered() -> dict[str, importlib.metadata.EntryPoint]:
    """The applications registered by the installed distributions."""
    return entry_points(APPLICATIONS)


def _package_dirs(module: str) -> list[str]:
    """The folder of `module`'s package and of each parent package, innermost first."""
    dirs = []
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        try:
            spec = importlib.util.find_spec(".".join(parts[:i]))
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:
            dirs.extend(spec.submodule_search_locations)
        elif spec.origin:
            dirs.append(os.path.dirname(spec.origin))
    if dirs:
        dirs.append(os.path.dirname(dirs[-1]))  # beside the top package: a source checkout
    seen: list[str] = []
    for folder in dirs:
        if folder not in seen:
            seen.append(folder)
    return seen


def find_registered(name: str) -> tuple[str, str]:
    """(config file, $root) of a registered application: `conf/<name>.cfg` in the package folders."""
    entry = registered().get(name)
    if entry is None:
        raise NagareError(f"no application named '{name}' is registered, and no such configuration file")
    module = entry.value.split(":")[0].strip()
    for folder in _package_dirs(module):
        candidate = os.path.join(folder, "conf", f"{name}.cfg")
        if os.path.isfile(candidate):
            return candidate, folder
    raise NagareError(f"application '{name}' ({entry.value}) has no conf/{name}.cfg beside its package")


def read(reference: str, overrides: Mapping[str, object] | None = None) -> AppConfig:
    """Read an application config given as a registered name or as a file path.

    `overrides`: `[application]` values of the command line (`-d`: `{"debug": True}`).
    """
    # A bare name is a registered application even when a folder of that name is here: the
    # project folder of `create-app myapp` sits beside the user running `serve myapp`.
    if os.path.isfile(reference) or os.sep in reference or reference.endswith((".cfg", ".conf", ".ini")):
        filename, root = os.path.abspath(reference), None
    else:
        filename, root = find_registered(reference)
    config = loader.read(filename, what="application configuration file")
    root = root or os.path.dirname(config.here)
    raw_name = config.raw("application", "name")
    if not config.has_section("application"):
        raise ConfigError(filename, "application", reason="missing section")
    if not raw_name or "$" in str(raw_name):
        raise ConfigError(filename, "application", "name", raw_name, "is required (a plain URL segment)")
    name = str(raw_name).strip().strip("/")
    if not name or "/" in name:
        raise ConfigError(filename, "application", "name", raw_name, "must be one URL segment")
    config.set_variables(root=root, name=name)
    application = config.section(APPLICATION, overrides)
    if application.static and not os.path.isabs(application.static):
        # relative to the file, as $here is: not to the folder the command happens to run in
        application = application.replace(static=os.path.normpath(os.path.join(config.here, application.static)))
    databases = []
    if config.has_section("database"):
        top = config.items("database")
        if top:
            databases.append(loader.check(filename, DATABASE, top))
        for sub in config.subsections("database"):
            table = Table(f"database][{sub}", DATABASE.values(), values_class=DatabaseSettings)
            databases.append(loader.check(filename, table, config.items(["database", sub])))
    sessions = MappingProxyType(config.items("sessions"))
    return AppConfig(filename, name, root, application, tuple(databases), logs.read(config), sessions, config)


def from_reference(reference: str, name: str, overrides: Mapping[str, object] | None = None) -> AppConfig:
    """An application given on the command line (`serve-module`): every other key at its default."""
    config = loader.empty()
    root = config.here
    config.set_variables(root=root, name=name)
    application = config.section(APPLICATION, overrides, values={"path": reference, "name": name})
    return AppConfig(COMMAND_LINE, name, root, application, config=config)
