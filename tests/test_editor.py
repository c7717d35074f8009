import pickle

import pytest

from nagare import editor, validator, var
from nagare.callbacks import Callbacks
from nagare.editor import Editor, Property


# Module-level validation functions and classes: picklable by the standard pickle.


def positive_int(value):
    return validator.IntValidator(value).greater_than(0).to_int()


def positive_int_chain(value):
    # The Nagare 0.5 idiom: the function returns the validator at the end of its chain.
    return validator.IntValidator(value).greater_than(0)


def not_empty(value):
    return validator.StringValidator(value, strip=True).not_empty(msg="Name required").to_string()


class Person:
    def __init__(self, name="Alice", age=30, email="alice@example.com"):
        self.name = name
        self.age = age
        self.email = email


class PersonEditor(Editor):
    def __init__(self, person):
        super().__init__(person, ("name", "age"))
        self.name.validate(not_empty)
        self.age.validate(self.check_age)

    def check_age(self, value):
        return validator.IntValidator(value, msg="Age: a number").greater_or_equal_than(0).lesser_than(150)()


# --- Property --------------------------------------------------------------------------------


def test_property_is_a_var():
    assert issubclass(Property, var.Var)


def test_property_initial_state():
    p = Property(42)
    assert p.value == 42
    assert p.input == 42
    assert p() == 42
    assert p.get() == 42
    assert p.error is None
    assert p.is_valid()
    default = Property()
    assert default.value is None and default.input is None and default.error is None


def test_property_without_validator_accepts_anything():
    p = Property("a")
    assert p("b") == "b"
    assert p.value == "b" and p.input == "b" and p.error is None
    p.set(None)
    assert p.value is None and p.input is None and p.error is None


def test_validate_returns_the_property():
    p = Property(1)
    assert p.validate(positive_int) is p
    assert p.validator is positive_int


def test_valid_input_converts():
    p = Property(1).validate(positive_int)
    assert p(" 12 ") == " 12 "
    assert p.input == " 12 "
    assert p() == " 12 "  # the form shows what the user typed
    assert p.value == 12  # the converted value
    assert p.error is None
    assert p.is_valid()


def test_invalid_input_keeps_last_valid_value():
    p = Property(1).validate(positive_int)
    p("12")
    p("-5")
    assert p.input == "-5"
    assert p() == "-5"
    assert p.value == 12
    assert p.error == "Must be greater than 0"
    assert not p.is_valid()
    p("abc")
    assert p.error == "Must be an integer"
    assert p.value == 12
    p("7")
    assert p.error is None
    assert p.value == 7
    assert p() == "7"


def test_invalid_first_input_keeps_initial_value():
    p = Property(5).validate(positive_int)
    p.set("0")
    assert p.value == 5
    assert p.input == "0"
    assert p.error == "Must be greater than 0"


def test_validator_returning_a_validator_is_unwrapped():
    p = Property().validate(positive_int_chain)
    p("3")
    assert p.value == 3 and type(p.value) is int
    p("-3")
    assert p.error == "Must be greater than 0"
    assert p.value == 3


def test_lambda_validator():
    p = Property().validate(lambda v: validator.StringValidator(v, strip=True).shorter_than(3))
    p(" ab ")
    assert p.value == "ab" and p.input == " ab "
    p("abcd")
    assert p.error == "Length must be shorter than 3 characters"


def test_validate_does_not_revalidate_current_input():
    p = Property(-1).validate(positive_int)
    assert p.error is None
    assert p.value == -1


def test_value_error_without_message():
    def fail(value):
        raise ValueError()

    p = Property(1).validate(fail)
    p("x")
    assert p.error == "Invalid value"
    assert p.value == 1


def test_other_exceptions_propagate():
    def broken(value):
        raise TypeError("bug")

    p = Property(1).validate(broken)
    with pytest.raises(TypeError):
        p("x")


def test_property_as_input_action():
    # The renderer registers the property as a value action: it is called with the submitted value.
    p = Property(1).validate(positive_int)
    callbacks = Callbacks()
    name = callbacks.register(1, p)
    callbacks.process([(name, "8")])
    assert p.value == 8 and p.input == "8" and p.error is None
    callbacks.process([(name, "zero")])
    assert p.value == 8 and p.input == "zero" and p.error == "Must be an integer"


