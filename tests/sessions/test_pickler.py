"""The state pickler: functions by reference to their code, cells, fallbacks, shared objects."""

from __future__ import annotations

import importlib
import pickle
import sys

import pytest

from nagare import state
from tests.support.pickling import dumps, loads

SAMPLES = '''
import functools

def make_counter(start):
    count = start
    def increase():
        nonlocal count
        count += 1
        return count
    def current():
        return count
    return increase, current

def make_lambda(x, y=2, *, z=3):
    return lambda a=10, *, b=20: (x, y, z, a, b)

def make_recursive():
    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)
    return fact

def decorate(f):
    @functools.wraps(f)
    def wrapper(*args):
        return f(*args)
    return wrapper

@decorate
def decorated(v):
    return lambda: ("decorated", v)

class View:
    def __init__(self, v):
        self.v = v
    def action(self):
        return lambda: ("method", self.v)
    @staticmethod
    def static(v):
        return lambda: ("static", v)
    @classmethod
    def klass(cls, v):
        return lambda: (cls.__name__, v)

IN_CLASS_BODY = {"double": lambda v: v * 2}

def module_level(v):
    return v + 1
'''


@pytest.fixture
def samples(tmp_path, monkeypatch):
    name = f"pickle_samples_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(SAMPLES)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield module
    sys.modules.pop(name, None)



def test_a_closure_is_pickled_without_its_code(samples):
    f = samples.make_lambda(1)
    data = dumps(f)
    assert f.__code__.co_code not in data  # the code stays in the module
    g = loads(data)
    assert g() == (1, 2, 3, 10, 20) and g(5, b=6) == (1, 2, 3, 5, 6)
    assert g.__qualname__ == f.__qualname__ and g.__module__ == samples.__name__


def test_a_closure_with_nothing_to_set_is_made_in_one_call(samples):
    # No defaults, no attributes: no state to set once made (the lambdas of the views).
    f = samples.View(4).action()
    data = dumps(f, primed=False)  # (primed, the reducers are not written by name)
    assert b"_set_function_state" not in data and b"_function" in data
    assert loads(data)() == ("method", 4)
    with_defaults = dumps(samples.make_lambda(1), primed=False)
    assert b"_set_function_state" in with_defaults and loads(with_defaults)() == (1, 2, 3, 10, 20)


def test_the_functions_of_states_stored_with_their_state_still_load(samples):
    # What the pickler wrote before (a state set after `_make_function` even when empty) loads.
    from nagare.sessions import pickler

    f = samples.View(4).action()
    reference = pickler._locate(f)
    data = dumps(_Old(reference, f.__closure__), primed=False)
    assert b"_set_function_state" in data and loads(data)() == ("method", 4)


class _Old:
    """Reduces to the former form of a function by reference: `_make_function`, then its state set."""

    def __init__(self, reference, closure):
        self.reference, self.closure = reference, closure

    def __reduce__(self):
        from nagare.sessions import pickler

        return pickler._make_function, (*self.reference, self.closure), (None, None, None), None, None, pickler._set_function_state


def test_globals_of_modules_not_imported_and_dotted_names_are_found(samples):
    import colorsys

    data = dumps((colorsys.rgb_to_hsv, samples.View.static, samples.View))
    sys.modules.pop("colorsys")
    try:
        function, static, view = loads(data)
        assert function(1, 0, 0) == (0.0, 1.0, 1) and "colorsys" in sys.modules
        assert static is samples.View.static and view is samples.View
    finally:
        sys.modules["colorsys"] = colorsys
    with pytest.raises(AttributeError):
        loads(pickle.dumps(samples.View).replace(b"View", b"Viex"))


def test_cells_shared_by_two_closures_stay_shared(samples):
    increase, current = loads(dumps(samples.make_counter(5)))
    assert increase() == 6 and current() == 6  # nonlocal rebinding seen by the other function


def test_a_recursive_closure(samples):
    assert loads(dumps(samples.make_recursive()))(5) == 120


