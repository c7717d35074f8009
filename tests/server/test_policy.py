"""The pool policy with plain data: no fork, no signal, no clock."""

from __future__ import annotations

import pytest

from nagare.server.policy import BOOT_FAILURES, Actions, Exit, Policy, PoolSettings, Previous, State, WorkerView

BUSY, IDLE, STARTING, STOPPING = State.BUSY, State.IDLE, State.STARTING, State.STOPPING


def worker(pid: int, state: State = IDLE, since: float = 0.0, heartbeat: float | None = None, **kw: object) -> WorkerView:
    return WorkerView(pid, state, since, since if heartbeat is None else heartbeat, **kw)  # type: ignore[arg-type]


def pool(*states: State, now: float = 0.0, first_pid: int = 1) -> list[WorkerView]:
    return [worker(first_pid + i, s, since=now, heartbeat=now) for i, s in enumerate(states)]


def policy(**settings: object) -> Policy:
    return Policy(PoolSettings(**settings))  # type: ignore[arg-type]


def test_start_count_is_max_spare():
    assert policy(min_spare=1, max_spare=5).initial() == 5
    assert policy(min_spare=0, max_spare=3, max_children=3).initial() == 3


def test_a_healthy_pool_does_nothing():
    actions = policy(min_spare=1, max_spare=5).decide(pool(IDLE, IDLE, BUSY), now=1.0)
    assert actions == Actions() and not actions


def test_spawn_when_fewer_than_min_spare_are_idle():
    p = policy(min_spare=2, max_spare=5)
    assert p.decide(pool(IDLE, BUSY, BUSY), now=1.0).spawn == 1
    assert policy(min_spare=3, max_spare=5).decide(pool(BUSY, BUSY), now=1.0).spawn == 3


def test_an_empty_pool_gets_its_initial_workers_even_with_min_spare_zero():
    # at start, and for a new master image after a reload
    assert policy(min_spare=0, max_spare=2).decide([], now=0.0).spawn == 2
    assert policy(min_spare=0, max_spare=0, max_children=1).decide([], now=0.0).spawn == 1


def test_spawn_rate_doubles_under_a_sustained_deficit_and_resets_when_it_ends():
    p = policy(min_spare=1, max_spare=5, max_children=1000, max_spawn_rate=16)
    workers = pool(BUSY, BUSY)
    spawned = []
    for tick in range(7):
        n = p.decide(workers, now=float(tick)).spawn
        spawned.append(n)
        workers += pool(*[BUSY] * n, now=float(tick), first_pid=len(workers) + 1)  # busy at once
    assert spawned == [1, 2, 4, 8, 16, 16, 16]  # capped at max_spawn_rate
    # the deficit ends: one idle worker is enough
    assert p.decide([*workers, worker(9999, IDLE)], now=8.0).spawn == 0
    assert p.decide(workers, now=9.0).spawn == 1  # a new deficit starts again at 1


def test_starting_counts_as_idle_so_a_burst_does_not_overshoot():
    p = policy(min_spare=2, max_spare=5)
    assert p.decide(pool(BUSY, BUSY), now=0.0).spawn == 2
    # next tick the two are still starting: no new batch
    assert p.decide(pool(BUSY, BUSY, STARTING, STARTING), now=0.1).spawn == 0


def test_never_above_max_children_and_flagged():
    p = policy(min_spare=1, max_spare=2, max_children=10, max_spawn_rate=32)
    workers: list[WorkerView] = []
    reached = []
    for tick in range(12):
        actions = p.decide(workers, now=float(tick))
        reached.append(actions.max_children_reached)
        workers += pool(*[BUSY] * actions.spawn, first_pid=len(workers) + 1)
        assert len(workers) <= 10
    assert len(workers) == 10
    assert reached[-1] is True and reached[0] is False
    full = p.decide(pool(*[BUSY] * 10), now=20.0)
    assert full.spawn == 0 and full.max_children_reached


def test_room_left_limits_the_spawn():
    p = policy(min_spare=5, max_spare=5, max_children=7)
    assert p.decide(pool(*[BUSY] * 5), now=0.0).spawn == 2


