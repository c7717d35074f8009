"""The registry of actions: ids, priorities, values, image inputs, radio ids, the permission hook."""

import pickle

import pytest
import webob

from nagare.callbacks import IMAGE, LINK, POST_ACTION, PRE_ACTION, RADIO, SUBMIT, VALUE, Callbacks


def test_register_names_carry_the_priority_digit():
    callbacks = Callbacks()
    name = callbacks.register(LINK, lambda: None)
    assert name.startswith("_action4") and name[8:].isdigit()
    assert callbacks.register(SUBMIT, lambda: None).startswith("_action4")


def test_priorities_are_those_of_nagare_0_5():
    assert (PRE_ACTION, VALUE, RADIO, POST_ACTION, LINK, SUBMIT, IMAGE) == (0, 1, 2, 3, 4, 4, 5)


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
    image = callbacks.register(IMAGE, lambda is_y, v: calls.append(("image", is_y, v)))
    post = callbacks.register(POST_ACTION, lambda: calls.append("post"))
    submit = callbacks.register(SUBMIT, lambda: calls.append("submit"))
    radio = callbacks.register(RADIO, lambda: calls.append("radio"))
    value = callbacks.register(VALUE, lambda v: calls.append(("value", v)))
    pre = callbacks.register(PRE_ACTION, lambda: calls.append("pre"))
    params = [(image + ".x", "1"), (image + ".y", "2"), (post, ""), (submit, "Go"), ("group", radio), (value, "42"), (pre, ""), ("other", "x")]
    callbacks.process(params)
    # post_action after the values, before the button that sent the form; an image input last
    assert calls == ["pre", ("value", "42"), "radio", "post", "submit", ("image", False, 1), ("image", True, 2)]


def test_several_values_of_one_parameter_come_as_a_list():
    got = []
    callbacks = Callbacks()
    name = callbacks.register(VALUE, got.append)
    callbacks.process([(name, "a"), (name, "b")])
    assert got == [["a", "b"]]


def test_image_input_is_called_with_x_then_y():
    calls = []
    callbacks = Callbacks()
    name = callbacks.register(IMAGE, lambda is_y, v: calls.append((is_y, v)))
    results = callbacks.process([(name + ".y", "4"), (name + ".x", "3")])
    assert calls == [(False, 3), (True, 4)] and len(results) == 2
    calls.clear()
    callbacks.process([(name, "label"), (name + ".x", "7"), (name + ".y", "8")])  # a bare name too
    assert calls == [(False, 7), (True, 8)]


def test_image_input_coordinates_that_are_not_numbers_are_dropped():
    calls = []
    callbacks = Callbacks()
    name = callbacks.register(IMAGE, lambda is_y, v: calls.append((is_y, v)))
    callbacks.process([(name + ".x", "²"), (name + ".y", "9" * 30)])
    callbacks.process([(name + ".x", "-1"), (name + ".y", "5")])
    assert calls == [(True, 5)]


def test_a_radio_id_sent_as_a_value_triggers_the_radio_callback():
    calls = []
    callbacks = Callbacks()
    male = callbacks.register(RADIO, lambda: calls.append("male"))
    female = callbacks.register(RADIO, lambda: calls.append("female"))
    text = callbacks.register(VALUE, lambda v: calls.append(("text", v)))
    link = callbacks.register(LINK, lambda: calls.append("link"))
    params = [("gender", female), ("other", link), ("x", "_action2"), ("y", "_action2" + "0" * 5 + "x"), (text, male)]
    callbacks.process(params)
    # The radio chosen and the text typed, once each: neither another priority's id sent as a
    # value, nor the value of an action's own parameter, is taken for an id.
    assert calls == [("text", male), "female"]


def test_an_empty_file_field_gives_an_empty_string():
    got = []
    callbacks = Callbacks()
    name = callbacks.register(VALUE, got.append)
    body = (
        "--B\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n\r\n--B--\r\n" % name
    ).encode()
    request = webob.Request.blank("/", method="POST", body=body, content_type="multipart/form-data; boundary=B")
    assert list(request.params.values()) == [b""]  # what WebOb 1.8 hands over
    callbacks.process(request.params.items())
    assert got == [""] and type(got[0]) is str


def test_with_request_passes_request_and_response_before_the_value():
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


# --- the permission hook ------------------------------------------------------------------


class Refused(Exception):
    pass


def test_permissions_are_checked_before_the_callback():
    calls, checks = [], []
    callbacks = Callbacks()
    subject = object()
    guarded = callbacks.register(LINK, lambda: calls.append("guarded"), permissions="admin", subject=subject)
    value = callbacks.register(VALUE, lambda v: calls.append(v), permissions=("read", "write"))
    free = callbacks.register(LINK, lambda: calls.append("free"))

    def check(permissions, subject):
        checks.append((permissions, subject))
        calls.append("check")

    callbacks.process([(guarded, ""), (value, "v"), (free, "")], check=check)
    assert checks == [(("read", "write"), None), ("admin", subject)]
    assert calls == ["check", "v", "check", "guarded", "free"]


