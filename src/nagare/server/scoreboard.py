"""The scoreboard: one slot of shared memory per worker, written by it, read by the master.

It is the workers' heartbeat and status (shared memory rather than files: a file's mtime as a
heartbeat gives false timeouts on a slow disk): an anonymous shared mapping made before the
fork, so it costs no system call to update. Each slot is written by one process only; a sequence
number, odd while a write is under way, lets the reader retry instead of reading half a slot (a
seqlock). The sequence number is one aligned 8-byte word stored apart from the body:
`struct.pack_into` zero-fills its bytes before it writes them, so a sequence number packed with
the body reads 0 — even — in the middle of a write.

A reader never returns half a slot: a slot still being written after `PATIENCE` reads as None.
Half a slot is worse than no news: `pack_into` zero-fills the body first, so a slot caught in
the middle of a write says "busy since 0.0" or "idle, last heartbeat at 0.0" — a worker stuck
for as long as the machine has been up, which the policy would kill.
"""

from __future__ import annotations

import itertools
import mmap
import struct
import time
from dataclasses import dataclass

from nagare.server.policy import State

URI_SIZE = 256
# after the 8-byte sequence number: state, pid, shared connection served, requests, accepted,
# slow, heartbeat, since, rss, last duration, method, uri length, uri
_BODY = struct.Struct(f"=BxxxiiQQQddQd8sH{URI_SIZE}s")
SLOT_SIZE = (8 + _BODY.size + 63) // 64 * 64  # slots start on cache lines: no false sharing
_SPINS = 100  # tries before the reader starts sleeping between tries
PATIENCE = 0.1  # seconds a reader waits for a writer that was preempted mid-write


@dataclass
class Slot:
    """What one slot says (a copy: reading it again gives the new values)."""

    index: int
    state: State
    pid: int
    requests: int  # requests served by this worker
    accepted: int  # connections it accepted
    slow: int  # requests that ran above the slow-request threshold
    heartbeat: float  # monotonic time of its last sign of life
    since: float  # monotonic time it entered `state`
    rss: int  # resident memory in bytes, as of its last request or heartbeat
    last_duration: float  # seconds its last request took
    method: str
    uri: str
    conn: int = 0  # the shared kept-alive connection of the request being served (0: none)


class Scoreboard:
    """`size` slots in one shared mapping; fork after creating it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._map = mmap.mmap(-1, SLOT_SIZE * size, flags=mmap.MAP_SHARED)
        self._seq = memoryview(self._map).cast("Q")  # aligned words: read and written whole

    def close(self) -> None:
        self._seq.release()
        self._map.close()

    # -- the master --------------------------------------------------------------------------

    def free_slot(self) -> int | None:
        for index in range(self.size):
            slot = self.read(index, patience=0.0)  # a slot being written is in use
            if slot is not None and slot.state == State.FREE:
                return index
        return None

    def claim(self, index: int, now: float) -> Slot:
        """Reserve `index` for a worker about to be forked; what the slot says now."""
        self._seq[index * SLOT_SIZE // 8] = 0
        _BODY.pack_into(self._map, index * SLOT_SIZE + 8, State.STARTING, 0, 0, 0, 0, 0, now, now, 0, 0.0, b"", 0, b"")
        return Slot(index, State.STARTING, 0, 0, 0, 0, now, now, 0, 0.0, "", "")

    def release(self, index: int) -> None:
        self._seq[index * SLOT_SIZE // 8] = 0
        _BODY.pack_into(self._map, index * SLOT_SIZE + 8, State.FREE, 0, 0, 0, 0, 0, 0.0, 0.0, 0, 0.0, b"", 0, b"")

    def read(self, index: int, patience: float = PATIENCE) -> Slot | None:
        """A whole copy of slot `index`; None if a write was under way at every try for `patience`
        seconds (its writer was preempted, or killed, in the middle of it: no news of it)."""
        word, offset = index * SLOT_SIZE // 8, index * SLOT_SIZE + 8
        seq = self._seq
        deadline = None
        for attempt in itertools.count():
            before = seq[word]
            values = _BODY.unpack_from(self._map, offset)
            if before % 2 == 0 and seq[word] == before:
                break
            if attempt >= _SPINS or not patience:  # the writer was preempted in the middle of its write
                now = time.monotonic()
                deadline = deadline or now + patience
                if now >= deadline:
                    return None
                time.sleep(0.0001)
        state, pid, conn, requests, accepted, slow, heartbeat, since, rss, duration, method, length, uri = values
        return Slot(
            index, State(state), pid, requests, accepted, slow, heartbeat, since, rss, duration,
            method.rstrip(b"\0").decode("latin-1"), uri[:length].decode("latin-1"), conn,
        )

    def slots(self) -> list[Slot | None]:
        return [self.read(i) for i in range(self.size)]

    def writer(self, index: int, pid: int, now: float) -> "SlotWriter":
        return SlotWriter(self._map, self._seq, index, pid, now)


class SlotWriter:
    """A worker's side of its slot; it keeps the values and writes them whole."""

    __slots__ = ("_map", "_seq", "_word", "_offset", "seq", "state", "pid", "conn", "requests", "accepted", "slow",
                 "heartbeat", "since", "rss", "last_duration", "method", "uri")

    def __init__(self, map_: mmap.mmap, seq: memoryview, index: int, pid: int, now: float) -> None:
        self._map = map_
        self._seq = seq
        self._word = index * SLOT_SIZE // 8
        self._offset = index * SLOT_SIZE + 8
        self.seq = 0
        self.state = State.STARTING
        self.pid = pid
        self.conn = 0
        self.requests = self.accepted = self.slow = self.rss = 0
        self.heartbeat = self.since = now
        self.last_duration = 0.0
        self.method = b""
        self.uri = b""
        self.write()

    def write(self) -> None:
        self.seq += 1
        self._seq[self._word] = self.seq  # odd: a write is under way
        uri = self.uri[:URI_SIZE]
        _BODY.pack_into(
            self._map, self._offset, self.state, self.pid, self.conn, self.requests, self.accepted,
            self.slow, self.heartbeat, self.since, self.rss, self.last_duration, self.method[:8], len(uri), uri,
        )
        self.seq += 1
        self._seq[self._word] = self.seq  # even again: the slot is whole
