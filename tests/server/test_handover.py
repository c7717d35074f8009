"""The reload hand-over: one encode/decode pair for the sockets and workers of a master image."""

from __future__ import annotations

import socket

import pytest

from nagare.server import handover
from nagare.server.handover import Handover, HandoverError


def _pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


@pytest.mark.parametrize("with_status", [True, False])
def test_what_is_given_is_taken_back(with_status: bool) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    status = socket.create_server(("127.0.0.1", 0)) if with_status else None
    given = Handover(listener, _pair(), status, (123, 456), "7/512/600,601/123=8")
    environ: dict[str, str] = {}
    handover.give(given, environ)
    assert all(sock.get_inheritable() for sock in given.sockets())  # they must survive exec
    # the next image gets new socket objects on the same descriptors
    taken = handover.take(environ)
    assert taken is not None and handover.VARIABLE not in environ
    assert [s.fileno() for s in taken.sockets()] == [s.fileno() for s in given.sockets()]
    assert taken.listener.getsockname() == listener.getsockname()
    assert (taken.status is None) == (status is None)
    assert taken.workers == (123, 456)
    assert taken.sharing == "7/512/600,601/123=8"  # nagare.server.sharing's, passed through
    assert not any(sock.get_inheritable() for sock in taken.sockets())  # not into the workers' children
    for sock in taken.sockets():
        sock.detach()  # the same descriptors as `given`'s
    for sock in given.sockets():
        sock.close()


def test_a_first_start_has_nothing_to_take() -> None:
    assert handover.take({}) is None
    assert handover.take({handover.VARIABLE: ""}) is None


@pytest.mark.parametrize("value", ["garbage", "1,2,3;", "1,2,3,4", "a,b,c,d;1", "3,4,5,-1;x", "-1,4,5,-1;", "3,4,5,6;-7"])
def test_a_malformed_value_is_one_clear_error(value: str) -> None:
    with pytest.raises(HandoverError, match=handover.VARIABLE):
        handover.take({handover.VARIABLE: value})


def test_a_closed_descriptor_is_one_clear_error() -> None:
    sock = socket.socket()
    fd = sock.fileno()
    sock.close()
    with pytest.raises(HandoverError, match=handover.VARIABLE):
        Handover.decode(f"{fd},{fd},{fd},-1;")
