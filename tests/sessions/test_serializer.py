"""Pickling states with cloudpickle, sharing stateless objects, and refusing altered blobs."""

import os
import pickle
import stat
import sys
import threading
import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nagare import state
from nagare.errors import NagareError, StateError
from nagare.sessions import serializer
from nagare.sessions.serializer import MAC_SIZE, Serializer, load_secret

SID = "0123456789abcdef0123456789abcdef"
OTHER_SID = "fedcba9876543210fedcba9876543210"
SECRET = b"s" * 64

# --- objects of the states ------------------------------------------------------------------

UNPICKLED = []


def record_unpickling(tag):
    """Called by pickle when a `Trap` is loaded: proves whether anything was unpickled."""
    UNPICKLED.append(tag)
    return Trap(tag)


class Trap:
    def __init__(self, tag):
        self.tag = tag

    def __reduce__(self):
        return (record_unpickling, (self.tag,))


@pytest.fixture(autouse=True)
def clear_traps():
    UNPICKLED.clear()
    yield
    UNPICKLED.clear()


@state.stateless
class Cart:
    def __init__(self):
        self.items = []


class Thing:
    def __init__(self, value=0):
        self.value = value

    def increment(self, n=1):
        self.value += n
        return self.value


class Root:
    def __init__(self, cart, count=0):
        self.cart = cart
        self.count = count


def make_adder(n):
    def add(x):
        return x + n

    return add


def fresh():
    return Serializer(SECRET, "app")


# --- round trips ----------------------------------------------------------------------------


def test_round_trip_of_lambdas_closures_and_bound_methods():
    thing = Thing(5)
    offset = 10
    original = {
        "thing": thing,
        "lambda": lambda x: x * 2 + offset,
        "closure": make_adder(3),
        "bound": thing.increment,
        "local_class": type("Local", (), {"x": 7}),
    }
    state_blob, shared_blob = fresh().dumps(SID, original, {})
    loaded, shared = fresh().loads(SID, state_blob, shared_blob)
    assert loaded["lambda"](1) == 12
    assert loaded["closure"](4) == 7
    assert loaded["local_class"].x == 7
    # the bound method is bound to the loaded copy of the object, not to the original
    assert loaded["bound"].__self__ is loaded["thing"]
    assert loaded["bound"](2) == 7 and loaded["thing"].value == 7
    assert thing.value == 5
    assert shared == {}


def test_blobs_are_signed_bytes():
    state_blob, shared_blob = fresh().dumps(SID, [1, 2, 3], {})
    assert isinstance(state_blob, bytes) and isinstance(shared_blob, bytes)
    assert len(state_blob) > MAC_SIZE and len(shared_blob) > MAC_SIZE


def test_stateless_class_is_shared_by_the_states():
    s = fresh()
    cart = Cart()
    root = Root(cart, count=1)
    shared = {}
    state_a, _ = s.dumps(SID, root, shared)
    root.count = 2
    cart.items.append("apple")
    state_b, shared_blob = s.dumps(SID, root, shared)
    assert len(shared) == 1

    old, _ = s.loads(SID, state_a, shared_blob)
    assert old.count == 1  # stateful: as it was in state A
    assert old.cart.items == ["apple"]  # stateless: its latest version
    new, _ = s.loads(SID, state_b, shared_blob)
    assert new.count == 2 and new.cart.items == ["apple"]


def test_stateless_single_instance():
    s = fresh()
    special = state.stateless(Thing(1))
    ordinary = Thing(1)
    root = {"special": special, "ordinary": ordinary, "again": special}
    shared = {}
    state_a, _ = s.dumps(SID, root, shared)
    special.value = ordinary.value = 2
    _, shared_blob = s.dumps(SID, root, shared)
    loaded, new_shared = s.loads(SID, state_a, shared_blob)
    assert loaded["special"].value == 2
    assert loaded["ordinary"].value == 1
    assert loaded["again"] is loaded["special"]
    # the mapping handed back keeps the same persistent id for the next store
    assert [pid for pid, _ in new_shared.values()] == [pid for pid, _ in shared.values()]


def test_stateful_undoes_stateless_for_one_object():
    s = fresh()
    cart = state.stateful(Cart())
    shared = {}
    state_a, _ = s.dumps(SID, cart, shared)
    assert shared == {}
    cart.items.append("x")
    _, shared_blob = s.dumps(SID, cart, shared)
    assert s.loads(SID, state_a, shared_blob)[0].items == []


