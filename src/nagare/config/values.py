"""The checked values of a section: a frozen object with one attribute per key.

`loader.check()` returns one for each section it checks: `settings.port`, `settings.minSpare`.
A table may declare a typed subclass (`Table(..., values=ReloaderSettings)`) whose annotations
give each key its type; `Table` verifies at import time that they name exactly its keys, so the
types cannot drift from the table. Without one, the values are a plain `Values` and every key
reads as `Any`: the plug-in tables of third parties need no declaration to work.

Why not one dataclass per table: a table is built from `Setting`s and extended by plug-ins
(`base.Publisher.SETTINGS.extend([...])`); a dataclass per table would say every key twice. Here
the table stays the one place of keys, converters, defaults and help, and the class only adds
the types where the code that reads them is type-checked.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from dataclasses import FrozenInstanceError
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn, Self, dataclass_transform

from nagare.config.rules import check_rules

if TYPE_CHECKING:
    from nagare.config.settings import Table


def attribute(key: str) -> str:
    """The attribute a key is read as: the key, with `_` after a Python keyword (`class_`)."""
    return key + "_" if keyword.iskeyword(key) else key


def declared(values: type[Values]) -> set[str]:
    """The attributes a typed subclass declares (its annotations and its bases')."""
    names: set[str] = set()
    for cls in values.__mro__:
        if cls is Values or not issubclass(cls, Values):
            continue
        names.update(name for name in vars(cls).get("__annotations__", {}) if not name.startswith("_"))
    return names


def _freeze(value: object) -> object:
    # A list in a frozen object could still be changed in place by whoever reads it
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(item) for item in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(value)
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    return value


# dataclass_transform: to mypy a typed subclass is a frozen dataclass (assigning a key is a type
# error); at run time the values live in `_values` and assignment raises FrozenInstanceError.
@dataclass_transform(frozen_default=True)
class Values:
    """The values of one section, read-only: `settings.port`, `replace(port=0)` for a variant."""

    __slots__ = ("_table", "_values")
    _table: Table[Values]
    _values: dict[str, object]

    def __init__(self, table: Table[Values], values: Mapping[str, object]) -> None:
        missing = [key for key in table if key not in values]
        unknown = [key for key in values if key not in table]
        if missing or unknown:
            raise TypeError(f"[{table.section}]: values {'missing' if missing else 'unknown'}: {', '.join(missing or unknown)}")
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "_values", {key: _freeze(values[key]) for key in table})

    def __getattr__(self, name: str) -> Any:
        # Called only when the normal lookup fails: the keys, and the mistakes.
        if name.startswith("_"):
            raise AttributeError(name)
        key = self._table.key_of(name)
        if key is None:
            known = ", ".join(sorted(attribute(key) for key in self._table))
            raise AttributeError(f"[{self._table.section}] has no key {name!r} (known keys: {known})")
        return self._values[key]

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise FrozenInstanceError(f"[{self._table.section}] settings are read-only: use replace({name}=...)")

    def __delattr__(self, name: str) -> NoReturn:
        raise FrozenInstanceError(f"[{self._table.section}] settings are read-only")

    def replace(self, **changes: object) -> Self:
        """A copy with some values changed (already converted), checked by the table's rules."""
        values = dict(self._values)
        for name, value in changes.items():
            key = self._table.key_of(name)
            if key is None:
                raise TypeError(f"[{self._table.section}] has no key {name!r}")
            values[key] = value
        result = type(self)(self._table, values)
        check_rules(self._table, result._values, None, None)
        return result

    def as_dict(self) -> dict[str, object]:
        """The values by key, as the file spells the keys."""
        return dict(self._values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Values) or type(other) is not type(self):
            return NotImplemented
        return self._table.section == other._table.section and self._values == other._values

    def __hash__(self) -> int:
        return hash((self._table.section, tuple(self._values.items())))

    def __repr__(self) -> str:
        fields = ", ".join(f"{attribute(key)}={value!r}" for key, value in self._values.items())
        name = type(self).__name__
        return f"{name}[{self._table.section}]({fields})" if type(self) is Values else f"{name}({fields})"

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self

    def __reduce__(self) -> NoReturn:
        # The table holds converters (closures): settings are passed to constructors, not pickled.
        raise TypeError(f"[{self._table.section}] settings cannot be pickled")
