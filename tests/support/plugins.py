"""Plug-ins that exist only in a test: a publisher type registered for its duration."""

from __future__ import annotations

import pytest

from nagare.config import publisher


class _EntryPoint:
    """What `publisher.entry_points()` lists: a name and a `load()`."""

    def __init__(self, name: str, plugin: type) -> None:
        self.name, self.value, self._plugin = name, f"tests:{plugin.__name__}", plugin

    def load(self) -> type:
        return self._plugin


def register_publisher(monkeypatch: pytest.MonkeyPatch, name: str, plugin: type) -> None:
    """`[publisher] type = <name>` selects `plugin` until the test ends."""
    real = publisher.entry_points
    extra = {name: _EntryPoint(name, plugin)}
    monkeypatch.setattr(publisher, "entry_points", lambda group: {**real(group), **extra} if group == publisher.PUBLISHERS else real(group))
