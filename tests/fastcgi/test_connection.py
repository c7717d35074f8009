"""The connection state machine, fed bytes whole, one byte at a time and with trailing bytes."""

from __future__ import annotations

import pytest

from nagare.fastcgi import (
    AUTHORIZER,
    CANT_MPX_CONN,
    FILTER,
    NEED_DATA,
    REQUEST_COMPLETE,
    RESPONDER,
    UNKNOWN_ROLE,
    Aborted,
    Closed,
    Connection,
    Params,
    ProtocolError,
    RequestStarted,
    Stdin,
    StdinEnd,
)
from nagare.fastcgi import records as r
from tests.support import fcgi_client

NGINX_PARAMS = {
    "QUERY_STRING": "_s=4242&_c=17",
    "REQUEST_METHOD": "POST",
    "CONTENT_TYPE": "application/x-www-form-urlencoded",
    "CONTENT_LENGTH": "21",
    "SCRIPT_NAME": "",
    "REQUEST_URI": "/demo/?_s=4242&_c=17",
    "DOCUMENT_URI": "/demo/",
    "DOCUMENT_ROOT": "/var/www/html",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REQUEST_SCHEME": "http",
    "GATEWAY_INTERFACE": "CGI/1.1",
    "SERVER_SOFTWARE": "nginx/1.22.1",
    "REMOTE_ADDR": "10.0.0.7",
    "REMOTE_PORT": "51234",
    "SERVER_ADDR": "10.0.0.1",
    "SERVER_PORT": "80",
    "SERVER_NAME": "example.com",
    "REDIRECT_STATUS": "200",
    "PATH_INFO": "/demo/",
    "HTTP_HOST": "example.com",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9,en;q=0.8",
    "HTTP_ACCEPT_ENCODING": "gzip, deflate, br",
    "HTTP_COOKIE": "_nagare=" + "a1b2c3d4" * 8,
}
BODY = b"_action2000001=&x=%E9"


def begin(request_id: int = 1, role: int = RESPONDER, keep_conn: bool = False) -> bytes:
    return r.encode_record(r.BEGIN_REQUEST, request_id, r.BEGIN_REQUEST_BODY.pack(role, int(keep_conn)))


def params(request_id: int = 1, pairs: dict[str, str] = NGINX_PARAMS) -> bytes:
    return r.encode_stream(r.PARAMS, request_id, r.encode_pairs(pairs)) + r.encode_record(r.PARAMS, request_id)


def stdin(request_id: int = 1, *chunks: bytes) -> bytes:
    return b"".join(r.encode_record(r.STDIN, request_id, c) for c in chunks) + r.encode_record(r.STDIN, request_id)


def request(request_id: int = 1, keep_conn: bool = False, body: tuple[bytes, ...] = (BODY,)) -> bytes:
    return begin(request_id, keep_conn=keep_conn) + params(request_id) + stdin(request_id, *body)


def drain(conn: Connection, respond: bool = False) -> list[object]:
    """The events up to NEED_DATA or Closed (included).

    With `respond`, each request is ended after its body, as a worker does before it reads on.
    """
    events: list[object] = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            return events
        events.append(event)
        if isinstance(event, Closed):
            return events
        if respond and isinstance(event, StdinEnd | Aborted):
            conn.end_request(event.request_id)


def feed(data: bytes, chunk: int | None = None, respond: bool = False, **kw: object) -> tuple[Connection, list[object]]:
    conn = Connection(**kw)  # type: ignore[arg-type]
    events: list[object] = []
    step = chunk or max(len(data), 1)
    for i in range(0, len(data), step):
        conn.receive_data(data[i : i + step])
        events += drain(conn, respond)
    return conn, events


def merge_stdin(events: list[object]) -> list[object]:
    """The events with consecutive Stdin chunks merged: chunking is not part of the contract."""
    merged: list[object] = []
    for event in events:
        if isinstance(event, Stdin) and merged and isinstance(merged[-1], Stdin):
            merged[-1] = Stdin(event.request_id, merged[-1].data + event.data)
        else:
            merged.append(event)
    return merged