def test_property_with_a_validator_made_without_a_value():
    p = Property("").validate(validator.to_int().lesser_than(50).greater_than(10))
    p("42")
    assert (p.input, p.value, p.error) == ("42", 42, None)
    p("70")
    assert (p.input, p.value, p.error) == ("70", 42, "Must be lesser than 50")
    q = pickle.loads(pickle.dumps(p))  # the chain goes into the state with the property
    q("11")
    assert (q.value, q.error) == (11, None)


def test_a_callable_result_is_called():
    # 0.5.1 calls whatever callable the validation function returns, not only validators
    p = Property().validate(lambda v: (lambda: v.upper()))
    p("abc")
    assert p.value == "ABC" and p.input == "abc"


class Upload:
    """What a file input submits when a file was chosen: .filename, .file, .value."""

    def __init__(self, filename, data):
        import io

        self.filename, self.file, self.value = filename, io.BytesIO(data), data


def test_an_upload_is_validated_but_not_kept_as_the_input():
    def size(f):
        if isinstance(f, str):
            return 0
        if len(f.value) > 3:
            raise ValueError("Too big")
        return len(f.value)

    p = Property("").validate(size)
    p(Upload("a.txt", b"ab"))
    assert p.input == "" and p.value == 2 and p.error is None
    p(Upload("b.txt", b"abcdef"))
    assert p.input == "" and p.value == 2 and p.error == "Too big"
    p.input = "before"
    p("")  # no file chosen: an empty string, kept as any input
    assert p.input == "" and p.value == 0


def test_property_commit():
    person = Person()
    p = Property("Alice")
    p("Zoe")
    p.commit(person, "name")
    assert person.name == "Zoe"


def test_properties_hash_and_compare_by_identity():
    p, q = Property(1), Property(1)
    assert p == p and p != q and len({p, q}) == 2


def test_property_repr():
    p = Property(1).validate(positive_int)
    p("x")
    assert repr(p) == "Property(value=1, input='x', error='Must be an integer')"


# --- Editor ----------------------------------------------------------------------------------


def test_editor_creates_properties():
    person = Person()
    e = Editor(person, ("name", "age"))
    assert e.target is person
    assert isinstance(e.name, Property) and isinstance(e.age, Property)
    assert e.name.value == "Alice" and e.name() == "Alice"
    assert e.age.value == 30
    assert not hasattr(e, "email")


def test_editor_accepts_any_iterable_of_names():
    e = Editor(Person(), ["name"])
    assert e.name.value == "Alice"
    e = Editor(Person(), (n for n in ("age",)))
    assert e.age.value == 30


def test_editor_unknown_attribute():
    with pytest.raises(AttributeError):
        Editor(Person(), ("missing",))


@pytest.mark.parametrize("name", ["target", "commit", "is_validated", "_names", "__dict__", "__class__"])
def test_editor_reserved_names(name):
    class Target:
        pass

    t = Target()
    if not name.startswith("__"):  # every object has its dunder attributes already
        setattr(t, name, 1)
    with pytest.raises(ValueError):
        Editor(t, (name,))


def test_is_validated():
    e = PersonEditor(Person())
    assert e.is_validated(("name", "age"))
    assert e.is_validated()
    e.age("-1")
    assert not e.is_validated(("name", "age"))
    assert not e.is_validated(("age",))
    assert e.is_validated(("name",))
    assert e.is_validated("name")  # one name as a string
    assert e.is_validated(())
    assert not e.is_validated()  # default: all the properties
    e.age("20")
    assert e.is_validated()


def test_is_validated_rejects_non_properties():
    e = PersonEditor(Person())
    with pytest.raises(TypeError):
        e.is_validated(("target",))


def test_commit_copies_valid_values():
    person = Person()
    e = PersonEditor(person)
    e.name("  Bob ")
    e.age("41")
    assert e.commit(("name", "age")) is True
    assert person.name == "Bob"
    assert person.age == 41
    assert person.email == "alice@example.com"


def test_commit_does_not_copy_when_invalid():
    person = Person()
    e = PersonEditor(person)
    e.name("Bob")
    e.age("200")
    assert e.age.error == "Must be lesser than 150"
    assert e.commit(("name", "age")) is False
    assert person.name == "Alice"  # not even the valid one
    assert person.age == 30


