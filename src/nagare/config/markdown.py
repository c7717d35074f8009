"""The settings tables as Markdown: the key tables of docs/configuration.md, `nagare-admin info --settings`.

In the documentation each key table is written from a settings table, between two markers that
name it by an object reference:

    <!-- settings nagare.config.publisher:RELOADER -->
    | key | default | meaning |
    |---|---|---|
    | `activated` | `off` | restart the server when ... |
    <!-- end settings -->

`python -m nagare.config.markdown docs/configuration.md` writes them again from the tables
(`--check`: only say whether one differs); the tests fail while one differs, so a key added to
a table, or a default changed, cannot miss the documentation. A table that extends another
(`Table.extend()`) lists only the keys it adds or changes: its base has its own table.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

from nagare.config.reference import load
from nagare.config.settings import Setting, Table
from nagare.config.values import Values
from nagare.errors import NagareError

BLOCK = re.compile(r"(<!-- settings (?P<reference>\S+) -->\n)(?P<body>.*?)(<!-- end settings -->)", re.DOTALL)
HEADER = "| key | default | meaning |\n|---|---|---|\n"


def default_text(setting: Setting) -> str:
    """The default as a user writes it in a file, or `(required)`, `(none)`."""
    value = setting.default
    if setting.required:
        return "(required)"
    if value is None or value == "" or (isinstance(value, (list, tuple)) and not value):
        return "(none)"
    if isinstance(value, bool):
        text = "on" if value else "off"
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, (list, tuple)):
        text = ", ".join(str(item) for item in value)
    else:
        text = str(value)
    return f"`{text}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def rows(table: Table[Values]) -> list[Setting]:
    """The settings of `table` its base does not have as they are (all of them without a base)."""
    base = table.base
    return [s for s in table.values() if base is None or base.get(s.name) != s]


def markdown(table: Table[Values], complete: bool = False) -> str:
    """The key table of `table`; `complete`: every key, its base's too."""
    settings = list(table.values()) if complete else rows(table)
    lines = [f"| `{s.name}` | {default_text(s)} | {_cell(s.help)} |\n" for s in settings]
    return HEADER + "".join(lines)


def resolve(reference: str) -> Table[Values]:
    """The table an object reference of a marker names."""
    table = load(reference)
    if not isinstance(table, Table):
        raise NagareError(f"'{reference}' is not a settings table")
    return table


def references(text: str) -> list[str]:
    """The tables the markers of a document name, in order."""
    return [match.group("reference") for match in BLOCK.finditer(text)]


def update(text: str) -> str:
    """The document with every marked table written from its settings table."""
    return BLOCK.sub(lambda m: m.group(1) + markdown(resolve(m.group("reference"))) + m.group(4), text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nagare.config.markdown", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="Markdown files with <!-- settings ... --> markers")
    parser.add_argument("--check", action="store_true", help="change nothing; exit status 1 if a table differs")
    args = parser.parse_args(argv)
    status = 0
    for filename in args.files:
        with open(filename, encoding="utf-8") as f:
            text = f.read()
        try:
            new = update(text)
        except NagareError as exc:
            print(f"{filename}: {exc}", file=sys.stderr)
            return 2
        if new == text:
            continue
        if args.check:
            print(f"{filename}: the key tables differ from the settings tables", file=sys.stderr)
            status = 1
        else:
            with open(filename, "w", encoding="utf-8") as f:
                f.write(new)
            print(f"{filename}: key tables written")
    return status


if __name__ == "__main__":
    sys.exit(main())
