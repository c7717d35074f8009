"""The pool policy: pure decisions over plain data, applied by the master.

`Policy.decide(workers, now)` turns what the scoreboard says of the workers into actions: how many
to spawn, which idle ones to retire, which stuck ones to make dump their stack, which to kill.
It never forks, signals nor reads a clock, so it is tested with plain values.

The pool follows flup's settings (Nagare 0.5 users have them in their files): `max_spare` workers
at start; more when fewer than `min_spare` are idle, up to `max_children`; idle extras above
`max_spare` retired. Two things flup lacked: spawning doubles per tick while the deficit lasts
(1, 2, 4, ... as PHP-FPM's dynamic manager does, so a burst is met in a few ticks), and an extra
is retired only after `idle_timeout` seconds idle, so a pool under a pulsing load does not flap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


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


@dataclass
class Actions:
    spawn: int = 0
    retire: list[int] = field(default_factory=list)  # graceful: finish the request, then exit
    dump: list[int] = field(default_factory=list)  # stuck: log the Python stack
    kill: list[int] = field(default_factory=list)  # stuck for kill_grace after its dump
    max_children_reached: bool = False

    def __bool__(self) -> bool:
        return bool(self.spawn or self.retire or self.dump or self.kill)


class Policy:
    """Decides, tick after tick; keeps only the spawn rate between two ticks."""

    def __init__(self, settings: PoolSettings) -> None:
        if not 0 <= settings.min_spare <= settings.max_spare <= settings.max_children:
            raise ValueError("expected minSpare <= maxSpare <= maxChildren")
        self.settings = settings
        self.spawn_rate = 1

    def initial(self) -> int:
        """Workers forked at start."""
        return max(self.settings.max_spare, 1)

    def decide(self, workers: list[WorkerView], now: float) -> Actions:
        s = self.settings
        actions = Actions()
        stuck: set[int] = set()
        for w in workers:
            if w.dumped_at is not None:
                if now - w.dumped_at >= s.kill_grace:
                    actions.kill.append(w.pid)
                stuck.add(w.pid)
            elif self._stuck(w, now):
                actions.dump.append(w.pid)
                stuck.add(w.pid)
        # a stuck worker no longer counts: the master replaces it as soon as it is dumped
        active = [w for w in workers if not w.retiring and w.pid not in stuck]
        # a worker still starting will take requests in a moment: counting it as idle is what
        # keeps a burst from spawning a new batch every tick until the first one is up
        idle = [w for w in active if w.state in (State.IDLE, State.STARTING)]
        if len(idle) < s.min_spare or not active:
            room = s.max_children - len(active)
            want = max(s.min_spare - len(idle), 1 if not active else 0)
            actions.spawn = min(max(want, self.spawn_rate), room) if room > 0 else 0
            if room <= 0:
                actions.max_children_reached = True
            self.spawn_rate = min(self.spawn_rate * 2, s.max_spawn_rate)
        else:
            self.spawn_rate = 1
            extra = len(idle) - s.max_spare
            if extra > 0:
                candidates = sorted(
                    (w for w in idle if w.state == State.IDLE and now - w.since >= s.idle_timeout),
                    key=lambda w: w.since,
                )
                # one per tick: a load that comes back finds most of the pool still there
                actions.retire = [w.pid for w in candidates[:1]]
        return actions

    def _stuck(self, w: WorkerView, now: float) -> bool:
        s = self.settings
        if w.state == State.BUSY:
            return s.request_timeout > 0 and now - w.since > s.request_timeout
        if w.state in (State.IDLE, State.STARTING) and not w.retiring:
            return now - w.heartbeat > s.heartbeat_timeout
        return False
