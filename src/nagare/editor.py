"""Form editing: properties that keep what the user typed apart from the valid value.

A `Property` is the action of a form input: `h.input(value=p()).action(p)`. When the form is
submitted, `p(text)` keeps `text` as `p.input` (so that the form shows it back, even when it is
wrong), runs the validation function on it, and either stores the converted value in `p.value`
(and clears `p.error`) or puts the message of the `ValueError` in `p.error` (and keeps the last
valid `p.value`). An uploaded file is validated but not kept as the input: a file input shows
nothing back.

An `Editor` holds one property per attribute of a target object, checks them with
`is_validated()` and copies their values back to the target with `commit()`:

    class PersonEditor(editor.Editor):
        def __init__(self, person):
            super().__init__(person, ('name', 'age'))
            self.age.validate(validator.to_int().greater_than(0))

        def save(self, comp):
            if self.commit(('name', 'age')):
                comp.answer(self.target)

Properties and editors are pickled with the state after every request: the standard `pickle`
handles module-level functions and bound methods as validation functions; lambdas and closures
need the session managers' pickler (`nagare.sessions.pickler`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from nagare import var

__all__ = ["Property", "Editor"]


def no_validation(value: object) -> object:
    """The default validation function: every input is valid, as it is."""
    return value


def _is_upload(value: object) -> bool:
    # What a file input submits when a file was chosen (cgi.FieldStorage, WebOb's upload objects).
    return hasattr(value, "filename") and hasattr(value, "file")


class Property(var.Var[object]):
    """A `Var` that validates what it is set to.

    - `p(text)` / `p.set(text)`: keep `text` as `p.input` and validate it;
    - `p()` / `p.get()`: the input, to show back in the form;
    - `p.value`: the last valid (converted) value; `p.error`: the message of the last failed
      validation, None when the input is valid;
    - `p.commit(o, name)`: copy the value to the attribute `name` of `o`.
    """

    # An attribute of its own: for a `Var`, `input` is another name of `value`; for a property,
    # it is what was typed, and `value` what it validated to.
    input: object = None

    def __init__(self, value: object = None) -> None:
        super().__init__(value)
        self.input = value
        self.error: object = None  # a message: a string, or a lazy translation
        # `Any`: a validation function expects what its input submits (`int`, `str.strip`, a
        # function of a string), and `Callable[[object], object]` would refuse them all.
        self.validator: Callable[[Any], object] = no_validation

    def validate(self, f: Callable[[Any], object]) -> "Property":
        """Use `f` to validate the inputs: `f(input)` returns the value or raises `ValueError`.

        `f` may be a validator made without a value (`validator.to_int().lesser_than(50)`), or
        a function that returns the value or something to call for it (a `validator.Validator`
        at the end of its chain). The current input is not validated again. Returns the property.
        """
        self.validator = f
        return self

    def set(self, input: object) -> object:
        """Keep `input` (unless it is an uploaded file) and validate it; return it."""
        if not _is_upload(input):
            self.input = input
        try:
            value = self.validator(input)
            if callable(value):  # as Nagare 0.5: the validator at the end of a chain, say
                value = value()
        except ValueError as e:
            self.error = e.args[0] if e.args else (str(e) or "Invalid value")
        else:
            self.value = value
            self.error = None
        return input

    def get(self) -> object:
        """The input (what the user typed, or the initial value)."""
        return self.input

    def __call__(self, input: object = var._MISSING) -> object:
        if input is var._MISSING:
            return self.get()
        return self.set(input)

    def is_valid(self) -> bool:
        """True when the last input was valid."""
        return self.error is None

    def commit(self, o: object, name: str) -> None:
        """Copy the value (the last valid one) to the attribute `name` of `o`."""
        setattr(o, name, self.value)

    def __repr__(self) -> str:
        return f"Property(value={self.value!r}, input={self.input!r}, error={self.error!r})"


class Editor:
    """Properties that edit the attributes of `target`, and the means to check and commit them.

    `Editor(target, ('name', 'age'))` creates `self.name = Property(target.name)` and
    `self.age = Property(target.age)`. Subclasses may add other properties as attributes. A
    property may not take the name of what the editor itself needs (`target`, `commit`,
    `is_validated`, ...) nor a `__dunder__` name: the editor would stop working.
    """

    def __init__(self, target: object, properties_to_create: Iterable[str] = ()) -> None:
        self.target = target
        for name in properties_to_create:
            if name in _RESERVED or (name.startswith("__") and name.endswith("__")):
                raise ValueError(f"{name!r} cannot be the name of a property of {type(self).__name__}")
            setattr(self, name, Property(getattr(target, name)))

    def _names(self, names: Iterable[str] | None) -> tuple[str, ...]:
        if names is None:
            return tuple(name for name, value in vars(self).items() if isinstance(value, Property))
        if isinstance(names, str):
            return (names,)
        return tuple(names)

    def _property(self, name: str) -> Property:
        prop = getattr(self, name)
        if not isinstance(prop, Property):
            raise TypeError(f"{type(self).__name__}.{name} is not a Property")
        return prop

    def is_validated(self, properties_to_validate: Iterable[str] | None = None) -> bool:
        """True when none of the properties named has an error (no names: all the properties)."""
        return all(self._property(name).error is None for name in self._names(properties_to_validate))

    def commit(
        self,
        properties_to_commit: Iterable[str] | None = None,
        properties_to_validate: Iterable[str] | None = None,
    ) -> bool:
        """Copy the values of `properties_to_commit` onto the target, if they are all valid.

        `properties_to_validate` names other properties that must be valid too (but are not
        copied). Nothing is copied when one of them has an error. Returns True when the values
        were copied. As in Nagare 0.5, `commit((), names)` only checks `names`, and so does
        `commit(properties_to_validate=names)`; `commit()` with no names at all copies every
        property (in Nagare 0.5 it did nothing).
        """
        if properties_to_commit is None and properties_to_validate is not None:
            properties_to_commit = ()
        names = self._names(properties_to_commit)
        if not self.is_validated(names + self._names(properties_to_validate or ())):
            return False
        for name in names:
            self._property(name).commit(self.target, name)
        return True


# What a property must not shadow: the editor's own attributes and methods.
_RESERVED = frozenset(["target", *(name for name in vars(Editor) if not name.startswith("__"))])
