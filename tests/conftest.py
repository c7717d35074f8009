"""Fixtures shared by the test folders."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import playwright.sync_api as playwright_api  # a test dependency: missing is a failure, not a skip
import pytest

from tests.support.memcached import Memcached
from tests.support.redis import Redis

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags, chromium keeps trying hosts this closed network refuses.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright; one for the whole run."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def memcached(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Memcached]:
    """A real memcached for the whole run, shared by the tests (each uses keys of its own)."""
    server = Memcached(tmp_path_factory.mktemp("memcached"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    """A real redis-server for the whole run, shared by the tests (each uses keys of its own)."""
    server = Redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()
