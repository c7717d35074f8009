"""The record layouts and the name-value pair codec, tested with bytes."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nagare.fastcgi import records
from nagare.fastcgi.records import ProtocolError, decode_pairs_python, encode_pairs


@pytest.fixture(scope="module", params=["python", "compiled"])
def decode_pairs(request):
    """Both implementations: the pure-Python one and nagare.fastcgi._speedups (built at install
    where a C compiler is: a missing build fails here, it is not skipped)."""
    if request.param == "python":
        return decode_pairs_python
    try:
        from nagare.fastcgi import _speedups
    except ImportError as exc:
        pytest.fail(f"nagare.fastcgi._speedups is not built: {exc}")
    return lambda data: _speedups.decode_pairs(ProtocolError, data)

latin1 = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=300)


def test_header_pack_unpack():
    header = records.pack_header(records.STDOUT, 0x1234, 0xFFFF, 255)
    assert header == b"\x01\x06\x12\x34\xff\xff\xff\x00"
    assert records.unpack_header(b"xx" + header, 2) == (1, records.STDOUT, 0x1234, 0xFFFF, 255)


def test_record_is_padded_to_8():
    record = records.encode_record(records.STDIN, 1, b"abc")
    assert record == b"\x01\x05\x00\x01\x00\x03\x05\x00abc\x00\x00\x00\x00\x00"
    assert records.encode_record(records.STDIN, 1) == b"\x01\x05\x00\x01\x00\x00\x00\x00"
    with pytest.raises(ValueError):
        records.encode_record(records.STDIN, 1, bytes(0x10000))


def test_end_request_body():
    record = records.encode_end_request(3, 0x01020304, records.UNKNOWN_ROLE)
    assert record == b"\x01\x03\x00\x03\x00\x08\x00\x00" + b"\x01\x02\x03\x04\x03\x00\x00\x00"
    # A negative exit code is wrapped into the unsigned 32-bit field rather than failing.
    assert records.encode_end_request(1, -1)[8:12] == b"\xff\xff\xff\xff"


def test_one_byte_lengths():
    assert encode_pairs({"A": "bc"}) == b"\x01\x02Abc"
    assert encode_pairs([("", "")]) == b"\x00\x00"
    assert encode_pairs({"N" * 127: ""})[:2] == b"\x7f\x00"


def test_four_byte_lengths_from_128(decode_pairs):
    data = encode_pairs({"N": "v" * 128})
    assert data[:6] == b"\x01\x80\x00\x00\x80N"
    assert decode_pairs(data) == {"N": "v" * 128}
    data = encode_pairs({"n" * 70000: "v" * 300})
    assert data[:8] == b"\x80\x01\x11\x70\x80\x00\x01\x2c"
    assert decode_pairs(data) == {"n" * 70000: "v" * 300}


def test_a_4_byte_length_below_128_is_accepted(decode_pairs):
    # The spec does not forbid the long form for a short length; a server must read it.
    assert decode_pairs(b"\x80\x00\x00\x01\x01Ab") == {"A": "b"}


def test_names_and_values_are_latin1_native_strings(decode_pairs):
    assert decode_pairs(b"\x01\x02\xe9\xc3\xa9") == {"\xe9": "\xc3\xa9"}
    assert encode_pairs([(b"\xff", b"\x00")]) == b"\x01\x01\xff\x00"


def test_last_duplicate_wins(decode_pairs):
    assert decode_pairs(b"\x01\x01Aa\x01\x01Bb\x01\x01Ac") == {"A": "c", "B": "b"}


@pytest.mark.parametrize(
    "data",
    [
        b"\x01",  # no value length
        b"\x80\x00\x00",  # a cut 4-byte name length
        b"\x01\x80\x00",  # a cut 4-byte value length
        b"\x01\x02Ab",  # the value runs past the end
        b"\x05\x00AB",  # the name runs past the end
        b"\x01\x01Ab\x01",  # a second pair cut
        b"\xff\xff\xff\xff\x00",  # a 2 GB name
    ],
)
def test_truncated_pairs_are_protocol_errors(data, decode_pairs):
    with pytest.raises(ProtocolError) as info:
        decode_pairs(data)
    assert "\n" not in str(info.value)


def test_decode_accepts_any_bytes_like(decode_pairs):
    data = encode_pairs({"A": "b", "C": "d" * 200})
    assert decode_pairs(bytearray(data)) == decode_pairs(memoryview(data)) == {"A": "b", "C": "d" * 200}


@settings(max_examples=200, deadline=None)
@given(pairs=st.dictionaries(latin1, latin1, max_size=20))
def test_pairs_round_trip(pairs, decode_pairs):
    assert decode_pairs(encode_pairs(pairs)) == pairs


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=200000), st.sampled_from([records.STDOUT, records.STDERR]))
def test_stream_records(data, record_type):
    stream = records.encode_stream(record_type, 7, data)
    assert _read_stream(stream, record_type, 7) == data


def test_stream_of_nothing_is_nothing():
    assert records.encode_stream(records.STDOUT, 1, b"") == b""


def _read_stream(stream: bytes, record_type: int, request_id: int) -> bytes:
    out, i = [], 0
    while i < len(stream):
        version, kind, rid, length, padding = records.unpack_header(stream, i)
        assert (version, kind, rid) == (1, record_type, request_id)
        assert 0 < length <= 0xFFFF and (length + padding) % 8 == 0 and padding < 8
        out.append(stream[i + 8 : i + 8 + length])
        i += 8 + length + padding
    assert i == len(stream)
    return b"".join(out)


def _outcome(decode, data: bytes) -> object:
    try:
        return decode(data)
    except ProtocolError as exc:
        return f"ProtocolError: {exc}"


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_the_compiled_decoder_answers_as_the_python_one_on_any_bytes(data: bytes) -> None:
    from nagare.fastcgi import _speedups

    assert _outcome(lambda d: _speedups.decode_pairs(ProtocolError, d), data) == _outcome(decode_pairs_python, data)


def test_the_compiled_decoder_is_the_one_in_use_unless_pure_python_is_asked_for() -> None:
    import subprocess
    import sys

    code = "from nagare.fastcgi import records; print(records.COMPILED)"
    env = {name: value for name, value in os.environ.items() if name != "NAGARE_FASTCGI_PURE"}
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip() == "True"
    pure = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "NAGARE_FASTCGI_PURE": "1"})
    assert pure.stdout.strip() == "False"
