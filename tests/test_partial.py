"""nagare.partial: Partial (what `.action(f, *args, **kw)` registers), max_number_of_args, Decorator."""

from __future__ import annotations

import functools
import pickle

import pytest

from nagare.partial import Decorator, Partial, max_number_of_args
from tests.support.pickling import dumps, loads



def record(*args, **kw):
    return args, kw


class Account:
    def __init__(self, name):
        self.name = name

    def rename(self, prefix, name, suffix=""):
        self.name = prefix + name + suffix
        return self.name


# --- Partial ------------------------------------------------------------------------------


def test_call_time_positional_arguments_are_appended_and_keywords_override():
    p = Partial(record, 1, 2, a="bound", b="kept")
    assert p(3, a="call") == ((1, 2, 3), {"a": "call", "b": "kept"})
    assert p() == ((1, 2), {"a": "bound", "b": "kept"})


def test_a_partial_with_nothing_added_is_returned_as_is():
    p = Partial(record, 1)
    assert Partial(p) is p
    more = Partial(p, 2, k=3)
    assert more is not p and more(4) == ((1, 2, 4), {"k": 3})
    # flattened: calling it is one call, and its pickle holds one function
    assert more.func is record and more.args == (1, 2)
    plain = Partial(record)
    assert plain is not record and plain("x") == (("x",), {})


def test_a_function_keyword_does_not_clash_with_the_bound_callable():
    # the callable is positional-only: an application keyword may be called `func`
    assert Partial(record, func="mine")() == ((), {"func": "mine"})


def test_a_bound_method_with_arguments_pickles_and_runs():
    account = Account("old")
    p = Partial(account.rename, "Mr ", suffix="!")
    restored_account, restored = loads(dumps((account, p)))
    assert type(restored) is Partial
    assert restored("Smith") == "Mr Smith!" and restored_account.name == "Mr Smith!"
    assert account.name == "old"  # the copy changed, not the original


def test_a_closure_with_arguments_pickles_by_reference_to_its_code():
    def make(base):
        return lambda n, times=1: (base + n) * times

    p = Partial(make(10), 5, times=2)
    data = dumps(p)
    assert p.func.__code__.co_code not in data
    assert loads(data)() == 30


def test_the_pickle_is_no_bigger_than_functools_partial():
    for p, plain in (
        (Partial(record, 1, 2), functools.partial(record, 1, 2)),
        (Partial(record, 1, k=2), functools.partial(record, 1, k=2)),
    ):
        assert len(pickle.dumps(p, pickle.HIGHEST_PROTOCOL)) <= len(pickle.dumps(plain, pickle.HIGHEST_PROTOCOL))
        assert pickle.loads(pickle.dumps(p))() == p()


class Tagged(Partial):
    __slots__ = ()


def test_a_subclass_pickles_as_itself():
    p = Tagged(record, 1, k=2)
    restored = pickle.loads(pickle.dumps(p))
    assert type(restored) is Tagged and restored(3) == ((1, 3), {"k": 2})


# --- max_number_of_args ------------------------------------------------------------------


def test_max_number_of_args_passes_the_first_n_and_the_rest_as_args():
    @max_number_of_args(2)
    def f(a, b=None, args=None, **kw):
        return a, b, args, kw

    assert f(1, 2, 3, 4, k=5) == (1, 2, (3, 4), {"k": 5})
    assert f(1) == (1, None, (), {})
    assert f.__name__ == "f"
    # as an action with a bound argument and a value: the value goes to `args`
    assert Partial(f, "bound", "second")("value") == ("bound", "second", ("value",), {})


def test_max_number_of_args_refuses_a_bad_number():
    with pytest.raises(ValueError, match="max_number_of_args"):
        max_number_of_args(-1)
    with pytest.raises(ValueError, match="max_number_of_args"):
        max_number_of_args("2")


# --- Decorator ----------------------------------------------------------------------------


def logged(f, log, tag):
    """The replacement of `f`: logs what it is given, then calls it."""

    def call(*args, **kw):
        log.append((tag, getattr(f, "__self__", None), args))
        return f(*args, **kw)

    return call


LOG: list[object] = []


def permissions(tag):
    """A decorator factory, as `@security.permissions(perm)` is written."""
    return lambda f: Decorator(f, logged, LOG, tag)


def greet(name):
    """Say hello."""
    return "hello " + name


@permissions("fn")
def decorated_greet(name):
    """Say hello."""
    return "hello " + name


class Greeter:
    def __init__(self, who):
        self.who = who

    @permissions("method")
    def decorated(self, name):
        """Say hello as someone."""
        return self.who + " greets " + name


def test_a_decorated_function_calls_new_f_with_the_function_and_the_call_arguments():
    LOG.clear()
    assert decorated_greet("Ann") == "hello Ann"
    assert LOG == [("fn", None, ("Ann",))]
    assert decorated_greet.__name__ == "decorated_greet" and decorated_greet.__doc__ == "Say hello."
    assert decorated_greet.__wrapped__("Bo") == "hello Bo" and not isinstance(decorated_greet.__wrapped__, Decorator)


def test_a_decorated_method_gives_new_f_the_bound_method():
    LOG.clear()
    bob = Greeter("Bob")
    assert bob.decorated("Ann") == "Bob greets Ann"
    assert LOG == [("method", bob, ("Ann",))]  # new_f saw the instance: a default subject
    assert Greeter.decorated.__doc__ == "Say hello as someone."
    assert isinstance(Greeter.__dict__["decorated"], Decorator) and Greeter.decorated is Greeter.__dict__["decorated"]


def test_a_decorated_method_as_an_action_with_arguments_pickles():
    LOG.clear()
    bob = Greeter("Bob")
    action = Partial(bob.decorated, "Ann")
    restored = loads(dumps(action))
    assert restored() == "Bob greets Ann"
    assert restored.func.__qualname__ == "logged.<locals>.call"  # still the decorated method


def test_a_decorator_pickles_by_name():
    for decorator in (decorated_greet, Greeter.decorated):
        data = pickle.dumps(decorator)
        assert b"logged" not in data  # by name: neither the replacement nor its arguments
        assert pickle.loads(data) is decorator


def test_a_decorator_without_a_name_pickles_by_value():
    copy = pickle.loads(pickle.dumps(Decorator(greet, logged, [], "anonymous")))
    assert isinstance(copy, Decorator) and copy("Zoe") == "hello Zoe" and copy.args[1] == "anonymous"
