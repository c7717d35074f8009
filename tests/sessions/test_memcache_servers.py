"""Several memcached servers (`[sessions] host = a:11211, b:11211`): parsing, placement, failures.

A session is placed on one server by rendezvous hashing of its id; these tests look at each
real memcached with plain pymemcache clients, count how the sessions spread and move when the
list changes (computed with `_server_of`, no server needed), stop servers mid-run and start
them again on the same port.
"""

from __future__ import annotations

import html
import itertools
import logging
import os
import random
import re
import signal
import time
from collections import Counter

import pytest
from pymemcache.client.base import Client

from nagare import presentation
from nagare.config import application, loader, publisher
from nagare.errors import ConfigError, ExpirationError, StoreUnavailableError
from nagare.sessions import memcache
from nagare.wsgi.app import WSGIApp
from nagare.wsgi.loader import sessions_manager
from tests.sessions.conftest import build
from tests.sessions.test_backends import load, new_session, next_state
from tests.support.memcached import Memcached
from tests.support.server import stop_process
from tests.support.wsgi_client import WSGIClient

_names = itertools.count()


def unique_name() -> str:
    return f"mcs{os.getpid()}x{next(_names)}x{time.monotonic_ns()}"


def ids(count: int, seed: int) -> list[str]:
    """`count` session ids, the same ones at every run."""
    rng = random.Random(seed)
    return [f"{rng.getrandbits(128):032x}" for _ in range(count)]


def on(servers: list[str], app: str | None = None, **values) -> memcache.Sessions:
    """A manager of the servers `host:port` (nothing is connected before the first request)."""
    return build(memcache.Sessions, app or unique_name(), {"host": ", ".join(servers), **values})


def placement(sessions: memcache.Sessions, session_ids: list[str]) -> list[tuple[str, int]]:
    """The address of the server each session is placed on."""
    return [sessions.servers[sessions._server_of(session_id)] for session_id in session_ids]


@pytest.fixture
def start(tmp_path):
    """start(port=None): a memcached of the test's own (on `port`: started again there); all stopped at the end."""
    started: list[Memcached] = []

    def start(port: int | None = None) -> Memcached:
        folder = tmp_path / f"memcached{len(started)}"
        folder.mkdir()
        started.append(Memcached(folder, port))
        return started[-1]

    yield start
    for server in started:
        crash(server)  # nothing to save: faster than memcached's SIGTERM


@pytest.fixture
def clients():
    """clients(server): a plain pymemcache client of a test's memcached, closed at the end."""
    opened: list[Client] = []

    def client(server: Memcached) -> Client:
        opened.append(Client(server.address, default_noreply=False))
        return opened[-1]

    yield client
    for client in opened:
        client.close()


@pytest.fixture
def of():
    """of(servers, app=None, **keys): a manager of the test's memcached servers, closed at the end."""
    made: list[memcache.Sessions] = []

    def of(servers: list[Memcached], app: str | None = None, **values) -> memcache.Sessions:
        made.append(on([f"{server.host}:{server.port}" for server in servers], app, **values))
        return made[-1]

    yield of
    for sessions in made:
        sessions.close()


def crash(server: Memcached) -> None:
    """The server goes away at once (SIGKILL: a crashed machine; SIGTERM makes memcached wait a second)."""
    stop_process(server.process, signal.SIGKILL)


def sessions_on_each(sessions: memcache.Sessions, count: int, minimum: int = 1) -> dict[int, list[tuple[str, str, int]]]:
    """At least `count` new sessions, and `minimum` on each server: {server index: [(session id, secure id, state id)]}."""
    placed: dict[int, list[tuple[str, str, int]]] = {n: [] for n in range(len(sessions.servers))}
    for n in range(200):
        created = new_session(sessions, n)
        placed[sessions._server_of(created[0])].append(created)
        if n + 1 >= count and all(len(found) >= minimum for found in placed.values()):
            return placed
    pytest.fail(f"200 sessions were not spread over {len(sessions.servers)} servers: {placed}")


# --- the `host` list ------------------------------------------------------------------------------


