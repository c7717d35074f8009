"""Settings tables: each key once, with its converter, default and help.

A table is the single source of the keys a section accepts, their defaults, the command-line
flags that override them and the documentation (`nagare-admin info --settings`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar, overload

from nagare.config.rules import Rule
from nagare.config.values import Values, attribute, declared

#: a raw value (a string, a list of strings from ConfigObj, a command-line value) -> the value
Converter = Callable[[object], object]

_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0"}


def boolean(value: object) -> bool:
    """`on/off`, `true/false`, `yes/no`, `1/0` (any case)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected on/off, true/false, yes/no or 1/0")


def integer(minimum: int | None = None, maximum: int | None = None) -> Converter:
    def convert(value: object) -> int:
        try:
            number_ = int(str(value).strip(), 10)
        except ValueError:
            raise ValueError("expected a whole number") from None
        if minimum is not None and number_ < minimum:
            raise ValueError(f"must be at least {minimum}")
        if maximum is not None and number_ > maximum:
            raise ValueError(f"must be at most {maximum}")
        return number_

    convert.__doc__ = "a whole number" + (f" from {minimum}" if minimum is not None else "") + (
        f" to {maximum}" if maximum is not None else ""
    )
    return convert


def number(minimum: float | None = None) -> Converter:
    def convert(value: object) -> float:
        try:
            result = float(str(value).strip())
        except ValueError:
            raise ValueError("expected a number") from None
        if result != result or result in (float("inf"), float("-inf")):
            raise ValueError("expected a finite number")
        if minimum is not None and result < minimum:
            raise ValueError(f"must be at least {minimum}")
        return result

    convert.__doc__ = "a number" + (f" from {minimum}" if minimum is not None else "")
    return convert


def octal(value: object) -> int:
    """An octal number as Unix users write it: `022`, `0o22`, `0022`."""
    text = str(value).strip().lower()
    digits = text[2:] if text.startswith("0o") else text
    if not digits or any(c not in "01234567" for c in digits):
        raise ValueError("expected an octal number such as 022 or 0o22")
    result = int(digits, 8)
    if result > 0o777:
        raise ValueError("must be at most 0o777")
    return result


def string(value: object) -> str:
    """Any text (a list written with commas is joined back)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def string_list(value: object) -> list[str]:
    """A comma-separated list."""
    if isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        items = [v.strip() for v in str(value).split(",")]
    return [item for item in items if item]


def choice(*choices: str) -> Converter:
    def convert(value: object) -> str:
        text = str(value).strip()
        if text not in choices:
            raise ValueError("expected one of " + ", ".join(choices))
        return text

    convert.__doc__ = "one of " + ", ".join(choices)
    return convert


@dataclass(frozen=True)
class Setting:
    """One key: name, converter, default (already converted; None = not set) and help."""

    name: str
    convert: Converter
    default: object
    help: str
    required: bool = False

    @property
    def attribute(self) -> str:
        """The attribute of the values the key is read as (`class` is read as `class_`)."""
        return attribute(self.name)


V = TypeVar("V", bound=Values, covariant=True)
W = TypeVar("W", bound=Values)


class Table(Mapping[str, Setting], Generic[V]):
    """The keys of one section, the rules across them, and the class of its checked values.

    A setting given again in `extend()` replaces the one of the same name.
    """

    @overload
    def __init__(self: Table[Values], section: str, settings: Iterable[Setting], rules: Iterable[Rule] = ()) -> None: ...

    @overload
    def __init__(self, section: str, settings: Iterable[Setting], rules: Iterable[Rule] = (), *, values_class: type[V]) -> None: ...

    def __init__(
        self, section: str, settings: Iterable[Setting], rules: Iterable[Rule] = (), *, values_class: type[Values] = Values
    ) -> None:
        self.section = section
        self._settings = {s.name: s for s in settings}
        self._attributes = {s.attribute: s.name for s in self._settings.values()}
        self.rules = tuple(rules)
        self.values_class: type[V] = values_class  # type: ignore[assignment]  # Values when no class is given
        #: the table this one extends (`extend()`): the documentation lists only what it adds
        self.base: Table[Values] | None = None
        for name in self._settings:
            if not name.isidentifier() or name.startswith("_"):
                raise ValueError(f"[{section}] {name!r}: a key is read as an attribute: use a Python identifier")
            if hasattr(Values, attribute(name)):  # replace(), as_dict(): the key could not be read
                raise ValueError(f"[{section}] {name!r}: the name of a method of the values, choose another")
        for rule in self.rules:
            unknown = [key for key in rule.keys if key not in self._settings]
            if unknown:
                raise ValueError(f"[{section}] rule {rule.reason!r}: no key {', '.join(unknown)} in the table")
        if values_class is not Values:
            names = declared(values_class)
            if names != set(self._attributes):
                missing = ", ".join(sorted(set(self._attributes) - names)) or "-"
                extra = ", ".join(sorted(names - set(self._attributes))) or "-"
                raise TypeError(f"{values_class.__name__} does not declare the keys of [{section}]: missing {missing}, unknown {extra}")

    def __getitem__(self, name: str) -> Setting:
        return self._settings[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._settings)

    def __len__(self) -> int:
        return len(self._settings)

    def __repr__(self) -> str:
        return f"Table({self.section!r}, [{', '.join(self._settings)}])"

    def key_of(self, attribute: str) -> str | None:
        """The key read as `attribute` (None: no such key)."""
        return self._attributes.get(attribute)

    def defaults(self) -> dict[str, object]:
        return {s.name: s.default for s in self._settings.values()}

    @overload
    def extend(self, settings: Iterable[Setting], rules: Iterable[Rule] = ()) -> Table[Values]: ...

    @overload
    def extend(self, settings: Iterable[Setting], rules: Iterable[Rule] = (), *, values_class: type[W]) -> Table[W]: ...

    def extend(
        self, settings: Iterable[Setting], rules: Iterable[Rule] = (), *, values_class: type[Values] = Values
    ) -> Table[Values]:
        """This table with more keys and rules (its own rules kept); `values_class`: the values' class."""
        table = Table(self.section, [*self._settings.values(), *settings], [*self.rules, *rules], values_class=values_class)
        table.base = self
        return table
