"""The master's loop in process: forks, signals and exits through a hand-written fake.

The fake forks nothing: a "worker" is a pid the fake made up and a slot of the real scoreboard
the test writes as that worker would. Time is the `now` each tick is given. The same steps with
real processes are in test_pool.py.
"""

from __future__ import annotations

import copy
import logging
import signal
import socket
import struct
from collections.abc import Callable, Iterator

import pytest

from nagare.server.master import Master
from nagare.server.policy import BOOT_FAILURES, PoolSettings, State
from nagare.server.scoreboard import SLOT_SIZE, Scoreboard
from nagare.server.worker import STUCK_SIGNAL

TERM, KILL = signal.SIGTERM, signal.SIGKILL


class FakeProcesses:
    """fork() makes up a pid; kill() and the exits are lists the test reads and fills."""

    def __init__(self) -> None:
        self.forked: list[int] = []
        self.signals: list[tuple[int, int]] = []
        self.exits: list[tuple[int, int]] = []  # (pid, wait status) for waitpid()

    def fork(self) -> int:
        pid = 1000 + len(self.forked)
        self.forked.append(pid)
        return pid

    def kill(self, pid: int, signum: int) -> None:
        self.signals.append((pid, signum))

    def waitpid(self) -> tuple[int, int] | None:
        return self.exits.pop(0) if self.exits else None

    def exit(self, pid: int, code: int = 0, killed_by: int = 0) -> None:
        """`pid` exits with `code`, or is killed by signal `killed_by` (as waitpid encodes them)."""
        self.exits.append((pid, killed_by or code << 8))

    def sent(self, signum: int) -> list[int]:
        return [pid for pid, s in self.signals if s == signum]


def never(index: int, scoreboard: Scoreboard, master: int) -> int:
    raise AssertionError("the fake forks no child")


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, tuple[socket.socket, socket.socket]]]:
    listener = socket.socket()
    handoff = socket.socketpair()
    yield listener, handoff
    for sock in (listener, *handoff):
        sock.close()


Make = Callable[..., tuple[Master, FakeProcesses]]


@pytest.fixture
def make(sockets: tuple[socket.socket, tuple[socket.socket, socket.socket]]) -> Iterator[Make]:
    """make(old_workers=(), graceful_timeout=30.0, **pool settings): a master and its fake."""
    made: list[Master] = []

    def make(old_workers: tuple[int, ...] = (), graceful_timeout: float = 30.0, **settings: object) -> tuple[Master, FakeProcesses]:
        pool = PoolSettings(**{"min_spare": 1, "max_spare": 2, "max_children": 4, **settings})  # type: ignore[arg-type]
        processes = FakeProcesses()
        listener, handoff = sockets
        master = Master(
            listener, handoff, never, pool, name="test", graceful_timeout=graceful_timeout, old_workers=old_workers, processes=processes,
        )
        made.append(master)
        return master, processes

    yield make
    for master in made:
        master.close()


def up(master: Master, pid: int, now: float, state: State = State.IDLE, **fields: object) -> None:
    """Worker `pid` writes its slot: up and `state` since `now`."""
    writer = master.scoreboard.writer(master.workers[pid].slot, pid, now)
    writer.state = state
    for name, value in fields.items():
        setattr(writer, name, value)
    writer.write()


def test_the_first_tick_forks_max_spare_workers(make) -> None:
    master, processes = make()
    assert master.tick(0.0)
    assert processes.forked == [1000, 1001] and set(master.workers) == {1000, 1001}
    assert sorted(info.slot for info in master.workers.values()) == [0, 1]
    assert master.tick(0.1) and processes.forked == [1000, 1001]  # they are starting: no more


def test_a_crashed_worker_is_replaced_at_once_and_its_counts_kept(make, caplog) -> None:
    master, processes = make()
    master.tick(0.0)
    up(master, 1000, 0.0, requests=7, accepted=5)
    up(master, 1001, 0.0)
    master.tick(0.1)
    processes.exit(1000, code=3)
    with caplog.at_level(logging.WARNING, "nagare.publisher"):
        master.tick(0.2)
    assert processes.forked == [1000, 1001, 1002]
    assert set(master.workers) == {1001, 1002}
    assert master.workers[1002].slot == 0  # the slot freed is the one taken again
    assert (master.totals.requests, master.totals.accepted) == (7, 5)
    assert "worker 1000 exited with status 3: replaced" in caplog.text
    assert master.status()["requests"] == 7


def test_a_recycled_worker_is_replaced_quietly(make, caplog) -> None:
    master, processes = make()
    master.tick(0.0)
    for pid in (1000, 1001):
        up(master, pid, 0.0)
    processes.exit(1001, code=0)
    with caplog.at_level(logging.DEBUG, "nagare.publisher"):
        master.tick(0.1)
    assert processes.forked == [1000, 1001, 1002]
    assert [r.levelno for r in caplog.records if "1001" in r.getMessage()] == [logging.DEBUG]


