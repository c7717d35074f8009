"""FastCGI 1.0 records: the constants, the header and body layouts, the name-value pair codec.

Everything here is a pure function of bytes; `nagare.fastcgi.connection` puts it together into
the state machine of one connection. The numbers are those of the FastCGI 1.0 specification.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Callable, Iterable, Mapping
from typing import TypeAlias

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


def encode_end_python(request_id: int, stdout: bytes, stderr: bytes, stderr_open: bool, app_status: int, protocol_status: int) -> bytes:
    """The last records of a request, in one string: `stdout` and `stderr` as records of their
    streams, the empty record closing STDOUT (and STDERR's, when `stderr` or, before it,
    `stderr_open` wrote to it), then END_REQUEST."""
    parts = [encode_stream(STDOUT, request_id, stdout)]
    if stderr:
        parts.append(encode_stream(STDERR, request_id, stderr))
    parts.append(HEADER.pack(VERSION, STDOUT, request_id, 0, 0))
    if stderr or stderr_open:
        parts.append(HEADER.pack(VERSION, STDERR, request_id, 0, 0))
    parts.append(encode_end_request(request_id, app_status, protocol_status))
    return b"".join(parts)


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


#: (request id, keep_conn, params, body or None, offset after what was read): see split_request_python.
WholeRequest: TypeAlias = tuple[int, bool, dict[str, str], "bytes | None", int]


def split_request_python(data: bytearray, offset: int, max_params_size: int) -> WholeRequest | None:
    """The ordinary request at `offset` of `data` read at once, or None.

    Ordinary: a BEGIN_REQUEST of a non-zero id in the RESPONDER role, then the whole PARAMS stream
    of that id (at most `max_params_size` bytes, well-formed pairs) and, when it is there
    complete, its whole STDIN stream. The body is None when the STDIN stream is not all in `data`
    (or another record comes first): the offset returned is then the end of the params, and the
    body's records are read one by one. None for anything else, whatever it is (incomplete,
    another record, a refused role, malformed): the record-by-record reading
    (`nagare.fastcgi.Connection.next_event`) then reads it and says what is wrong.
    """
    end = len(data)
    if end - offset < 2 * HEADER_SIZE:
        return None
    unpack = HEADER.unpack_from
    version, kind, request_id, length, padding = unpack(data, offset)
    if version != VERSION or kind != BEGIN_REQUEST or not request_id or length != BEGIN_REQUEST_BODY.size:
        return None
    role, flags = BEGIN_REQUEST_BODY.unpack_from(data, offset + HEADER_SIZE)
    if role != RESPONDER:
        return None
    i = offset + HEADER_SIZE + length + padding
    chunks: list[tuple[int, int]] = []
    size = 0
    while True:
        if end - i < HEADER_SIZE:
            return None
        version, kind, rid, length, padding = unpack(data, i)
        if version != VERSION or kind != PARAMS or rid != request_id:
            return None
        start = i + HEADER_SIZE
        i = start + length + padding
        if i > end:
            return None
        if not length:
            break
        size += length
        if size > max_params_size:
            return None
        chunks.append((start, start + length))
    try:
        if len(chunks) == 1:
            params = decode_pairs(data[chunks[0][0] : chunks[0][1]])
        else:
            params = decode_pairs(b"".join(data[a:b] for a, b in chunks))
    except ProtocolError:
        return None
    keep_conn = bool(flags & KEEP_CONN)
    after_params = i
    chunks = []
    while True:
        if end - i < HEADER_SIZE:
            return request_id, keep_conn, params, None, after_params
        version, kind, rid, length, padding = unpack(data, i)
        start = i + HEADER_SIZE
        if version != VERSION or kind != STDIN or rid != request_id or start + length + padding > end:
            return request_id, keep_conn, params, None, after_params
        i = start + length + padding
        if not length:
            break
        chunks.append((start, start + length))
    with memoryview(data) as view:
        body = b"".join([view[a:b] for a, b in chunks])
    return request_id, keep_conn, params, body, i


_Decode: TypeAlias = Callable[[bytes | bytearray | memoryview], dict[str, str]]
_Split: TypeAlias = Callable[[bytearray, int, int], WholeRequest | None]
_End: TypeAlias = Callable[[int, bytes, bytes, bool, int, int], bytes]


def _compiled() -> tuple[_Decode, _Split, _End] | None:
    """The compiled decode_pairs, split_request and encode_end (nagare.fastcgi._speedups, built
    when a C compiler was there at install), unless NAGARE_FASTCGI_PURE=1; None without it."""
    if os.environ.get("NAGARE_FASTCGI_PURE") == "1":
        return None
    try:
        from nagare.fastcgi import _speedups  # type: ignore[attr-defined]
    except ImportError:
        return None
    decode: Callable[[type[Exception], bytes | bytearray | memoryview], dict[str, str]] = _speedups.decode_pairs
    split: _Split = _speedups.split_request
    end: _End = _speedups.encode_end
    return functools.partial(decode, ProtocolError), split, end


_speedups = _compiled()
decode_pairs = decode_pairs_python if _speedups is None else _speedups[0]
split_request = split_request_python if _speedups is None else _speedups[1]
encode_end = encode_end_python if _speedups is None else _speedups[2]
COMPILED = _speedups is not None  # for the tests and the status
