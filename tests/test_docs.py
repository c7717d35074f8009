"""The documentation tells every configuration key, with its default and help: the key tables of
docs/configuration.md are written from the settings tables (`python -m nagare.config.markdown`)."""

from __future__ import annotations

import difflib
from pathlib import Path

from nagare.config import logs, markdown
from nagare.config.application import APPLICATION, DATABASE
from nagare.config.publisher import PUBLISHERS, RELOADER, SESSIONS
from nagare.config.reference import entry_points

PATH = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
DOC = PATH.read_text()
REGENERATE = "python -m nagare.config.markdown docs/configuration.md"


def documented() -> dict[int, str]:
    return {id(markdown.resolve(reference)): reference for reference in markdown.references(DOC)}


def test_the_key_tables_are_the_settings_tables():
    expected = markdown.update(DOC)
    if expected != DOC:
        diff = "".join(difflib.unified_diff(DOC.splitlines(True), expected.splitlines(True), "docs/configuration.md", "the settings tables"))
        raise AssertionError(f"the key tables of docs/configuration.md differ from the settings tables; run `{REGENERATE}`:\n{diff}")


def test_every_table_is_in_the_doc():
    tables = {"[reloader]": RELOADER, "[application]": APPLICATION, "[database]": DATABASE}
    tables.update({f"[{table.section}]": table for table in logs.SUBSECTIONS.values()})
    for group, section in ((PUBLISHERS, "publisher"), (SESSIONS, "sessions")):
        for name, entry in entry_points(group).items():
            table = entry.load().SETTINGS
            while table is not None:  # and the tables it extends, whose keys it does not list
                tables.setdefault(f"[{section}] type = {name}" if table.base is not None else f"[{section}] (every type)", table)
                table = table.base
    found = documented()
    missing = [what for what, table in tables.items() if id(table) not in found]
    assert not missing, f"no key table in docs/configuration.md for {', '.join(missing)}: add a <!-- settings ... --> marker, then run `{REGENERATE}`"


def test_every_marker_names_a_distinct_table():
    references = markdown.references(DOC)
    assert len(references) == len(documented()), "two markers of docs/configuration.md name the same table"


def test_every_command_is_documented():
    for name in entry_points("nagare.commands"):
        assert f"`{name}" in DOC, f"command {name} is not in docs/configuration.md"


def test_every_test_named_by_the_compatibility_page_exists():
    """docs/compatibility.md names the test that shows each row: it must exist (renamed, the row lies)."""
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    text = (root / "docs" / "compatibility.md").read_text()
    named: list[tuple[str, str]] = []
    # "file::a, ::b" names two tests of one file; "file (one test per hook)" names the file
    for path, names in re.findall(r"(tests/[\w/]+\.py)((?:::\w+|, ::\w+)*)", text):
        named += [(path, name) for name in re.findall(r"::(\w+)", names)]
        assert (root / path).is_file(), path
    assert len(named) > 50
    defined: dict[str, set[str]] = {}
    for path, name in named:
        if path not in defined:
            tree = ast.parse((root / path).read_text())
            defined[path] = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert name in defined[path], f"docs/compatibility.md names {path}::{name}, which does not exist"
