"""The fixture application on PostgreSQL served by two FastCGI servers sharing memcached sessions.

Two `nagare-admin serve -c publisher.cfg dbapp.cfg` process trees (the FastCGI publisher, two
workers each), the tables made by the real `create-db`; tests/flow_http's RoundRobin transport
sends each request of a browser to the other server, as a load balancer without affinity. The
page's entity goes through memcached as its class and key and is loaded from the database by
the other server's worker.

The applications are loaded in each server's master, which uses a connection (dbapp's
`App.start`) before the workers fork: the workers must open connections of their own.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.database.conftest import install, install_publisher
from tests.flow_http.conftest import BASE, browser, served_by
from tests.support.fcgi_client import request as fcgi_request
from tests.support.memcached import Memcached
from tests.support.postgresql import PostgreSQL
from tests.support.server import NagareServer, nagare_admin

APP = BASE + "/dbapp/"


@pytest.fixture(scope="module")
def cluster(postgresql: PostgreSQL, memcached: Memcached, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[NagareServer]]]:
    """The database's name and the two servers, started on it once its tables are made."""
    folder: Path = tmp_path_factory.mktemp("dbcluster")
    name = "fastcgi_notes"
    uri = postgresql.create_database(name)
    app = install(folder, uri=uri)
    publisher = install_publisher(folder, memcached.port)
    made = nagare_admin("create-db", "--no-populate", str(app), cwd=folder)
    assert made.returncode == 0, made.stderr
    servers: list[NagareServer] = []
    try:
        for server in ("a", "b"):
            servers.append(NagareServer(["-c", str(publisher), str(app)], folder, env={"NAGARE_SECRET_FILE": str(folder / f"secret-{server}")}))
        yield name, servers
    finally:
        for server in servers:
            server.stop()
        postgresql.drop_database(name)
    for server in servers:
        log = server.log()
        assert "Traceback" not in log and "ERROR" not in log, log
    assert not list(folder.glob("secret-*"))  # publisher.cfg's secret is the one they shared


def master_backend(server: NagareServer) -> int:
    """The backend pid of the connection the server's master used before forking (its log)."""
    found = re.findall(rf"dbapp: process {server.process.pid} started on backend (\d+)", server.log())
    assert len(found) == 1, server.log()
    return int(found[0])


def reload_url(page: Any) -> str:
    """The URL of the state `page` shows (a link's, without its action): the page reloaded."""
    return BASE + re.sub(r"_action\d+&(amp;)?", "", page.find("#add").get("href"))


def test_an_entity_created_on_one_server_is_shown_and_changed_through_the_other(cluster, postgresql):
    name, servers = cluster
    b, transport = browser(servers)
    page = b.get(APP)
    assert page.status == 200, page.text[:2000]
    created = page.click("#add")
    assert created.status == 200 and created.text_of("#note") == "1 one"
    assert postgresql.query(name, "select id, title from note") == [(1, "one")]
    # the state, in memcached, holds the entity's key: the other server loads the row
    renamed = created.click("#rename")
    assert renamed.status == 200 and renamed.text_of("#note") == "1 renamed"
    assert postgresql.query(name, "select id, title from note") == [(1, "renamed")]
    postgresql.query(name, "update note set title = 'edited' where id = 1")
    again = b.get(reload_url(renamed))
    assert again.status == 200 and again.text_of("#note") == "1 edited"
    # each request went to the other server, and each page was rendered by a worker of it
    assert [s.server for s in transport.served] == [0, 1, 0, 1]
    assert [served_by(p, servers) for p in (page, created, renamed, again)] == [0, 1, 0, 1]


def test_the_workers_forked_from_one_master_do_not_share_its_connection(cluster, postgresql):
    name, servers = cluster

    def slow(index: int) -> tuple[int, int, int]:
        """(server, worker pid, backend pid) of a page rendered after pg_sleep(0.4)."""
        answer = fcgi_request(("127.0.0.1", servers[index].port), "/dbapp/slow", headers={"Host": "cluster.test"}, timeout=15.0)
        assert answer.status == 200, answer.body[:2000]
        pid, backend = (int(re.findall(rf'id="{key}">(\d+)<', answer.body.decode())[0]) for key in ("pid", "backend"))
        return index, pid, backend

    # two slow requests at once on each server, twice: two of its workers busy together
    with ThreadPoolExecutor(4) as pool:
        answers = [answer for _ in range(2) for answer in pool.map(slow, [0, 0, 1, 1])]
    for index, server in enumerate(servers):
        backends: dict[int, set[int]] = {}  # worker pid -> the backend pids of its requests
        for _, pid, backend in (a for a in answers if a[0] == index):
            backends.setdefault(pid, set()).add(backend)
        assert len(backends) >= 2 and server.process.pid not in backends, backends  # its workers answered
        used = [backend for pid in backends for backend in backends[pid]]
        # each worker kept one connection of its own: none of another worker's, none of the master's
        assert all(len(b) == 1 for b in backends.values()) and len(set(used)) == len(used), backends
        assert master_backend(server) not in used, (master_backend(server), backends)
    # the masters' connections are still open (in their pools), beside the workers' ones
    live = {row[0] for row in postgresql.query(name, "select pid from pg_stat_activity where datname = %s", name)}
    assert {master_backend(server) for server in servers} <= live, live
    assert {backend for _, _, backend in answers} <= live, live
