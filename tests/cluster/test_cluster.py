"""The deployment guide's applicative cluster: two machines behind one nginx, sessions shared.

Five users click the demo counter 100 times each (500 clicks) and save the demo's registration
form every 20 clicks, all at once, while nginx sends each request to the next machine: the
counter of each user shows exactly the clicks answered, every session was served by both
machines. Then the same run with two memcached servers of which one stops (only its sessions
restart), with a machine killed (nginx passes its requests to the other), and with redis.
"""

from __future__ import annotations

import time


from tests.cluster.conftest import Cluster, User, check_users, group_members, memcache_sessions, memcached_keys, run, sessions_in
from tests.support.memcached import Memcached
from tests.support.server import port_is_free

USERS, CLICKS = 5, 100
DEAD_RETRY = 1


def start_users(cluster: Cluster, n: int = USERS) -> list[User]:
    return [User(cluster.url, f"user{i}") for i in range(n)]


def check_both_machines_served_each_session(cluster: Cluster, users: list[User]) -> None:
    served = cluster.sessions_served()
    both = {m.address for m in cluster.machines}
    for user in users:
        assert served[user.session] == both, (user.name, served[user.session])


def test_500_clicks_and_forms_alternating_between_two_machines(cluster, memcached_servers) -> None:
    c = cluster(memcache_sessions(memcached_servers(1)))
    users = start_users(c)
    run(users, CLICKS)
    check_users(users)
    assert [(u.counted, u.clicks, u.forms, u.restarts) for u in users] == [(CLICKS, CLICKS, CLICKS // 20, [])] * USERS
    check_both_machines_served_each_session(c, users)
    c.check_logs()


def test_500_clicks_and_forms_alternating_between_two_machines_sharing_redis(cluster, redis_server) -> None:
    c = cluster(f"type = redis\nurl = {redis_server.url}\n")
    users = start_users(c)
    run(users, CLICKS)
    check_users(users)
    assert [(u.counted, u.clicks, u.forms, u.restarts) for u in users] == [(CLICKS, CLICKS, CLICKS // 20, [])] * USERS
    check_both_machines_served_each_session(c, users)
    # the sessions are in redis, under the demo's names
    assert sessions_in(redis_server.keys("nagare:demo:*"), [u.session for u in users]) == {u.session for u in users}
    c.check_logs()


def test_a_machine_killed_mid_run_nginx_passes_to_the_other(cluster, memcached_servers) -> None:
    # The lock of a request in flight on the killed machine is never released: it expires after
    # lock_ttl (+1 s, memcached's clock). Meanwhile the requests of that session wait
    # lock_max_wait_time, then answer 503 (a wait longer than request_timeout would get the worker
    # killed as stuck).
    sessions = memcache_sessions(memcached_servers(1), "lock_ttl = 4\nlock_max_wait_time = 2\n")
    c = cluster(sessions, request_timeout=3)
    users = start_users(c)
    killed, other = c.machines
    when: list[float] = []

    def kill() -> None:
        when.append(time.time())
        killed.kill()
        when.append(time.time())

    run(users, CLICKS, midway=kill)
    assert port_is_free(killed.port) and not group_members(killed.process.pid)

    served = c.front.served()
    # What the killed machine was answering when it died (nginx's times are to the millisecond)
    in_flight = [s for s in served if s.upstreams[0] == killed.address and s.start <= when[1] + 0.002 and s.end >= when[0] - 0.002]
    after = [s for s in served if s.start > when[1] + 0.002]
    assert len(after) > 100
    # nginx sent every later request to the other machine (a first try on the killed one: refused)
    assert all(s.answered_by == other.address and s.status in (200, 503) for s in after), [s for s in after if s.answered_by != other.address]
    assert not [s for s in after if s.status == 503 and s.session not in {f.session for f in in_flight}]

    # Only the sessions with a request in flight on the killed machine saw errors: a 502 for a
    # POST nginx had sent there (never passed on: non_idempotent), 503s while its lock lives.
    check_users(users, allowed=(502, 503))
    hit = {f.session for f in in_flight}
    assert not [(u.name, u.failures) for u in users if u.failures and u.session not in hit]
    # The counts stay exact for the clicks that got a 200; no session restarted.
    assert [u.restarts for u in users] == [[]] * USERS
    assert [u.counted for u in users] == [u.clicks for u in users]
    assert sum(u.clicks for u in users) + sum(len(u.failures) for u in users) >= USERS * CLICKS
    check_both_machines_served_each_session(c, users)
    c.check_logs(allowed=lambda line: any(f"lock of session {sid} not acquired" in line for sid in hit))


def place_users(cluster: Cluster, servers: list[Memcached], each: int = 3, most: int = 40) -> tuple[list[User], list[set[str]]]:
    """New users until each memcached server keeps `each` of their sessions at least; the
    users, and the session ids each server keeps (read from its keys)."""
    users: list[User] = []
    while len(users) < most:
        users.append(User(cluster.url, f"user{len(users)}"))
        placed = [sessions_in(memcached_keys(server), [u.session for u in users]) for server in servers]
        if all(len(p) >= each for p in placed):
            assert set.union(*placed) == {u.session for u in users} and not set.intersection(*placed)
            return users, placed
    raise AssertionError(f"{most} sessions, not {each} on each server: {placed}")


def test_two_memcached_servers_one_stopped_mid_run_only_its_sessions_restart(cluster, memcached_servers) -> None:
    servers = memcached_servers(2)
    c = cluster(memcache_sessions(servers, f"dead_retry = {DEAD_RETRY}\n"))
    users, (kept, lost) = place_users(c, servers)
    stopped = servers[1]
    clicks = 500 // len(users)

    run(users, clicks, midway=stopped.stop)

    # Nothing lost on the server still up; no 500 in any answer, every click answered counted
    # once. The sessions of the stopped one restarted once, through a 301, from 0; the request
    # in flight there when it stopped may have answered 503.
    check_users(users, allowed=(503,))
    for user in users:
        if user.restarts[:1] and user.restarts[0].old in lost:
            assert [(r.old, r.counter, r.redirected) for r in user.restarts] == [(user.restarts[0].old, 0, True)], user.restarts
            assert len(user.failures) <= 1 and 301 in user.statuses
        else:
            assert user.restarts == [] and user.failures == [] and user.counted == user.clicks == clicks, user
    assert {r.old for u in users for r in u.restarts} == lost
    # The fresh sessions live on the server still up
    assert sessions_in(memcached_keys(servers[0]), [u.session for u in users]) == {u.session for u in users}

    # The stopped server back on its port (empty): after dead_retry, new sessions go to it again
    servers[1] = memcached_servers.restart(stopped)
    logged = [len(m.log()) for m in c.machines]
    # Each worker holds the server down for dead_retry after its last failure, which was before
    # the restart: within that time, a session placed on it by a worker that already tries it
    # again may restart in one that does not yet.
    time.sleep(DEAD_RETRY)
    deadline = time.monotonic() + 30
    newcomers: list[User] = []
    while len(sessions_in(memcached_keys(servers[1]), [u.session for u in newcomers])) < 2:
        assert time.monotonic() < deadline, "no new session placed on the restarted memcached"
        newcomers.append(User(c.url, f"newcomer{len(newcomers)}"))
    # and every session goes on: those of both servers, old and new
    before = [u.counted for u in users]
    for user in users:
        user.forget()
    run(users + newcomers, 10, form_every=5)
    # The requests in flight when it stopped are logged as errors: only they
    c.check_logs(allowed=lambda line: f"memcached at 127.0.0.1:{stopped.port} unavailable" in line)
    since = "".join(m.log()[n:] for m, n in zip(c.machines, logged))
    assert "unavailable" not in since  # the connections memcached closed were opened again at once
    check_users(users + newcomers)
    assert [u.counted - b for u, b in zip(users, before)] == [10] * len(users)
    assert [(u.counted, u.clicks, u.restarts) for u in newcomers] == [(10, 10, [])] * len(newcomers)