EXPECTED = [
    RequestStarted(1, RESPONDER, False),
    Params(1, NGINX_PARAMS),
    Stdin(1, BODY),
    StdinEnd(1),
]


def test_whole_request_in_one_receive():
    conn, events = feed(request())
    assert events == EXPECTED
    assert conn.active == 1 and conn.keep_conn is False and conn.buffered == 0
    assert conn.data_to_send() == b""


def test_one_byte_at_a_time():
    assert feed(request(), chunk=1)[1] == EXPECTED


@pytest.mark.parametrize("chunk", [2, 3, 7, 8, 9, 100, 1000])
def test_any_chunking(chunk):
    assert feed(request(), chunk=chunk)[1] == EXPECTED


def test_trailing_bytes_of_the_next_request():
    first = request(1, keep_conn=True)
    second = request(1, keep_conn=True)
    conn = Connection()
    conn.receive_data(first + second[:30])
    events = [conn.next_event() for _ in range(4)]
    assert events == [RequestStarted(1, RESPONDER, True)] + EXPECTED[1:]
    assert conn.keep_conn is True and conn.active == 1
    assert conn.buffered == 30
    conn.end_request(1)
    assert conn.active is None
    conn.receive_data(second[30:])
    assert drain(conn) == events


@pytest.mark.parametrize("chunk", [None, 1, 5, 64])
def test_keep_conn_requests_back_to_back(chunk):
    data = request(1, keep_conn=True) + request(1, keep_conn=True) + request(2, keep_conn=False)
    conn, events = feed(data, chunk=chunk, respond=True)
    one = [RequestStarted(1, RESPONDER, True)] + EXPECTED[1:]
    two = [RequestStarted(2, RESPONDER, False), Params(2, NGINX_PARAMS), Stdin(2, BODY), StdinEnd(2)]
    assert events == one + one + two
    assert conn.keep_conn is False and conn.active is None


def test_get_request_without_body():
    conn, events = feed(begin() + params() + stdin())
    assert events == [RequestStarted(1, RESPONDER, False), Params(1, NGINX_PARAMS), StdinEnd(1)]


def test_body_streamed_in_several_records():
    chunks = (b"a" * 8192, b"b" * 8192, b"c" * 100, bytes(range(256)) * 255)
    for chunk in (None, 1000):
        _, events = feed(request(body=chunks), chunk=chunk)
        assert merge_stdin(events)[2:] == [Stdin(1, b"".join(chunks)), StdinEnd(1)]
        assert all(isinstance(e, Stdin) and e.data for e in events[2:-1])


def test_params_spanning_records_and_cut_mid_pair():
    stream = r.encode_pairs(NGINX_PARAMS)
    pieces = [stream[:1], stream[1:5], stream[5:300], stream[300:]]
    data = begin() + b"".join(r.encode_record(r.PARAMS, 1, p) for p in pieces) + r.encode_record(r.PARAMS, 1) + stdin()
    assert feed(data)[1][1] == Params(1, NGINX_PARAMS)


def test_params_above_64k_in_several_records():
    pairs = {"HTTP_COOKIE": "c" * 150000, "A": "b"}
    _, events = feed(begin() + params(1, pairs) + stdin())
    assert events[1] == Params(1, pairs)


def test_empty_params():
    assert feed(begin() + r.encode_record(r.PARAMS, 1))[1] == [RequestStarted(1, RESPONDER, False), Params(1, {})]


def test_padding_up_to_255_is_skipped():
    content = r.BEGIN_REQUEST_BODY.pack(RESPONDER, 1)
    data = r.pack_header(r.BEGIN_REQUEST, 5, 8, 255) + content + bytes(255) + params(5) + stdin(5)
    assert feed(data, chunk=13)[1][0] == RequestStarted(5, RESPONDER, True)


def test_response_records():
    conn, _ = feed(request())
    response = conn.send_stdout(1, b"Status: 200 OK\r\n\r\nhello") + conn.end_request(1, 0)
    records = read_records(response)
    assert records == [
        (r.STDOUT, 1, b"Status: 200 OK\r\n\r\nhello"),
        (r.STDOUT, 1, b""),
        (r.END_REQUEST, 1, r.END_REQUEST_BODY.pack(0, REQUEST_COMPLETE)),
    ]
    assert conn.active is None