def test_commit_some_properties_only():
    person = Person()
    e = PersonEditor(person)
    e.name("Bob")
    e.age("oops")
    assert e.age.error == "Age: a number"
    assert e.commit(("name",)) is True
    assert person.name == "Bob"
    assert person.age == 30


def test_commit_with_properties_to_validate():
    person = Person()
    e = PersonEditor(person)
    e.name("Bob")
    e.age("oops")
    assert e.commit(("name",), ("age",)) is False
    assert person.name == "Alice"
    e.age("3")
    assert e.commit(("name",), ("age",)) is True
    assert person.name == "Bob"
    assert person.age == 30  # validated, not committed


def test_commit_default_is_all_properties():
    person = Person()
    e = PersonEditor(person)
    e.extra = Property("x")  # properties added later count too
    person.extra = None
    e.name("Carol")
    e.age("5")
    assert e.commit() is True
    assert (person.name, person.age, person.extra) == ("Carol", 5, "x")


def test_commit_after_fixing_error():
    person = Person()
    e = PersonEditor(person)
    e.name("")
    assert e.name.error == "Name required"
    assert not e.commit(("name",))
    e.name("Dave")
    assert e.commit(("name",))
    assert person.name == "Dave"


def test_editor_names_0_5_1_takes_private_and_subclass_attributes():
    class Target:
        def __init__(self):
            self._secret = "s"
            self.title = "t"

    class TitleEditor(Editor):
        title = "a class-level default the property replaces, as in 0.5.1"

    e = TitleEditor(Target(), ("_secret", "title"))
    assert e._secret.value == "s" and e.title.value == "t"
    e._secret("new")
    assert e.commit(("_secret",)) and e.target._secret == "new"


def test_commit_with_only_properties_to_validate_copies_nothing():
    # 0.5.1: properties_to_commit defaults to nothing; what is named to validate is checked only
    person = Person()
    e = PersonEditor(person)
    e.name("Bob")
    assert e.commit((), ("name", "age")) is True
    assert e.commit(properties_to_validate=("name",)) is True
    assert person.name == "Alice"
    e.age("oops")
    assert e.commit((), ("age",)) is False
    assert e.commit(properties_to_validate=("age",)) is False
    assert e.commit(()) is True and person.name == "Alice"  # nothing named: nothing to check or copy


def test_commit_goes_through_property_commit():
    class Upper(Property):
        def commit(self, o, name):
            setattr(o, name, str(self.value).upper())

    person = Person()
    e = Editor(person, ("name",))
    e.email = Upper("x@example.com")
    e.email("bob@example.com")
    assert e.commit(("name", "email")) and person.email == "BOB@EXAMPLE.COM"


# --- pickling --------------------------------------------------------------------------------


def test_property_pickle_round_trip():
    p = Property(1).validate(positive_int)
    p("x")
    q = pickle.loads(pickle.dumps(p))
    assert (q.value, q.input, q.error) == (1, "x", "Must be an integer")
    assert q.validator is positive_int
    q("9")
    assert (q.value, q.error) == (9, None)
    assert p.value == 1  # a copy


def test_property_default_validator_pickles():
    q = pickle.loads(pickle.dumps(Property("a")))
    assert q.validator is editor.no_validation
    q("b")
    assert q.value == "b"


def test_editor_pickle_round_trip():
    person = Person()
    e = PersonEditor(person)
    e.name("Eve")
    e.age("-4")
    f = pickle.loads(pickle.dumps(e))
    assert isinstance(f, PersonEditor)
    assert f.target is not person
    assert f.target.name == "Alice"
    assert f.name.value == "Eve"
    assert f.age.input == "-4" and f.age.error == "Must be greater or equal than 0"
    # the bound-method validator is bound to the copy
    assert f.age.validator.__self__ is f
    f.age("33")
    assert f.commit(("name", "age"))
    assert (f.target.name, f.target.age) == ("Eve", 33)
    assert (person.name, person.age) == ("Alice", 30)


def test_pickled_with_callbacks_stays_wired():
    # The state pickles the component tree and the callbacks registry together.
    e = PersonEditor(Person())
    callbacks = Callbacks()
    name = callbacks.register(1, e.age)
    e2, callbacks2 = pickle.loads(pickle.dumps((e, callbacks)))
    callbacks2.process([(name, "12")])
    assert e2.age.value == 12
    assert e.age.value == 30