def test_a_worker_killed_by_a_signal_is_replaced(make, caplog) -> None:
    master, processes = make()
    master.tick(0.0)
    up(master, 1000, 0.0, state=State.BUSY)
    processes.exit(1000, killed_by=KILL)
    master.tick(0.1)
    assert processes.forked[-1] == 1002 and "worker 1000 was killed by SIGKILL: replaced" in caplog.text


def test_a_retired_worker_is_not_replaced(make) -> None:
    master, processes = make(min_spare=1, max_spare=1, idle_timeout=1.0)
    master.tick(0.0)
    up(master, 1000, 0.0, state=State.BUSY)
    master.tick(0.1)
    assert processes.forked == [1000, 1001]  # no idle worker left: one more
    up(master, 1001, 0.2)
    up(master, 1000, 0.3)  # the burst is over: one idle worker above max_spare
    master.tick(1.1)
    assert processes.signals == []  # not idle for idle_timeout yet
    master.tick(1.25)
    assert processes.signals == [(1001, TERM)]  # the longest idle
    processes.exit(1001)
    master.tick(1.3)
    assert processes.forked == [1000, 1001] and set(master.workers) == {1000}


def test_a_stuck_worker_dumps_its_stack_is_replaced_at_once_then_killed(make, caplog) -> None:
    master, processes = make(request_timeout=5.0, kill_grace=2.0)
    master.tick(0.0)
    up(master, 1000, 1.0, state=State.BUSY, method=b"GET", uri=b"/app/slow")
    up(master, 1001, 1.0)
    master.tick(6.0)
    assert processes.signals == []
    master.tick(6.5)
    assert processes.signals == [(1000, STUCK_SIGNAL)]
    assert processes.forked == [1000, 1001, 1002]  # its replacement starts now
    assert "worker 1000 stuck for 5.5s on GET /app/slow" in caplog.text
    master.tick(7.0)
    assert processes.sent(KILL) == []
    master.tick(8.5)
    assert processes.sent(KILL) == [1000]
    processes.exit(1000, killed_by=KILL)
    master.tick(8.6)
    assert processes.forked == [1000, 1001, 1002] and 1000 not in master.workers


def half_write(master: Master, pid: int) -> None:
    """Worker `pid` is preempted in the middle of a write: its sequence number odd, its body
    zero-filled (as `struct.pack_into` starts) up to its state, BUSY."""
    offset = master.workers[pid].slot * SLOT_SIZE
    board = master.scoreboard._map
    struct.pack_into("=Q", board, offset, struct.unpack_from("=Q", board, offset)[0] + 1)
    board[offset + 8 : offset + SLOT_SIZE] = bytes(SLOT_SIZE - 8)
    struct.pack_into("=Bxxxi", board, offset + 8, State.BUSY, pid)


def test_a_slot_caught_in_the_middle_of_a_write_is_no_reason_to_kill(make) -> None:
    master, processes = make(request_timeout=5.0, heartbeat_timeout=30.0)
    master.tick(0.0)
    for pid in (1000, 1001):
        up(master, pid, 1000.0, requests=3)
    master.tick(1000.0)
    half_write(master, 1000)  # "busy since 0.0", for 1000s, if it were believed
    for now in (1000.5, 1001.0, 1020.0):
        master.tick(now)
    assert processes.signals == [] and processes.forked == [1000, 1001]
    # the status shows it as it was last seen whole
    process = next(p for p in master.status()["processes"] if p["pid"] == 1000)
    assert (process["state"], process["requests"]) == ("Idle", 3)


def test_a_worker_that_dies_in_the_middle_of_a_write_keeps_its_last_counts(make) -> None:
    master, processes = make()
    master.tick(0.0)
    for pid in (1000, 1001):
        up(master, pid, 0.0, requests=4)
    master.tick(0.1)
    half_write(master, 1000)
    processes.exit(1000, killed_by=KILL)
    master.tick(0.2)
    assert master.totals.requests == 4
    assert master.policy.boot_failures == 0  # it had served: not a failure to start
    assert processes.forked == [1000, 1001, 1002]


def test_workers_failing_at_start_stop_the_master(make, caplog) -> None:
    master, processes = make()
    master.tick(0.0)
    now = 0.0
    while master.stop_deadline is None:
        now += 0.1
        processes.exit(processes.forked[-1], code=3)  # dies before writing IDLE
        master.tick(now)
        assert len(processes.forked) <= 2 + BOOT_FAILURES
    assert len(processes.forked) == 1 + BOOT_FAILURES  # the last failure is not replaced
    assert master.exit_status == 1
    assert f"{BOOT_FAILURES} workers in a row failed at start: stopping" in caplog.text
    assert caplog.text.count("before serving") == BOOT_FAILURES
    assert processes.sent(TERM) == sorted(master.workers)  # the one still starting is stopped


