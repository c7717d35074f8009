"""The converters and the settings tables of nagare.config.settings."""

import math

import pytest

from nagare.config import loader
from nagare.config.settings import (
    Setting,
    Table,
    boolean,
    choice,
    integer,
    number,
    octal,
    string,
    string_list,
)
from nagare.errors import ConfigError


# --- boolean ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["on", "ON", "On", "true", "True", "yes", "YES", "1", " on ", True])
def test_boolean_true_spellings(text):
    assert boolean(text) is True


@pytest.mark.parametrize("text", ["off", "OFF", "false", "False", "no", "No", "0", " off\t", False])
def test_boolean_false_spellings(text):
    assert boolean(text) is False


@pytest.mark.parametrize("text", ["", "2", "oui", "enabled", "y", "n", "truee", "o n"])
def test_boolean_refuses_other_words(text):
    with pytest.raises(ValueError, match="on/off"):
        boolean(text)


# --- integer ---------------------------------------------------------------------------------


def test_integer_without_bounds():
    convert = integer()
    assert convert("42") == 42
    assert convert(" -7 ") == -7
    assert convert(12) == 12


@pytest.mark.parametrize("text", ["", "1.5", "ten", "0x10", "1e3", "12abc"])
def test_integer_refuses_non_integers(text):
    with pytest.raises(ValueError, match="whole number"):
        integer()(text)


def test_integer_range_is_inclusive():
    convert = integer(1, 10)
    assert convert("1") == 1
    assert convert("10") == 10
    with pytest.raises(ValueError, match="at least 1"):
        convert("0")
    with pytest.raises(ValueError, match="at most 10"):
        convert("11")


def test_integer_documents_its_range():
    assert integer(0, 65535).__doc__ == "a whole number from 0 to 65535"
    assert integer(1).__doc__ == "a whole number from 1"


# --- number ----------------------------------------------------------------------------------


def test_number_converts_and_checks_the_minimum():
    convert = number(0.05)
    assert convert("1") == 1.0
    assert convert("0.05") == pytest.approx(0.05)
    with pytest.raises(ValueError, match="at least 0.05"):
        convert("0.01")


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "Infinity"])
def test_number_refuses_non_finite(text):
    with pytest.raises(ValueError, match="finite"):
        number()(text)


def test_number_refuses_words():
    with pytest.raises(ValueError, match="expected a number"):
        number()("fast")


def test_number_result_is_finite_float():
    value = number()("2.5")
    assert isinstance(value, float) and math.isfinite(value)


# --- octal -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [("022", 0o22), ("0o22", 0o22), ("0O22", 0o22), ("0022", 0o22), ("22", 0o22), ("0", 0), ("777", 0o777), ("0o077", 0o77)],
)
def test_octal_as_unix_users_write_it(text, expected):
    assert octal(text) == expected


@pytest.mark.parametrize("text", ["", "0o", "8", "089", "0x22", "-022", "abc", "0o0o22", "2.2"])
def test_octal_refuses_non_octal(text):
    with pytest.raises(ValueError, match="octal"):
        octal(text)


def test_octal_refuses_more_than_the_permission_bits():
    with pytest.raises(ValueError, match="0o777"):
        octal("1000")


# --- choice, string, lists -------------------------------------------------------------------


def test_choice():
    convert = choice("apache", "nginx")
    assert convert(" nginx ") == "nginx"
    with pytest.raises(ValueError, match="one of apache, nginx"):
        convert("lighttpd")
    with pytest.raises(ValueError):
        convert("Apache")  # case matters


def test_string_joins_a_list_back():
    # ConfigObj turns an unquoted value with commas into a list.
    assert string(["a", "b"]) == "a, b"
    assert string("x") == "x"
    assert string(3) == "3"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("a, b ,c", ["a", "b", "c"]),
        (["a ", " b"], ["a", "b"]),
        ("", []),
        ("a,,b,", ["a", "b"]),
        ("single", ["single"]),
        ([], []),
    ],
)
def test_string_list(value, expected):
    assert string_list(value) == expected


# --- Table -----------------------------------------------------------------------------------


def make_table():
    return Table(
        "things",
        [
            Setting("flag", boolean, False, "a flag"),
            Setting("count", integer(0, 5), 2, "a count"),
            Setting("names", string_list, [], "names"),
            Setting("need", string, None, "required", required=True),
        ],
    )


def test_table_is_a_mapping_of_settings():
    table = make_table()
    assert table.section == "things"
    assert list(table) == ["flag", "count", "names", "need"]
    assert len(table) == 4
    assert table["count"].default == 2
    assert table.get("nope") is None
    assert table.defaults() == {"flag": False, "count": 2, "names": [], "need": None}


def test_table_extend_keeps_the_original():
    table = make_table()
    bigger = table.extend([Setting("extra", string, "x", "more")])
    assert "extra" in bigger and "extra" not in table
    assert bigger.section == "things"
    assert list(bigger)[:4] == list(table)


def test_check_converts_and_fills_defaults():
    result = loader.check("f.cfg", make_table(), {"flag": "yes", "names": "a, b", "need": "x"})
    assert result.as_dict() == {"flag": True, "count": 2, "names": ("a", "b"), "need": "x"}


def test_check_unknown_key_names_file_section_and_key():
    with pytest.raises(ConfigError) as info:
        loader.check("f.cfg", make_table(), {"colour": "red", "need": "x"})
    message = str(info.value)
    assert message.startswith("f.cfg: [things] colour: unknown key")
    assert "count, flag, names, need" in message
    assert "\n" not in message


def test_check_bad_value_names_the_value():
    with pytest.raises(ConfigError) as info:
        loader.check("f.cfg", make_table(), {"count": "9", "need": "x"})
    assert str(info.value) == "f.cfg: [things] count = '9': must be at most 5"
    assert (info.value.section, info.value.key, info.value.value) == ("things", "count", "9")


def test_check_required_key():
    with pytest.raises(ConfigError, match=r"f.cfg: \[things\] need: is required"):
        loader.check("f.cfg", make_table(), {})
    with pytest.raises(ConfigError, match="is required"):
        loader.check("f.cfg", make_table(), {"need": ""})


def test_check_overrides_beat_the_values_and_none_is_not_an_override():
    result = loader.check("f.cfg", make_table(), {"count": "1", "need": "x"}, {"count": "4", "flag": None})
    assert result.count == 4
    assert result.flag is False


def test_check_bad_override_is_reported_as_command_line():
    with pytest.raises(ConfigError) as info:
        loader.check("f.cfg", make_table(), {"need": "x"}, {"count": "many"})
    assert str(info.value).startswith("command line: [things] count = 'many'")


def test_check_override_of_a_key_the_table_lacks_is_a_config_error():
    with pytest.raises(ConfigError, match=r"\[things\] socket"):
        loader.check("f.cfg", make_table(), {"need": "x"}, {"socket": "/tmp/s"})


def test_check_ignored_keys_are_left_alone():
    result = loader.check("f.cfg", make_table(), {"need": "x", "maxSpare": "5"}, ignored=["maxSpare"])
    assert "maxSpare" not in result.as_dict()