def test_a_list_of_servers():
    sessions = on(["10.0.0.1:11300", "cache.example", "[::1]:11211", "[fe80::1]", "localhost:1"], port=11999)
    assert sessions.servers == [("10.0.0.1", 11300), ("cache.example", 11999), ("::1", 11211), ("fe80::1", 11999), ("localhost", 1)]
    assert on(["10.0.0.2"]).servers == [("10.0.0.2", 11211)]  # the port's default
    settings = loader.check("publisher.cfg", memcache.Sessions.SETTINGS, {"host": " a:1 ,b:2,c "})
    assert list(settings.host) == ["a:1", "b:2", "c"]


@pytest.mark.parametrize(
    "value",
    ["a:1, a:1", "[::1]:11211, [::1]:11211", "a:b", "a:0", "a:70000", "a:1:2", "[::1", "::1", "[::1]:", ",", "a b"],
)
def test_bad_server_lists(value):
    with pytest.raises(ConfigError, match=r"^publisher.cfg: \[sessions\] host") as info:
        loader.check("publisher.cfg", memcache.Sessions.SETTINGS, {"host": value})
    assert "\n" not in str(info.value)


def test_a_server_listed_twice_with_and_without_its_default_port_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("NAGARE_SECRET_FILE", str(tmp_path / "secret"))
    (tmp_path / "pub.cfg").write_text("[sessions]\ntype = memcache\nhost = 127.0.0.1, 127.0.0.1:11211\n")
    (tmp_path / "app.cfg").write_text("[application]\nname = app\npath = python nagare.demo.app:app\n")
    with pytest.raises(ConfigError, match="twice"):
        sessions_manager(application.read(str(tmp_path / "app.cfg")), publisher.read(str(tmp_path / "pub.cfg")))


class Memcached6(Memcached):
    """A memcached listening on the IPv6 loopback only."""

    host = property(lambda self: "::1", lambda self, value: None)


def test_an_ipv6_server(tmp_path):
    server = Memcached6(tmp_path)
    try:
        sessions = on([f"[::1]:{server.port}"])
        assert sessions.servers == [("::1", server.port)]
        session_id, secure_id, state_id = new_session(sessions, "over IPv6")
        assert load(sessions, session_id, state_id, secure_id) == "over IPv6"
        sessions.close()
    finally:
        crash(server)


# --- placement ------------------------------------------------------------------------------


def test_all_the_keys_of_a_session_are_on_its_server(start, clients, of):
    servers = [start(), start(), start()]
    plain = [clients(server) for server in servers]
    sessions = of(servers)
    placed = sessions_on_each(sessions, 12)
    for index, created in placed.items():
        for session_id, secure_id, first in created:
            second = next_state(sessions, session_id, first, secure_id, "second")
            generation = sessions._generations[index]
            keys = [sessions._record_key(generation, session_id), sessions._state_key(generation, session_id, first), sessions._state_key(generation, session_id, second)]
            for n, client in enumerate(plain):
                assert sorted(client.get_many(keys)) == (sorted(keys) if n == index else [])
            assert load(sessions, session_id, second, secure_id) == "second"
    for client in plain:  # a generation counter on each server, no lock left
        assert client.get(sessions._generation_key) is not None
        assert client.get_many([sessions._lock_key(session_id) for created in placed.values() for session_id, _, _ in created]) == {}


def test_sessions_spread_over_the_servers():
    sessions = on(["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"])
    counts = Counter(placement(sessions, ids(3000, seed=1)))
    assert len(counts) == 3 and all(850 <= n <= 1150 for n in counts.values()), counts


def test_the_order_of_the_list_does_not_move_sessions():
    session_ids = ids(2000, seed=2)
    listed = ["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"]
    assert placement(on(listed), session_ids) == placement(on(listed[::-1]), session_ids)


def test_adding_a_server_moves_a_quarter_of_the_sessions_to_it_only():
    session_ids = ids(10000, seed=3)
    three = ["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"]
    before = placement(on(three), session_ids)
    after = placement(on([*three[:1], "10.0.0.4:11211", *three[1:]]), session_ids)  # anywhere in the list
    moved = [(old, new) for old, new in zip(before, after) if old != new]
    assert 0.18 <= len(moved) / len(session_ids) <= 0.32, len(moved)
    assert {new for _, new in moved} == {("10.0.0.4", 11211)}  # none moves between the old servers


