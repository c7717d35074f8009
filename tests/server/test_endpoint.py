"""The status endpoint in process: a real socket pair of the loopback, no master, no select."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from nagare.server.endpoint import JSON, OPENMETRICS, StatusEndpoint, answer
from nagare.server.status import Status, Totals, report


def status() -> Status:
    return report(Totals("app", 1000.0, 16), [], None, 5.0, 1010.0)


@pytest.fixture
def endpoint() -> Iterator[StatusEndpoint]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    served = StatusEndpoint(listener, status, timeout=2.0)
    yield served
    served.close_clients()
    listener.close()


def connect(endpoint: StatusEndpoint) -> socket.socket:
    assert endpoint.listener is not None
    return socket.create_connection(endpoint.listener.getsockname(), timeout=2)


def everything(endpoint: StatusEndpoint, now: float = 0.0) -> None:
    """One turn of the master's loop where every socket is readable."""
    endpoint.serve(set(endpoint.fds()), now)


def read_answer(client: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while chunk := client.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def test_a_request_in_two_parts_is_answered_once_complete(endpoint: StatusEndpoint) -> None:
    with connect(endpoint) as client:
        client.sendall(b"GET /status HTTP/1.0\r\n")
        everything(endpoint)  # accepted
        everything(endpoint)  # the first line read
        assert len(endpoint.clients) == 1
        client.sendall(b"\r\n")
        everything(endpoint)
        head, body = read_answer(client)
    assert head.startswith(b"HTTP/1.0 200 OK") and b"Content-Type: application/json" in head
    assert json.loads(body)["pool"] == "app"
    assert endpoint.clients == {}


def test_a_client_that_sends_nothing_is_dropped_after_its_deadline(endpoint: StatusEndpoint) -> None:
    with connect(endpoint) as client:
        everything(endpoint, now=10.0)
        endpoint.serve(set(), now=11.9)
        assert len(endpoint.clients) == 1
        endpoint.serve(set(), now=12.1)
        assert endpoint.clients == {}
        assert client.recv(100) == b""


def test_a_client_gone_before_its_request_is_forgotten(endpoint: StatusEndpoint) -> None:
    connect(endpoint).close()
    everything(endpoint)
    everything(endpoint)
    assert endpoint.clients == {}


def test_fds_are_the_listener_then_the_clients(endpoint: StatusEndpoint) -> None:
    assert endpoint.listener is not None
    assert endpoint.fds() == [endpoint.listener.fileno()]
    with connect(endpoint):
        everything(endpoint)
        assert endpoint.fds() == [endpoint.listener.fileno(), *endpoint.clients]
    assert StatusEndpoint(None, status).fds() == []


@pytest.mark.parametrize(
    "request_, kind",
    [
        (b"GET /status HTTP/1.0\r\n\r\n", JSON),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", JSON),
        (b"GET /metrics HTTP/1.0\r\n\r\n", OPENMETRICS),
        (b"GET /status?openmetrics HTTP/1.0\r\n\r\n", OPENMETRICS),
        (b"GET /status HTTP/1.1\r\nAccept: application/openmetrics-text; version=1.0.0\r\n\r\n", OPENMETRICS),
        (b"\r\n\r\n", JSON),
    ],
)
def test_json_unless_openmetrics_is_asked_for(request_: bytes, kind: str) -> None:
    body, found = answer(request_, status())
    assert found == kind
    assert body.endswith(b"# EOF\n") if kind == OPENMETRICS else json.loads(body)["pool"] == "app"
