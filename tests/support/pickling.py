"""Pickle with the session pickler, as a state is stored (closures by reference to their code)."""

from __future__ import annotations

import io
from typing import Any

from nagare.sessions.pickler import Pickler, Unpickler


def dumps(obj: object, shared: dict[int, tuple[str, Any]] | None = None, primed: bool = True) -> bytes:
    """`obj` pickled; the stateless objects it holds go into `shared`, when given (`primed`: see
    `nagare.sessions.pickler.PRIMED`; False: a plain pickle, every global written by name)."""
    buffer = io.BytesIO()
    Pickler(buffer, shared, primed).dump(obj)
    return buffer.getvalue()


def loads(data: bytes, shared: dict[str, Any] | None = None) -> Any:
    """What `dumps` pickled, its stateless objects taken from `shared`."""
    return Unpickler(io.BytesIO(data), shared or {}).load()
