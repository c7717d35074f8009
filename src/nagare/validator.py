"""Conversion and checking of the values a form submits, as in Nagare 0.5.

A validator is built from a string, converts it, then checks it through a chain of methods. Each
check returns the validator itself so that checks chain; the first one that fails raises
`ValueError(message)`. The converted value is read at the end of the chain:

    >>> IntValidator('12').greater_than(10).lesser_than(20).to_int()
    12
    >>> int(IntValidator('12').greater_than(10))      # the same, with int()
    12
    >>> StringValidator('Bob').not_empty().shorter_than(10)()  # any validator: call it
    'Bob'
    >>> IntValidator('5').greater_than(10)
    Traceback (most recent call last):
    ...
    ValueError: Must be greater than 10

A validator made *without* a value records the calls of its chain and returns itself; called
later with a value, it replays them on it and returns the converted value. That is how a
validation is given to an `editor.Property` before any value exists:

    >>> check = to_int().greater_than(10).lesser_than(50)    # to_int: IntValidator
    >>> check('42')
    42
    >>> prop.validate(to_int().lesser_than(50))             # doctest: +SKIP

The terminal methods (`to_int()`, `to_string()`, calling the validator) return plain values;
every other method returns the validator. An `editor.Property` validation function may return
either the value or the validator at the end of its chain (the Nagare 0.5 idiom
`prop.validate(lambda v: IntValidator(v).greater_than(0))`): the property calls it.

The input must be a string (bytes are decoded as UTF-8): anything else is
`ValueError('Input must be a string')`. It is kept as it is unless `strip`, `lstrip` or `rstrip`
is asked for; `int()` ignores the whitespace around a number anyway.

Every check takes a `msg=` to replace its default message. The defaults are lazy translations of
the domain `nagare` (`nagare.i18n._L(..., domain='nagare')`): English as written here, shown in
the language of the locale current when the message is displayed (docs/i18n.md). The message is formatted
with the values of the check: the limit (`{max}` for `lesser*`/`shorter*`, `{min}` for
`greater*`/`longer*`, `{equal}` for `equal_to`, `{length}` for `length_equal`) and `{value}` (the
value being checked), in `str.format` style, or the same names in the `%(max)d` style of Nagare 0.5.
A message that cannot be formatted is used as is; a lazy translation is formatted
once translated, and stays lazy.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, NoReturn, ParamSpec, TypeVar, cast

from nagare.i18n import LazyTranslation, _L

if TYPE_CHECKING:
    from typing import Self

__all__ = ["Validator", "IntValidator", "StringValidator", "EmailValidator", "to_int", "to_string"]

# Deliberately loose: one '@', no spaces, a dot in the domain. Real checking means sending a mail.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")

# The default of `value`: a validator made without one records its chain. Never stored.
_NO_VALUE: Any = object()

NOT_A_STRING = _L("Input must be a string", domain="nagare")

V = TypeVar("V", bound="Validator")
P = ParamSpec("P")
R = TypeVar("R")

#: One recorded call of a deferred chain: method name, positional and keyword arguments.
Call = tuple[str, tuple[Any, ...], dict[str, Any]]


def _format(msg: object, **params: object) -> object:
    """`msg` with the values of the check put in; `msg` unchanged when it has no placeholders."""
    if isinstance(msg, LazyTranslation):
        # formatted once translated, each time it is: the same rules on the translated text
        return msg.apply(_format, **params)
    if not isinstance(msg, str):
        return msg
    try:
        if "%(" in msg:
            return msg % params
        if "{" in msg:
            return msg.format(**params)
    except (KeyError, ValueError, IndexError, TypeError, AttributeError):
        pass
    return msg


def _chained(method: Callable[Concatenate[V, P], R]) -> Callable[Concatenate[V, P], R]:
    """A method of the chain: recorded (and the validator returned) while there is no value."""
    name = method.__name__

    @functools.wraps(method)
    def chained(self: V, /, *args: P.args, **kw: P.kwargs) -> R:
        deferred = self._deferred
        if deferred is not None:
            deferred[1].append((name, args, kw))
            # the validator, whatever the method returns with a value: the chain goes on
            return cast(R, self)
        return method(self, *args, **kw)

    return chained


class Validator:
    """The base of the validators: keeps the string, stripped as asked.

    `strip` removes the leading and trailing `chars` (whitespace when `chars` is None), `lstrip`
    and `rstrip` one side only. Made without a value, the validator records its chain (see the
    module's documentation).
    """

    value: object
    #: For a validator made without a value: the other arguments it was made with, and the calls
    #: of its chain. None (the class's) for a validator with a value.
    _deferred: tuple[dict[str, Any], list[Call]] | None = None

    def __new__(cls, *args: Any, **kw: Any) -> Self:
        self = super().__new__(cls)
        if not args and "value" not in kw:
            self._deferred = (kw, [])
        return self

    def __init__(
        self,
        value: object = _NO_VALUE,
        strip: bool = False,
        rstrip: bool = False,
        lstrip: bool = False,
        chars: str | None = None,
    ) -> None:
        if self._deferred is not None:
            return
        if isinstance(value, (bytes, bytearray)):  # Python 2's `str`, which Nagare 0.5 took too
            try:
                value = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(NOT_A_STRING) from None
        elif not isinstance(value, str):
            raise ValueError(NOT_A_STRING)
        if strip:
            value = value.strip(chars)
        else:
            if rstrip:
                value = value.rstrip(chars)
            if lstrip:
                value = value.lstrip(chars)
        self.value = value

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Unpickling calls __new__ without arguments, which takes the validator for a deferred
        # one: its own state says what it is.
        vars(self).clear()
        vars(self).update(state)

    def __call__(self, value: object = _NO_VALUE) -> object:
        """The converted value at the end of a chain; for a deferred chain, that of `value`."""
        deferred = self._deferred
        if deferred is None:
            if value is not _NO_VALUE:
                raise TypeError(f"{self!r} has a value already; make it without one to validate others")
            return self.value
        if value is _NO_VALUE:
            raise TypeError(f"{self!r} was made without a value: call it with the value to validate")
        kw, calls = deferred
        result: object = type(self)(value, **kw)
        for name, args, call_kw in calls:
            result = getattr(result, name)(*args, **call_kw)
        return result() if isinstance(result, Validator) else result

    def __repr__(self) -> str:
        deferred = self._deferred
        if deferred is None:
            return f"{type(self).__name__}({self.value!r})"
        kw, calls = deferred

        def arguments(args: tuple[Any, ...], kw: dict[str, Any]) -> str:
            return ", ".join([repr(arg) for arg in args] + [f"{k}={v!r}" for k, v in kw.items()])

        return type(self).__name__ + f"({arguments((), kw)})" + "".join(f".{n}({arguments(a, k)})" for n, a, k in calls)

    def _fail(self, msg: object, **params: object) -> NoReturn:
        raise ValueError(_format(msg, value=self.value, **params))


class IntValidator(Validator):
    """Convert a string to an integer (in `base`), then check it.

    Raises `ValueError(msg)` at once when the string is not an integer (`''`, `'1.5'`,
    `'1_000'`, ...). `to_int()`, `int(v)` and `v()` return the integer. The other arguments are
    those of `Validator`: `IntValidator('ff', 16)`, `IntValidator(' 7 ', 10, 'Not a number', True)`.
    """

    value: int

    if TYPE_CHECKING:  # the base's `v()`: it returns `self.value`

        def __call__(self, value: object = _NO_VALUE) -> int: ...

    def __init__(
        self, value: object = _NO_VALUE, base: int = 10, msg: object = _L("Must be an integer", domain="nagare"), *args: Any, **kw: Any
    ) -> None:
        super().__init__(value, *args, **kw)
        if self._deferred is None:
            self.value = self._convert(cast(str, self.value), base, msg)

    def _convert(self, value: str, base: int, msg: object) -> int:
        # int() takes '1_000' since Python 3.6: not a number a user types (nor one Nagare 0.5 took)
        if "_" in value:
            self._fail(msg)
        try:
            return int(value, base)
        except ValueError:
            self._fail(msg)

    @_chained
    def to_int(self) -> int:
        """The integer."""
        return self.value

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    @_chained
    def lesser_than(self, max: int, msg: object = _L("Must be lesser than {max}", domain="nagare")) -> IntValidator:
        """Check that the value is < `max`."""
        if not self.value < max:
            self._fail(msg, max=max)
        return self

    @_chained
    def lesser_or_equal_than(self, max: int, msg: object = _L("Must be lesser or equal than {max}", domain="nagare")) -> IntValidator:
        """Check that the value is <= `max`."""
        if not self.value <= max:
            self._fail(msg, max=max)
        return self

    @_chained
    def greater_than(self, min: int, msg: object = _L("Must be greater than {min}", domain="nagare")) -> IntValidator:
        """Check that the value is > `min`."""
        if not self.value > min:
            self._fail(msg, min=min)
        return self

    @_chained
    def greater_or_equal_than(self, min: int, msg: object = _L("Must be greater or equal than {min}", domain="nagare")) -> IntValidator:
        """Check that the value is >= `min`."""
        if not self.value >= min:
            self._fail(msg, min=min)
        return self

    @_chained
    def equal_to(self, equal: int, msg: object = _L("Must be equal to {equal}", domain="nagare")) -> IntValidator:
        """Check that the value is == `equal`."""
        if self.value != equal:
            self._fail(msg, equal=equal)
        return self


class StringValidator(Validator):
    """Check a string. `to_string()`, `str(v)` and `v()` return it; `to_int()` converts it."""

    value: str

    if TYPE_CHECKING:  # the base's `v()`: it returns `self.value`

        def __call__(self, value: object = _NO_VALUE) -> str: ...

    @_chained
    def to_string(self) -> str:
        """The string."""
        return self.value

    def __str__(self) -> str:
        return self.value

    @_chained
    def to_int(self, base: int = 10, msg: object = _L("Must be an integer", domain="nagare")) -> int:
        """The string converted to an integer; `ValueError(msg)` when it is not one.

        To check the integer further, use `IntValidator(value)`.
        """
        return IntValidator(self.value, base, msg).to_int()

    @_chained
    def not_empty(self, msg: object = _L("Can't be empty", domain="nagare")) -> StringValidator:
        """Check that the string is not empty."""
        if not self.value:
            self._fail(msg)
        return self

    @_chained
    def match(self, regexp: str | re.Pattern[str], msg: object = _L("Incorrect format", domain="nagare")) -> StringValidator:
        """Check the string against `regexp` with `re.match` semantics, as in Nagare 0.5.

        The match is anchored at the start only: end the expression with `$` (or `\\Z`) to
        anchor it at the end too.
        """
        if re.match(regexp, self.value) is None:
            self._fail(msg)
        return self

    @_chained
    def is_email(self, msg: object = _L("Invalid email address", domain="nagare")) -> StringValidator:
        """Check that the string looks like an email address (`name@domain.tld`)."""
        if _EMAIL.fullmatch(self.value) is None:
            self._fail(msg)
        return self

    @_chained
    def shorter_than(self, max: int, msg: object = _L("Length must be shorter than {max} characters", domain="nagare")) -> StringValidator:
        """Check that the length is < `max`."""
        if not len(self.value) < max:
            self._fail(msg, max=max)
        return self

    @_chained
    def shorter_or_equal_than(
        self, max: int, msg: object = _L("Length must be shorter or equal than {max} characters", domain="nagare")
    ) -> StringValidator:
        """Check that the length is <= `max`."""
        if not len(self.value) <= max:
            self._fail(msg, max=max)
        return self

    @_chained
    def length_equal(self, length: int, msg: object = _L("Length must be {length} characters", domain="nagare")) -> StringValidator:
        """Check that the length is exactly `length`."""
        if len(self.value) != length:
            self._fail(msg, length=length, len=length)
        return self

    @_chained
    def longer_than(self, min: int, msg: object = _L("Length must be longer than {min} characters", domain="nagare")) -> StringValidator:
        """Check that the length is > `min`."""
        if not len(self.value) > min:
            self._fail(msg, min=min)
        return self

    @_chained
    def longer_or_equal_than(
        self, min: int, msg: object = _L("Length must be longer or equal than {min} characters", domain="nagare")
    ) -> StringValidator:
        """Check that the length is >= `min`."""
        if not len(self.value) >= min:
            self._fail(msg, min=min)
        return self

    # The character classes of `str`: the empty string belongs to none of them, as for `str`.

    @_chained
    def isalnum(self, msg: object = _L("Some characters are not letters or digits", domain="nagare")) -> StringValidator:
        """Check that every character is a letter or a digit (`str.isalnum`)."""
        if not self.value.isalnum():
            self._fail(msg)
        return self

    @_chained
    def isalpha(self, msg: object = _L("Some characters are not letters", domain="nagare")) -> StringValidator:
        """Check that every character is a letter (`str.isalpha`)."""
        if not self.value.isalpha():
            self._fail(msg)
        return self

    @_chained
    def isdigit(self, msg: object = _L("Some characters are not digits", domain="nagare")) -> StringValidator:
        """Check that every character is a digit (`str.isdigit`)."""
        if not self.value.isdigit():
            self._fail(msg)
        return self

    @_chained
    def islower(self, msg: object = _L("Some characters are not lowercase", domain="nagare")) -> StringValidator:
        """Check that the letters are all lowercase, and that there is one (`str.islower`)."""
        if not self.value.islower():
            self._fail(msg)
        return self

    @_chained
    def isupper(self, msg: object = _L("Some characters are not uppercase", domain="nagare")) -> StringValidator:
        """Check that the letters are all uppercase, and that there is one (`str.isupper`)."""
        if not self.value.isupper():
            self._fail(msg)
        return self

    @_chained
    def isspace(self, msg: object = _L("Some characters are not whitespace", domain="nagare")) -> StringValidator:
        """Check that every character is whitespace (`str.isspace`)."""
        if not self.value.isspace():
            self._fail(msg)
        return self


class EmailValidator(StringValidator):
    """A `StringValidator` that checks at once that the value looks like an email address."""

    def __init__(
        self,
        value: object = _NO_VALUE,
        strip: bool = False,
        rstrip: bool = False,
        lstrip: bool = False,
        chars: str | None = None,
        msg: object = _L("Invalid email address", domain="nagare"),
    ) -> None:
        super().__init__(value, strip, rstrip, lstrip, chars)
        if self._deferred is None:  # a deferred one checks it when it is called with the value
            self.is_email(msg)


#: The Nagare 0.5 names of the validators, as a chain starts: `to_int().lesser_than(50)`.
to_int = IntValidator
to_string = StringValidator
