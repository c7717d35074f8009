"""The renderers the namespace tests run on: each test once with xhtml5's, once with xhtml's."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from nagare.callbacks import Callbacks
from nagare.namespaces import xhtml, xhtml5

#: the session parameters a renderer adds to its links and forms
SESSION = {"_s": "abc", "_c": "00007"}


@pytest.fixture(params=[xhtml5, xhtml], ids=["xhtml5", "xhtml"])
def module(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def callbacks() -> Callbacks:
    return Callbacks()


@pytest.fixture
def h(module: ModuleType, callbacks: Callbacks) -> Any:
    """A renderer of an application at /app/, its static files at /static/app/."""
    return module.Renderer(callbacks=callbacks, session_params=dict(SESSION), static_url="/static/app/", url="/app/")
