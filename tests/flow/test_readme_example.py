"""The Task shown in README.md plays as the README says (the snippet is read out of the file)."""

from __future__ import annotations

import importlib.util
import pathlib
import re
import sys

from tests.flow.conftest import Flow

README = pathlib.Path(__file__).parents[2] / "README.md"


def readme_task(tmp_path, monkeypatch):
    text = README.read_text()
    snippet = re.search(r"```python\n(import random\n.*?class Guess\(component\.Task\):.*?)```", text, re.S).group(1)
    path = tmp_path / "readme_guess.py"
    path.write_text(snippet)
    spec = importlib.util.spec_from_file_location("readme_guess", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "readme_guess", module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module.random, "randint", lambda a, b: 42)
    return module.Guess


def test_the_readme_guessing_game_hints_counts_and_starts_again(tmp_path, monkeypatch):
    flow = Flow(readme_task(tmp_path, monkeypatch)(), host=False)
    assert flow.msg == "Your guess?"
    assert flow.answers("50", None, "30", None, "42") == ["Too high", "Your guess?", "Too low", "Your guess?", "Found in 3 attempts"]
    assert flow.answers(None) == ["Your guess?"]  # a root Task: a new game