def test_retire_only_idle_workers_idle_for_idle_timeout_the_longest_first_one_per_tick():
    p = policy(min_spare=1, max_spare=2, idle_timeout=10.0)
    now = 12.0
    workers = [worker(pid, IDLE, since=since, heartbeat=now) for pid, since in ((1, 5.0), (2, 1.0), (3, 3.0), (4, 9.0))]
    assert p.decide(workers, now=now).retire == [2]  # 2 and 3 idle for 10s: the longest, and only one
    assert p.decide([w for w in workers if w.pid != 2], now=13.5).retire == [3]  # the next tick after it left
    assert p.decide(workers, now=9.9).retire == []  # none idle for 10s yet


def test_retire_waits_for_idle_timeout_exactly():
    p = policy(min_spare=0, max_spare=1, idle_timeout=10.0)
    workers = [worker(1, IDLE, since=0.0, heartbeat=9.0), worker(2, IDLE, since=0.0, heartbeat=9.0)]
    assert p.decide(workers, now=9.999).retire == []
    assert p.decide(workers, now=10.0).retire == [1]


def test_never_retire_a_busy_worker():
    p = policy(min_spare=0, max_spare=1, idle_timeout=1.0)
    workers = [worker(1, BUSY, since=0.0), worker(2, BUSY, since=0.0), worker(3, IDLE, since=50.0, heartbeat=99.0), worker(4, IDLE, since=51.0, heartbeat=99.0)]
    assert p.decide(workers, now=100.0).retire == [3]
    assert p.decide(pool(*[BUSY] * 10), now=1000.0).retire == []
    assert p.decide([worker(1, BUSY, since=0.0), worker(2, BUSY, since=0.0)], now=1000.0) == Actions()


def test_starting_workers_are_not_retired():
    p = policy(min_spare=0, max_spare=1, idle_timeout=1.0)
    workers = [worker(1, STARTING, since=0.0, heartbeat=99.0), worker(2, STARTING, since=0.0, heartbeat=99.0)]
    assert p.decide(workers, now=100.0).retire == []


def test_a_stuck_busy_worker_is_dumped_then_killed_after_kill_grace():
    p = policy(min_spare=1, max_spare=5, request_timeout=5.0, kill_grace=2.0)
    assert p.decide([worker(1, BUSY, since=0.0), worker(2, IDLE)], now=5.0).dump == []  # not above it yet
    actions = p.decide([worker(1, BUSY, since=0.0), worker(2, IDLE)], now=6.0)
    assert actions.dump == [1] and actions.kill == []
    dumped = [worker(1, BUSY, since=0.0, retiring=True, dumped_at=6.0), worker(2, IDLE)]
    later = p.decide(dumped, now=7.0)
    assert later.dump == [] and later.kill == []  # dumped once only
    assert p.decide(dumped, now=8.0).kill == [1]


def test_no_request_timeout_means_requests_may_run_forever():
    p = policy(min_spare=1, max_spare=5, request_timeout=0.0)
    actions = p.decide([worker(1, BUSY, since=0.0, heartbeat=0.0), worker(2, IDLE, since=1e6)], now=1e6)
    assert actions.dump == [] and actions.kill == []


def test_a_dumped_worker_is_replaced_not_counted_active():
    p = policy(min_spare=1, max_spare=2, max_children=2, request_timeout=5.0)
    actions = p.decide([worker(1, BUSY, since=0.0), worker(2, IDLE, since=9.0)], now=10.0)
    assert actions.dump == [1]
    # the idle one is enough spare; the stuck one frees its room at once
    dumped = [worker(1, BUSY, since=0.0, retiring=True, dumped_at=10.0), worker(2, BUSY, since=10.0)]
    replaced = p.decide(dumped, now=10.1)
    assert replaced.spawn == 1 and not replaced.max_children_reached


def test_heartbeat_timeout_of_an_idle_worker():
    p = policy(min_spare=1, max_spare=5, heartbeat_timeout=30.0)
    assert p.decide([worker(1, IDLE, since=0.0, heartbeat=0.0)], now=30.0).dump == []
    actions = p.decide([worker(1, IDLE, since=0.0, heartbeat=0.0)], now=30.5)
    assert actions.dump == [1]
    assert actions.spawn == 1  # it was the only idle one
    assert p.decide([worker(1, STARTING, since=0.0, heartbeat=0.0)], now=31.0).dump == [1]


