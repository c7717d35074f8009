import re

import pytest

from nagare import validator
from nagare.validator import EmailValidator, IntValidator, StringValidator, Validator


def error_of(f, *args, **kw):
    with pytest.raises(ValueError) as info:
        f(*args, **kw)
    return info.value.args[0]


# --- IntValidator: conversion ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [("12", 12), (" 12 ", 12), ("-3", -3), ("+7", 7), ("0", 0), (42, 42), (5.0, 5), (b"9", 9), ("\t10\n", 10)],
)
def test_int_converts(value, expected):
    v = IntValidator(value)
    assert v.to_int() == expected
    assert type(v.to_int()) is int
    assert v() == expected
    assert int(v) == expected
    assert v.value == expected


@pytest.mark.parametrize("value", ["", "   ", "abc", "1.5", "12a", "1 2", None, 1.5, [], True, object()])
def test_int_rejects(value):
    assert error_of(IntValidator, value) == "Must be an integer"


def test_int_custom_conversion_message():
    assert error_of(IntValidator, "x", msg="Enter a number") == "Enter a number"


def test_int_base():
    assert IntValidator("ff", base=16).to_int() == 255
    assert IntValidator("0x1F", base=0).to_int() == 31
    assert error_of(IntValidator, "ff") == "Must be an integer"


def test_int_usable_as_index():
    assert [10, 20, 30][IntValidator("1")] == 20


def test_int_strip_chars():
    assert IntValidator("xx12xx", chars="x").to_int() == 12
    assert error_of(IntValidator, "xx12xx") == "Must be an integer"
    assert error_of(IntValidator, "xx12", strip=False, rstrip=True, chars="x") == "Must be an integer"
    assert IntValidator("xx12", strip=False, lstrip=True, chars="x").to_int() == 12
    assert IntValidator("12xx", strip=False, rstrip=True, chars="x").to_int() == 12
    assert IntValidator("x12x", strip=False, lstrip=True, rstrip=True, chars="x").to_int() == 12


# --- IntValidator: checks --------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, limit, good, bad, message",
    [
        ("lesser_than", 10, 9, 10, "Must be lesser than 10"),
        ("lesser_or_equal_than", 10, 10, 11, "Must be lesser or equal than 10"),
        ("greater_than", 10, 11, 10, "Must be greater than 10"),
        ("greater_or_equal_than", 10, 10, 9, "Must be greater or equal than 10"),
        ("equal_to", 10, 10, 11, "Must be equal to 10"),
    ],
)
def test_int_checks(method, limit, good, bad, message):
    v = IntValidator(str(good))
    assert getattr(v, method)(limit) is v
    assert v.to_int() == good
    assert error_of(getattr(IntValidator(str(bad)), method), limit) == message
    assert error_of(getattr(IntValidator(str(bad)), method), limit, msg="nope") == "nope"
    assert error_of(getattr(IntValidator(str(bad)), method), limit, "positional") == "positional"


def test_int_check_bounds_are_exact():
    IntValidator("-1").lesser_than(0)
    assert error_of(IntValidator("0").lesser_than, 0) == "Must be lesser than 0"
    IntValidator("0").lesser_or_equal_than(0)
    assert error_of(IntValidator("0").greater_than, 0) == "Must be greater than 0"
    IntValidator("0").greater_or_equal_than(0)
    assert error_of(IntValidator("-1").greater_or_equal_than, 0) == "Must be greater or equal than 0"


def test_int_chaining():
    assert IntValidator(" 15 ").greater_than(10).lesser_than(20).equal_to(15).to_int() == 15
    assert int(IntValidator("15").greater_or_equal_than(15).lesser_or_equal_than(15)) == 15
    assert IntValidator("15").greater_than(10)() == 15


def test_int_chain_stops_at_first_failure():
    v = IntValidator("5")
    with pytest.raises(ValueError) as info:
        v.greater_than(0).lesser_than(3).greater_than(10)
    assert info.value.args == ("Must be lesser than 3",)


def test_message_formatting_styles():
    assert error_of(IntValidator("5").greater_than, 10, msg="{value} is not above {min}") == "5 is not above 10"
    assert error_of(IntValidator("5").greater_than, 10, msg="%(value)d <= %(min)d") == "5 <= 10"
    assert error_of(IntValidator("50").lesser_than, 10, msg="max %(max)d") == "max 10"
    # Unknown placeholders or stray braces: the message is used as is.
    assert error_of(IntValidator("5").greater_than, 10, msg="{oops}") == "{oops}"
    assert error_of(IntValidator("5").greater_than, 10, msg="a { b") == "a { b"
    assert error_of(IntValidator("5").greater_than, 10, msg="%(oops)s") == "%(oops)s"
    assert error_of(IntValidator("5").greater_than, 10, msg="100% sure") == "100% sure"


def test_non_string_message_is_passed_through():
    marker = object()
    assert error_of(IntValidator("5").greater_than, 10, msg=marker) is marker


# --- StringValidator -------------------------------------------------------------------------


def test_string_strips_by_default():
    assert StringValidator("  Bob  ").to_string() == "Bob"
    assert StringValidator("  Bob  ")() == "Bob"
    assert str(StringValidator("  Bob  ")) == "Bob"