def test_empty_stdout_is_no_record():
    conn, _ = feed(request())
    assert conn.send_stdout(1, b"") == b"" and conn.send_stderr(1, b"") == b""


def test_200k_stdout_is_split():
    conn, _ = feed(request())
    body = bytes(range(256)) * 800
    data = conn.send_stdout(1, body)
    records = read_records(data)
    assert len(records) == 4
    assert b"".join(content for _, _, content in records) == body
    assert all(kind == r.STDOUT and 0 < len(content) <= 0xFFFF for kind, _, content in records)


def test_stderr_stream_is_closed_when_used():
    conn, _ = feed(request())
    data = conn.send_stderr(1, b"oops") + conn.send_stdout(1, b"x") + conn.end_request(1, 3)
    assert read_records(data) == [
        (r.STDERR, 1, b"oops"),
        (r.STDOUT, 1, b"x"),
        (r.STDOUT, 1, b""),
        (r.STDERR, 1, b""),
        (r.END_REQUEST, 1, r.END_REQUEST_BODY.pack(3, REQUEST_COMPLETE)),
    ]


def test_sending_for_a_request_not_active_is_a_bug():
    conn, _ = feed(request())
    for call in (conn.send_stdout, conn.send_stderr):
        with pytest.raises(ValueError):
            call(2, b"x")
    with pytest.raises(ValueError):
        conn.end_request(2)
    conn.end_request(1)
    with pytest.raises(ValueError):
        conn.end_request(1)


def test_get_values():
    asked = r.encode_pairs({"FCGI_MAX_CONNS": "", "FCGI_MPXS_CONNS": "", "FCGI_OTHER": ""})
    conn, events = feed(r.encode_record(r.GET_VALUES, 0, asked), max_conns=10, max_reqs=20)
    assert events == []
    [(kind, rid, content)] = read_records(conn.data_to_send())
    assert (kind, rid) == (r.GET_VALUES_RESULT, 0)
    assert r.decode_pairs(content) == {"FCGI_MAX_CONNS": "10", "FCGI_MPXS_CONNS": "0"}
    assert conn.data_to_send() == b""


def test_get_values_between_requests_and_during_one():
    asked = r.encode_record(r.GET_VALUES, 0, r.encode_pairs({"FCGI_MAX_REQS": ""}))
    conn, events = feed(asked + begin() + asked + params() + stdin(), max_reqs=3)
    assert events == [RequestStarted(1, RESPONDER, False), Params(1, NGINX_PARAMS), StdinEnd(1)]
    result = r.encode_record(r.GET_VALUES_RESULT, 0, r.encode_pairs({"FCGI_MAX_REQS": "3"}))
    assert conn.data_to_send() == result * 2


def test_multiplexing_is_refused_at_construction():
    with pytest.raises(ValueError):
        Connection(mpxs_conns=True)


def test_unknown_management_type():
    conn, events = feed(r.encode_record(42, 0, b"whatever"))
    assert events == []
    assert read_records(conn.data_to_send()) == [(r.UNKNOWN_TYPE, 0, bytes([42]) + bytes(7))]


def test_cant_mpx_conn():
    # The refused request's records, written before the web server reads the refusal, are dropped.
    data = begin(1) + params(1) + begin(2) + params(2) + stdin(2, b"body of 2") + stdin(1, BODY)
    conn, events = feed(data)
    assert events == EXPECTED
    assert read_records(conn.data_to_send()) == [(r.END_REQUEST, 2, r.END_REQUEST_BODY.pack(0, CANT_MPX_CONN))]
    conn.receive_data(r.encode_record(r.STDIN, 2, b"late"))
    with pytest.raises(ProtocolError, match="STDIN record for request 2"):
        drain(conn)