def test_defaults_and_attributes_are_kept(samples):
    f = samples.make_lambda(1, 7, z=8)
    f.__defaults__ = (11,)
    f.extra = "attribute"
    g = loads(dumps(f))
    assert g() == (1, 7, 8, 11, 20) and g.extra == "attribute"


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda s: s.View(4).action(), ("method", 4)),
        (lambda s: s.View.static(5), ("static", 5)),
        (lambda s: s.View.klass(6), ("View", 6)),
        (lambda s: s.decorated(7), ("decorated", 7)),
    ],
)
def test_closures_in_methods_and_decorated_functions(samples, make, expected):
    f = make(samples)
    data = dumps(f)
    assert f.__code__.co_code not in data
    assert loads(data)() == expected


def test_module_level_functions_and_bound_methods_by_name(samples):
    view = samples.View(3)
    data = dumps((samples.module_level, view.action))
    f, method = loads(data)
    assert f is samples.module_level and method()() == ("method", 3)


def test_what_has_no_reference_falls_back_to_cloudpickle(samples):
    double = samples.IN_CLASS_BODY["double"]  # a lambda of a module's body: no enclosing function
    namespace: dict = {}
    exec("def made(v):\n    return v * 3", namespace)

    class Local:
        def __init__(self):
            self.v = 1

    d, made, local = loads(dumps((double, namespace["made"], Local())))
    assert d(4) == 8 and made(2) == 6 and local.v == 1


def test_changed_code_is_refused_not_run(samples, tmp_path):
    data = dumps(samples.make_lambda(1))
    path = tmp_path / f"{samples.__name__}.py"
    path.write_text(SAMPLES.replace("(x, y, z, a, b)", "('other code', x)"))
    importlib.invalidate_caches()
    importlib.reload(samples)
    with pytest.raises(pickle.UnpicklingError, match="changed since the state was stored"):
        loads(data)


def test_stateless_objects_are_referenced_and_resolved():
    @state.stateless
    class Cart:
        def __init__(self):
            self.items = []

    class Page:
        def __init__(self, cart):
            self.cart = cart
            self.title = "p"

    cart = Cart()
    shared: dict = {}
    data = dumps((Page(cart), Page(cart), Cart), shared)
    assert [obj for _, obj in shared.values()] == [cart]  # the class itself is not shared
    pid = next(iter(shared.values()))[0]
    replacement = Cart()
    a, b, klass = loads(data, {pid: replacement})
    assert a.cart is replacement and b.cart is replacement and klass is Cart


def test_unknown_shared_reference_is_an_unpickling_error():
    @state.stateless
    class Shared:
        pass

    data = dumps([Shared()], {})
    with pytest.raises(pickle.UnpicklingError, match="unknown shared object"):
        loads(data, {})


# -- the memo both sides start with (PRIMED) ---------------------------------------------------


def _framework_objects():
    from nagare import callbacks, component, var

    comp = component.Component(var.Var(1))
    registry = callbacks.Callbacks()
    registry.register(callbacks.LINK, len)
    return comp, registry


def test_the_framework_s_objects_are_referred_to_by_the_memo_both_sides_start_with():
    from nagare import callbacks, component, var
    from nagare.sessions import pickler

    comp, registry = _framework_objects()
    primed, plain = dumps((comp, registry)), dumps((comp, registry), primed=False)
    assert primed[:1] == pickler.PRIMED_V1 and plain[:1] == b"\x80"  # PROTO: a plain pickle
    for name in (b"nagare.component", b"Component", b"nagare.callbacks", b"Callbacks", b"nagare.var", b"_on_answer"):
        assert name in plain and name not in primed
    assert len(primed) < len(plain) - 100
    for data in (primed, plain):  # a plain one: a state stored before PRIMED_V1
        loaded, restored = loads(data)
        assert type(loaded) is component.Component and type(loaded.o) is var.Var and loaded.o() == 1
        assert type(restored) is callbacks.Callbacks and len(restored) == 1


def test_a_primed_pickle_refers_to_the_session_s_shared_objects():
    @state.stateless
    class Cart:
        pass

    cart, shared = Cart(), {}
    data = dumps([cart, cart], shared)
    pid = next(iter(shared.values()))[0]
    replacement = Cart()
    assert loads(data, {pid: replacement}) == [replacement, replacement]


def test_only_the_priming_has_persistent_ids():
    # A persistent id in the pickle itself (never written by the Pickler) is refused.
    data = b"\x01\x80\x05K\x00Q."  # PRIMED_V1, PROTO 5, BININT1 0, BINPERSID, STOP
    with pytest.raises(pickle.UnpicklingError, match="persistent id"):
        loads(data)
