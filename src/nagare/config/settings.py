"""Settings tables: each key once, with its converter, default and help.

A table is the single source of the keys a section accepts, their defaults, the command-line
flags that override them and the documentation (`nagare-admin info --settings`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Converter = Callable[[Any], Any]

_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0"}


def boolean(value: Any) -> bool:
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
    def convert(value: Any) -> int:
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
    def convert(value: Any) -> float:
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


def octal(value: Any) -> int:
    """An octal number as Unix users write it: `022`, `0o22`, `0022`."""
    text = str(value).strip().lower()
    digits = text[2:] if text.startswith("0o") else text
    if not digits or any(c not in "01234567" for c in digits):
        raise ValueError("expected an octal number such as 022 or 0o22")
    result = int(digits, 8)
    if result > 0o777:
        raise ValueError("must be at most 0o777")
    return result


def string(value: Any) -> str:
    """Any text (a list written with commas is joined back)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def string_list(value: Any) -> list[str]:
    """A comma-separated list."""
    if isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        items = [v.strip() for v in str(value).split(",")]
    return [item for item in items if item]


def choice(*choices: str) -> Converter:
    def convert(value: Any) -> str:
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
    default: Any
    help: str
    required: bool = False


class Table(Mapping[str, Setting]):
    """The keys of one section."""

    def __init__(self, section: str, settings: Iterable[Setting]) -> None:
        self.section = section
        self._settings = {s.name: s for s in settings}

    def __getitem__(self, name: str) -> Setting:
        return self._settings[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._settings)

    def __len__(self) -> int:
        return len(self._settings)

    def defaults(self) -> dict[str, Any]:
        return {s.name: s.default for s in self._settings.values()}

    def extend(self, settings: Iterable[Setting]) -> "Table":
        return Table(self.section, [*self._settings.values(), *settings])
