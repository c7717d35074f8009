"""The documentation tells every configuration key, with its default."""

from __future__ import annotations

from pathlib import Path

import pytest

from nagare.config.application import APPLICATION, DATABASE
from nagare.config.publisher import RELOADER
from nagare.publishers import fastcgi
from nagare.publishers.standalone import Publisher
from nagare.sessions import memcache
from nagare.sessions.memory import Sessions

DOC = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
TABLES = [Publisher.SETTINGS, fastcgi.Publisher.SETTINGS, RELOADER, Sessions.SETTINGS, memcache.Sessions.SETTINGS, APPLICATION, DATABASE]


def shown(default):
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, float) and default.is_integer() and default != 5.0:
        return str(int(default))
    return str(default)


@pytest.mark.parametrize("setting", [(t.section, s) for t in TABLES for s in t.values()], ids=lambda p: f"{p[0]}.{p[1].name}")
def test_every_key_is_documented_with_its_default(setting):
    section, key = setting
    rows = [line for line in DOC.splitlines() if line.startswith(f"| `{key.name}` |")]
    assert rows, f"[{section}] {key.name} is not in docs/configuration.md"
    if key.default not in (None, "", []) and key.name not in ("secret",):
        assert any(f"`{shown(key.default)}`" in row for row in rows), f"[{section}] {key.name}: default {key.default!r} not shown"


def test_every_command_is_documented():
    from nagare.config.reference import entry_points

    for name in entry_points("nagare.commands"):
        assert f"`{name}" in DOC, f"command {name} is not in docs/configuration.md"
