"""FastCGI 1.0 records: the constants, the header and body layouts, the name-value pair codec.

Everything here is a pure function of bytes; `nagare.fastcgi.connection` puts it together into
the state machine of one connection. The numbers are those of the FastCGI 1.0 specification.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Callable, Iterable, Mapping

VERSION = 1

# Record types (spec section 8).
BEGIN_REQUEST = 1
ABORT_REQUEST = 2
END_REQUEST = 3
PARAMS = 4
STDIN = 5
STDOUT = 6
STDERR = 7
DATA = 8
GET_VALUES = 9
GET_VALUES_RESULT = 10
UNKNOWN_TYPE = 11

TYPE_NAMES: dict[int, str] = {
    BEGIN_REQUEST: "BEGIN_REQUEST",
    ABORT_REQUEST: "ABORT_REQUEST",
    END_REQUEST: "END_REQUEST",
    PARAMS: "PARAMS",
    STDIN: "STDIN",
    STDOUT: "STDOUT",
    STDERR: "STDERR",
    DATA: "DATA",
    GET_VALUES: "GET_VALUES",
    GET_VALUES_RESULT: "GET_VALUES_RESULT",
    UNKNOWN_TYPE: "UNKNOWN_TYPE",
}

# Roles (BEGIN_REQUEST body) and protocol statuses (END_REQUEST body).
RESPONDER = 1
AUTHORIZER = 2
FILTER = 3
REQUEST_COMPLETE = 0
CANT_MPX_CONN = 1
OVERLOADED = 2
UNKNOWN_ROLE = 3

KEEP_CONN = 1  # the only flag of a BEGIN_REQUEST body

# The names of the GET_VALUES variables an application answers (spec section 4.1).
MAX_CONNS = "FCGI_MAX_CONNS"
MAX_REQS = "FCGI_MAX_REQS"
MPXS_CONNS = "FCGI_MPXS_CONNS"

# version, type, request id, content length, padding length, reserved byte.
HEADER = struct.Struct("!BBHHBx")
HEADER_SIZE = HEADER.size
BEGIN_REQUEST_BODY = struct.Struct("!HB5x")  # role, flags
END_REQUEST_BODY = struct.Struct("!LB3x")  # app status, protocol status
UNKNOWN_TYPE_BODY = struct.Struct("!B7x")  # the type not understood
_LENGTH4 = struct.Struct("!L")

MAX_CONTENT = 0xFFFF
# Streams are cut at the largest multiple of 8 that fits the 16-bit length: full records then
# need no padding, and only the last one of a stream does.
CHUNK = MAX_CONTENT & ~7
# Enough zero bytes for any padding this module writes (at most 7).
_PADDING = bytes(8)


class ProtocolError(Exception):
    """Malformed or hostile input: the connection must be closed. Its str() is one line."""


def pack_header(record_type: int, request_id: int, content_length: int, padding_length: int = 0) -> bytes:
    """The 8-byte header of a record."""
    return HEADER.pack(VERSION, record_type, request_id, content_length, padding_length)


def unpack_header(data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int, int, int, int]:
    """(version, type, request id, content length, padding length) of the header at `offset`."""
    return HEADER.unpack_from(data, offset)


def encode_record(record_type: int, request_id: int, content: bytes | bytearray | memoryview = b"") -> bytes:
    """One record holding `content` (at most 65535 bytes), padded to a multiple of 8 bytes."""
    length = len(content)
    if length > MAX_CONTENT:
        raise ValueError(f"a record holds at most {MAX_CONTENT} bytes, not {length}")
    padding = -length & 7
    return b"".join((HEADER.pack(VERSION, record_type, request_id, length, padding), content, _PADDING[:padding]))


def encode_stream(record_type: int, request_id: int, data: bytes | bytearray | memoryview) -> bytes:
    """`data` as records of one stream (STDOUT, STDERR, ...), without the empty closing record.

    Empty `data` gives b"": an empty record would end the stream.
    """
    length = len(data)
    if length <= CHUNK:
        if not length:
            return b""
        padding = -length & 7
        return b"".join((HEADER.pack(VERSION, record_type, request_id, length, padding), data, _PADDING[:padding]))
    # The slices of a memoryview are not copies: the single join below is the only copy.
    view = memoryview(data).cast("B")
    full = HEADER.pack(VERSION, record_type, request_id, CHUNK, 0)
    parts: list[bytes | memoryview] = []
    last = length - length % CHUNK
    for start in range(0, last, CHUNK):
        parts.append(full)
        parts.append(view[start : start + CHUNK])
    rest = length - last
    if rest:
        padding = -rest & 7
        parts.append(HEADER.pack(VERSION, record_type, request_id, rest, padding))
        parts.append(view[last:])
        parts.append(_PADDING[:padding])
    return b"".join(parts)


def encode_end_request(request_id: int, app_status: int = 0, protocol_status: int = REQUEST_COMPLETE) -> bytes:
    """The END_REQUEST record of `request_id`."""
    # The app status is a 32-bit unsigned field; a negative exit code is wrapped as C would.
    body = END_REQUEST_BODY.pack(app_status & 0xFFFFFFFF, protocol_status)
    return HEADER.pack(VERSION, END_REQUEST, request_id, END_REQUEST_BODY.size, 0) + body


def _encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    if length > 0x7FFFFFFF:
        raise ValueError(f"a name or value holds at most 2**31 - 1 bytes, not {length}")
    return _LENGTH4.pack(length | 0x80000000)


def encode_pairs(pairs: Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]) -> bytes:
    """The name-value pairs stream of `pairs` (spec section 3.4); str are encoded latin-1."""
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    parts: list[bytes] = []
    for name, value in items:
        raw_name = name.encode("latin-1") if isinstance(name, str) else bytes(name)
        raw_value = value.encode("latin-1") if isinstance(value, str) else bytes(value)
        parts.append(_encode_length(len(raw_name)))
        parts.append(_encode_length(len(raw_value)))
        parts.append(raw_name)
        parts.append(raw_value)
    return b"".join(parts)


def decode_pairs_python(data: bytes | bytearray | memoryview) -> dict[str, str]:
    """The name-value pairs of a whole stream, decoded latin-1 (PEP 3333 native strings).

    The last of duplicate names wins. A length running past the end is a ProtocolError.
    """
    # Lengths are read as ints from the bytes, names and values are sliced from one latin-1
    # decoding of the whole stream (latin-1 maps byte i to character i): measured faster than
    # decoding each slice, and the stream is the bulk of the bytes of a typical request.
    text = str(data, "latin-1")
    end = len(text)
    unpack4 = _LENGTH4.unpack_from
    pairs: dict[str, str] = {}
    i = 0
    try:
        while i < end:
            name_length = data[i]
            if name_length & 0x80:
                name_length = unpack4(data, i)[0] & 0x7FFFFFFF
                i += 4
            else:
                i += 1
            value_length = data[i]
            if value_length & 0x80:
                value_length = unpack4(data, i)[0] & 0x7FFFFFFF
                i += 4
            else:
                i += 1
            middle = i + name_length
            stop = middle + value_length
            if stop > end:
                raise ProtocolError(f"a FastCGI name-value pair runs {stop - end} bytes past the end of its stream")
            pairs[text[i:middle]] = text[middle:stop]
            i = stop
    except (IndexError, struct.error):
        raise ProtocolError("a FastCGI name-value pair length is cut by the end of its stream") from None
    return pairs


def _compiled() -> Callable[[bytes | bytearray | memoryview], dict[str, str]] | None:
    """The compiled decode_pairs (nagare.fastcgi._speedups, built when a C compiler was there at
    install), unless NAGARE_FASTCGI_PURE=1; None without it."""
    if os.environ.get("NAGARE_FASTCGI_PURE") == "1":
        return None
    try:
        from nagare.fastcgi import _speedups  # type: ignore[attr-defined]
    except ImportError:
        return None
    compiled: Callable[[type[Exception], bytes | bytearray | memoryview], dict[str, str]] = _speedups.decode_pairs
    return functools.partial(compiled, ProtocolError)


decode_pairs = _compiled() or decode_pairs_python
COMPILED = decode_pairs is not decode_pairs_python  # for the tests and the status
