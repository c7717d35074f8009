"""docs/deploying.md's production path, each step read out of the page and run for real: the
application file, the publisher file, the rules command, `nagare-admin serve`, nginx in front;
the sessions in memcached, in several memcached servers, in redis; the lock keys."""

from __future__ import annotations

import requests
from pymemcache.client.base import Client

from tests.deploying.guide import CSS, Pool, Site, lay_out, shell
from tests.support.browser import Browser
from tests.support.fcgi_client import request
from tests.support.memcached import Memcached
from tests.support.server import free_port
from tests.support.snippets import snippet, terminal


def value(page) -> int:
    assert page.status == 200, f"{page.status} {page.url}: {page.text[:300]}"
    return int(page.text_of("#value"))


def test_the_guide_path_through_nginx_with_sessions_in_memcached(tmp_path, memcached) -> None:
    site = Site(tmp_path, memcached.port)
    try:
        browser = Browser()
        page = browser.get(site.url)
        assert value(page) == 0 and page.response.headers["Server"].startswith("nginx")
        for expected in range(1, 11):  # each click served by whichever worker takes it
            page = page.click("#increase")
            assert value(page) == expected
        assert value(browser.get(page.url)) == 10  # a reload: the state read back from memcached
        # the application's static folder, $root/static, served by nginx from the rules
        css = requests.get(site.nginx.url + "/static/myapp/myapp.css", timeout=10)
        assert css.status_code == 200 and css.content == CSS and css.headers["Server"].startswith("nginx")
        assert "Traceback" not in site.pool.log()
    finally:
        site.stop()


def items_stored(server: Memcached) -> int:
    client = Client(server.address, connect_timeout=3, timeout=3)
    try:
        return int(client.stats()[b"total_items"])
    finally:
        client.close()


def test_several_memcached_servers_one_stopped(tmp_path) -> None:
    servers = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        servers.append(Memcached(tmp_path / name))
    one, two = servers
    sessions = snippet("memcache-servers").fill({"10.0.0.1:11211": f"127.0.0.1:{one.port}", "10.0.0.2:11211": f"127.0.0.1:{two.port}"})
    site = Site(tmp_path, sessions=sessions)
    try:
        # sessions until both servers hold some: each is placed on one server, all its keys there
        users: list[tuple[Browser, object, Memcached]] = []
        while len({server.port for *_, server in users}) < 2 or len(users) < 6:
            assert len(users) < 40, "40 sessions, all placed on the same memcached server"
            before = [items_stored(server) for server in servers]
            browser = Browser()
            page = browser.get(site.url).click("#increase")
            assert value(page) == 1
            grew = [server for server, count in zip(servers, before) if items_stored(server) > count]
            assert len(grew) == 1, "the keys of one session were stored on both servers"
            users.append((browser, page, grew[0]))

        two.stop()
        for browser, page, server in users:
            page = page.click("#increase")
            # on the live server: the session goes on; on the stopped one: a fresh session (301)
            assert value(page) == (2 if server is one else 0)
            if server is two:
                # 301s only; one per worker at most: each worker learns on its own that the
                # server is down (the mark is per process), and the shared epoll gives the
                # redirected request to another idle worker, which may draw an id on it again
                history = [r.status_code for r in page.response.history]
                assert history and set(history) == {301} and len(history) <= 5, history
                assert value(page.click("#increase")) == 1  # the new session, on the live server
        fresh = Browser().get(site.url)  # new sessions go to the live server
        assert value(fresh.click("#increase").click("#increase")) == 2
        assert "Traceback" not in site.pool.log()
    finally:
        site.stop()
        one.stop()


def test_sessions_in_redis(tmp_path, redis_server) -> None:
    sessions = snippet("redis").fill({"redis://127.0.0.1:6379/0": redis_server.url})
    site = Site(tmp_path, sessions=sessions)
    try:
        browser = Browser()
        page = browser.get(site.url)
        for expected in range(1, 6):
            page = page.click("#increase")
            assert value(page) == expected
        assert value(browser.get(page.url)) == 5
        assert redis_server.keys("nagare:myapp:*"), "no session key of the application in redis"
        assert "Traceback" not in site.pool.log()
    finally:
        site.stop()


def test_the_lock_keys_and_the_lock_ttl_refused(tmp_path, memcached) -> None:
    port = free_port()
    locks = snippet("locks").fill({"port = 9000": f"port = {port}", "port = 11211": f"port = {memcached.port}"})
    app_file = str(lay_out(tmp_path))
    (tmp_path / "publisher.conf").write_text(locks)
    pool = Pool(tmp_path, port, app_file)
    try:  # accepted: it serves
        page = request(("127.0.0.1", port), "/myapp/", headers={"Host": "127.0.0.1"})
        assert page.status == 200 and b'id="value">0<' in page.body, page.text
    finally:
        assert pool.stop() == 0, pool.log()

    # the same file with the lock_ttl the page says is refused: the page's command and its output
    (tmp_path / "publisher.conf").write_text(locks.replace("lock_ttl = 130", "lock_ttl = 110"))
    [(command, output)] = terminal(snippet("lock-ttl-refused").fill({"<app_name>": app_file}))
    done = shell(tmp_path, command)
    assert done.returncode != 0
    assert done.stdout + done.stderr == output