def test_a_busy_worker_without_heartbeat_is_judged_by_request_timeout_only():
    p = policy(min_spare=0, max_spare=5, heartbeat_timeout=30.0, request_timeout=0.0)
    assert p.decide([worker(1, BUSY, since=0.0, heartbeat=0.0)], now=100.0).dump == []


def test_retiring_workers_are_neither_counted_nor_retired_again():
    p = policy(min_spare=1, max_spare=1, idle_timeout=1.0)
    workers = [
        worker(1, IDLE, since=0.0, heartbeat=0.0, retiring=True),  # the longest idle, and silent: on its way out
        worker(2, IDLE, since=5.0, heartbeat=99.0),
        worker(3, IDLE, since=6.0, heartbeat=99.0),
    ]
    assert p.decide(workers, now=100.0).retire == [2]
    # a retiring idle worker is not a spare: one must be spawned
    alone = p.decide([worker(1, IDLE, since=0.0, retiring=True)], now=100.0)
    assert alone.spawn == 1 and alone.retire == []
    # nor stuck: it is on its way out (no heartbeat check)
    assert alone.dump == []


def test_retiring_workers_leave_room_under_max_children():
    p = policy(min_spare=1, max_spare=1, max_children=2)
    actions = p.decide([worker(1, STOPPING, retiring=True), worker(2, BUSY)], now=0.0)
    assert actions.spawn == 1


@pytest.mark.parametrize(
    "settings",
    [
        {"min_spare": 3, "max_spare": 2},
        {"min_spare": 1, "max_spare": 6, "max_children": 5},
        {"min_spare": -1},
    ],
    ids=["min>max-spare", "max-spare>children", "negative"],
)
def test_invalid_settings_raise(settings):
    with pytest.raises(ValueError, match="minSpare <= maxSpare <= maxChildren"):
        Policy(PoolSettings(**settings))


def test_a_worker_that_exits_unasked_is_replaced_one_for_one():
    p = policy(min_spare=1, max_spare=3)
    crashed, recycled = Exit(4, IDLE), Exit(5, BUSY)
    actions = p.decide(pool(IDLE, IDLE, IDLE), now=1.0, exits=[crashed, recycled])
    assert actions.replace == [4, 5] and actions.spawn == 2 and actions.failed == []
    # replaced even when the pool has spares enough: it keeps its size
    assert p.decide(pool(IDLE, IDLE, IDLE, IDLE), now=2.0, exits=[Exit(9, STOPPING)]).spawn == 1


def test_a_worker_asked_to_stop_is_not_replaced():
    p = policy(min_spare=1, max_spare=3)
    actions = p.decide(pool(IDLE, IDLE, IDLE), now=1.0, exits=[Exit(4, IDLE, asked=True), Exit(5, STARTING, asked=True)])
    assert actions == Actions()
    assert p.boot_failures == 0  # not a failure to start either


def test_a_replacement_counts_as_a_starting_worker():
    p = policy(min_spare=2, max_spare=5)
    # one busy, the other crashed: its replacement and one more make the two spares
    actions = p.decide(pool(BUSY), now=1.0, exits=[Exit(2, IDLE)])
    assert actions.replace == [2] and actions.spawn == 2


def test_replacements_stay_within_max_children():
    p = policy(min_spare=1, max_spare=2, max_children=2)
    actions = p.decide(pool(BUSY, BUSY), now=1.0, exits=[Exit(3, IDLE)])
    assert actions.spawn == 0 and actions.max_children_reached


def test_workers_failing_at_start_stop_the_pool_after_boot_failures_in_a_row():
    p = policy(min_spare=1, max_spare=1)
    for pid in range(1, BOOT_FAILURES):
        actions = p.decide([], now=float(pid), exits=[Exit(pid, STARTING)])
        assert actions.failed == [pid] and actions.replace == [pid] and actions.spawn == 1 and not actions.stop
    last = p.decide([], now=10.0, exits=[Exit(BOOT_FAILURES, STARTING)])
    assert last.stop and last.failed == [BOOT_FAILURES]
    assert last.spawn == 0 and last.replace == []  # nothing more is forked


