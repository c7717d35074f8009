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
    [("12", 12), (" 12 ", 12), ("-3", -3), ("+7", 7), ("0", 0), (b"9", 9), ("\t10\n", 10)],
)
def test_int_converts(value, expected):
    v = IntValidator(value)
    assert v.to_int() == expected
    assert type(v.to_int()) is int
    assert v() == expected
    assert int(v) == expected
    assert v.value == expected


@pytest.mark.parametrize("value", ["", "   ", "abc", "1.5", "12a", "1 2", "1_000", "0x10"])
def test_int_rejects(value):
    assert error_of(IntValidator, value) == "Must be an integer"


@pytest.mark.parametrize("cls", [Validator, IntValidator, StringValidator, EmailValidator])
@pytest.mark.parametrize("value", [None, 42, 1.5, [], True, object(), b"\xff"])
def test_the_input_must_be_a_string(cls, value):
    # 0.5.1: what a form submits is a string; anything else is refused the same way
    assert error_of(cls, value) == "Input must be a string"


def test_int_custom_conversion_message():
    assert error_of(IntValidator, "x", msg="Enter a number") == "Enter a number"


def test_int_base():
    assert IntValidator("ff", base=16).to_int() == 255
    assert IntValidator("0x1F", base=0).to_int() == 31
    assert error_of(IntValidator, "ff") == "Must be an integer"


def test_int_positional_order_is_value_base_msg_then_the_validator_s():
    assert IntValidator("ff", 16).to_int() == 255
    assert error_of(IntValidator, "zz", 16, "Hexadecimal!") == "Hexadecimal!"
    # then strip, rstrip, lstrip, chars, as Validator takes them
    assert IntValidator("--12--", 10, "bad", True, False, False, "-").to_int() == 12
    assert IntValidator("--12", 10, "bad", chars="-", lstrip=True).to_int() == 12


def test_int_usable_as_index():
    assert [10, 20, 30][IntValidator("1")] == 20


def test_int_strip_chars():
    assert IntValidator("xx12xx", strip=True, chars="x").to_int() == 12
    assert error_of(IntValidator, "xx12xx", chars="x") == "Must be an integer"  # chars alone strips nothing
    assert error_of(IntValidator, "xx12", rstrip=True, chars="x") == "Must be an integer"
    assert IntValidator("xx12", lstrip=True, chars="x").to_int() == 12
    assert IntValidator("12xx", rstrip=True, chars="x").to_int() == 12
    assert IntValidator("x12x", lstrip=True, rstrip=True, chars="x").to_int() == 12


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


def test_string_is_kept_as_it_is_by_default():
    # 0.5.1's default: strip=False
    assert StringValidator("  Bob  ").to_string() == "  Bob  "
    assert StringValidator("  Bob  ")() == "  Bob  "
    assert str(StringValidator("  Bob  ")) == "  Bob  "
    assert Validator(" x ")() == " x "


def test_string_strip_options():
    assert StringValidator("  Bob  ", strip=True).to_string() == "Bob"
    assert StringValidator("  Bob  ", True).to_string() == "Bob"  # strip: the second parameter
    assert StringValidator("  Bob  ", rstrip=True).to_string() == "  Bob"
    assert StringValidator("  Bob  ", lstrip=True).to_string() == "Bob  "
    assert StringValidator("  Bob  ", lstrip=True, rstrip=True).to_string() == "Bob"
    assert StringValidator("--Bob--", strip=True, chars="-").to_string() == "Bob"
    assert StringValidator("--Bob--", rstrip=True, chars="-").to_string() == "--Bob"
    assert StringValidator("--Bob--", lstrip=True, chars="-").to_string() == "Bob--"
    # chars replaces whitespace: spaces are kept
    assert StringValidator(" -Bob- ", strip=True, chars="-").to_string() == " -Bob- "


def test_string_takes_utf8_bytes():
    assert StringValidator(b" caf\xc3\xa9 ").to_string() == " café "


