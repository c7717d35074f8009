"""The scoreboard: slots in shared memory, written by one process, read whole by another."""

from __future__ import annotations

import os
import signal
import struct
import threading
import time

import pytest

from nagare.server.policy import State
from nagare.server.scoreboard import SLOT_SIZE, URI_SIZE, Scoreboard


@pytest.fixture
def board():
    scoreboard = Scoreboard(4)
    yield scoreboard
    scoreboard.close()


def test_slots_are_cache_line_aligned():
    assert SLOT_SIZE % 64 == 0


def test_a_new_scoreboard_is_all_free(board):
    assert [s.state for s in board.slots()] == [State.FREE] * 4
    assert [s.index for s in board.slots()] == [0, 1, 2, 3]


def test_write_read_round_trip(board):
    writer = board.writer(2, pid=4242, now=10.0)
    assert board.read(2).state == State.STARTING and board.read(2).pid == 4242
    writer.state = State.BUSY
    writer.requests, writer.accepted, writer.slow = 7, 5, 1
    writer.heartbeat, writer.since = 12.5, 12.25
    writer.rss = 123 << 20
    writer.last_duration = 0.125
    writer.method = b"POST"
    writer.uri = b"/app/?x=\xe9"
    writer.write()
    slot = board.read(2)
    assert (slot.index, slot.state, slot.pid) == (2, State.BUSY, 4242)
    assert (slot.requests, slot.accepted, slot.slow) == (7, 5, 1)
    assert (slot.heartbeat, slot.since, slot.rss, slot.last_duration) == (12.5, 12.25, 123 << 20, 0.125)
    assert (slot.method, slot.uri) == ("POST", "/app/?x=\xe9")
    assert [s.state for s in board.slots()] == [State.FREE, State.FREE, State.BUSY, State.FREE]


def test_a_read_is_a_copy(board):
    writer = board.writer(0, pid=1, now=0.0)
    before = board.read(0)
    writer.requests = 3
    writer.write()
    assert before.requests == 0 and board.read(0).requests == 3


def test_claim_release_free_slot(board):
    assert board.free_slot() == 0
    board.claim(0, now=3.0)
    slot = board.read(0)
    assert (slot.state, slot.pid, slot.since, slot.heartbeat) == (State.STARTING, 0, 3.0, 3.0)
    assert board.free_slot() == 1
    for index in (1, 2, 3):
        board.claim(index, now=4.0)
    assert board.free_slot() is None
    board.release(2)
    assert board.free_slot() == 2
    assert board.read(2).state == State.FREE and board.read(2).pid == 0


def test_release_forgets_everything(board):
    writer = board.writer(1, pid=99, now=1.0)
    writer.requests, writer.uri, writer.method = 5, b"/x", b"GET"
    writer.write()
    board.release(1)
    slot = board.read(1)
    assert (slot.state, slot.pid, slot.requests, slot.uri, slot.method) == (State.FREE, 0, 0, "", "")


def test_uri_truncated_at_256_bytes_method_at_8(board):
    writer = board.writer(0, pid=1, now=0.0)
    writer.uri = b"/" + b"x" * 300
    writer.method = b"PROPPATCHX"
    writer.write()
    slot = board.read(0)
    assert URI_SIZE == 256
    assert slot.uri == "/" + "x" * 255
    assert slot.method == "PROPPATC"
    writer.uri = b"/short"
    writer.write()
    assert board.read(0).uri == "/short"  # no leftover of the long one


def test_writes_do_not_spill_into_the_next_slot(board):
    neighbour = board.writer(1, pid=2, now=0.0)
    neighbour.requests = 11
    neighbour.write()
    writer = board.writer(0, pid=1, now=0.0)
    writer.uri = b"y" * 1000
    writer.write()
    assert board.read(1).requests == 11 and board.read(1).pid == 2


