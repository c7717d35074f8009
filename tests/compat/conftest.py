"""The Nagare 0.5 fixture application (app05.py), served for real for the tests of this folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import NagareServer

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NagareServer]:
    """`nagare-admin serve app05.cfg` on a free port, in a folder of its own."""
    tmp = tmp_path_factory.mktemp("app05")
    for name in ("app05.py", "app05.cfg"):
        shutil.copy(HERE / name, tmp / name)
    server = NagareServer([str(tmp / "app05.cfg")], tmp)
    yield server
    server.stop()