@pytest.mark.parametrize("role", [AUTHORIZER, FILTER, 0, 99])
def test_unknown_role(role):
    data = begin(3, role=role) + params(3) + stdin(3) + request(4)
    conn, events = feed(data, chunk=5)
    assert read_records(conn.data_to_send()) == [(r.END_REQUEST, 3, r.END_REQUEST_BODY.pack(0, UNKNOWN_ROLE))]
    assert events[0] == RequestStarted(4, RESPONDER, False)
    assert conn.active == 4


def test_abort():
    conn, events = feed(begin() + params() + r.encode_record(r.ABORT_REQUEST, 1))
    assert events[-1] == Aborted(1)
    end = conn.end_request(1, 0)
    assert read_records(end)[-1] == (r.END_REQUEST, 1, r.END_REQUEST_BODY.pack(0, REQUEST_COMPLETE))


def test_rest_of_a_request_ended_early_is_dropped():
    # The application answered before reading the body (a 413, say): the rest of it is dropped
    # and the next request on the connection is served.
    conn, events = feed(begin(keep_conn=True) + params() + r.encode_record(r.STDIN, 1, b"a" * 100))
    conn.end_request(1)
    conn.receive_data(r.encode_record(r.STDIN, 1, b"b" * 100) + stdin(1) + request(1))
    assert drain(conn) == EXPECTED


def test_eof_at_a_record_boundary():
    conn, events = feed(request())
    conn.receive_data(b"")
    assert drain(conn) == [Closed()]
    assert conn.next_event() == Closed() and conn.next_event() == Closed()
    with pytest.raises(RuntimeError):
        conn.receive_data(b"more")


def test_eof_of_an_idle_connection():
    conn = Connection()
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    assert conn.next_event() == Closed()


@pytest.mark.parametrize("cut", [1, 7, 8, 12, 20])
def test_eof_mid_record(cut):
    conn = Connection()
    conn.receive_data(request()[:cut])
    drain(conn)
    conn.receive_data(b"")
    with pytest.raises(ProtocolError, match="connection closed mid-record"):
        conn.next_event()


def test_eof_in_the_padding_is_mid_record():
    conn = Connection()
    conn.receive_data(begin() + r.encode_record(r.PARAMS, 1, b"\x01\x01ab")[:-1])
    drain(conn)
    conn.receive_data(b"")
    with pytest.raises(ProtocolError, match="mid-record"):
        conn.next_event()


def protocol_error(data: bytes) -> str:
    conn = Connection()
    conn.receive_data(data)
    with pytest.raises(ProtocolError) as info:
        drain(conn)
    message = str(info.value)
    assert message and "\n" not in message
    # The connection is dead: it says so again rather than parsing on.
    with pytest.raises(ProtocolError):
        conn.next_event()
    return message


