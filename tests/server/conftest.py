"""Fixtures of the server tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.memcached import Memcached


@pytest.fixture(scope="session")
def memcached() -> Iterator[Memcached]:
    """A real memcached for the front-server tests."""
    server = Memcached()
    yield server
    server.stop()