def test_a_worker_that_gets_to_serve_resets_the_boot_failures():
    p = policy(min_spare=1, max_spare=2)
    for pid in range(1, BOOT_FAILURES):
        p.decide([worker(100, STARTING)], now=float(pid), exits=[Exit(pid, STARTING)])
    p.decide([worker(100, IDLE)], now=6.0)  # up: the failures before were not in a row
    assert p.boot_failures == 0
    for pid in range(10, 10 + BOOT_FAILURES - 1):
        assert not p.decide([worker(100, IDLE)], now=7.0, exits=[Exit(pid, STARTING)]).stop
    assert p.decide([worker(100, IDLE)], now=8.0, exits=[Exit(99, STARTING)]).stop
    # a worker that served then died is no boot failure
    q = policy(min_spare=1, max_spare=2)
    for pid in range(1, 2 * BOOT_FAILURES):
        assert not q.decide([], now=float(pid), exits=[Exit(pid, IDLE)]).failed


def test_a_worker_already_up_does_not_reset_the_boot_failures_again():
    p = policy(min_spare=1, max_spare=2)
    healthy = worker(100, IDLE)
    p.decide([healthy], now=0.0)
    for pid in range(1, BOOT_FAILURES):  # its new neighbours all fail to start
        p.decide([healthy], now=float(pid), exits=[Exit(pid, STARTING)])
    assert p.decide([healthy], now=9.0, exits=[Exit(BOOT_FAILURES, STARTING)]).stop


def test_a_dumped_worker_is_replaced_at_once():
    p = policy(min_spare=1, max_spare=5, request_timeout=5.0)
    actions = p.decide([worker(1, BUSY, since=0.0), worker(2, IDLE, since=9.0)], now=10.0)
    assert actions.dump == [1] and actions.spawn == 1


def test_a_worker_without_news_is_neither_dumped_nor_retired():
    p = policy(min_spare=0, max_spare=1, request_timeout=5.0, heartbeat_timeout=30.0, idle_timeout=1.0)
    # what a half-written slot would have said: busy, or idle, since the machine started
    silent = [worker(1, BUSY, since=0.0, news=False), worker(2, IDLE, since=0.0, heartbeat=0.0, news=False)]
    actions = p.decide([*silent, worker(3, IDLE, since=999.5, heartbeat=1000.0)], now=1000.0)
    assert actions.dump == [] and actions.kill == [] and actions.retire == []
    # counted as what it was last seen doing: two idle, one over max_spare but not retired
    assert actions.spawn == 0
    # a worker already dumped is killed all the same: its stuck state was seen whole
    dumped = worker(1, BUSY, since=0.0, retiring=True, dumped_at=990.0, news=False)
    assert p.decide([dumped], now=1000.0).kill == [1]


def test_the_previous_image_is_retired_once_ours_serve():
    p = policy(min_spare=1, max_spare=2)
    previous = Previous((71, 72), since=100.0)
    assert p.decide(pool(STARTING, STARTING, now=101.0), now=101.0, previous=previous).retire_previous == []
    assert p.decide(pool(IDLE, STARTING, now=101.0), now=102.0, previous=previous).retire_previous == []
    assert p.decide(pool(IDLE, BUSY, now=101.0), now=103.0, previous=previous).retire_previous == [71, 72]


def test_the_previous_image_is_retired_after_the_reload_patience_anyway():
    p = policy(min_spare=1, max_spare=2)
    previous = Previous((71,), since=100.0)
    assert p.decide(pool(STARTING, now=100.0), now=129.0, previous=previous).retire_previous == []
    assert p.decide(pool(STARTING, now=100.0), now=130.5, previous=previous).retire_previous == [71]


def test_nothing_is_decided_while_the_pool_stops():
    p = policy(min_spare=2, max_spare=5, request_timeout=1.0)
    actions = p.decide(
        [worker(1, BUSY, since=0.0)], now=100.0, exits=[Exit(2, IDLE), Exit(3, STARTING)],
        previous=Previous((9,), since=0.0), stopping=True,
    )
    assert actions == Actions() and not actions