def test_string_strip_options():
    assert StringValidator("  Bob  ", strip=False).to_string() == "  Bob  "
    assert StringValidator("  Bob  ", strip=False, rstrip=True).to_string() == "  Bob"
    assert StringValidator("  Bob  ", strip=False, lstrip=True).to_string() == "Bob  "
    assert StringValidator("  Bob  ", strip=False, lstrip=True, rstrip=True).to_string() == "Bob"
    assert StringValidator("--Bob--", chars="-").to_string() == "Bob"
    assert StringValidator("--Bob--", strip=False, rstrip=True, chars="-").to_string() == "--Bob"
    assert StringValidator("--Bob--", strip=False, lstrip=True, chars="-").to_string() == "Bob--"
    # chars replaces whitespace: spaces are kept
    assert StringValidator(" -Bob- ", chars="-").to_string() == " -Bob- "


def test_string_converts_other_values():
    assert StringValidator(None).to_string() == ""
    assert StringValidator(12).to_string() == "12"
    assert StringValidator(b" caf\xc3\xa9 ").to_string() == "café"


def test_string_to_int():
    assert StringValidator(" 42 ").to_int() == 42
    assert type(StringValidator("42").to_int()) is int
    assert StringValidator("ff").to_int(base=16) == 255
    assert StringValidator("4 2").not_empty().to_string() == "4 2"
    assert error_of(StringValidator("4 2").to_int) == "Must be an integer"
    assert error_of(StringValidator("x").to_int, msg="Number!") == "Number!"
    assert StringValidator(" 7 ").not_empty().shorter_than(3).to_int() == 7


def test_not_empty():
    v = StringValidator("a")
    assert v.not_empty() is v
    assert error_of(StringValidator("").not_empty) == "Can't be empty"
    assert error_of(StringValidator("   ").not_empty) == "Can't be empty"
    assert error_of(StringValidator(None).not_empty) == "Can't be empty"
    assert StringValidator("   ", strip=False).not_empty().to_string() == "   "
    assert error_of(StringValidator("").not_empty, msg="Required") == "Required"


def test_match():
    v = StringValidator("abc123")
    assert v.match(r"[a-z]+\d+$") is v
    assert v.match(re.compile(r"[a-z]+")) is v  # re.match semantics: anchored at the start only
    assert error_of(StringValidator("abc123").match, r"\d+") == "Incorrect format"
    assert error_of(StringValidator("abc123").match, r"[a-z]+$") == "Incorrect format"
    assert error_of(StringValidator("abc").match, r"\d", msg="Digits only") == "Digits only"


@pytest.mark.parametrize(
    "method, limit, good, bad, message",
    [
        ("shorter_than", 3, "ab", "abc", "Length must be shorter than 3 characters"),
        ("shorter_or_equal_than", 3, "abc", "abcd", "Length must be shorter or equal than 3 characters"),
        ("length_equal", 3, "abc", "ab", "Length must be 3 characters"),
        ("longer_than", 3, "abcd", "abc", "Length must be longer than 3 characters"),
        ("longer_or_equal_than", 3, "abc", "ab", "Length must be longer or equal than 3 characters"),
    ],
)
def test_length_checks(method, limit, good, bad, message):
    v = StringValidator(good)
    assert getattr(v, method)(limit) is v
    assert v.to_string() == good
    assert error_of(getattr(StringValidator(bad), method), limit) == message
    assert error_of(getattr(StringValidator(bad), method), limit, msg="custom") == "custom"


def test_length_equal_too_long():
    assert error_of(StringValidator("abcd").length_equal, 3) == "Length must be 3 characters"


def test_length_is_counted_after_stripping():
    StringValidator("  ab  ").shorter_than(3)
    assert error_of(StringValidator("  ab  ", strip=False).shorter_than, 3) == (
        "Length must be shorter than 3 characters"
    )


def test_length_message_placeholders():
    assert error_of(StringValidator("abcdef").shorter_than, 3, msg="{value!r} > {max}") == "'abcdef' > 3"
    assert error_of(StringValidator("a").longer_than, 3, msg="%(min)d min") == "3 min"
    assert error_of(StringValidator("a").length_equal, 3, msg="exactly %(len)d") == "exactly 3"
    assert error_of(StringValidator("a").length_equal, 3, msg="exactly {length}") == "exactly 3"


def test_string_chaining():
    result = StringValidator("  hello  ").not_empty().longer_than(2).shorter_than(10).match(r"h").to_string()
    assert result == "hello"
    with pytest.raises(ValueError, match="Length must be longer than 5 characters"):
        StringValidator("hello").not_empty().longer_than(5).shorter_than(2)


@pytest.mark.parametrize("value", ["bob@example.com", " a.b+c@mail.example.org ", "x@y.fr"])
def test_email_valid(value):
    assert StringValidator(value).is_email().to_string() == value.strip()
    assert EmailValidator(value).to_string() == value.strip()


@pytest.mark.parametrize("value", ["", "bob", "bob@", "@example.com", "bob@example", "bo b@example.com", "a@b@c.com", "a@b."])
def test_email_invalid(value):
    assert error_of(StringValidator(value).is_email) == "Invalid email address"
    assert error_of(EmailValidator, value) == "Invalid email address"
    assert error_of(EmailValidator, value, msg="Bad mail") == "Bad mail"


def test_email_validator_chains():
    assert EmailValidator("bob@example.com").shorter_than(100).to_string() == "bob@example.com"


def test_base_validator():
    v = Validator("  x ")
    assert v() == "x"
    assert Validator("  x ", strip=False)() == "  x "
    assert Validator(3)() == 3
    assert repr(IntValidator("3")) == "IntValidator(3)"
    assert repr(StringValidator(" a ")) == "StringValidator('a')"
    assert issubclass(IntValidator, Validator) and issubclass(StringValidator, Validator)
    assert set(validator.__all__) == {"Validator", "IntValidator", "StringValidator", "EmailValidator"}