def test_removing_a_server_moves_only_its_sessions():
    session_ids = ids(10000, seed=4)
    four = ["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211", "10.0.0.4:11211"]
    before = placement(on(four), session_ids)
    after = placement(on([address for address in four if address != "10.0.0.3:11211"]), session_ids)
    gone = ("10.0.0.3", 11211)
    assert all(old == new for old, new in zip(before, after) if old != gone)
    orphans = Counter(new for old, new in zip(before, after) if old == gone)
    assert sum(orphans.values()) == before.count(gone) and len(orphans) == 3  # spread over the others


# --- one server down ----------------------------------------------------------------------------


class Clicks:
    def __init__(self):
        self.value = 0

    def increase(self):
        self.value += 1


@presentation.render_for(Clicks)
def render_counter(self, h, comp, *args):
    h << h.span(self.value, id="value")
    h << h.a("++").action(self.increase)
    return h.root


class Browser:
    """A user of the counter: its page, its session id, its clicks."""

    def __init__(self, app, name):
        self.client = WSGIClient(app, f"/{name}")
        self.name = name
        self.show(self.client.open(f"/{name}/"))

    def show(self, response):
        assert response.status_int == 200, response.status
        self.value = int(re.search(r'<span id="value">(\d+)</span>', response.text)[1])
        self.link = html.unescape(re.search(r'href="([^"]+)"', response.text)[1])
        self.session_id = re.search(r"_s=([0-9a-f]{32})", self.link)[1]

    def click(self):
        """The link followed; a redirection too (to a fresh session). The statuses seen."""
        response = self.client.open(self.link)
        statuses = [response.status_int]
        if response.status_int == 301:
            response = self.client.open(response.location.removeprefix("http://localhost"))
            statuses.append(response.status_int)
        self.show(response)
        return statuses


def test_one_server_down_restarts_only_its_sessions(start, caplog, of):
    alive, dead = start(), start()
    sessions = of([alive, dead], dead_retry=60)
    name = sessions.name
    app = WSGIApp(Clicks, name=name, sessions=sessions)
    browsers = []
    for _ in range(60):
        browsers.append(Browser(app, name))
        placed = Counter(sessions._server_of(b.session_id) for b in browsers)
        if len(browsers) >= 8 and min(placed[0], placed[1]) >= 3:
            break
    for browser in browsers:
        assert browser.click() == [200] and browser.value == 1
    crash(dead)
    with caplog.at_level(logging.DEBUG):
        for browser in browsers:
            was_on_dead = sessions._server_of(browser.session_id) == 1
            statuses = browser.click()
            if was_on_dead:
                assert statuses == [301, 200] and browser.value == 0  # a fresh session
            else:
                assert statuses == [200] and browser.value == 2
            assert sessions._server_of(browser.session_id) == 0  # the fresh ones too
        for browser in browsers:  # once more: every one on the live server now
            assert browser.click() == [200]
    warnings = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 1 and f"127.0.0.1:{dead.port} unavailable" in warnings[0], warnings
    fresh = [new_session(sessions, n) for n in range(20)]
    assert {sessions._server_of(session_id) for session_id, _, _ in fresh} == {0}


def test_a_dead_server_is_tried_again_after_dead_retry(start, clients, of):
    first, second = start(), start()
    sessions = of([first, second], dead_retry=0.5)
    placed = sessions_on_each(sessions, 2)
    session_id, secure_id, state_id = placed[1][0]
    crash(second)
    with pytest.raises(ExpirationError, match="server is down"):
        load(sessions, session_id, state_id, secure_id)
    assert all(sessions._server_of(new_session(sessions, n)[0]) == 0 for n in range(10))
    restarted = start(second.port)  # back on its port, empty
    deadline = time.monotonic() + 10
    while sessions._is_down(1):
        assert time.monotonic() < deadline, "dead_retry never ended"
        time.sleep(0.05)
    created = [new_session(sessions, n) for n in range(20)]
    again = [c for c in created if sessions._server_of(c[0]) == 1]
    assert again, "no new session placed on the restarted server"
    plain = clients(restarted)
    for session_id, secure_id, state_id in again:
        assert load(sessions, session_id, state_id, secure_id) in range(20)
        assert plain.get(sessions._record_key(sessions._generations[1], session_id)) is not None