def test_string_to_int():
    assert StringValidator(" 42 ").to_int() == 42
    assert type(StringValidator("42").to_int()) is int
    assert StringValidator("ff").to_int(base=16) == 255
    assert StringValidator("ff").to_int(16) == 255  # 0.5.1's order: base first
    assert StringValidator("4 2").not_empty().to_string() == "4 2"
    assert error_of(StringValidator("4 2").to_int) == "Must be an integer"
    assert error_of(StringValidator("x").to_int, msg="Number!") == "Number!"
    assert error_of(StringValidator("x").to_int, 10, "Number!") == "Number!"
    assert StringValidator(" 7 ", strip=True).not_empty().shorter_than(3).to_int() == 7


def test_not_empty():
    v = StringValidator("a")
    assert v.not_empty() is v
    assert error_of(StringValidator("").not_empty) == "Can't be empty"
    assert error_of(StringValidator("   ", strip=True).not_empty) == "Can't be empty"
    assert StringValidator("   ").not_empty().to_string() == "   "
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
    StringValidator("  ab  ", strip=True).shorter_than(3)
    assert error_of(StringValidator("  ab  ").shorter_than, 3) == "Length must be shorter than 3 characters"


def test_length_message_placeholders():
    assert error_of(StringValidator("abcdef").shorter_than, 3, msg="{value!r} > {max}") == "'abcdef' > 3"
    assert error_of(StringValidator("a").longer_than, 3, msg="%(min)d min") == "3 min"
    assert error_of(StringValidator("a").length_equal, 3, msg="exactly %(len)d") == "exactly 3"
    assert error_of(StringValidator("a").length_equal, 3, msg="exactly {length}") == "exactly 3"


def test_string_chaining():
    result = StringValidator("  hello  ", strip=True).not_empty().longer_than(2).shorter_than(10).match(r"h").to_string()
    assert result == "hello"
    with pytest.raises(ValueError, match="Length must be longer than 5 characters"):
        StringValidator("hello").not_empty().longer_than(5).shorter_than(2)


@pytest.mark.parametrize("value", ["bob@example.com", " a.b+c@mail.example.org ", "x@y.fr"])
def test_email_valid(value):
    assert StringValidator(value, strip=True).is_email().to_string() == value.strip()
    assert EmailValidator(value, strip=True).to_string() == value.strip()


@pytest.mark.parametrize("value", ["", "bob", "bob@", "@example.com", "bob@example", "bo b@example.com", "a@b@c.com", "a@b."])
def test_email_invalid(value):
    assert error_of(StringValidator(value).is_email) == "Invalid email address"
    assert error_of(EmailValidator, value) == "Invalid email address"
    assert error_of(EmailValidator, value, msg="Bad mail") == "Bad mail"


def test_email_validator_chains():
    assert EmailValidator("bob@example.com").shorter_than(100).to_string() == "bob@example.com"


def test_base_validator():
    v = Validator("  x ", strip=True)
    assert v() == "x"
    assert Validator("  x ")() == "  x "
    assert repr(IntValidator("3")) == "IntValidator(3)"
    assert repr(StringValidator(" a ")) == "StringValidator(' a ')"
    assert issubclass(IntValidator, Validator) and issubclass(StringValidator, Validator)
    assert set(validator.__all__) == {"Validator", "IntValidator", "StringValidator", "EmailValidator", "to_int", "to_string"}


# --- The 0.5.1 names: to_int / to_string, character classes ---------------------------------


def test_to_int_and_to_string_are_the_classes():
    assert validator.to_int is IntValidator and validator.to_string is StringValidator
    assert validator.to_int("12").lesser_than(20)() == 12
    assert validator.to_string("ab").not_empty().to_string() == "ab"