def test_a_reader_never_sees_a_torn_slot():
    """A forked writer rewrites one slot as fast as it can, every field derived from one counter;
    the parent reads it until it has seen the writer move on many times: every copy it gets is
    whole. None is allowed (the writer was preempted in the middle of a write for the reader's
    whole patience: a loaded machine does that), a mix of two writes is not."""
    board = Scoreboard(2)
    board.writer(1, pid=1, now=0.0)
    pid = os.fork()
    if pid == 0:  # the writer: never returns to pytest
        try:
            writer = board.writer(1, pid=os.getpid(), now=0.0)
            n = 0
            while True:
                n += 1
                writer.requests = writer.accepted = writer.slow = writer.rss = n
                writer.heartbeat = writer.since = writer.last_duration = float(n)
                writer.state = State.BUSY if n % 2 else State.IDLE
                writer.uri = uri(n)
                writer.method = b"GET" if n % 2 else b"POST"
                writer.write()
        finally:
            os._exit(0)
    try:
        seen: set[int] = set()
        reads = 0
        deadline = time.monotonic() + 60.0
        while reads < 100_000 or len(seen) < 1000:  # the writer may be paused: count its writes seen
            assert time.monotonic() < deadline, f"{len(seen)} writes seen in {reads} reads"
            reads += 1
            s = board.read(1)
            if s is None or s.requests == 0:  # a write under way for the whole patience; no write yet
                continue
            n = s.requests
            assert s.accepted == s.slow == s.rss == n, s
            assert s.heartbeat == s.since == s.last_duration == float(n), s
            assert s.state == (State.BUSY if n % 2 else State.IDLE), s
            assert s.uri == uri(n).decode(), s
            assert s.method == ("GET" if n % 2 else "POST"), s
            seen.add(n)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        board.close()


def uri(n: int) -> bytes:
    """A URI whose length changes with `n`, within URI_SIZE for any n below 10**12."""
    text = f"/{n}".encode() * (1 + n % 19)
    assert len(text) <= URI_SIZE
    return text


def half_write(board: Scoreboard, index: int, requests: int) -> None:
    """What a writer leaves when it stops in the middle of a write: its sequence number odd
    (the slot's first 8 bytes) and the body zero-filled up to the field it had reached
    (`struct.pack_into` clears the whole body first, then writes the fields in order)."""
    offset = index * SLOT_SIZE
    seq = struct.unpack_from("=Q", board._map, offset)[0]
    struct.pack_into("=Q", board._map, offset, seq + 1 if seq % 2 == 0 else seq)
    board._map[offset + 8 : offset + SLOT_SIZE] = bytes(SLOT_SIZE - 8)
    struct.pack_into("=BxxxiQ", board._map, offset + 8, State.BUSY, 4242, requests)


def test_a_slot_left_half_written_reads_as_none(board):
    writer = board.writer(0, pid=4242, now=0.0)
    writer.state, writer.requests, writer.since, writer.heartbeat = State.IDLE, 5, 100.0, 100.0
    writer.write()
    half_write(board, 0, requests=6)  # BUSY since 0.0: a request running for ages, as a policy reads it
    started = time.monotonic()
    assert board.read(0) is None
    assert time.monotonic() - started >= 0.1  # it waited for the writer to finish first
    started = time.monotonic()
    assert board.read(0, patience=0.0) is None  # the writer is known dead: no waiting
    assert time.monotonic() - started < 0.05
    assert board.slots()[0] is None and board.slots()[1].state == State.FREE
    writer.write()  # the writer runs again: its next write is whole
    assert board.read(0).requests == 5


def test_a_reader_waits_for_a_writer_paused_in_the_middle_of_a_write(board):
    writer = board.writer(0, pid=1, now=0.0)
    writer.requests = writer.accepted = 1
    writer.write()
    # the writer has begun its next write (seq odd: the slot's first 8 bytes, as the module says)
    # and has written `requests` but not yet `accepted` when it is preempted
    writer.requests = 2
    writer.write()
    struct.pack_into("=Q", board._map, 0, writer.seq + 1)

    def finish() -> None:
        time.sleep(0.02)
        writer.accepted = 2
        writer.write()  # its odd seq is the one already there, then even again

    thread = threading.Thread(target=finish)
    thread.start()
    try:
        slot = board.read(0)
    finally:
        thread.join()
    assert (slot.requests, slot.accepted) == (2, 2)
