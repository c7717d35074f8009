"""The master's parking of idle kept-alive connections (nagare.server.parking), with real sockets."""

from __future__ import annotations

import os
import socket

import pytest

from nagare.server.parking import BATCH, Parking, receive_fds, send_fds


OPENED: list[socket.socket] = []  # the test's sockets, closed after each test


@pytest.fixture
def pair():
    master, workers = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    for sock in (master, workers):
        sock.setblocking(False)
    yield master, workers
    for sock in (master, workers, *OPENED):
        sock.close()
    OPENED.clear()


def connections(count: int) -> list[tuple[socket.socket, socket.socket]]:
    """(web server side, our side) of `count` connections."""
    made = [socket.socketpair() for _ in range(count)]
    OPENED.extend(theirs for theirs, _ in made)
    return made


def park(workers: socket.socket, ours: list[socket.socket]) -> None:
    """What a worker does: send its idle connections, close its copies."""
    assert send_fds(workers, [s.fileno() for s in ours]) == len(ours)
    for s in ours:
        s.close()


def queued(workers: socket.socket) -> list[socket.socket]:
    """The connections the master queued for the workers, one per message."""
    found = []
    while (fds := receive_fds(workers, 1)) is not None:
        assert len(fds) == 1
        found.extend(socket.socket(fileno=fd) for fd in fds)
    OPENED.extend(found)
    return found


def test_a_parked_connection_is_queued_for_the_workers_only_once_its_request_comes(pair) -> None:
    master, workers = pair
    parking = Parking(master)
    conns = connections(3)
    park(workers, [ours for _, ours in conns])
    parking.handle()
    assert len(parking.parked) == 3 and queued(workers) == []
    conns[1][0].sendall(b"request")
    parking.handle()
    (got,) = queued(workers)
    assert got.recv(100) == b"request"  # the very connection, its bytes unread
    got.sendall(b"answer")
    assert conns[1][0].recv(100) == b"answer"
    assert len(parking.parked) == 2 and parking.forwarded == 1
    parking.close()


def test_the_master_keeps_no_copy_of_a_connection_it_queued(pair) -> None:
    # the web server must see the connection close when the worker closes it
    master, workers = pair
    parking = Parking(master)
    ((theirs, ours),) = connections(1)
    park(workers, [ours])
    parking.handle()
    theirs.sendall(b"x")
    parking.handle()
    (got,) = queued(workers)
    assert got.recv(1) == b"x"
    got.close()
    theirs.settimeout(5)
    assert theirs.recv(100) == b""
    parking.close()


def test_a_connection_the_web_server_closed_while_parked_is_closed_not_queued(pair) -> None:
    master, workers = pair
    parking = Parking(master)
    ((theirs, ours),) = connections(1)
    park(workers, [ours])
    parking.handle()
    theirs.close()
    parking.handle()
    assert queued(workers) == [] and not parking.parked


def test_more_connections_than_a_message_holds_are_all_parked(pair) -> None:
    master, workers = pair
    parking = Parking(master)
    conns = connections(BATCH * 2 + 5)
    park(workers, [ours for _, ours in conns])
    parking.handle()
    assert len(parking.parked) == len(conns)
    parking.close()
    for theirs, _ in conns:  # a stopping master closes what it holds
        theirs.settimeout(5)
        assert theirs.recv(1) == b""


def test_release_queues_every_parked_connection(pair) -> None:
    # before the master re-executes itself (a reload): the workers take them, idle or not
    master, workers = pair
    parking = Parking(master)
    conns = connections(4)
    park(workers, [ours for _, ours in conns])
    parking.handle()
    parking.release()
    assert len(queued(workers)) == 4 and not parking.parked


def test_when_the_hand_off_socket_is_full_the_rest_waits_and_nothing_is_lost(pair) -> None:
    master, workers = pair
    master.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # room for a few messages only
    parking = Parking(master)
    conns = connections(60)
    park(workers, [ours for _, ours in conns])
    parking.handle()
    for theirs, _ in conns:
        theirs.sendall(b"r")
    parking.handle()
    assert parking.pending, "the socket took them all: the test proves nothing"
    got = queued(workers)
    while parking.pending:
        parking.handle()
        got += queued(workers)
    assert len(got) == 60 and all(s.recv(1) == b"r" for s in got)


def test_a_worker_closes_its_copies_of_the_parked_connections(pair) -> None:
    # what Master.in_child does in a forked worker: the connections stay the master's
    master, workers = pair
    parking = Parking(master)
    ((theirs, ours),) = connections(1)
    park(workers, [ours])
    parking.handle()
    (fd,) = parking.parked
    pid = os.fork()
    if pid == 0:
        parking.close()
        os._exit(0 if _closed(fd) else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert not _closed(fd)  # the master's own is still open
    parking.close()


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False