def test_shared_objects_survive_a_load_and_store_cycle():
    s = fresh()
    root = Root(Cart())
    state_a, shared_blob = s.dumps(SID, root, {})
    loaded, shared = s.loads(SID, state_a, shared_blob)
    loaded.cart.items.append("pear")
    state_b, shared_blob = s.dumps(SID, loaded, shared)
    assert s.loads(SID, state_a, shared_blob)[0].cart.items == ["pear"]
    assert len(shared) == 1


def test_state_referring_to_a_missing_shared_object():
    s = fresh()
    state_blob, _ = s.dumps(SID, Root(Cart()), {})
    with pytest.raises(StateError, match="unknown shared object"):
        s.loads(SID, state_blob, None)


def test_authentic_state_that_no_longer_loads():
    module = types.ModuleType("nagare_test_vanishing")
    sys.modules[module.__name__] = module
    try:
        exec("class Gone:\n    pass\n", module.__dict__)
        module.Gone.__module__ = module.__name__
        s = fresh()
        state_blob, shared_blob = s.dumps(SID, module.Gone(), {})
        del module.Gone  # the application's code changed under the stored state
        with pytest.raises(StateError, match="cannot be loaded: AttributeError"):
            s.loads(SID, state_blob, shared_blob)
    finally:
        del sys.modules[module.__name__]


# --- authentication -------------------------------------------------------------------------


def trapped_blobs():
    """A state and a shared blob that each record their unpickling."""
    holder = state.stateless(Thing(Trap("shared")))
    state_blob, shared_blob = fresh().dumps(SID, {"trap": Trap("state"), "holder": holder}, {})
    loaded, _ = fresh().loads(SID, state_blob, shared_blob)  # they are valid
    assert sorted(UNPICKLED) == ["shared", "state"]
    assert loaded["holder"].value.tag == "shared"
    UNPICKLED.clear()
    return state_blob, shared_blob


def flip(blob, position):
    data = bytearray(blob)
    data[position] ^= 0x01
    return bytes(data)


def test_every_flipped_byte_of_the_state_blob_is_refused_before_unpickling():
    state_blob, shared_blob = trapped_blobs()
    s = fresh()
    for position in range(len(state_blob)):
        with pytest.raises(StateError):
            s.loads(SID, flip(state_blob, position), shared_blob)
    assert UNPICKLED == []


def test_every_flipped_byte_of_the_shared_blob_is_refused_before_unpickling():
    state_blob, shared_blob = trapped_blobs()
    s = fresh()
    for position in range(len(shared_blob)):
        with pytest.raises(StateError):
            s.loads(SID, state_blob, flip(shared_blob, position))
    assert UNPICKLED == []


def test_a_session_that_shares_nothing_stores_the_pickle_of_an_empty_mapping():
    s = fresh()
    state_blob, shared_blob = s.dumps(SID, {"n": 1}, {})
    assert shared_blob[MAC_SIZE:] == pickle.dumps({}, protocol=5)
    assert s.loads(SID, state_blob, shared_blob) == ({"n": 1}, {})
    for position in range(len(shared_blob)):  # its MAC is checked all the same
        with pytest.raises(StateError):
            s.loads(SID, state_blob, flip(shared_blob, position))
    with pytest.raises(StateError):
        s.loads(OTHER_SID, state_blob, s.dumps(OTHER_SID, {}, {})[1])


def test_the_shared_blob_of_a_session_sharing_nothing_is_signed_once_and_checked_all_the_same():
    # The signed blob is kept per session: the same bytes, still refused when altered or moved.
    s = fresh()
    state_blob, shared_blob = s.dumps(SID, {"n": 1}, {})
    assert s.dumps(SID, {"n": 2}, {})[1] == shared_blob == fresh().dumps(SID, {}, {})[1]
    assert fresh().loads(SID, state_blob, shared_blob) == ({"n": 1}, {})  # no kept blob: verified
    other_state, other_shared = s.dumps(OTHER_SID, {"n": 3}, {})
    assert other_shared != shared_blob
    for position in range(len(shared_blob)):
        with pytest.raises(StateError):
            s.loads(SID, state_blob, flip(shared_blob, position))
    with pytest.raises(StateError):
        s.loads(SID, state_blob, other_shared)  # another session's
    with pytest.raises(StateError):
        s.loads(SID, state_blob, bytearray(flip(shared_blob, MAC_SIZE)))
    assert s.loads(SID, state_blob, bytearray(shared_blob)) == ({"n": 1}, {})
    assert s.loads(OTHER_SID, other_state, other_shared) == ({"n": 3}, {})


