"""One FastCGI connection, application side, as a sans-IO state machine.

Bytes from the web server go in through `receive_data`, events come out of `next_event`; the
bytes to answer are returned by `send_stdout`, `send_stderr`, `end_request` and, for the replies
the connection makes by itself (management records, refused requests), `data_to_send`. Nothing
here touches a socket or a clock: the publisher owns them.

One request at a time is served on a connection (FCGI_MPXS_CONNS = 0), in the RESPONDER role.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from .records import (
    ABORT_REQUEST,
    BEGIN_REQUEST,
    BEGIN_REQUEST_BODY,
    CANT_MPX_CONN,
    DATA,
    END_REQUEST,
    GET_VALUES,
    GET_VALUES_RESULT,
    HEADER,
    HEADER_SIZE,
    KEEP_CONN,
    MAX_CONNS,
    MAX_REQS,
    MPXS_CONNS,
    PARAMS,
    REQUEST_COMPLETE,
    RESPONDER,
    STDERR,
    STDIN,
    STDOUT,
    TYPE_NAMES,
    UNKNOWN_ROLE,
    UNKNOWN_TYPE,
    UNKNOWN_TYPE_BODY,
    VERSION,
    ProtocolError,
    decode_pairs,
    encode_end,
    encode_end_request,
    encode_pairs,
    encode_record,
    encode_stream,
    split_request,
)


@dataclass(slots=True)
class RequestStarted:
    """A BEGIN_REQUEST in the RESPONDER role: `request_id` is now the active request."""

    request_id: int
    role: int
    keep_conn: bool


@dataclass(slots=True)
class Params:
    """The whole PARAMS stream of the active request (sent when the stream ends)."""

    request_id: int
    params: dict[str, str]


@dataclass(slots=True)
class Request:
    """A whole request read at once (`Connection.next_request`): `request_id` is now the active
    request, its params are all there, and its body too unless `body` is None (then the body
    comes as Stdin events and a StdinEnd, as after Params)."""

    request_id: int
    keep_conn: bool
    params: dict[str, str]
    body: bytes | None


@dataclass(slots=True)
class Stdin:
    """One chunk of the request body; never empty."""

    request_id: int
    data: bytes


@dataclass(slots=True)
class StdinEnd:
    """The end of the request body (the empty STDIN record)."""

    request_id: int


@dataclass(slots=True)
class Aborted:
    """The web server aborted the active request; answer it with `end_request`."""

    request_id: int


@dataclass(slots=True)
class Closed:
    """The web server closed the connection between two records."""


Event = RequestStarted | Params | Stdin | StdinEnd | Aborted | Closed


class _Sentinel(enum.Enum):
    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return self.value

    __str__ = __repr__


NEED_DATA = _Sentinel.NEED_DATA
"""Returned by `Connection.next_event` when it needs more bytes to make the next event."""

# Records an application never receives (they go from the application to the web server), and
# DATA, which only the FILTER role reads.
_NEVER_RECEIVED = frozenset((STDOUT, STDERR, END_REQUEST, GET_VALUES_RESULT, UNKNOWN_TYPE, DATA))


class Connection:
    """The state of one connection from a web server, which sends it one request at a time.

    `max_conns`, `max_reqs` and `mpxs_conns` are the values answered to GET_VALUES; requests are
    never multiplexed, so `mpxs_conns` must be False. A PARAMS stream above `max_params_size`
    bytes is a ProtocolError (a web server sends a few kilobytes).

    The bytes received are kept until `next_event` parses them: the caller bounds what it feeds.
    The replies queued for `data_to_send` may appear while a request is active (a refused
    BEGIN_REQUEST, GET_VALUES): the caller sends them whenever it sends.
    """

    def __init__(
        self,
        *,
        max_conns: int = 1,
        max_reqs: int = 1,
        mpxs_conns: bool = False,
        max_params_size: int = 1 << 20,
    ) -> None:
        if mpxs_conns:
            raise ValueError("a FastCGI connection serves one request at a time: mpxs_conns must be False")
        self._values = {MAX_CONNS: str(max_conns), MAX_REQS: str(max_reqs), MPXS_CONNS: "0"}
        self._max_params_size = max_params_size
        # The received bytes not parsed yet are _buffer[_offset:]: advancing an offset instead of
        # slicing the buffer after each record keeps a recv of many records linear.
        self._buffer = bytearray()
        self._offset = 0
        self._eof = False
        self._error: ProtocolError | None = None
        self._outgoing: list[bytes] = []
        self._active: int | None = None
        self._keep_conn = False
        self._params_done = False
        self._stdin_done = False
        self._params: list[bytearray] = []
        self._params_size = 0
        self._stderr_sent = False
        # Requests whose remaining records are dropped: the ones refused (CANT_MPX_CONN,
        # UNKNOWN_ROLE) and the ones ended before their body was read. A web server writes a
        # whole request before it reads the answer, so their records keep coming for a while;
        # closing the connection for them would also kill the request being served.
        self._dropped: set[int] = set()

    @property
    def active(self) -> int | None:
        """The id of the request being served, or None."""
        return self._active

    @property
    def keep_conn(self) -> bool:
        """Whether the web server keeps the connection open after the last request (False before any)."""
        return self._keep_conn

    @property
    def buffered(self) -> int:
        """How many bytes were received and not parsed yet (0: an idle connection has nothing pending)."""
        return len(self._buffer) - self._offset

    # -- input

    def receive_data(self, data: bytes) -> None:
        """Add bytes received from the web server; b"" means it closed the connection."""
        if self._eof:
            raise RuntimeError("FastCGI data received after the end of the connection")
        if not data:
            self._eof = True
            return
        buffer = self._buffer
        if self._offset:
            # Deleting the head of a bytearray is cheap in CPython (it moves a start pointer).
            del buffer[: self._offset]
            self._offset = 0
        buffer += data

    def next_event(self) -> Event | Literal[_Sentinel.NEED_DATA]:
        """The next event, or NEED_DATA; a ProtocolError means the connection must be closed.

        After a ProtocolError, every call raises it again; after Closed, every call returns Closed.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._next_event()
        except ProtocolError as error:
            self._error = error
            raise

    def next_request(self) -> Request | None:
        """With no request active, the next request at once if the bytes received hold an ordinary one, else None.

        Ordinary: a RESPONDER request whose params (and, usually, body) are all there, the
        request of a web server. The events a `next_event` would give for it (RequestStarted,
        Params, its body's Stdin and StdinEnd when `body` is not None) are then not given. None
        for anything else, without reading it: `next_event` gives the events, or the error.
        """
        if self._active is not None or self._error is not None or len(self._buffer) - self._offset < 2 * HEADER_SIZE:
            return None  # (the last test: after a request, most of the time, nothing more came)
        found = split_request(self._buffer, self._offset, self._max_params_size)
        if found is None:
            return None
        request_id, keep_conn, params, body, self._offset = found
        self._start(request_id, keep_conn, True, body is not None)
        return Request(request_id, keep_conn, params, body)

    def _start(self, request_id: int, keep_conn: bool, params_done: bool, stdin_done: bool) -> None:
        """`request_id` becomes the active request (of a BEGIN_REQUEST, or a whole request read at once)."""
        self._dropped.discard(request_id)
        self._active = request_id
        self._keep_conn = keep_conn
        self._params_done = params_done
        self._stdin_done = stdin_done
        self._params = []
        self._params_size = 0
        self._stderr_sent = False

    def _next_event(self) -> Event | Literal[_Sentinel.NEED_DATA]:
        buffer = self._buffer
        while True:
            offset = self._offset
            available = len(buffer) - offset
            if available < HEADER_SIZE:
                if not self._eof:
                    return NEED_DATA
                if available:
                    raise ProtocolError("connection closed mid-record")
                return Closed()
            version, record_type, request_id, length, padding = HEADER.unpack_from(buffer, offset)
            if version != VERSION:
                raise ProtocolError(f"unsupported FastCGI version {version}")
            start = offset + HEADER_SIZE
            stop = start + length
            if stop + padding > len(buffer):
                if self._eof:
                    raise ProtocolError("connection closed mid-record")
                return NEED_DATA
            self._offset = stop + padding
            event = self._handle(record_type, request_id, buffer, start, stop)
            if event is not None:
                return event

    def _handle(self, record_type: int, request_id: int, buffer: bytearray, start: int, stop: int) -> Event | None:
        """The event of one whole record, or None when it makes none."""
        # The branches are in the order of the records of a typical request.
        if request_id == self._active:
            if record_type == PARAMS:
                if self._params_done:
                    raise ProtocolError(f"PARAMS record for request {request_id} after the end of its params")
                if start == stop:
                    self._params_done = True
                    chunks = self._params
                    # A web server sends the params in one record unless they exceed 64 KB.
                    params = decode_pairs(chunks[0] if len(chunks) == 1 else b"".join(chunks))
                    self._params = []
                    return Params(request_id, params)
                self._params_size += stop - start
                if self._params_size > self._max_params_size:
                    raise ProtocolError(
                        f"the params of request {request_id} exceed {self._max_params_size} bytes"
                    )
                self._params.append(buffer[start:stop])
                return None
            if record_type == STDIN:
                if not self._params_done:
                    raise ProtocolError(f"STDIN record for request {request_id} before the end of its params")
                if self._stdin_done:
                    raise ProtocolError(f"STDIN record for request {request_id} after the end of its body")
                if start == stop:
                    self._stdin_done = True
                    return StdinEnd(request_id)
                # One copy, straight from the buffer (a bytearray slice then bytes() would be two).
                with memoryview(buffer) as view:
                    data = view[start:stop].tobytes()
                return Stdin(request_id, data)
            if record_type == ABORT_REQUEST:
                return Aborted(request_id)
        if request_id == 0:
            self._management(record_type, buffer, start, stop)  # answered by a record to send
            return None
        if record_type == BEGIN_REQUEST:
            return self._begin_request(request_id, buffer, start, stop)
        name = TYPE_NAMES.get(record_type)
        if name is None:
            # UNKNOWN_TYPE answers management records only (spec section 4.2).
            raise ProtocolError(f"unknown FastCGI record type {record_type} for request {request_id}")
        if record_type in _NEVER_RECEIVED or record_type == GET_VALUES:
            raise ProtocolError(f"unexpected {name} record for request {request_id}")
        if request_id in self._dropped:
            # The web server's rest of a refused or ended request; its body end or an abort
            # closes it on its side too.
            if (record_type == STDIN and start == stop) or record_type == ABORT_REQUEST:
                self._dropped.discard(request_id)
            return None
        raise ProtocolError(f"{name} record for request {request_id}, which is not active")

    def _begin_request(self, request_id: int, buffer: bytearray, start: int, stop: int) -> Event | None:
        if stop - start != BEGIN_REQUEST_BODY.size:
            raise ProtocolError(f"BEGIN_REQUEST body of {stop - start} bytes for request {request_id} (not 8)")
        role, flags = BEGIN_REQUEST_BODY.unpack_from(buffer, start)
        if request_id == self._active:
            raise ProtocolError(f"BEGIN_REQUEST record for request {request_id}, which is already active")
        if self._active is not None:
            self._dropped.add(request_id)
            self._outgoing.append(encode_end_request(request_id, 0, CANT_MPX_CONN))
            return None
        if role != RESPONDER:
            self._dropped.add(request_id)
            self._outgoing.append(encode_end_request(request_id, 0, UNKNOWN_ROLE))
            return None
        keep_conn = bool(flags & KEEP_CONN)
        self._start(request_id, keep_conn, False, False)
        return RequestStarted(request_id, role, keep_conn)

    def _management(self, record_type: int, buffer: bytearray, start: int, stop: int) -> None:
        if record_type == GET_VALUES:
            asked = decode_pairs(buffer[start:stop])
            values = {name: self._values[name] for name in asked if name in self._values}
            self._outgoing.append(encode_record(GET_VALUES_RESULT, 0, encode_pairs(values)))
            return None
        name = TYPE_NAMES.get(record_type)
        if name is not None:
            raise ProtocolError(f"{name} record with request id 0")
        self._outgoing.append(encode_record(UNKNOWN_TYPE, 0, UNKNOWN_TYPE_BODY.pack(record_type)))
        return None

    # -- output

    def data_to_send(self) -> bytes:
        """The replies the connection made by itself since the last call, or b""."""
        if not self._outgoing:
            return b""
        data = b"".join(self._outgoing)
        self._outgoing.clear()
        return data

    def _not_active(self, request_id: int) -> ValueError:
        # A bug of the caller, not of the peer: not a ProtocolError.
        return ValueError(f"FastCGI request {request_id} is not active (active: {self._active})")

    def send_stdout(self, request_id: int, data: bytes) -> bytes:
        """STDOUT records carrying `data` for the active request; b"" for empty data."""
        if request_id != self._active:
            raise self._not_active(request_id)
        return encode_stream(STDOUT, request_id, data)

    def send_stderr(self, request_id: int, data: bytes) -> bytes:
        """STDERR records carrying `data` for the active request; b"" for empty data."""
        if request_id != self._active:
            raise self._not_active(request_id)
        if data:
            self._stderr_sent = True
        return encode_stream(STDERR, request_id, data)

    def end_request(
        self, request_id: int, app_status: int = 0, protocol_status: int = REQUEST_COMPLETE, *, stdout: bytes = b"", stderr: bytes = b""
    ) -> bytes:
        """The records ending the active request: the last `stdout` and `stderr` of its streams
        (as `send_stdout` and `send_stderr` give them), the empty STDOUT (and STDERR when some
        was sent) closing its streams, then END_REQUEST. The request is no longer active after it."""
        if request_id != self._active:
            raise self._not_active(request_id)
        data = encode_end(request_id, stdout, stderr, self._stderr_sent, app_status, protocol_status)
        if not self._stdin_done:
            self._dropped.add(request_id)
        self._active = None
        self._params = []
        self._params_size = 0
        return data