def test_a_refusing_check_stops_the_callback():
    calls = []
    callbacks = Callbacks()
    guarded = callbacks.register(LINK, lambda: calls.append("guarded"), permissions="admin")

    def refuse(permissions, subject):
        raise Refused(permissions)

    with pytest.raises(Refused):
        callbacks.process([(guarded, "")], check=refuse)
    assert calls == []
    callbacks.process([(guarded, "")])  # no check given: not checked
    assert calls == ["guarded"]


def test_permissions_and_subject_are_kept_in_the_state():
    callbacks = Callbacks()
    plain = pickle.dumps(callbacks)
    callbacks.register(LINK, print)
    one = len(pickle.dumps(callbacks)) - len(plain)
    name = callbacks.register(LINK, print, permissions="admin", subject="doc")
    restored = pickle.loads(pickle.dumps(callbacks))
    seen = []
    restored.process([(name, "")], check=lambda p, s: seen.append((p, s)))
    assert seen == [("admin", "doc")]
    second = Callbacks()
    second.register(LINK, print)
    second.register(LINK, print)
    assert len(pickle.dumps(second)) - len(plain) <= 2 * one  # no room taken without permissions


# --- requests that do not match the page ----------------------------------------------------


def test_an_id_sent_with_another_priority_is_skipped():
    # A forged or stale request must not call a callback in a way it was not registered for
    # (a value action without its value would fail with a traceback).
    calls = []
    callbacks = Callbacks()
    value = callbacks.register(VALUE, lambda v: calls.append(v))
    link = callbacks.register(LINK, lambda: calls.append("link"))
    digits_of = lambda name: name[8:]  # noqa: E731
    forged = [
        ("_action4" + digits_of(value), ""),  # as a link
        ("x", "_action2" + digits_of(value)),  # as a radio
        ("_action5" + digits_of(link) + ".x", "1"),  # as an image input
        ("_action1" + digits_of(link), "v"),  # a link as a value
    ]
    assert callbacks.process(forged) == [] and calls == []
    callbacks.process([(value, "v"), (link, "")])
    assert calls == ["v", "link"]


def test_an_image_input_without_coordinates_and_coordinates_of_other_actions_are_skipped():
    calls = []
    callbacks = Callbacks()
    image = callbacks.register(IMAGE, lambda is_y, v: calls.append((is_y, v)))
    value = callbacks.register(VALUE, lambda v: calls.append(v))
    link = callbacks.register(LINK, lambda: calls.append("link"))
    assert callbacks.process([(image, "label"), (value + ".x", "1"), (link + ".y", "2")]) == []
    assert calls == []


def test_a_parameter_without_a_name_is_skipped():
    # WebOb gives None as the name of a multipart part sent without one
    cb = Callbacks()
    calls = []
    name = cb.register(LINK, lambda: calls.append("link"))
    assert Callbacks.parse([(None, "x"), (name, "")]) == Callbacks.parse([(name, "")])
    cb.process([(None, "x"), (name, "")])
    assert calls == ["link"]


class _Callable(tuple):
    def __call__(self):
        return "a tuple that is a callable"


def _plain():
    return "plain"


def _with_request(request, response, value):
    return (request.method, value)


def test_a_plain_action_is_kept_alone_and_the_registries_pickled_before_still_run():
    callbacks = Callbacks()
    plain = callbacks.register(LINK, _plain)
    with_request = callbacks.register(VALUE, _with_request, with_request=True)
    odd = callbacks.register(LINK, _Callable())
    entries = callbacks.__getstate__()["callbacks"]
    assert entries[plain[7:]] is _plain  # no (callable, False) tuple to pickle in every state
    assert entries[with_request[7:]] == (_with_request, True) and entries[odd[7:]] == (_Callable(), False)
    request, response = webob.Request.blank("/"), webob.Response()
    assert callbacks.process([(plain, ""), (with_request, "7")], request, response) == [("GET", "7"), "plain"]
    assert callbacks.process([(odd, "")]) == ["a tuple that is a callable"]
    old = Callbacks()  # a registry stored before: every entry a tuple
    old.__setstate__({"callbacks": {"400001": (_plain, False), "100002": (_with_request, True)}, "next": 2})
    assert old.process([("_action400001", ""), ("_action100002", "8")], request, response) == [("GET", "8"), "plain"]
    assert pickle.loads(pickle.dumps(callbacks)).process([(plain, "")]) == ["plain"]
