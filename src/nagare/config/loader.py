"""Reading a ConfigObj file and checking its sections against settings tables.

Defaults < file < command line. Every problem is a `ConfigError` naming the file, the section,
the key and the bad value (a broken rule: every key of the rule, with its value). A checked
section is a frozen `Values` object (`nagare.config.values`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from string import Template
from typing import Any, TypeVar

import configobj  # type: ignore[import-untyped]  # ConfigObj ships no type information

from nagare.config.rules import COMMAND_LINE, check_rules
from nagare.config.settings import Setting, Table
from nagare.config.values import Values
from nagare.errors import ConfigError

V = TypeVar("V", bound=Values)


class ConfigFile:
    """A parsed configuration file; `$here`, `$root`, `$name` and the file's own keys interpolated."""

    def __init__(self, filename: str | None, conf: configobj.ConfigObj) -> None:
        self.filename = filename
        self.conf = conf

    @property
    def here(self) -> str:
        return os.path.dirname(os.path.abspath(self.filename)) if self.filename else os.getcwd()

    def sections(self) -> list[str]:
        return [name for name in self.conf.sections if name != "DEFAULT"]

    def has_section(self, name: str) -> bool:
        return name in self.conf.sections

    def raw(self, section: str, key: str, default: Any = None) -> Any:
        """A value without interpolation (to find `$name` before interpolating)."""
        # dict.get bypasses ConfigObj's Section.__getitem__, which is where it interpolates
        return dict.get(self.conf[section], key, default) if section in self.conf.sections else default

    def set_variables(self, **variables: str) -> None:
        # ConfigObj's template interpolation looks values up in the section, then in the DEFAULT
        # section of each parent up to the top: $here, $root and $name live there.
        defaults = dict(self.conf.get("DEFAULT", {}))
        defaults.update(variables)
        self.conf["DEFAULT"] = defaults

    def items(self, section: str | Iterable[str]) -> dict[str, Any]:
        """The interpolated keys of a section (`section` may be a path of nested names)."""
        path = [section] if isinstance(section, str) else list(section)
        current: Any = self.conf
        for name in path:
            if name not in current.sections:
                return {}
            current = current[name]
        result = {}
        for key in current.scalars:
            try:
                result[key] = current[key]
            except configobj.InterpolationError as exc:
                raw = dict.__getitem__(current, key)
                raise ConfigError(self.filename, "][".join(path), key, raw, _interpolation_reason(exc)) from None
        return result

    def subsections(self, section: str | Iterable[str]) -> list[str]:
        path = [section] if isinstance(section, str) else list(section)
        current: Any = self.conf
        for name in path:
            if name not in current.sections:
                return []
            current = current[name]
        return [name for name in current.sections if name != "DEFAULT"]

    def section(
        self,
        table: Table[V],
        overrides: Mapping[str, object] | None = None,
        ignored: Iterable[str] = (),
        values: Mapping[str, object] | None = None,
    ) -> V:
        """Check a section against `table`: unknown keys, bad values and broken rules raise `ConfigError`.

        `values` replaces the file's own keys (used to merge an application's overrides);
        `ignored` are keys that another plug-in of the same section accepts (left alone).
        """
        found = self.items(table.section) if values is None else dict(values)
        return check(self.filename, table, found, overrides, ignored, dict(self.conf.get("DEFAULT", {})))


def check(
    filename: str | None,
    table: Table[V],
    found: Mapping[str, object],
    overrides: Mapping[str, object] | None = None,
    ignored: Iterable[str] = (),
    variables: Mapping[str, str] | None = None,
) -> V:
    """The values of a section: defaults < `found` (read from `filename`) < command-line `overrides`.

    An override of None is no override (an option not given). String defaults may use the
    file's variables (`static = $root/static`): they are interpolated like the values of the file.
    """
    return merge(table, [(filename, found)], overrides, ignored, variables)


def merge(
    table: Table[V],
    sources: Sequence[tuple[str | None, Mapping[str, object]]],
    overrides: Mapping[str, object] | None = None,
    ignored: Iterable[str] = (),
    variables: Mapping[str, str] | None = None,
) -> V:
    """`check()` over several files, (file name, its keys) each overriding the ones before.

    An application's `[sessions]` overrides the publisher's: each error names the file that set
    the value, and a broken rule the file of its keys.
    """
    filename = sources[0][0] if sources else None
    result = table.defaults()
    if variables:
        for key, value in result.items():
            if isinstance(value, str) and "$" in value:
                result[key] = Template(value).safe_substitute(variables)
    ignored = set(ignored)
    set_by: dict[str, str | None] = {}
    for origin, found in sources:
        for key, value in found.items():
            if key in ignored:
                continue
            setting = table.get(key)
            if setting is None:
                known = ", ".join(sorted(table))
                raise ConfigError(origin, table.section, key, reason=f"unknown key (known keys: {known})")
            result[key] = _convert(origin, table.section, setting, value)
            set_by[key] = origin
    for key, value in (overrides or {}).items():
        if value is not None:
            setting = table.get(key)
            if setting is None:  # e.g. --port with a publisher type that has no port
                raise ConfigError(COMMAND_LINE, table.section, key, value, "not a key of this section")
            result[key] = _convert(COMMAND_LINE, table.section, setting, value)
            set_by[key] = COMMAND_LINE
    for setting in table.values():
        if setting.required and result.get(setting.name) in (None, ""):
            raise ConfigError(set_by.get(setting.name, filename), table.section, setting.name, reason="is required")
    check_rules(table, result, set_by, filename)
    return table.values_class(table, result)


def _convert(filename: str | None, section: str, setting: Setting, value: object) -> object:
    try:
        return setting.convert(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(filename, section, setting.name, value, str(exc)) from None


def _interpolation_reason(exc: Exception) -> str:
    match = re.search(r'"([^"]+)"', str(exc))
    if isinstance(exc, configobj.MissingInterpolationOption) and match:
        return f"unknown variable ${match.group(1)} (known: $here, $root, $name and the keys of the file)"
    return str(exc).rstrip(".")


def read(filename: str, variables: Mapping[str, str] | None = None, what: str = "configuration file") -> ConfigFile:
    """Parse `filename`; a missing or malformed file raises a one-line `ConfigError`."""
    if not os.path.isfile(filename):
        reason = "is a directory" if os.path.isdir(filename) else "no such file"
        raise ConfigError(filename, reason=f"{what}: {reason}")
    try:
        conf = configobj.ConfigObj(
            filename, interpolation="template", file_error=True, encoding="utf-8", raise_errors=True
        )
    except configobj.ConfigObjError as exc:
        raise ConfigError(filename, reason=str(exc).rstrip(".")) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(filename, reason=reason) from None
    config = ConfigFile(filename, conf)
    here = config.here
    config.set_variables(here=here, **(variables or {}))
    return config


def empty() -> ConfigFile:
    """A configuration with no file (every key at its default)."""
    config = ConfigFile(None, configobj.ConfigObj(interpolation="template"))
    config.set_variables(here=os.getcwd())
    return config
