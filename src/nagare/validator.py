"""Conversion and checking of the values a form submits, as in Nagare 0.5.

A validator is built from a (string) value, converts it, then checks it through a chain of
methods. Each check returns the validator itself so that checks chain; the first one that fails
raises `ValueError(message)`. The converted value is read at the end of the chain:

    >>> IntValidator(' 12 ').greater_than(10).lesser_than(20).to_int()
    12
    >>> int(IntValidator('12').greater_than(10))      # the same, with int()
    12
    >>> StringValidator(' Bob ').not_empty().shorter_than(10)()  # any validator: call it
    'Bob'
    >>> IntValidator('5').greater_than(10)
    Traceback (most recent call last):
    ...
    ValueError: Must be greater than 10

The terminal methods (`to_int()`, `to_string()`, calling the validator) return plain values;
every other method returns the validator. An `editor.Property` validation function may return
either the value or the validator at the end of its chain (the Nagare 0.5 idiom
`prop.validate(lambda v: IntValidator(v).greater_than(0))`): the editor takes its value.

Every check takes a `msg=` to replace its default (English) message. The message is formatted
with the values of the check: the limit (`{max}` for `lesser*`/`shorter*`, `{min}` for
`greater*`/`longer*`, `{equal}` for `equal_to`, `{length}` for `length_equal`) and `{value}` (the
value being checked), in `str.format` style, or the same names in the `%(max)d` style of Nagare 0.5.
A message that cannot be formatted is used as is.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NoReturn

__all__ = ["Validator", "IntValidator", "StringValidator", "EmailValidator"]

# Deliberately loose: one '@', no spaces, a dot in the domain. Real checking means sending a mail.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def _format(msg: object, **params: object) -> object:
    """`msg` with the values of the check put in; `msg` unchanged when it has no placeholders."""
    if not isinstance(msg, str):
        return msg  # e.g. a lazy translation object: hand it over untouched
    try:
        if "%(" in msg:
            return msg % params
        if "{" in msg:
            return msg.format(**params)
    except (KeyError, ValueError, IndexError, TypeError, AttributeError):
        pass
    return msg


class Validator:
    """The base of the validators: keeps the value, stripped as asked.

    With `strip` (the default) the value loses its leading and trailing `chars` (whitespace when
    `chars` is None); with `strip=False`, `lstrip`/`rstrip` strip one side only. Values that are
    not strings are kept as they are.
    """

    value: object

    def __init__(
        self,
        value: object,
        strip: bool = True,
        rstrip: bool = False,
        lstrip: bool = False,
        chars: str | None = None,
    ) -> None:
        if isinstance(value, str):
            if strip:
                value = value.strip(chars)
            else:
                if rstrip:
                    value = value.rstrip(chars)
                if lstrip:
                    value = value.lstrip(chars)
        self.value = value

    def __call__(self) -> object:
        """The converted value, at the end of a chain."""
        return self.value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"

    def _fail(self, msg: object, **params: object) -> NoReturn:
        raise ValueError(_format(msg, value=self.value, **params))


class IntValidator(Validator):
    """Convert a value to an integer (in `base`), then check it.

    Raises `ValueError(msg)` at once when the value is not an integer (`None`, `''`, `'1.5'`,
    `1.5`, ...). `to_int()`, `int(v)` and `v()` return the integer.
    """

    value: int

    if TYPE_CHECKING:  # the base's `v()`: it returns `self.value`

        def __call__(self) -> int: ...

    def __init__(
        self,
        value: object,
        strip: bool = True,
        rstrip: bool = False,
        lstrip: bool = False,
        chars: str | None = None,
        msg: object = "Must be an integer",
        base: int = 10,
    ) -> None:
        super().__init__(value, strip, rstrip, lstrip, chars)
        self.value = self._convert(self.value, base, msg)

    def _convert(self, value: object, base: int, msg: object) -> int:
        if isinstance(value, bool):
            self._fail(msg)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, (str, bytes, bytearray)):
            try:
                return int(value, base)
            except ValueError:
                self._fail(msg)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        self._fail(msg)

    def to_int(self) -> int:
        """The integer."""
        return self.value

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def lesser_than(self, max: int, msg: object = "Must be lesser than {max}") -> "IntValidator":
        """Check that the value is < `max`."""
        if not self.value < max:
            self._fail(msg, max=max)
        return self

    def lesser_or_equal_than(self, max: int, msg: object = "Must be lesser or equal than {max}") -> "IntValidator":
        """Check that the value is <= `max`."""
        if not self.value <= max:
            self._fail(msg, max=max)
        return self

    def greater_than(self, min: int, msg: object = "Must be greater than {min}") -> "IntValidator":
        """Check that the value is > `min`."""
        if not self.value > min:
            self._fail(msg, min=min)
        return self

    def greater_or_equal_than(self, min: int, msg: object = "Must be greater or equal than {min}") -> "IntValidator":
        """Check that the value is >= `min`."""
        if not self.value >= min:
            self._fail(msg, min=min)
        return self

    def equal_to(self, equal: int, msg: object = "Must be equal to {equal}") -> "IntValidator":
        """Check that the value is == `equal`."""
        if self.value != equal:
            self._fail(msg, equal=equal)
        return self


class StringValidator(Validator):
    """Check a string. `None` counts as the empty string; other values are converted by `str()`.

    `to_string()`, `str(v)` and `v()` return the (stripped) string; `to_int()` converts it.
    """

    value: str

    if TYPE_CHECKING:  # the base's `v()`: it returns `self.value`

        def __call__(self) -> str: ...

    def __init__(
        self,
        value: object,
        strip: bool = True,
        rstrip: bool = False,
        lstrip: bool = False,
        chars: str | None = None,
    ) -> None:
        if value is None:
            value = ""
        elif isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("utf-8")
        elif not isinstance(value, str):
            value = str(value)
        super().__init__(value, strip, rstrip, lstrip, chars)

    def to_string(self) -> str:
        """The string."""
        return self.value

    def __str__(self) -> str:
        return self.value

    def to_int(self, msg: object = "Must be an integer", base: int = 10) -> int:
        """The string converted to an integer; `ValueError(msg)` when it is not one.

        To check the integer further, use `IntValidator(value)`, which strips and converts too.
        """
        return IntValidator(self.value, strip=False, msg=msg, base=base).to_int()

    def not_empty(self, msg: object = "Can't be empty") -> "StringValidator":
        """Check that the string is not empty (after stripping)."""
        if not self.value:
            self._fail(msg)
        return self

    def match(self, regexp: str | re.Pattern[str], msg: object = "Incorrect format") -> "StringValidator":
        """Check the string against `regexp` with `re.match` semantics, as in Nagare 0.5.

        The match is anchored at the start only: end the expression with `$` (or `\\Z`) to
        anchor it at the end too.
        """
        if re.match(regexp, self.value) is None:
            self._fail(msg)
        return self

    def is_email(self, msg: object = "Invalid email address") -> "StringValidator":
        """Check that the string looks like an email address (`name@domain.tld`)."""
        if _EMAIL.fullmatch(self.value) is None:
            self._fail(msg)
        return self

    def shorter_than(self, max: int, msg: object = "Length must be shorter than {max} characters") -> "StringValidator":
        """Check that the length is < `max`."""
        if not len(self.value) < max:
            self._fail(msg, max=max)
        return self

    def shorter_or_equal_than(
        self, max: int, msg: object = "Length must be shorter or equal than {max} characters"
    ) -> "StringValidator":
        """Check that the length is <= `max`."""
        if not len(self.value) <= max:
            self._fail(msg, max=max)
        return self

    def length_equal(self, length: int, msg: object = "Length must be {length} characters") -> "StringValidator":
        """Check that the length is exactly `length`."""
        if len(self.value) != length:
            self._fail(msg, length=length, len=length)
        return self

    def longer_than(self, min: int, msg: object = "Length must be longer than {min} characters") -> "StringValidator":
        """Check that the length is > `min`."""
        if not len(self.value) > min:
            self._fail(msg, min=min)
        return self

    def longer_or_equal_than(
        self, min: int, msg: object = "Length must be longer or equal than {min} characters"
    ) -> "StringValidator":
        """Check that the length is >= `min`."""
        if not len(self.value) >= min:
            self._fail(msg, min=min)
        return self


class EmailValidator(StringValidator):
    """A `StringValidator` that checks at once that the value looks like an email address."""

    def __init__(
        self,
        value: object,
        strip: bool = True,
        rstrip: bool = False,
        lstrip: bool = False,
        chars: str | None = None,
        msg: object = "Invalid email address",
    ) -> None:
        super().__init__(value, strip, rstrip, lstrip, chars)
        self.is_email(msg)
