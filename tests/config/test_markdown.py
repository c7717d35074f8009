"""The key tables of the documentation, written from the settings tables."""

import sys
import types

import pytest

from nagare.config import markdown
from nagare.config.settings import Setting, Table, boolean, integer, number, string, string_list
from nagare.errors import NagareError

BASE = Table("demo", [Setting("type", string, "one", "the type")])
TABLE = BASE.extend(
    [
        Setting("path", string, None, "where | how", required=True),
        Setting("flag", boolean, True, "a flag"),
        Setting("count", integer(0), 3, "a count"),
        Setting("delay", number(0), 1.0, "seconds"),
        Setting("ratio", number(0), 0.25, "a ratio"),
        Setting("names", string_list, ["a", "b"], "names"),
        Setting("empty", string_list, [], "none"),
        Setting("text", string, "", "nothing"),
        Setting("unset", integer(), None, "unset"),
    ]
)


@pytest.fixture
def module(monkeypatch):
    """A module `demo_tables_xyz` holding the tables, for the markers to name."""
    tables = types.ModuleType("demo_tables_xyz")
    tables.BASE, tables.TABLE = BASE, TABLE
    monkeypatch.setitem(sys.modules, "demo_tables_xyz", tables)
    return tables


def test_defaults_as_a_user_writes_them():
    shown = {s.name: markdown.default_text(s) for s in TABLE.values()}
    assert shown == {
        "type": "`one`", "path": "(required)", "flag": "`on`", "count": "`3`", "delay": "`1`", "ratio": "`0.25`",
        "names": "`a, b`", "empty": "(none)", "text": "(none)", "unset": "(none)",
    }


def test_an_extended_table_lists_what_it_adds_or_changes():
    assert markdown.markdown(BASE) == "| key | default | meaning |\n|---|---|---|\n| `type` | `one` | the type |\n"
    text = markdown.markdown(TABLE)
    assert "`type`" not in text and "| `path` | (required) | where \\| how |\n" in text
    changed = TABLE.extend([Setting("type", string, "two", "the type")])
    assert "| `type` | `two` | the type |" in markdown.markdown(changed)
    assert "`type`" in markdown.markdown(TABLE, complete=True)


def test_update_writes_the_marked_tables(module):
    doc = "# Demo\n\n<!-- settings demo_tables_xyz:BASE -->\nstale\n<!-- end settings -->\n\nprose\n"
    assert markdown.references(doc) == ["demo_tables_xyz:BASE"]
    updated = markdown.update(doc)
    assert updated == "# Demo\n\n<!-- settings demo_tables_xyz:BASE -->\n" + markdown.markdown(BASE) + "<!-- end settings -->\n\nprose\n"
    assert markdown.update(updated) == updated


def test_a_key_added_or_a_default_changed_changes_the_doc(module):
    doc = markdown.update("<!-- settings demo_tables_xyz:BASE -->\n<!-- end settings -->\n")
    module.BASE = BASE.extend([Setting("added", string, "x", "new")])
    assert "| `added` | `x` | new |" in markdown.update(doc)
    module.BASE = Table("demo", [Setting("type", string, "other", "the type")])
    assert markdown.update(doc) != doc


def test_a_marker_naming_no_table(module):
    module.COUNT = 3
    with pytest.raises(NagareError, match="'demo_tables_xyz:COUNT' is not a settings table"):
        markdown.update("<!-- settings demo_tables_xyz:COUNT -->\n<!-- end settings -->\n")
    with pytest.raises(NagareError, match="no 'NOPE' in it"):
        markdown.update("<!-- settings demo_tables_xyz:NOPE -->\n<!-- end settings -->\n")


def test_the_command_writes_and_checks(module, tmp_path, capsys):
    path = tmp_path / "doc.md"
    path.write_text("<!-- settings demo_tables_xyz:BASE -->\n<!-- end settings -->\n")
    assert markdown.main([str(path), "--check"]) == 1
    assert "the key tables differ" in capsys.readouterr().err
    assert markdown.main([str(path)]) == 0
    assert "| `type` | `one` | the type |" in path.read_text()
    assert markdown.main([str(path), "--check"]) == 0
    path.write_text("<!-- settings demo_tables_xyz:NOPE -->\n<!-- end settings -->\n")
    assert markdown.main([str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"{path}: 'demo_tables_xyz:NOPE': no 'NOPE' in it")