def header(version: int = 1, kind: int = r.BEGIN_REQUEST, rid: int = 1, length: int = 0, padding: int = 0) -> bytes:
    return r.HEADER.pack(version, kind, rid, length, padding)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (header(version=2), "unsupported FastCGI version 2"),
        (header(version=0) + bytes(8), "unsupported FastCGI version 0"),
        (r.encode_record(r.BEGIN_REQUEST, 1, bytes(7)), "BEGIN_REQUEST body of 7 bytes"),
        (r.encode_record(r.BEGIN_REQUEST, 1, bytes(9)), "BEGIN_REQUEST body of 9 bytes"),
        (r.encode_record(r.BEGIN_REQUEST, 0, r.BEGIN_REQUEST_BODY.pack(1, 0)), "BEGIN_REQUEST record with request id 0"),
        (r.encode_record(r.PARAMS, 0), "PARAMS record with request id 0"),
        (r.encode_record(r.STDIN, 0), "STDIN record with request id 0"),
        (r.encode_record(r.ABORT_REQUEST, 0), "ABORT_REQUEST record with request id 0"),
        (r.encode_record(r.GET_VALUES_RESULT, 0), "GET_VALUES_RESULT record with request id 0"),
        (r.encode_record(r.UNKNOWN_TYPE, 0, bytes(8)), "UNKNOWN_TYPE record with request id 0"),
        (r.encode_record(r.GET_VALUES, 1), "unexpected GET_VALUES record for request 1"),
        (r.encode_record(r.GET_VALUES, 0, b"\x05\x00ab"), "name-value pair"),
        (r.encode_record(42, 3), "unknown FastCGI record type 42 for request 3"),
        (r.encode_record(r.PARAMS, 1), "PARAMS record for request 1, which is not active"),
        (r.encode_record(r.STDIN, 9), "STDIN record for request 9, which is not active"),
        (r.encode_record(r.ABORT_REQUEST, 1), "ABORT_REQUEST record for request 1, which is not active"),
        (begin(1) + r.encode_record(r.PARAMS, 2, b"\x01\x01ab"), "PARAMS record for request 2, which is not active"),
        (begin(1) + begin(1), "BEGIN_REQUEST record for request 1, which is already active"),
        (begin(1) + params(1) + r.encode_record(r.PARAMS, 1, b"\x01\x01ab"), "PARAMS record for request 1 after the end"),
        (begin(1) + r.encode_record(r.STDIN, 1, b"x"), "STDIN record for request 1 before the end of its params"),
        (begin(1) + r.encode_record(r.STDIN, 1), "STDIN record for request 1 before the end of its params"),
        (begin(1) + params(1) + stdin(1) + r.encode_record(r.STDIN, 1, b"x"), "STDIN record for request 1 after the end"),
        (begin(1) + r.encode_record(r.PARAMS, 1, b"\x01\x05ab") + r.encode_record(r.PARAMS, 1), "name-value pair"),
        (begin(1) + r.encode_record(r.PARAMS, 1, b"\x81") + r.encode_record(r.PARAMS, 1), "name-value pair"),
        (begin(1) + r.encode_record(r.DATA, 1, b"x"), "unexpected DATA record for request 1"),
    ]
    + [
        (begin(1) + r.encode_record(kind, rid), f"unexpected {r.TYPE_NAMES[kind]} record for request {rid}")
        for kind in (r.STDOUT, r.STDERR, r.END_REQUEST, r.GET_VALUES_RESULT, r.UNKNOWN_TYPE)
        for rid in (1, 2)
    ],
)
def test_protocol_errors(data, message):
    assert message in protocol_error(data)


def test_params_above_max_params_size():
    conn = Connection(max_params_size=1000)
    conn.receive_data(begin() + r.encode_record(r.PARAMS, 1, bytes(600)) + r.encode_record(r.PARAMS, 1, bytes(600)))
    with pytest.raises(ProtocolError, match="params of request 1 exceed 1000 bytes"):
        drain(conn)


def test_the_test_client_speaks_the_same_protocol():
    data = fcgi_client.encode_request(
        "/demo/caf%C3%A9", "POST", "a=1", b"x" * 20000, {"Content-Type": "text/plain", "X-Forwarded-For": "1.2.3.4"},
        {"HTTPS": "on"}, request_id=3, keep_conn=True,
    )
    _, events = feed(data, chunk=1500)
    events = merge_stdin(events)
    assert events[0] == RequestStarted(3, RESPONDER, True)
    env = events[1].params
    assert env["PATH_INFO"] == "/demo/caf\xc3\xa9" and env["REQUEST_URI"] == "/demo/caf%C3%A9?a=1"
    assert (env["CONTENT_TYPE"], env["CONTENT_LENGTH"], env["HTTPS"]) == ("text/plain", "20000", "on")
    assert env["HTTP_X_FORWARDED_FOR"] == "1.2.3.4"
    assert events[2:] == [Stdin(3, b"x" * 20000), StdinEnd(3)]
    status, headers, body = fcgi_client.parse_cgi(b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno")
    assert (status, headers, body) == (404, [("Content-Type", "text/plain")], b"no")


def read_records(data: bytes) -> list[tuple[int, int, bytes]]:
    """(type, id, content) of each record, checking the padding rules on the way."""
    out, i = [], 0
    while i < len(data):
        version, kind, rid, length, padding = r.unpack_header(data, i)
        assert version == 1 and (length + padding) % 8 == 0 and padding < 8
        out.append((kind, rid, data[i + 8 : i + 8 + length]))
        i += 8 + length + padding
    assert i == len(data)
    return out
