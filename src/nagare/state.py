"""Which objects belong to one state and which are shared by all the states of a session.

Each full-page request stores a new state: a copy of the component tree, so that the back
button shows (and acts on) the page as it was. An object marked `stateless` is stored once per
session instead, and every state sees its latest version: a shopping cart, a database handle,
a cache.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")

MARK = "_nagare_stateless"


def stateless(o: T) -> T:
    """Mark a class (all its instances) or one object as shared by all states of a session."""
    _mark(o, True)
    return o


def stateful(o: T) -> T:
    """Undo `stateless` for a subclass or one object: it is copied in each state again."""
    _mark(o, False)
    return o


def _mark(o: object, value: bool) -> None:
    try:
        setattr(o, MARK, value)
    except (AttributeError, TypeError):
        raise TypeError(f"{type(o).__name__} objects cannot be marked (no attributes)") from None


def is_stateless(o: object) -> bool:
    """True for objects marked `stateless` (directly or through their class)."""
    try:
        flag = vars(o).get(MARK)
    except TypeError:
        flag = None
    if flag is None:
        flag = getattr(type(o), MARK, False)
    return flag is True
