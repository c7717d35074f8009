"""Hostile input: whatever the bytes and however they are cut, the connection either makes
events or raises ProtocolError, and it never loops."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nagare.fastcgi import NEED_DATA, Aborted, Closed, Connection, ProtocolError, StdinEnd
from nagare.fastcgi import records as r

from .test_connection import NGINX_PARAMS, begin, params, stdin

VALID = (
    r.encode_record(r.GET_VALUES, 0, r.encode_pairs({"FCGI_MAX_CONNS": ""}))
    + begin(1, keep_conn=True)
    + params(1, dict(list(NGINX_PARAMS.items())[:6]))
    + stdin(1, b"abc", b"defgh")
    + begin(2)
    + params(2, {"A": "b" * 130})
    + r.encode_record(r.ABORT_REQUEST, 2)
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(data: bytes, cuts: list[int]) -> None:
    """Feed `data` cut at `cuts`, then EOF, playing a worker; check the invariants."""
    conn = Connection(max_params_size=4096)
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)]) if b > a] + [b""]
    # Every event but the final Closed consumes at least one 8-byte header, and each piece
    # ends with one NEED_DATA: a bound on the calls, so a loop in the parser fails the test.
    bound = len(data) // 8 + 1 + len(pieces)
    count = 0
    try:
        for piece in pieces:
            conn.receive_data(piece)
            while True:
                event = conn.next_event()
                count += 1
                assert count <= bound, f"{count} events from {len(data)} bytes"
                if event is NEED_DATA:
                    break
                if isinstance(event, Closed):
                    assert not piece  # only after EOF
                    assert conn.next_event() == Closed()
                    return
                if isinstance(event, StdinEnd | Aborted):
                    conn.end_request(event.request_id)
                    conn.data_to_send()
        raise AssertionError("EOF made neither Closed nor ProtocolError")
    except ProtocolError as error:
        assert str(error) and "\n" not in str(error)


def cuts_of(data: bytes):
    return st.lists(st.integers(0, len(data)), max_size=12).map(sorted)


@FUZZ
@given(st.data())
def test_random_bytes(data):
    raw = data.draw(st.binary(max_size=400))
    run(raw, data.draw(cuts_of(raw)))


@FUZZ
@given(st.data())
def test_random_records(data):
    # Well-formed headers with random types, ids and bodies get past the header checks.
    records = data.draw(
        st.lists(
            st.tuples(st.integers(0, 13), st.integers(0, 3), st.binary(max_size=40)),
            max_size=12,
        )
    )
    raw = b"".join(r.encode_record(kind, rid, body) for kind, rid, body in records)
    run(raw, data.draw(cuts_of(raw)))


@FUZZ
@given(st.data())
def test_mutated_valid_request(data):
    raw = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        mutation = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        position = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if mutation == "flip" and raw:
            raw[position] ^= 1 << data.draw(st.integers(0, 7))
        elif mutation == "truncate":
            del raw[position:]
        elif mutation == "insert":
            raw[position:position] = data.draw(st.binary(min_size=1, max_size=16))
        elif mutation == "delete":
            del raw[position : position + data.draw(st.integers(1, 16))]
    raw = bytes(raw)
    run(raw, data.draw(cuts_of(raw)))


def test_the_valid_request_goes_through():
    run(VALID, [])
    run(VALID, list(range(1, len(VALID))))
