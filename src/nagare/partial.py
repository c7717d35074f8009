"""Partial application that goes into the session: the arguments bound to an action.

    h.a('7').action(self.digit, 7)          # registers Partial(self.digit, 7): calls digit(7)
    h.input.action(self.set, 'name')        # Partial(self.set, 'name'): calls set('name', value)

The renderer binds the extra arguments of `.action()` with `Partial`; the registry of the state
keeps it, so it is pickled with the state. It is `functools.partial` (call-time positional
arguments appended, keywords overriding the bound ones, nested partials flattened, called in C)
with one twist of Nagare 0.5: `Partial(p)` of a `Partial` with nothing to add is `p` itself.

`max_number_of_args(n)` and `Decorator` are the other two names of Nagare 0.5's module; `Decorator`
is what a method decorator such as `@security.permissions(...)` is made of.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["Decorator", "Partial", "max_number_of_args"]


class Partial(functools.partial[Any]):
    """`func` with `args` and `keywords` bound: `Partial(f, 1, a=2)(3, a=4)` is `f(1, 3, a=4)`."""

    __slots__ = ()

    def __new__(cls, func: Callable[..., Any], /, *args: Any, **keywords: Any) -> Partial:
        if not args and not keywords and isinstance(func, Partial):
            return func
        return super().__new__(cls, func, *args, **keywords)

    def __reduce__(self) -> tuple[Any, ...]:
        # functools.partial's own reduce names the class and the function twice and calls
        # `Partial(func)` on loading, which the shortcut above would turn into `func` itself.
        keywords = self.keywords or None
        if type(self) is Partial:
            return _restore, (self.func, self.args, keywords)
        return _restore, (self.func, self.args, keywords, type(self))


def _restore(
    func: Callable[..., Any], args: tuple[Any, ...], keywords: dict[str, Any] | None, cls: type[Partial] = Partial
) -> Partial:
    """A pickled `Partial` loaded (a module-level function: pickled by its name)."""
    return functools.partial.__new__(cls, func, *args, **(keywords or {}))


def max_number_of_args(n: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator: the function gets its first `n` positional arguments, the others as `args=`.

    `args` is always given, a tuple (empty when there were `n` or fewer): a function written for
    this decorator can rely on it. An action that may be called with more arguments than it
    wants (a request and response, a value) can so take what it needs.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"max_number_of_args() needs a number of arguments >= 0, not {n!r}")

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def limited(*args: Any, **keywords: Any) -> Any:
            return f(*args[:n], args=args[n:], **keywords)

        return limited

    return decorate


class Decorator:
    """`f` decorated by `new_f(f, *args, **kw)` at each use, itself bound when `f` is a method.

    `new_f(f, *args, **kw)` returns the callable that replaces `f`. Read on an instance, a
    `Decorator` gives `new_f(f bound to the instance, *args, **kw)`: the replacement sees the
    bound method, and so the instance (`bound.__self__`) — which is how
    `@security.permissions(perm)` takes the object as the default subject. Called directly (a
    decorated function), it calls `new_f(f, *args, **kw)` with the arguments of the call.

        def logged(f, prefix):
            def call(*args, **kw):
                print(prefix, f.__name__)
                return f(*args, **kw)
            return call

        class Account:
            delete = Decorator(delete, logged, 'deleting')  # as a decorator factory would write it

    The name, docstring and `__wrapped__` of `f` are kept. A `Decorator` stored at module level or
    as a class attribute pickles by its qualified name, as the function it decorates would; any
    other by value.
    """

    def __init__(self, f: Callable[..., Any], new_f: Callable[..., Callable[..., Any]], *args: Any, **kw: Any) -> None:
        self.f = f
        self.new_f = new_f
        self.args = args
        self.kw = kw
        functools.update_wrapper(self, f)

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self  # read on the class: the decorator itself (pickling by name needs it)
        get = getattr(type(self.f), "__get__", None)
        f = get(self.f, instance, owner) if get is not None else self.f
        return self.new_f(f, *self.args, **self.kw)

    def __call__(self, *args: Any, **kw: Any) -> Any:
        return self.new_f(self.f, *self.args, **self.kw)(*args, **kw)

    def __reduce__(self) -> str | tuple[Any, ...]:
        # By name when the name leads back to this object (a decorated function or method, the
        # usual case); pickle then stores the module and the qualified name only.
        qualname = getattr(self, "__qualname__", None)
        module = sys.modules.get(getattr(self, "__module__", None) or "")
        if isinstance(qualname, str) and module is not None:
            found: Any = module
            try:
                for name in qualname.split("."):
                    found = getattr(found, name)
            except AttributeError:
                found = None
            if found is self:
                return qualname
        return _rebuild, (self.f, self.new_f, self.args, self.kw)


def _rebuild(
    f: Callable[..., Any], new_f: Callable[..., Callable[..., Any]], args: tuple[Any, ...], kw: dict[str, Any]
) -> Decorator:
    """A pickled `Decorator` that has no importable name, loaded."""
    return Decorator(f, new_f, *args, **kw)