@pytest.mark.parametrize(
    "method, good, bad, message",
    [
        ("isalnum", "abc123", "abc 123", "Some characters are not letters or digits"),
        ("isalpha", "abcé", "abc1", "Some characters are not letters"),
        ("isdigit", "0123", "12a", "Some characters are not digits"),
        ("islower", "abc 1", "aBc", "Some characters are not lowercase"),
        ("isupper", "ABC 1", "AbC", "Some characters are not uppercase"),
        ("isspace", " \t\n", " x ", "Some characters are not whitespace"),
    ],
)
def test_character_classes(method, good, bad, message):
    v = StringValidator(good)
    assert getattr(v, method)() is v
    assert error_of(getattr(StringValidator(bad), method)) == message
    assert error_of(getattr(StringValidator(bad), method), "custom") == "custom"
    assert error_of(getattr(StringValidator(""), method), msg="empty") == "empty"  # as str: '' is none of them


# --- Deferred chains: a validator made without a value ---------------------------------------


def test_a_validator_without_value_records_its_chain_and_replays_it():
    check = validator.to_int().lesser_than(50).greater_than(10)
    assert isinstance(check, IntValidator)
    assert check("42") == 42 and type(check("42")) is int
    assert check(" 11 ") == 11
    assert error_of(check, "50") == "Must be lesser than 50"
    assert error_of(check, "10") == "Must be greater than 10"
    assert error_of(check, "x") == "Must be an integer"
    assert error_of(check, None) == "Input must be a string"
    assert check("30") == 30  # reusable: each call validates its own value


def test_each_method_of_a_deferred_chain_returns_the_validator():
    base = validator.to_int()
    assert base.lesser_than(50) is base and base.greater_than(10, msg="too small") is base
    assert error_of(base, "5") == "too small"


def test_a_deferred_chain_keeps_the_arguments_it_was_made_with():
    assert validator.to_int(base=16, msg="Hexadecimal!").lesser_than(256)("ff") == 255
    assert error_of(validator.to_int(base=16, msg="Hexadecimal!"), "zz") == "Hexadecimal!"
    assert validator.to_string(strip=True).not_empty().shorter_than(4)("  abc ") == "abc"
    assert error_of(validator.to_string(strip=True).not_empty(), "   ") == "Can't be empty"
    assert EmailValidator(strip=True)(" bob@example.com ") == "bob@example.com"
    assert error_of(EmailValidator(msg="Bad mail"), "bob") == "Bad mail"


def test_a_deferred_chain_ending_with_a_conversion_returns_what_it_converts_to():
    to_number = validator.to_string().not_empty().isdigit().to_int()
    assert to_number("0042") == 42
    assert error_of(to_number, "4a") == "Some characters are not digits"
    assert validator.to_int().to_int()("7") == 7


def test_deferred_chain_repr():
    assert repr(validator.to_int(base=16).lesser_than(50, msg="x")) == "IntValidator(base=16).lesser_than(50, msg='x')"
    assert repr(validator.to_string()) == "StringValidator()"


def test_a_wrong_keyword_fails_when_the_chain_is_made():
    with pytest.raises(TypeError):
        validator.to_int(bse=16)


def test_calling_with_or_without_a_value_when_it_does_not_fit_says_why():
    with pytest.raises(TypeError, match="made without a value"):
        validator.to_int().lesser_than(3)()
    with pytest.raises(TypeError, match="has a value already"):
        IntValidator("3")("4")


def test_deferred_and_valued_validators_pickle_as_what_they_are():
    import pickle

    check = pickle.loads(pickle.dumps(validator.to_int(msg="Number!").lesser_than(50).greater_than(10)))
    assert check("42") == 42
    assert error_of(check, "99") == "Must be lesser than 50" and error_of(check, "?") == "Number!"
    valued = pickle.loads(pickle.dumps(IntValidator("12").lesser_than(20)))
    assert valued() == 12 and valued.greater_than(10).to_int() == 12
    assert repr(valued) == "IntValidator(12)"
    with pytest.raises(ValueError, match="Must be greater than 20"):
        valued.greater_than(20)
