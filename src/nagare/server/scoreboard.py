"""The scoreboard: one slot of shared memory per worker, written by it, read by the master.

It is the workers' heartbeat and status (STYLE.md: pipes or shared memory, never file mtimes):
an anonymous shared mapping made before the fork, so it costs no system call to update. Each
slot is written by one process only; a sequence number, odd while a write is under way, lets the
reader retry instead of reading half a slot (a seqlock).
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass

from nagare.server.policy import State

URI_SIZE = 256
# seq, state, pid, requests, accepted, slow, heartbeat, since, rss, last duration, method, uri length, uri
_SLOT = struct.Struct(f"=QBxxxiQQQddQd8sH{URI_SIZE}s")
_SEQ = struct.Struct("=Q")
SLOT_SIZE = (_SLOT.size + 63) // 64 * 64  # one cache line boundary per slot: no false sharing


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


class Scoreboard:
    """`size` slots in one shared mapping; fork after creating it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._map = mmap.mmap(-1, SLOT_SIZE * size, flags=mmap.MAP_SHARED)

    def close(self) -> None:
        self._map.close()

    # -- the master --------------------------------------------------------------------------

    def free_slot(self) -> int | None:
        for index in range(self.size):
            if self.read(index).state == State.FREE:
                return index
        return None

    def claim(self, index: int, now: float) -> None:
        """Reserve `index` for a worker about to be forked."""
        _SLOT.pack_into(self._map, index * SLOT_SIZE, 0, State.STARTING, 0, 0, 0, 0, now, now, 0, 0.0, b"", 0, b"")

    def release(self, index: int) -> None:
        _SLOT.pack_into(self._map, index * SLOT_SIZE, 0, State.FREE, 0, 0, 0, 0, 0.0, 0.0, 0, 0.0, b"", 0, b"")

    def read(self, index: int) -> Slot:
        offset = index * SLOT_SIZE
        for _ in range(100):
            values = _SLOT.unpack_from(self._map, offset)
            if values[0] % 2 == 0 and _SEQ.unpack_from(self._map, offset)[0] == values[0]:
                break
        _, state, pid, requests, accepted, slow, heartbeat, since, rss, duration, method, length, uri = values
        return Slot(
            index, State(state), pid, requests, accepted, slow, heartbeat, since, rss, duration,
            method.rstrip(b"\0").decode("latin-1"), uri[:length].decode("latin-1"),
        )

    def slots(self) -> list[Slot]:
        return [self.read(i) for i in range(self.size)]

    def writer(self, index: int, pid: int, now: float) -> "SlotWriter":
        return SlotWriter(self._map, index, pid, now)


class SlotWriter:
    """A worker's side of its slot; it keeps the values and writes them whole."""

    __slots__ = ("_map", "_offset", "seq", "state", "pid", "requests", "accepted", "slow",
                 "heartbeat", "since", "rss", "last_duration", "method", "uri")

    def __init__(self, map_: mmap.mmap, index: int, pid: int, now: float) -> None:
        self._map = map_
        self._offset = index * SLOT_SIZE
        self.seq = 0
        self.state = State.STARTING
        self.pid = pid
        self.requests = self.accepted = self.slow = self.rss = 0
        self.heartbeat = self.since = now
        self.last_duration = 0.0
        self.method = b""
        self.uri = b""
        self.write()

    def write(self) -> None:
        self.seq += 1
        _SEQ.pack_into(self._map, self._offset, self.seq)  # odd: a write is under way
        uri = self.uri[:URI_SIZE]
        _SLOT.pack_into(
            self._map, self._offset, self.seq, self.state, self.pid, self.requests, self.accepted,
            self.slow, self.heartbeat, self.since, self.rss, self.last_duration, self.method[:8], len(uri), uri,
        )
        self.seq += 1
        _SEQ.pack_into(self._map, self._offset, self.seq)  # even again: the slot is whole