def test_all_servers_down_answer_503(start, of):
    first, second = start(), start()
    sessions = of([first, second])
    app = WSGIApp(Clicks, name=sessions.name, sessions=sessions)
    browser = Browser(app, sessions.name)
    crash(first)
    crash(second)
    # The first failure sees one server down: a 301 to a fresh session, placed on the other,
    # which fails too; from then on every server is known down, and every request answers 503.
    response = browser.client.open(browser.link)
    if response.status_int == 301:
        response = browser.client.open(response.location.removeprefix("http://localhost"))
    assert response.status_int == 503
    for _ in range(3):
        assert browser.client.open(browser.link).status_int == 503
        assert browser.client.open(f"/{sessions.name}/").status_int == 503
    with pytest.raises(StoreUnavailableError):
        new_session(sessions, 1)


def test_all_servers_down_invalidate_all_fails(start, of):
    first, second = start(), start()
    sessions = of([first, second])
    new_session(sessions, 1)
    crash(first)
    crash(second)
    with pytest.raises(memcache.StoreError, match="unavailable") as info:
        sessions.invalidate_all()
    assert "\n" not in str(info.value)


# --- invalidation and generations ----------------------------------------------------------------


def test_invalidate_all_hits_every_server(start, clients, of):
    servers = [start(), start()]
    plain = [clients(server) for server in servers]
    sessions = of(servers)
    placed = sessions_on_each(sessions, 4)
    before = [int(client.get(sessions._generation_key)) for client in plain]
    other_process = of(servers, sessions.name)  # the same application: its own manager
    other_process.invalidate_all()
    assert [int(client.get(sessions._generation_key)) for client in plain] == [n + 1 for n in before]
    for created in placed.values():
        for session_id, secure_id, state_id in created:
            with pytest.raises(ExpirationError):
                load(sessions, session_id, state_id, secure_id)


def test_invalidate_all_with_one_server_down_invalidates_the_other(start, caplog, of):
    up, down = start(), start()
    sessions = of([up, down])
    placed = sessions_on_each(sessions, 4)
    crash(down)
    with caplog.at_level(logging.WARNING, logger=sessions.log.name):
        sessions.invalidate_all()  # not raised: the live server's sessions are gone
    assert any("sessions not invalidated" in r.getMessage() and f"127.0.0.1:{down.port}" in r.getMessage() for r in caplog.records)
    for session_id, secure_id, state_id in placed[0]:
        with pytest.raises(ExpirationError):
            load(sessions, session_id, state_id, secure_id)
    fresh = new_session(sessions, "fresh")
    assert load(sessions, fresh[0], fresh[2], fresh[1]) == "fresh"


def test_each_server_has_its_own_generation(start, clients, of):
    servers = [start(), start()]
    plain = [clients(server) for server in servers]
    sessions = of(servers)
    plain[0].set(sessions._generation_key, b"500")
    plain[1].set(sessions._generation_key, b"9000")
    placed = sessions_on_each(sessions, 4)
    assert sessions._generations == {0: 500, 1: 9000}
    for index, generation in ((0, 500), (1, 9000)):
        for session_id, _, _ in placed[index]:
            assert plain[index].get(sessions._record_key(generation, session_id)) is not None
    of(servers, sessions.name).invalidate_all()  # another process
    assert [plain[n].get(sessions._generation_key) for n in (0, 1)] == [b"501", b"9001"]
    for created in placed.values():  # seen at once on both servers
        for session_id, secure_id, state_id in created:
            with pytest.raises(ExpirationError):
                load(sessions, session_id, state_id, secure_id)
    again = sessions_on_each(sessions, 2)
    assert sessions._generations == {0: 501, 1: 9001}
    for index, generation in ((0, 501), (1, 9001)):
        for session_id, secure_id, state_id in again[index]:
            assert plain[index].get(sessions._record_key(generation, session_id)) is not None
            assert load(sessions, session_id, state_id, secure_id) in range(200)