def test_a_worker_that_served_resets_the_boot_failures(make) -> None:
    master, processes = make()
    master.tick(0.0)
    for round_ in range(3):
        for _ in range(BOOT_FAILURES - 1):
            processes.exit(processes.forked[-1], code=3)
            master.tick(round_ + 0.5)
        up(master, processes.forked[-1], round_ + 0.6)
        master.tick(round_ + 0.7)
    assert master.stop_deadline is None and master.exit_status == 0


def test_term_stops_every_worker_and_the_loop_ends_when_they_are_gone(make) -> None:
    master, processes = make(graceful_timeout=30.0)
    master.tick(0.0)
    for pid in (1000, 1001):
        up(master, pid, 0.0)
    master.signals.append(TERM)
    master.handle_signals(1.0)
    assert processes.sent(TERM) == [1000, 1001]
    processes.exit(1000)
    assert master.tick(1.1)
    assert processes.forked == [1000, 1001]  # nothing replaced during a stop
    assert master.tick(20.0)
    processes.exit(1001)
    assert not master.tick(20.1)


def test_what_outlives_the_graceful_timeout_is_killed_again_and_again(make) -> None:
    master, processes = make(graceful_timeout=3.0)
    master.tick(0.0)
    master.stop(TERM, 3.0, now=1.0)
    master.tick(3.9)
    assert processes.sent(KILL) == []
    master.tick(4.0)
    assert processes.sent(KILL) == [1000, 1001]
    master.tick(8.9)
    assert len(processes.sent(KILL)) == 2
    master.tick(9.0)  # still there: it may have been reparented, or the first SIGKILL lost
    assert len(processes.sent(KILL)) == 4


def test_after_a_reload_the_previous_workers_are_retired_once_ours_serve(make, caplog) -> None:
    master, processes = make(old_workers=(71, 72))
    master.started = 0.0
    master.tick(0.0)
    assert processes.forked == [1000, 1001]  # an empty pool of ours: the initial workers
    up(master, 1000, 0.1)
    master.tick(0.2)
    assert processes.signals == []
    up(master, 1001, 0.3)
    with caplog.at_level(logging.INFO, "nagare.publisher"):
        master.tick(0.4)
    assert processes.sent(TERM) == [71, 72]
    assert "reloaded: 2 workers of the previous code retired" in caplog.text
    master.tick(0.5)
    assert processes.sent(TERM) == [71, 72]  # once
    processes.exit(71)
    processes.exit(72)
    master.tick(0.6)
    assert master.previous == set() and processes.forked == [1000, 1001]  # not ours: not replaced


def test_the_previous_workers_are_retired_after_30s_even_if_ours_never_serve(make) -> None:
    master, processes = make(old_workers=(71,))
    master.started = 0.0
    master.tick(0.0)
    for pid in (1000, 1001):
        up(master, pid, 29.0, state=State.STARTING)
    master.tick(29.9)
    assert processes.signals == []
    master.tick(30.1)
    assert processes.sent(TERM) == [71]


def test_a_stop_waits_for_the_previous_workers_too(make) -> None:
    master, processes = make(old_workers=(71,))
    master.tick(0.0)
    master.stop(TERM, 30.0, now=0.0)
    assert processes.sent(TERM) == [1000, 1001, 71]
    processes.exit(1000)
    processes.exit(1001)
    assert master.tick(0.1)
    processes.exit(71)
    assert not master.tick(0.2)


def test_looking_at_the_pool_changes_nothing(make) -> None:
    master, processes = make(request_timeout=5.0)
    master.tick(0.0)
    up(master, 1000, 0.0, state=State.BUSY)
    up(master, 1001, 0.0, requests=2)
    before = (copy.deepcopy(master.workers), copy.deepcopy(master.totals), master.policy.boot_failures)
    first = master.observe()
    second = master.observe()
    assert first == second
    assert (master.workers, master.totals, master.policy.boot_failures) == before
    assert [w.state for w in first.workers] == [State.BUSY, State.IDLE]
    assert processes.signals == [] and processes.forked == [1000, 1001]


def test_max_children_reached_is_counted_once_per_episode(make, caplog) -> None:
    master, processes = make(max_children=2, max_spare=2)
    master.tick(0.0)
    for pid in (1000, 1001):
        up(master, pid, 0.0, state=State.BUSY)
    for now in (0.1, 0.2, 0.3):
        master.tick(now)
    assert master.totals.max_children_reached == 1 and caplog.text.count("reached maxChildren (2)") == 1
    up(master, 1000, 0.4)
    master.tick(0.4)
    up(master, 1000, 0.5, state=State.BUSY)
    master.tick(0.5)
    assert master.totals.max_children_reached == 2
    assert master.totals.max_active == 2
