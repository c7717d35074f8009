"""The pool's sharing of kept-alive connections (nagare.server.sharing), in one process with real
sockets: the master's side and a worker's side talk as they do across the fork."""

from __future__ import annotations

import os
import select
import socket

import pytest

from nagare.server.sharing import Desynced, Shared, Sharing, descriptor_base

OPENED: list[socket.socket] = []


@pytest.fixture
def pool():
    """(the master's Sharing, a worker's Shared) over a listener and a hand-off pair."""
    listener = socket.create_server(("127.0.0.1", 0))
    inbox, outbox = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    base = descriptor_base()
    assert base is not None, "the open files limit leaves no room for sharing on this machine"
    master = Sharing(inbox, listener, base)
    ends = master.channel()
    assert ends is not None
    master.forked(4242, (ends[0], ends[1].dup()))
    worker = Shared(master.epoll, ends[1], outbox, set())
    yield master, worker
    master.close()
    for sock in (listener, inbox, outbox, ends[1], *OPENED):
        sock.close()
    OPENED.clear()


def connection() -> tuple[socket.socket, socket.socket]:
    """(web server side, our side)."""
    theirs, ours = socket.socketpair()
    OPENED.append(theirs)
    return theirs, ours


def shared(master: Sharing, worker: Shared) -> tuple[socket.socket, int]:
    """A connection the worker accepted and shared: the web server's side and its number."""
    theirs, ours = connection()
    worker.share(ours.fileno())
    ours.close()
    master.handle()
    worker.read(lambda number: None)
    (number,) = worker.conns
    return theirs, number


def events(master: Sharing) -> list[tuple[int, int]]:
    return master.epoll.poll(0)


def test_a_shared_connection_has_the_same_number_in_the_master_and_the_workers(pool) -> None:
    master, worker = pool
    theirs, number = shared(master, worker)
    assert master.conns == {number} and number >= master.base
    theirs.sendall(b"x")
    assert events(master) == [(number, select.EPOLLIN)]


def test_one_event_per_request_until_it_is_re_armed(pool) -> None:
    # EPOLLONESHOT: the worker woken for it serves it alone
    master, worker = pool
    theirs, number = shared(master, worker)
    theirs.sendall(b"request")
    assert [fd for fd, _ in events(master)] == [number]
    assert events(master) == []  # taken: nobody else is woken, though the bytes are unread
    sock = socket.socket(fileno=number)
    assert sock.recv(100) == b"request"
    sock.detach()
    worker.rearm(number)
    assert events(master) == []  # idle
    theirs.sendall(b"next")
    assert [fd for fd, _ in events(master)] == [number]


def test_a_connection_given_back_is_re_armed_by_the_master(pool) -> None:
    master, worker = pool
    theirs, number = shared(master, worker)
    theirs.sendall(b"request")
    assert [fd for fd, _ in events(master)] == [number]
    worker.give_back(number)
    master.handle()
    assert [fd for fd, _ in events(master)] == [number]


def test_a_closed_connection_ends_for_the_web_server_and_its_number_is_free_again(pool) -> None:
    master, worker = pool
    theirs, number = shared(master, worker)
    worker.closed(number)  # (its copy is the master's here: one process plays both)
    theirs.settimeout(5)
    assert theirs.recv(1) == b""  # shut down: the master's copy does not keep it open
    master.handle()
    assert master.conns == set()
    replaced = []
    worker.conns.clear()
    theirs2, ours2 = connection()
    worker.share(ours2.fileno())
    ours2.close()
    master.handle()
    worker.read(replaced.append)
    assert worker.conns == {number} and replaced == [number]  # the same number, the worker told first


def test_a_worker_that_died_in_a_request_has_its_connection_ended(pool) -> None:
    master, worker = pool
    theirs, number = shared(master, worker)
    master.gone(4242, number)
    theirs.settimeout(5)
    assert theirs.recv(1) == b"" and master.conns == set() and master.channels == {}


def test_a_worker_whose_channel_is_full_is_cut_off_not_left_with_wrong_numbers(pool) -> None:
    master, worker = pool
    assert worker.channel is not None
    master.channels[4242].setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    for _ in range(200):  # the worker reads nothing meanwhile: stuck in a long request
        theirs, ours = connection()
        worker.share(ours.fileno())
        ours.close()
        master.handle()
        if 4242 not in master.channels:
            break
    assert 4242 not in master.channels, "the channel took them all: the test proves nothing"
    with pytest.raises(Desynced):
        worker.read(lambda number: None)


def test_the_next_master_image_takes_the_sharing_over(pool) -> None:
    master, worker = pool
    theirs, number = shared(master, worker)
    text = master.encode()
    assert os.get_inheritable(master.epoll.fileno()) and os.get_inheritable(number)  # through exec
    epoll_fd, rest = text.split("/", 1)
    assert int(epoll_fd) == master.epoll.fileno()
    listener = socket.socket(fileno=os.dup(master.listener))
    OPENED.append(listener)
    taken = Sharing.decode(f"{os.dup(int(epoll_fd))}/{rest}", master.inbox, listener)
    assert taken.conns == {number} and taken.base == master.base and set(taken.channels) == {4242}
    assert taken.channels[4242].fileno() == master.channels[4242].fileno()
    theirs.sendall(b"x")  # the same epoll instance
    assert [fd for fd, _ in taken.epoll.poll(0)] == [number]
    for sock in taken.channels.values():
        sock.detach()  # the same descriptors as `master`'s
    taken.epoll.close()


@pytest.mark.parametrize("text", ["", "1/2/3", "x/1//", "99999/1//"])
def test_a_malformed_sharing_text_is_refused(text: str) -> None:
    with socket.socket() as sock, pytest.raises((ValueError, OSError)):
        Sharing.decode(text, sock, sock)


def test_without_room_for_the_numbers_nothing_is_shared(pool) -> None:
    master, worker = pool
    listener = socket.create_server(("127.0.0.1", 0))
    OPENED.append(listener)
    off = Sharing(master.inbox, listener, None)
    assert off.channel() is None
    theirs, ours = connection()
    worker.share(ours.fileno())
    ours.close()
    off.handle()
    assert off.conns == set()
    theirs.settimeout(5)
    assert theirs.recv(1) == b""  # closed: the web server opens another
    off.epoll.close()

