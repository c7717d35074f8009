import pytest

from nagare.callbacks import LINK, POST_ACTION, PRE_ACTION, SUBMIT, VALUE, Callbacks


def test_register_names_carry_the_priority_digit():
    callbacks = Callbacks()
    name = callbacks.register(LINK, lambda: None)
    assert name.startswith("_action2") and name[8:].isdigit()
    assert callbacks.register(SUBMIT, lambda: None).startswith("_action4")


def test_ids_stay_unique_after_clear():
    callbacks = Callbacks()
    first = callbacks.register(LINK, lambda: None)
    callbacks.clear()
    assert len(callbacks) == 0
    assert callbacks.register(LINK, lambda: None) != first


def test_bad_priority_is_refused():
    with pytest.raises(ValueError):
        Callbacks().register(10, lambda: None)


def test_process_runs_in_priority_order_with_values():
    calls = []
    callbacks = Callbacks()
    post = callbacks.register(POST_ACTION, lambda: calls.append("post"))
    submit = callbacks.register(SUBMIT, lambda: calls.append("submit"))
    value = callbacks.register(VALUE, lambda v: calls.append(("value", v)))
    pre = callbacks.register(PRE_ACTION, lambda: calls.append("pre"))
    callbacks.process([(post, ""), (submit, "Go"), (value, "42"), (pre, ""), ("other", "x")])
    assert calls == ["pre", ("value", "42"), "submit", "post"]


def test_several_values_of_one_parameter_come_as_a_list():
    got = []
    callbacks = Callbacks()
    name = callbacks.register(VALUE, got.append)
    callbacks.process([(name, "a"), (name, "b")])
    assert got == [["a", "b"]]


def test_image_input_coordinates_call_once_without_value():
    calls = []
    callbacks = Callbacks()
    name = callbacks.register(SUBMIT, lambda: calls.append("clicked"))
    callbacks.process([(name + ".x", "3"), (name + ".y", "4")])
    assert calls == ["clicked"]


def test_with_request_passes_request_and_response_first():
    got = []
    callbacks = Callbacks()
    name = callbacks.register(VALUE, lambda req, resp, v: got.append((req, resp, v)), with_request=True)
    callbacks.process([(name, "x")], "REQ", "RESP")
    assert got == [("REQ", "RESP", "x")]


def test_unknown_and_malformed_ids_are_skipped():
    callbacks = Callbacks()
    callbacks.register(LINK, lambda: 1 / 0)
    assert callbacks.process([("_action299999", ""), ("_actionX", ""), ("_action2", "")]) == []


def test_results_are_returned_in_call_order():
    callbacks = Callbacks()
    a = callbacks.register(LINK, lambda: "a")
    b = callbacks.register(PRE_ACTION, lambda: "b")
    assert callbacks.process([(a, ""), (b, "")]) == ["b", "a"]
