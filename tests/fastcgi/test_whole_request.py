"""A request read at once (`split_request`, `Connection.next_request`) and a request ended in one
string (`encode_end`): the pure-Python and the compiled versions, against each other and
against the record-by-record reading."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nagare.fastcgi import NEED_DATA, Connection, Params, Request, Stdin, StdinEnd, records
from nagare.fastcgi import records as r
from tests.fastcgi.test_connection import BODY, NGINX_PARAMS, begin, params, request, stdin

MAX = 1 << 20


def _compiled(name: str):
    try:
        from nagare.fastcgi import _speedups
    except ImportError as exc:
        pytest.fail(f"nagare.fastcgi._speedups is not built: {exc}")
    return getattr(_speedups, name)


@pytest.fixture(scope="module", params=["python", "compiled"])
def split(request):
    return r.split_request_python if request.param == "python" else _compiled("split_request")


@pytest.fixture(scope="module", params=["python", "compiled"])
def encode_end(request):
    return r.encode_end_python if request.param == "python" else _compiled("encode_end")


# -- split_request ---------------------------------------------------------------------------


def test_a_request_without_body(split):
    data = bytearray(begin(3) + params(3) + stdin(3))
    assert split(data, 0, MAX) == (3, False, NGINX_PARAMS, b"", len(data))


def test_a_body_in_several_records_is_joined(split):
    data = bytearray(begin(1, keep_conn=True) + params(1) + stdin(1, b"abc", b"d" * 70, b"e"))
    assert split(data, 0, MAX) == (1, True, NGINX_PARAMS, b"abc" + b"d" * 70 + b"e", len(data))


def test_a_body_not_all_there_is_left_to_the_records(split):
    head = begin() + params()
    data = bytearray(head + stdin(1, BODY)[:-3])
    assert split(data, 0, MAX) == (1, False, NGINX_PARAMS, None, len(head))
    # the end of the params, and another record before the body's end: the same
    other = head + r.encode_record(r.ABORT_REQUEST, 1) + stdin(1)
    assert split(bytearray(other), 0, MAX) == (1, False, NGINX_PARAMS, None, len(head))
    assert split(bytearray(head), 0, MAX) == (1, False, NGINX_PARAMS, None, len(head))


def test_what_follows_the_request_is_left(split):
    first = request(1, keep_conn=True)
    data = bytearray(b"x" * 5 + first + request(1)[:20])
    assert split(data, 5, MAX) == (1, True, NGINX_PARAMS, BODY, 5 + len(first))


def test_params_above_64k_in_several_records(split):
    pairs = {"HTTP_COOKIE": "c" * 100_000, "A": "b"}
    data = bytearray(begin() + params(1, pairs) + stdin(1))
    assert split(data, 0, MAX) == (1, False, pairs, b"", len(data))
    assert split(bytearray(begin() + params(1, {}) + stdin(1)), 0, MAX)[2] == {}


def test_padding_is_skipped(split):
    def padded(kind: int, content: bytes, padding: int) -> bytes:
        return r.pack_header(kind, 1, len(content), padding) + content + bytes(padding)

    pairs = r.encode_pairs(NGINX_PARAMS)
    data = bytearray(
        r.pack_header(r.BEGIN_REQUEST, 1, 8, 255) + r.BEGIN_REQUEST_BODY.pack(r.RESPONDER, 0) + bytes(255)
        + padded(r.PARAMS, pairs, 200) + padded(r.PARAMS, b"", 3) + padded(r.STDIN, b"xy", 1) + padded(r.STDIN, b"", 7)
    )
    assert split(data, 0, MAX) == (1, False, NGINX_PARAMS, b"xy", len(data))


NOT_ORDINARY = {
    "a management record first": r.encode_record(r.GET_VALUES, 0, r.encode_pairs({"FCGI_MAX_CONNS": ""})) + request(),
    "request id 0": begin(0) + params(0) + stdin(0),
    "another role": begin(1, role=r.AUTHORIZER) + params() + stdin(),
    "STDIN before the end of the params": begin() + stdin(),
    "PARAMS of another request": begin(1) + params(2) + stdin(1),
    "a BEGIN_REQUEST body of 16 bytes": r.encode_record(r.BEGIN_REQUEST, 1, bytes(16)) + params() + stdin(),
    "version 2": b"\x02" + request()[1:],
    "malformed pairs": begin() + r.encode_record(r.PARAMS, 1, b"\x05\x01ab") + r.encode_record(r.PARAMS, 1) + stdin(),
    "nothing": b"",
}


@pytest.mark.parametrize("case", sorted(NOT_ORDINARY))
def test_anything_else_is_left_to_the_records(split, case):
    assert split(bytearray(NOT_ORDINARY[case]), 0, MAX) is None


def test_params_above_the_limit_are_left_to_the_records(split):
    data = bytearray(request())
    size = len(r.encode_pairs(NGINX_PARAMS))
    assert split(data, 0, size - 1) is None
    assert split(data, 0, size) is not None


def test_a_request_cut_before_the_end_of_its_params_is_left_to_the_records(split):
    head = begin() + params()
    for cut in range(len(head)):
        assert split(bytearray(head[:cut]), 0, MAX) is None, cut


def _outcome(function, *args: object) -> object:
    try:
        return function(*args)
    except Exception as exc:  # noqa: BLE001 - the comparison says which
        return f"{type(exc).__name__}: {exc}"


@given(st.binary(max_size=400), st.integers(min_value=0, max_value=20))
@settings(max_examples=300)
def test_the_compiled_split_answers_as_the_python_one_on_any_bytes(data: bytes, offset: int) -> None:
    compiled = _compiled("split_request")
    # a valid head sometimes, so that the random part is read as params or a body
    for candidate in (data, begin() + data, begin() + params() + data):
        assert _outcome(compiled, bytearray(candidate), offset, MAX) == _outcome(r.split_request_python, bytearray(candidate), offset, MAX)


def _by_records(data: bytes) -> list[object]:
    conn = Connection()
    if data:  # b"" would be the end of the connection
        conn.receive_data(data)
    events = []
    while (event := conn.next_event()) is not NEED_DATA:
        events.append(event)
    return events


@given(
    st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=8),
    st.lists(st.binary(min_size=1, max_size=50), max_size=4),
    st.integers(min_value=0, max_value=400),
    st.booleans(),
)
@settings(max_examples=300)
def test_what_is_read_at_once_is_what_the_records_give(pairs, chunks, cut, keep):
    """Any ordinary request cut anywhere: split_request finds what the events would give."""
    pairs = {name.encode("utf-8").decode("latin-1"): value.encode("utf-8").decode("latin-1") for name, value in pairs.items()}
    whole = begin(7, keep_conn=keep) + params(7, pairs) + stdin(7, *chunks)
    data = whole[: min(cut, len(whole))] if cut < 400 else whole
    found = r.split_request(bytearray(data), 0, MAX)
    events = _by_records(data)
    if found is None:
        assert not any(isinstance(event, Params) for event in events)
        return
    request_id, keep_conn, got_params, body, offset = found
    assert (request_id, keep_conn) == (7, keep)
    assert got_params == pairs == next(event.params for event in events if isinstance(event, Params))
    if body is None:
        assert not any(isinstance(event, StdinEnd) for event in events)
    else:
        assert body == b"".join(event.data for event in events if isinstance(event, Stdin)) == b"".join(chunks)
        assert offset == len(whole)


# -- Connection.next_request -----------------------------------------------------------------


def test_next_request_makes_the_request_active():
    conn = Connection()
    conn.receive_data(request(1, keep_conn=True) + begin(1)[:5])
    assert conn.next_request() == Request(1, True, NGINX_PARAMS, BODY)
    assert conn.active == 1 and conn.keep_conn
    assert conn.next_request() is None  # one at a time
    assert conn.next_event() is NEED_DATA  # the next record is not all there
    end = conn.end_request(1)
    assert end.endswith(r.encode_end_request(1))
    assert conn.active is None and conn.buffered == 5


def test_a_body_not_received_comes_as_events():
    conn = Connection()
    conn.receive_data(begin() + params())
    assert conn.next_request() == Request(1, False, NGINX_PARAMS, None)
    assert conn.next_event() is NEED_DATA
    conn.receive_data(stdin(1, b"abc"))
    assert [conn.next_event(), conn.next_event(), conn.next_event()] == [Stdin(1, b"abc"), StdinEnd(1), NEED_DATA]


def test_a_request_ended_before_its_body_drops_the_rest_and_the_next_one_is_read_at_once():
    conn = Connection()
    conn.receive_data(begin() + params())
    assert conn.next_request().body is None
    conn.end_request(1)  # answered without reading the body: its records are dropped
    conn.receive_data(stdin(1, b"late") + request(1))
    assert conn.next_request() is None  # the dropped records first
    assert conn.next_event().__class__.__name__ == "RequestStarted"  # then the next request, by records


def test_next_request_leaves_anything_else_to_next_event():
    conn = Connection()
    conn.receive_data(begin(1, role=r.AUTHORIZER) + params() + stdin())
    assert conn.next_request() is None
    assert conn.next_event() is NEED_DATA  # refused, answered with UNKNOWN_ROLE
    assert conn.data_to_send() == r.encode_end_request(1, 0, r.UNKNOWN_ROLE)


# -- encode_end ------------------------------------------------------------------------------


def _separately(stdout: bytes, stderr: bytes, stderr_open: bool, app_status: int, protocol_status: int) -> bytes:
    """What send_stdout, send_stderr and end_request gave before they were one call."""
    conn = Connection()
    conn.receive_data(request(9))
    conn.next_request()
    if stderr_open:
        conn.send_stderr(9, b"!")
    return conn.send_stdout(9, stdout) + conn.send_stderr(9, stderr) + conn.end_request(9, app_status, protocol_status)


@pytest.mark.parametrize("size", [0, 1, 7, 8, r.CHUNK - 1, r.CHUNK, r.CHUNK + 1, 3 * r.CHUNK + 5])
@pytest.mark.parametrize("stderr", [b"", b"oops", bytes(r.CHUNK + 9)])
@pytest.mark.parametrize("stderr_open", [False, True])
def test_encode_end_gives_the_records_of_each_part(encode_end, size, stderr, stderr_open):
    stdout = os.urandom(size)
    assert encode_end(9, stdout, stderr, stderr_open, 0, r.REQUEST_COMPLETE) == _separately(stdout, stderr, stderr_open, 0, r.REQUEST_COMPLETE)


@pytest.mark.parametrize("app_status", [0, 3, 0xFFFFFFFF, -1])
def test_encode_end_statuses(encode_end, app_status):
    data = encode_end(0xABCD, b"", b"", False, app_status, r.OVERLOADED)
    assert data == r.pack_header(r.STDOUT, 0xABCD, 0) + r.encode_end_request(0xABCD, app_status, r.OVERLOADED)


@given(st.binary(max_size=3000), st.binary(max_size=100), st.booleans(), st.integers(min_value=0, max_value=0xFFFF))
@settings(max_examples=200)
def test_the_compiled_end_answers_as_the_python_one(stdout, stderr, stderr_open, request_id):
    compiled = _compiled("encode_end")
    assert compiled(request_id, stdout, stderr, stderr_open, 5, 0) == r.encode_end_python(request_id, stdout, stderr, stderr_open, 5, 0)


def test_the_compiled_parts_are_the_ones_in_use_unless_pure_python_is_asked_for():
    compiled = records.COMPILED
    assert (records.split_request is not r.split_request_python) is compiled
    assert (records.encode_end is not r.encode_end_python) is compiled
    assert compiled is (os.environ.get("NAGARE_FASTCGI_PURE") != "1")
