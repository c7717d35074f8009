"""The pool policy: pure decisions over plain data, applied by the master.

`Policy.decide(workers, now, exits, previous, stopping)` turns what the master saw — the workers
as the scoreboard shows them, the ones that exited since the last tick, the previous master
image's workers after a reload — into actions: how many to spawn, which idle ones to retire,
which stuck ones to make dump their stack, which to kill, which exits to replace, whether the
pool must stop. It never forks, signals nor reads a clock, so it is tested with plain values.

The pool follows flup's settings (Nagare 0.5 users have them in their files): `max_spare` workers
at start; more when fewer than `min_spare` are idle, up to `max_children`; idle extras above
`max_spare` retired. Two things flup lacked: spawning doubles per tick while the deficit lasts
(1, 2, 4, ... as PHP-FPM's dynamic manager does, so a burst is met in a few ticks), and an extra
is retired only after `idle_timeout` seconds idle, so a pool under a pulsing load does not flap.

A worker that exits unasked (it crashed, or was recycled after max_requests or max_memory) and a
stuck one are replaced one for one, at once. A worker that dies before it serves is a boot
failure: `BOOT_FAILURES` in a row stop the pool, since respawning a worker that cannot start
only fills the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

BOOT_FAILURES = 5  # workers in a row that die before serving: the pool stops
RELOAD_PATIENCE = 30.0  # seconds the previous image's workers serve at most after a reload


class State(IntEnum):
    """What a worker is doing (the values are stored in the scoreboard)."""

    FREE = 0  # the slot is not in use
    STARTING = 1  # forked, not yet waiting for requests
    IDLE = 2
    BUSY = 3
    STOPPING = 4  # finishing its request before it exits


@dataclass(frozen=True)
class PoolSettings:
    min_spare: int = 1
    max_spare: int = 5
    max_children: int = 50
    idle_timeout: float = 10.0  # seconds an extra idle worker is kept before it is retired
    request_timeout: float = 0.0  # 0: requests may run forever
    kill_grace: float = 2.0  # seconds between the stack dump and SIGKILL
    heartbeat_timeout: float = 30.0  # an idle worker that does not beat for this long is stuck
    max_spawn_rate: int = 32


@dataclass(frozen=True)
class WorkerView:
    """One worker as the master sees it."""

    pid: int
    state: State
    since: float  # when it entered this state (monotonic)
    heartbeat: float  # its last sign of life (monotonic)
    retiring: bool = False  # asked to stop: neither counted nor retired again
    dumped_at: float | None = None  # when it was asked to dump its stack
    # False: its slot was in the middle of a write at every try (the other fields are those of
    # its last whole reading): no news is not a sign of trouble, nothing is decided on it
    news: bool = True


@dataclass(frozen=True)
class Exit:
    """A worker the master reaped."""

    pid: int
    state: State  # the last state its slot gave: STARTING if it never got to serve
    asked: bool = False  # it was asked to stop (retired, stuck, the pool stops)


@dataclass(frozen=True)
class Previous:
    """After a reload: the previous master image's workers, serving until ours are up."""

    pids: tuple[int, ...]
    since: float  # when this master image started


@dataclass
class Actions:
    spawn: int = 0
    retire: list[int] = field(default_factory=list)  # graceful: finish the request, then exit
    dump: list[int] = field(default_factory=list)  # stuck: log the Python stack
    kill: list[int] = field(default_factory=list)  # stuck for kill_grace after its dump
    replace: list[int] = field(default_factory=list)  # exits replaced (counted in `spawn`)
    failed: list[int] = field(default_factory=list)  # exits that died before serving
    retire_previous: list[int] = field(default_factory=list)  # the previous image's workers
    stop: bool = False  # BOOT_FAILURES workers in a row failed at start
    max_children_reached: bool = False

    def __bool__(self) -> bool:
        return bool(self.spawn or self.retire or self.dump or self.kill or self.retire_previous or self.stop)