def test_blobs_moved_to_another_session_are_refused():
    state_blob, shared_blob = trapped_blobs()
    with pytest.raises(StateError, match="not authentic"):
        fresh().loads(OTHER_SID, state_blob, shared_blob)
    assert UNPICKLED == []


def test_state_and_shared_blobs_cannot_be_swapped():
    state_blob, shared_blob = trapped_blobs()
    with pytest.raises(StateError):
        fresh().loads(SID, shared_blob, state_blob)
    assert UNPICKLED == []


@pytest.mark.parametrize("length", [0, 1, MAC_SIZE - 1, MAC_SIZE, MAC_SIZE + 1, -1])
def test_truncated_blobs_are_refused(length):
    state_blob, shared_blob = trapped_blobs()
    with pytest.raises(StateError):
        fresh().loads(SID, state_blob[:length], shared_blob)
    with pytest.raises(StateError):
        fresh().loads(SID, state_blob, shared_blob[:length])
    assert UNPICKLED == []


def test_not_bytes_is_refused():
    with pytest.raises(StateError, match="truncated"):
        fresh().loads(SID, "text" * 20, None)


def test_another_secret_or_application_refuses_the_blobs():
    state_blob, shared_blob = trapped_blobs()
    with pytest.raises(StateError):
        Serializer(b"t" * 64, "app").loads(SID, state_blob, shared_blob)
    with pytest.raises(StateError):
        Serializer(SECRET, "other-app").loads(SID, state_blob, shared_blob)
    assert UNPICKLED == []


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.sampled_from(["state", "shared"]),
    edits=st.lists(
        st.tuples(st.sampled_from(["flip", "insert", "delete"]), st.integers(0, 10_000), st.integers(1, 255)),
        min_size=1,
        max_size=5,
    ),
)
def test_random_mutations_never_unpickle(target, edits):
    state_blob, shared_blob = CLEAN_BLOBS
    data = bytearray(state_blob if target == "state" else shared_blob)
    for op, position, value in edits:
        position %= len(data) + 1
        if op == "insert":
            data.insert(position, value)
        elif op == "delete" and position < len(data):
            del data[position]
        elif op == "flip" and position < len(data):
            data[position] ^= value
    if bytes(data) == (state_blob if target == "state" else shared_blob):
        return  # the edits undid each other
    blobs = (bytes(data), shared_blob) if target == "state" else (state_blob, bytes(data))
    UNPICKLED.clear()
    with pytest.raises(StateError):
        fresh().loads(SID, *blobs)
    assert UNPICKLED == []


CLEAN_BLOBS = fresh().dumps(SID, {"trap": Trap("state"), "holder": state.stateless(Thing(Trap("shared")))}, {})


# --- the deployment secret ------------------------------------------------------------------


@pytest.fixture
def secret_file(tmp_path, monkeypatch):
    path = tmp_path / "conf" / "nagare" / "secret"
    monkeypatch.setenv(serializer.SECRET_ENV, str(path))
    return path


def test_configured_secret_wins(secret_file):
    assert load_secret("my configured secret") == b"my configured secret"
    assert not secret_file.exists()


def test_generated_once_and_kept_owner_only(secret_file):
    first = load_secret("")
    assert len(first) >= 32
    assert secret_file.read_bytes().strip() == first
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    assert load_secret(None) == first
    assert [p.name for p in secret_file.parent.iterdir()] == ["secret"]  # no temporary file left


def test_existing_secret_file_is_used(secret_file):
    secret_file.parent.mkdir(parents=True)
    secret_file.write_bytes(b"k" * 40 + b"\n")
    assert load_secret("") == b"k" * 40


def test_too_short_secret_file_is_refused(secret_file):
    secret_file.parent.mkdir(parents=True)
    secret_file.write_bytes(b"\n")
    with pytest.raises(NagareError) as info:
        load_secret("")
    assert str(secret_file) in str(info.value)
    assert secret_file.read_bytes() == b"\n"  # left for the user to look at


def test_unwritable_place_is_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(serializer.SECRET_ENV, str(blocker / "secret"))
    with pytest.raises(NagareError) as info:
        load_secret("")
    assert "session secret" in str(info.value) and str(blocker) in str(info.value)
    assert "\n" not in str(info.value)


def test_concurrent_first_starts_agree_on_one_secret(secret_file):
    results, errors = [], []
    barrier = threading.Barrier(16)

    def start():
        barrier.wait()
        try:
            results.append(load_secret(""))
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            errors.append(exc)

    for _ in range(5):
        if secret_file.exists():
            secret_file.unlink()
        results.clear()
        threads = [threading.Thread(target=start) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(set(results)) == 1 and len(results[0]) >= 32
