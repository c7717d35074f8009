"""The FastCGI 1.0 protocol, application side, without I/O (the publisher owns the sockets).

    conn = Connection()
    conn.receive_data(sock.recv(65536))
    while (event := conn.next_event()) is not NEED_DATA: ...
    sock.sendall(conn.data_to_send() + conn.send_stdout(rid, b"Status: 200 OK\\r\\n\\r\\nhi") + conn.end_request(rid))
"""

from .connection import (
    NEED_DATA,
    Aborted,
    Closed,
    Connection,
    Event,
    Params,
    Request,
    RequestStarted,
    Stdin,
    StdinEnd,
)
from .records import (
    AUTHORIZER,
    CANT_MPX_CONN,
    FILTER,
    OVERLOADED,
    REQUEST_COMPLETE,
    RESPONDER,
    UNKNOWN_ROLE,
    ProtocolError,
)

__all__ = [
    "AUTHORIZER",
    "CANT_MPX_CONN",
    "FILTER",
    "NEED_DATA",
    "OVERLOADED",
    "REQUEST_COMPLETE",
    "RESPONDER",
    "UNKNOWN_ROLE",
    "Aborted",
    "Closed",
    "Connection",
    "Event",
    "Params",
    "ProtocolError",
    "Request",
    "RequestStarted",
    "Stdin",
    "StdinEnd",
]
