"""The checked values of a section: frozen, typed where declared, with replace()."""

import copy
import dataclasses
import pickle

import pytest

from nagare.config import loader
from nagare.config.rules import RuleError, at_most
from nagare.config.settings import Setting, Table, boolean, integer, string, string_list
from nagare.config.values import Values


class PoolSettings(Values):
    size: int
    spare: int
    names: tuple[str, ...]
    debug: bool


POOL = Table(
    "pool",
    [
        Setting("size", integer(1), 4, "workers"),
        Setting("spare", integer(0), 1, "idle workers kept"),
        Setting("names", string_list, [], "names"),
        Setting("debug", boolean, False, "debug"),
    ],
    rules=[at_most("spare", "size")],
    values_class=PoolSettings,
)
PLAIN = Table("plain", [Setting("host", string, "127.0.0.1", "host"), Setting("class", string, "x.Y", "a class")])


def pool(**found):
    return loader.check("pool.cfg", POOL, {key: str(value) for key, value in found.items()})


def test_keys_are_attributes_of_their_declared_type():
    settings = pool(size=8, names="a, b")
    assert isinstance(settings, PoolSettings)
    assert (settings.size, settings.spare, settings.names, settings.debug) == (8, 1, ("a", "b"), False)


def test_a_table_without_a_class_gives_plain_values():
    settings = loader.check(None, PLAIN, {"host": "0.0.0.0"})
    assert type(settings) is Values
    assert settings.host == "0.0.0.0"


def test_a_python_keyword_is_read_with_an_underscore():
    settings = loader.check(None, PLAIN, {"class": "logging.FileHandler"})
    assert settings.class_ == "logging.FileHandler"
    assert settings.as_dict()["class"] == "logging.FileHandler"
    assert settings.replace(class_="a.B").class_ == "a.B"


def test_an_unknown_attribute_names_the_section_and_the_known_keys():
    with pytest.raises(AttributeError) as info:
        pool().sise
    assert str(info.value) == "[pool] has no key 'sise' (known keys: debug, names, size, spare)"
    assert not hasattr(pool(), "_private")


def test_assignment_and_deletion_raise():
    settings = pool()
    with pytest.raises(dataclasses.FrozenInstanceError, match=r"\[pool\] settings are read-only: use replace\(size=...\)"):
        settings.size = 3
    with pytest.raises(AttributeError):
        settings.other = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        del settings.size
    assert settings.size == 4


def test_lists_are_frozen_and_defaults_are_not_shared():
    first, second = pool(), pool(names="a")
    assert first.names == () and second.names == ("a",)
    assert POOL["names"].default == []  # the table's default is left as it is
    with pytest.raises(AttributeError):
        first.names.append("x")  # type: ignore[attr-defined]


def test_repr_shows_the_class_or_the_section():
    assert repr(pool()) == "PoolSettings(size=4, spare=1, names=(), debug=False)"
    assert repr(loader.check(None, PLAIN, {})) == "Values[plain](host='127.0.0.1', class_='x.Y')"


def test_equality_and_hash():
    assert pool(size=8) == pool(size="8") and hash(pool(size=8)) == hash(pool(size="8"))
    assert pool(size=8) != pool(size=9)
    assert pool() != pool().as_dict()  # a dict is not settings: compare as_dict() for that
    assert len({pool(), pool(), pool(size=2)}) == 2
    same_keys = Table("other", POOL.values(), values_class=PoolSettings)
    assert loader.check(None, same_keys, {}) != pool()  # another section


def test_replace_gives_a_new_object_and_keeps_the_original():
    settings = pool()
    changed = settings.replace(size=10, debug=True)
    assert (changed.size, changed.debug) == (10, True)
    assert (settings.size, settings.debug) == (4, False)
    assert isinstance(changed, PoolSettings)
    assert changed.replace(names=["x"]).names == ("x",)  # frozen too


def test_replace_refuses_an_unknown_key():
    with pytest.raises(TypeError, match=r"\[pool\] has no key 'sise'"):
        pool().replace(sise=3)


def test_replace_checks_the_rules():
    with pytest.raises(RuleError) as info:
        pool().replace(spare=5)
    assert str(info.value) == "<configuration>: [pool] spare = 5, size = 4: spare must not exceed size"


def test_values_are_not_read_by_key():
    settings = loader.check(None, PLAIN, {"class": "a.B"})
    with pytest.raises(TypeError):
        settings["host"]  # type: ignore[index]


def test_copies_are_the_object_itself_and_pickling_is_refused():
    settings = pool()
    assert copy.copy(settings) is settings and copy.deepcopy({"s": settings})["s"] is settings
    with pytest.raises(TypeError, match=r"\[pool\] settings cannot be pickled"):
        pickle.dumps(settings)


def test_values_need_exactly_the_keys_of_their_table():
    with pytest.raises(TypeError, match="missing: spare"):
        PoolSettings(POOL, {"size": 1, "names": (), "debug": False})
    with pytest.raises(TypeError, match="unknown: colour"):
        Values(PLAIN, {"host": "h", "class": "c", "colour": "red"})


# --- what a table checks when it is built (import time: a mistake of the code, not of the user) ---


def test_a_values_class_must_declare_exactly_the_keys():
    class Partial(Values):
        size: int

    with pytest.raises(TypeError, match=r"Partial does not declare the keys of \[pool\]: missing debug, names, spare, unknown -"):
        Table("pool", POOL.values(), values_class=Partial)

    class Extra(PoolSettings):
        colour: str

    with pytest.raises(TypeError, match="missing -, unknown colour"):
        Table("pool", POOL.values(), values_class=Extra)


def test_keys_must_be_identifiers():
    with pytest.raises(ValueError, match="'max-spare': a key is read as an attribute"):
        Table("pool", [Setting("max-spare", integer(), 1, "")])
    with pytest.raises(ValueError, match="'_hidden'"):
        Table("pool", [Setting("_hidden", integer(), 1, "")])
    with pytest.raises(ValueError, match="'replace': the name of a method of the values"):
        Table("pool", [Setting("replace", boolean, False, "")])


def test_extend_keeps_the_rules_and_records_its_base():
    bigger = POOL.extend([Setting("timeout", integer(0), 5, "seconds")], rules=[at_most("size", "timeout")])
    assert bigger.rules == (*POOL.rules, bigger.rules[-1]) and bigger.base is POOL
    assert type(loader.check(None, bigger, {})) is Values  # the base's class does not fit the new keys
    with pytest.raises(RuleError, match="spare must not exceed size"):
        loader.check("f.cfg", bigger, {"spare": "5"})
    with pytest.raises(RuleError, match="size must not exceed timeout"):
        loader.check("f.cfg", bigger, {"size": "6"})
