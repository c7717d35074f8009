"""`Var`: a value holder whose call gets or sets it, so it can be an input's action.

Nagare 0.5 kept the value in `v.input`; `v.value` is the same attribute. Like any object, and
as in Nagare 0.5, a `Var` is equal only to itself and hashes by identity: compare the values,
`v() == w()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from nagare import presentation

if TYPE_CHECKING:
    from nagare.component import Component

T = TypeVar("T")

# `Any`, not `object`: the default of parameters of any type (`value: T = _MISSING`).
_MISSING: Any = object()


class Var(Generic[T]):
    """`v()` returns the value, `v(x)` sets it: `h.input(value=v()).action(v)` edits it.

    `Var('')` is a `Var[str]`; `Var()` holds None: `Var[int | None]()` for one that will hold
    integers.
    """

    @overload
    def __init__(self: Var[None]) -> None: ...

    @overload
    def __init__(self, value: T) -> None: ...

    def __init__(self, value: T | None = None) -> None:
        self.value: T = value  # type: ignore[assignment]  # None only through the first overload, where T is None

    @overload
    def __call__(self) -> T: ...

    @overload
    def __call__(self, value: T) -> T: ...

    def __call__(self, value: T = _MISSING) -> T:
        if value is _MISSING:
            return self.value
        self.value = value
        return value

    def get(self) -> T:
        return self.value

    def set(self, value: T) -> T:
        self.value = value
        return value

    # Stored as `value` (the states pickled before keep working); `input` is the 0.5 name.
    @property
    def input(self) -> T:
        """The value (the Nagare 0.5 name of `value`)."""
        return self.value

    @input.setter
    def input(self, value: T) -> None:
        self.value = value

    def render(self, renderer: object) -> str:
        """What the value shows as in a tag: its text, nothing for None (`h << v` does the same)."""
        return "" if self.value is None else str(self.value)

    def __repr__(self) -> str:
        return f"Var({self.value!r})"

    def __str__(self) -> str:
        return str(self.value)


@presentation.render_for(Var)
def _render_var(self: Var[object], h: object, comp: Component | None, model: object) -> str:
    return self.render(h)
