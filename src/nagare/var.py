"""`Var`: a value holder whose call gets or sets it, so it can be an input's action."""

from __future__ import annotations

from typing import Any

from nagare import presentation

_MISSING: Any = object()


class Var:
    """`v()` returns the value, `v(x)` sets it: `h.input(value=v()).action(v)` edits it."""

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __call__(self, value: Any = _MISSING) -> Any:
        if value is _MISSING:
            return self.value
        self.value = value
        return value

    def get(self) -> Any:
        return self.value

    def set(self, value: Any) -> Any:
        self.value = value
        return value

    def __repr__(self) -> str:
        return f"Var({self.value!r})"

    def __str__(self) -> str:
        return str(self.value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Var):
            return self.value == other.value
        return self.value == other

    __hash__ = None  # type: ignore[assignment]  # mutable holder


@presentation.render_for(Var)
def _render_var(self: Var, h: Any, comp: Any, model: object) -> Any:
    return "" if self.value is None else str(self.value)
