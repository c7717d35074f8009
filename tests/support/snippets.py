"""The configuration snippets of docs/deploying.md, read out of the page for the tests to run.

A snippet is the fenced code block that follows a marker line of the page:

    <!-- snippet: publisher -->
    ```ini
    [publisher]
    ...
    ```

(Markdown renders the marker as nothing.) The tests use a snippet byte for byte, except for its
placeholders, which `Snippet.fill` replaces: the addresses and ports become free loopback ones, each
given exactly by the test, `/path/to/nagare-admin` the nagare-admin of this Python, and the rest of
`/path/to` the test's folder (as the page says). A placeholder the snippet no longer holds, or a
`/path/to` left over, fails the test with the snippet's name: the page and its tests cannot drift
apart.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

DEPLOYING = Path(__file__).resolve().parents[2] / "docs" / "deploying.md"
NAGARE_ADMIN = Path(sys.executable).parent / "nagare-admin"  # the command `pip install` put beside this Python

_MARKER = re.compile(r"^<!-- snippet: ([\w.-]+) -->\n```([\w-]*)\n(.*?)^```$", re.M | re.S)
_ANY_MARKER = re.compile(r"^<!-- snippet: ([\w.-]+) -->$", re.M)


@dataclass(frozen=True)
class Snippet:
    """One fenced block of the page: its marker's name, its language tag and its text."""

    name: str
    language: str
    text: str

    def fill(self, placeholders: Mapping[str, str] | None = None, folder: Path | str | None = None) -> str:
        """The text with each of `placeholders` replaced, in order (each must be in the snippet),
        then the page's paths: `/path/to/nagare-admin` is the nagare-admin of this Python, and the
        rest of `/path/to` the test's `folder`. Without a folder, no `/path/to` may be left."""
        text = self.text
        for old, new in (placeholders or {}).items():
            if old not in text:
                pytest.fail(f"the snippet {self.name!r} of {DEPLOYING.name} has no {old!r} any more:\n{self.text}")
            text = text.replace(old, new)
        text = text.replace("/path/to/nagare-admin", str(NAGARE_ADMIN))
        if folder is not None:
            text = text.replace("/path/to", str(folder))
        if "/path/to" in text:
            line = next(line for line in text.splitlines() if "/path/to" in line)
            pytest.fail(f"the snippet {self.name!r} of {DEPLOYING.name} names a path the test does not map: {line.strip()!r}")
        return text


def snippets(page: Path = DEPLOYING) -> dict[str, Snippet]:
    """Every marked snippet of `page`, by name; a marker without its block right after fails."""
    text = page.read_text()
    found = {m.group(1): Snippet(m.group(1), m.group(2), m.group(3)) for m in _MARKER.finditer(text)}
    for name in _ANY_MARKER.findall(text):
        if name not in found:
            pytest.fail(f"the marker <!-- snippet: {name} --> of {page.name} is not followed by a fenced code block")
    if len(found) != len(_ANY_MARKER.findall(text)):
        pytest.fail(f"two markers of {page.name} have the same name")
    return found


def snippet(name: str, page: Path = DEPLOYING) -> Snippet:
    """The snippet marked `<!-- snippet: name -->` in `page` (docs/deploying.md)."""
    found = snippets(page)
    if name not in found:
        pytest.fail(f"{page.name} has no snippet {name!r} (a line `<!-- snippet: {name} -->` before a fenced block); it has {sorted(found)}")
    return found[name]


def terminal(text: str) -> list[tuple[str, str]]:
    """The `$ command` lines of a terminal snippet, each with the output that follows it."""
    session: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            session.append((line[2:], []))
        elif session:
            session[-1][1].append(line)
        else:
            pytest.fail(f"a terminal snippet of {DEPLOYING.name} starts with output, not a `$ ` command: {line!r}")
    return [(command, "".join(out + "\n" for out in output)) for command, output in session]
