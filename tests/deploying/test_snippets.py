"""Every snippet of docs/deploying.md is read by a test: none can go stale unnoticed."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.snippets import snippets

TESTS = Path(__file__).resolve().parents[1]


def test_every_snippet_of_the_page_is_read_by_a_test() -> None:
    found = snippets()
    assert {"publisher", "serve", "application", "nginx", "apache", "lighttpd", "supervisord", "systemd", "redis"} <= set(found)
    read = set()
    for path in TESTS.rglob("*.py"):
        read.update(re.findall(r"""\bsnippet\(\s*["']([\w.-]+)["']""", path.read_text()))
    unread = sorted(set(found) - read)
    assert not unread, f"snippets of docs/deploying.md that no test reads: {unread}"
    unknown = sorted(read - set(found))
    assert not unknown, f"tests read snippets docs/deploying.md does not have: {unknown}"