class Policy:
    """Decides, tick after tick; keeps between two ticks the spawn rate and the boot failures."""

    def __init__(self, settings: PoolSettings) -> None:
        if not 0 <= settings.min_spare <= settings.max_spare <= settings.max_children:
            raise ValueError("expected minSpare <= maxSpare <= maxChildren")
        self.settings = settings
        self.spawn_rate = 1
        self.boot_failures = 0  # in a row: a worker that gets to serve resets it
        self._up: set[int] = set()  # the workers seen serving (past STARTING)

    def initial(self) -> int:
        """Workers forked into an empty pool (at start, after a reload)."""
        return max(self.settings.max_spare, 1)

    def decide(
        self,
        workers: Sequence[WorkerView],
        now: float,
        exits: Sequence[Exit] = (),
        previous: Previous | None = None,
        stopping: bool = False,
    ) -> Actions:
        """What to do about `workers` (alive, as seen at `now`) and `exits` (reaped since the last
        tick); `previous`: the workers of the master image before a reload, not yet retired."""
        actions = Actions()
        if stopping:  # the master stops every worker: nothing to replace, nothing to judge
            return actions
        self._judge_exits(exits, actions)
        self._note_up(workers)
        if actions.stop:
            return actions
        stuck = self._judge_stuck(workers, now, actions)
        self._size(workers, stuck, now, actions)
        if previous is not None and previous.pids:
            up = sum(1 for w in workers if w.state not in (State.STARTING, State.FREE))
            if up >= self.initial() or now - previous.since > RELOAD_PATIENCE:
                actions.retire_previous = list(previous.pids)
        return actions

    def _judge_exits(self, exits: Sequence[Exit], actions: Actions) -> None:
        for gone in exits:
            if gone.asked:
                continue
            if gone.state == State.STARTING:
                actions.failed.append(gone.pid)
                self.boot_failures += 1
                if self.boot_failures >= BOOT_FAILURES:
                    actions.stop = True
                    actions.replace.clear()
                    return
            actions.replace.append(gone.pid)

    def _note_up(self, workers: Sequence[WorkerView]) -> None:
        alive = set()
        for w in workers:
            alive.add(w.pid)
            if w.state not in (State.STARTING, State.FREE) and w.pid not in self._up:
                self._up.add(w.pid)
                self.boot_failures = 0  # this one started: the failures before were not in a row
        self._up &= alive

    def _judge_stuck(self, workers: Sequence[WorkerView], now: float, actions: Actions) -> set[int]:
        stuck: set[int] = set()
        for w in workers:
            if w.dumped_at is not None:
                if now - w.dumped_at >= self.settings.kill_grace:
                    actions.kill.append(w.pid)
                stuck.add(w.pid)
            elif w.news and self._stuck(w, now):
                actions.dump.append(w.pid)
                stuck.add(w.pid)
        return stuck

    def _size(self, workers: Sequence[WorkerView], stuck: set[int], now: float, actions: Actions) -> None:
        s = self.settings
        # a stuck worker no longer counts: it is replaced as soon as it is dumped
        active = [w for w in workers if not w.retiring and w.pid not in stuck]
        # a worker still starting will take requests in a moment: counting it as idle is what
        # keeps a burst from spawning a new batch every tick until the first one is up; the
        # replacements decided now are such workers
        idle = [w for w in active if w.state in (State.IDLE, State.STARTING)]
        coming = len(actions.replace) + len(actions.dump)
        room = s.max_children - len(active)
        if not active and not coming:
            want = self.initial()
        elif len(idle) + coming < s.min_spare:
            want = coming + max(s.min_spare - len(idle) - coming, self.spawn_rate)
            self.spawn_rate = min(self.spawn_rate * 2, s.max_spawn_rate)
        else:
            self.spawn_rate = 1
            want = coming
            extra = len(idle) - s.max_spare
            if extra > 0:
                candidates = sorted(
                    (w for w in idle if w.state == State.IDLE and w.news and now - w.since >= s.idle_timeout),
                    key=lambda w: w.since,
                )
                # one per tick: a load that comes back finds most of the pool still there
                actions.retire = [w.pid for w in candidates[:1]]
        actions.spawn = max(min(want, room), 0)
        actions.max_children_reached = want > 0 and room <= 0

    def _stuck(self, w: WorkerView, now: float) -> bool:
        s = self.settings
        if w.state == State.BUSY:
            return s.request_timeout > 0 and now - w.since > s.request_timeout
        if w.state in (State.IDLE, State.STARTING) and not w.retiring:
            return now - w.heartbeat > s.heartbeat_timeout
        return False
