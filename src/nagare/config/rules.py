"""Rules across the keys of a section: part of its table, checked once every key is converted.

    Table("publisher", [...], rules=[at_most("minSpare", "maxSpare")])

A violated rule is a `RuleError` (a `ConfigError`) naming the file, the section and every key of
the rule with its value; a value that the file does not set is marked `(default)`, one given on
the command line `(command line)`:

    publisher.conf: [publisher] minSpare = 6, maxSpare = 5: minSpare must not exceed maxSpare
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nagare.errors import ConfigError

if TYPE_CHECKING:
    from nagare.config.settings import Table
    from nagare.config.values import Values

#: where the values of `nagare-admin serve --port ...` come from, in the messages
COMMAND_LINE = "command line"


@dataclass(frozen=True)
class Rule:
    """`holds(*values of keys)` must be true; `reason` says what the user must change."""

    keys: tuple[str, ...]
    holds: Callable[..., bool]
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", tuple(self.keys))
        if not self.keys:
            raise ValueError(f"rule {self.reason!r} names no key")


def at_most(key: str, bound: str) -> Rule:
    """`key` must not exceed `bound` (nothing to compare while either is unset)."""

    def holds(value: float | None, limit: float | None) -> bool:
        return value is None or limit is None or value <= limit

    return Rule((key, bound), holds, f"{key} must not exceed {bound}")


class RuleError(ConfigError):
    """A rule of a section that the values break: `keys` and `values` are the rule's."""

    def __init__(self, filename: str | None, section: str, rule: Rule, values: tuple[object, ...], notes: tuple[str, ...]) -> None:
        super().__init__(filename, section, rule.keys[0], values[0], rule.reason)
        self.rule = rule
        self.keys = rule.keys
        self.values = values
        shown = ", ".join(f"{key} = {value!r}{note}" for key, value, note in zip(rule.keys, values, notes))
        self.args = (f"{filename or '<configuration>'}: [{section}] {shown}: {rule.reason}",)


def check_rules(
    table: Table[Values], values: Mapping[str, object], set_by: Mapping[str, str | None] | None, filename: str | None
) -> None:
    """Raise a `RuleError` for the first rule of `table` that `values` break.

    `set_by`: where each key that is not at its default was set (a file, `COMMAND_LINE`); the
    error names the file of the rule's keys, else the command line, else `filename`. None: the
    origins are unknown (values derived by the code), nothing is marked.
    """
    for rule in table.rules:
        current = tuple(values[key] for key in rule.keys)
        if rule.holds(*current):
            continue
        if set_by is None:
            raise RuleError(filename, table.section, rule, current, ("",) * len(current))
        where = _where((set_by[key] for key in rule.keys if key in set_by), filename)
        notes = tuple(_note(set_by, key, where) for key in rule.keys)
        raise RuleError(where, table.section, rule, current, notes)


def _where(origins: Iterable[str | None], filename: str | None) -> str | None:
    found = list(origins)
    files = [origin for origin in found if origin != COMMAND_LINE]
    return files[0] if files else found[0] if found else filename


def _note(set_by: Mapping[str, str | None], key: str, where: str | None) -> str:
    if key not in set_by:
        return " (default)"
    origin = set_by[key]
    return "" if origin == where else f" ({origin or '<configuration>'})"
