"""The applicative cluster of the deployment guide, for real: two machines behind one nginx.

Each `Machine` is a folder of its own with its publisher file (publisher.cfg: the FastCGI
publisher, the sessions in the shared store, the secret of the cluster) and a `nagare-admin
serve -c publisher.cfg demo` process tree in a session of its own, which `kill()` ends at once
(SIGKILL to the whole group), as a machine that goes down. `Front` is one nginx whose `upstream`
lists both machines, round robin without affinity; its access log names the upstream that
answered each request.

A `User` is a browser (tests/support/browser.py) clicking the demo counter and submitting the
demo's registration form; it checks each answer against what it did: the counter shows the
number of clicks its session answered with a 200, the form the last values it saved. `run()`
plays several users at once in threads and calls a function when the run is half done (stop a
store, kill a machine) while they go on.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests

from tests.support.browser import Browser, Page
from tests.support.memcached import Memcached
from tests.support.nginx import Nginx
from tests.support.redis import Redis
from tests.support.server import free_port, stop_process, wait_for_port
from tests.support.snippets import snippet

HERE = Path(__file__).parent
SECRET = "the secret of the cluster tests' machines"

LOG_FORMAT = "log_format cluster '$msec|$request_time|$upstream_addr|$upstream_status|$status|$request_method|$request_uri';\n"


def site(tmp: Path, machines: Sequence[str]) -> str:
    """docs/deploying.md's cluster block, with these machines, a free port and an access log
    naming the upstream that answered each request."""
    first, second = machines
    return LOG_FORMAT + snippet("nginx-cluster").fill(
        {
            "10.0.0.1:9000": first,
            "10.0.0.2:9000": second,
            "listen 80;": "listen 127.0.0.1:{port};",
            "server_name www.myapp.com;": f"server_name www.myapp.com;\n    access_log {tmp}/cluster.access.log cluster;\n    error_log {tmp}/cluster.error.log;",
            # nginx is on another port than 80: the page's line that keeps it in the redirections
            "include /etc/nginx/fastcgi_params;\n": "include /etc/nginx/fastcgi_params;\n" + snippet("nginx-port").text,
        }
    )


# --- the machines and the front server ------------------------------------------------------------


class Machine:
    """`nagare-admin serve -c publisher.cfg demo` in `folder`, a process group of its own."""

    def __init__(self, folder: Path, sessions: str, request_timeout: float = 60) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        template = (HERE / "publisher.cfg").read_text()
        publisher = template.format(port=self.port, request_timeout=request_timeout, secret=SECRET, sessions=sessions)
        (folder / "publisher.cfg").write_text(publisher)
        self.log_path = folder / "fastcgi.log"
        self._log = open(self.log_path, "wb")
        # Its own generated-secret file: only the secret of publisher.cfg can make the machines
        # read each other's states.
        env = dict(os.environ, NAGARE_SECRET_FILE=str(folder / "generated-secret"))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nagare", "serve", "-c", str(folder / "publisher.cfg"), "demo"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=folder, start_new_session=True,
        )
        try:
            wait_for_port(self.port, self.process, timeout=30)
        except Exception:
            self.stop()
            pytest.fail(f"the FastCGI server of {folder.name} did not start:\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once: the machine is gone."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self) -> None:
        stop_process(self.process, signal.SIGTERM, 30)
        try:  # what outlived the master (its own session, started above)
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of the process group `pgid` (Linux /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


class Front:
    """One nginx whose upstream lists the machines, round robin (nginx's default, no affinity)."""

    def __init__(self, tmp: Path, machines: Sequence[Machine]) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.nginx = Nginx(tmp, site(tmp, [m.address for m in machines]))
        self.url = self.nginx.url + "/demo/"

    def served(self) -> list[Served]:
        """The requests nginx answered, in the order it logged them."""
        path = self.tmp / "cluster.access.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [Served.parse(line) for line in lines]

    def error_log(self) -> str:
        path = self.tmp / "cluster.error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        self.nginx.stop()


@dataclass
class Served:
    """One line of the access log: when it ended and began (Unix time, to the millisecond), the
    upstreams tried (the last one answered), the status."""

    end: float
    start: float
    upstreams: list[str]
    status: int
    method: str
    uri: str

    @classmethod
    def parse(cls, line: str) -> "Served":
        end, duration, upstreams, _, status, method, uri = line.split("|", 6)
        tried = [u.strip() for u in upstreams.split(",") if u.strip() not in ("", "-")]
        return cls(float(end), float(end) - float(duration), tried, int(status), method, uri)

    @property
    def answered_by(self) -> str:
        return self.upstreams[-1] if self.upstreams else ""

    @property
    def session(self) -> str | None:
        return parse_qs(urlsplit(self.uri).query).get("_s", [None])[0]


class Cluster:
    """Two machines sharing the store of `sessions` (the [sessions] keys), behind one nginx."""

    def __init__(self, tmp: Path, sessions: str, request_timeout: float = 60, size: int = 2) -> None:
        self.tmp = tmp
        self.machines: list[Machine] = []
        self.front: Front | None = None
        try:
            # One after the other: the demo makes its wiki's database at start when it is missing.
            for name in "ab"[:size]:
                self.machines.append(Machine(tmp / f"machine-{name}", sessions, request_timeout))
            self.front = Front(tmp / "nginx", self.machines)
        except BaseException:
            self.stop()
            raise
        self.url = self.front.url

    def stop(self) -> None:
        if self.front is not None:
            self.front.stop()
        for machine in self.machines:
            machine.stop()

    def check_logs(self, allowed: Callable[[str], bool] = lambda line: False) -> None:
        """No traceback, no error logged by any machine but the `allowed` lines; neither machine
        generated a secret of its own."""
        for machine in self.machines:
            log = machine.log()
            errors = [line for line in log.splitlines() if " ERROR " in line and not allowed(line)]
            assert "Traceback" not in log and not errors, f"{machine.folder.name}:\n{log[-5000:]}"
            assert not (machine.folder / "generated-secret").exists()

    def sessions_served(self) -> dict[str, set[str]]:
        """For each session id, the machines (addresses) that answered its requests."""
        assert self.front is not None
        by_session: dict[str, set[str]] = {}
        for served in self.front.served():
            if served.session and served.answered_by:
                by_session.setdefault(served.session, set()).add(served.answered_by)
        return by_session


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Start clusters (`cluster(sessions_keys, ...)`); stopped after the test."""
    made: list[Cluster] = []

    def make(sessions: str, **kw: object) -> Cluster:
        c = Cluster(tmp_path / f"cluster-{len(made)}", sessions, **kw)  # type: ignore[arg-type]
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


class MemcachedServers:
    """Memcached servers of one test's own (a test stops some of them, starts them again)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Memcached] = []

    def __call__(self, n: int) -> list[Memcached]:
        servers = []
        for _ in range(n):
            folder = self.folder / f"memcached-{len(self.started)}"
            folder.mkdir()
            servers.append(Memcached(folder))
            self.started.append(servers[-1])
        return servers

    def restart(self, server: Memcached) -> Memcached:
        """`server` (stopped) started again on its port, empty."""
        self.started.append(Memcached(server.folder, port=server.port))
        return self.started[-1]

    def stop(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture
def memcached_servers(tmp_path: Path) -> Iterator[MemcachedServers]:
    """`memcached_servers(n)`: n new memcached servers; stopped after the test."""
    servers = MemcachedServers(tmp_path)
    yield servers
    servers.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Redis]:
    """A redis-server of this test's own; stopped after the test."""
    folder = tmp_path / "redis"
    folder.mkdir()
    server = Redis(folder)
    yield server
    server.stop()


def memcache_sessions(servers: Sequence[Memcached], extra: str = "") -> str:
    """The [sessions] keys of memcached `servers` (one: `host` and `port`, several: a list)."""
    if len(servers) == 1:
        keys = f"type = memcache\nhost = 127.0.0.1\nport = {servers[0].port}\n"
    else:
        keys = "type = memcache\nhost = " + ", ".join(f"127.0.0.1:{s.port}" for s in servers) + "\n"
    return keys + extra


def memcached_keys(server: Memcached) -> list[str]:
    """Every key `server` holds (`lru_crawler metadump all`, memcached >= 1.4.31)."""
    with socket.create_connection(server.address, timeout=5) as connection:
        connection.sendall(b"lru_crawler metadump all\r\n")
        data = b""
        while not (data.endswith(b"END\r\n") or data.startswith(b"ERROR") or data.startswith(b"BUSY")):
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.endswith(b"END\r\n"), data[-200:]
    keys = []
    for line in data.decode().splitlines():
        if line.startswith("key="):
            keys.append(unquote(line.split()[0][len("key="):]))
    return keys


def sessions_in(keys: Sequence[str], session_ids: Sequence[str]) -> set[str]:
    """Those of `session_ids` that some key of `keys` names."""
    joined = "\n".join(keys)
    return {sid for sid in session_ids if sid in joined}


# --- the users ----------------------------------------------------------------------------------


def session_of(page: Page) -> str:
    """The session id the page's links carry (`_s`)."""
    href = page.find("#tab-counter").get("href")
    return parse_qs(urlsplit(href).query)["_s"][0]


def counter_on(page: Page) -> int | None:
    found = page.tree.cssselect(".counter .value") if page.tree is not None else []
    return int(found[0].text_content()) if found else None


@dataclass
class Restart:
    """A session gone: the answer was a fresh session (after a redirect), the counter shown."""

    old: str
    new: str
    counter: int | None
    redirected: bool


@dataclass
class User:
    """A browser on the demo, and what it saw. `name` goes into the forms it saves."""

    url: str
    name: str
    browser: Browser = field(default_factory=Browser)
    statuses: list[int] = field(default_factory=list)  # every answer, redirects included
    failures: list[tuple[int, str]] = field(default_factory=list)  # (status, what) of the non-200 answers
    restarts: list[Restart] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)  # what it saw that it should not have
    clicks: int = 0  # clicks that got a 200 in the current session: what the counter must show
    counted: int = 0  # those of every session
    forms: int = 0  # forms saved, every session
    saved: str | None = None  # the last form saved in the current session, as the page shows it

    def __post_init__(self) -> None:
        self.page = self.browser.get(self.url)
        self.statuses += [r.status_code for r in self.page.response.history] + [self.page.status]
        assert self.page.status == 200, self.page.text[:2000]
        self.session = session_of(self.page)
        assert counter_on(self.page) == 0

    def forget(self) -> None:
        """Forget the answers seen so far (not the counts): what the next checks look at starts now."""
        self.statuses, self.failures, self.restarts, self.mismatches = [], [], [], []

    def _go(self, what: str, request: Callable[[Page], Page]) -> Page | None:
        """One request from the current page; its page if answered 200 in the same session."""
        try:
            page = request(self.page)
        except requests.RequestException as exc:
            self.statuses.append(0)
            self.failures.append((0, f"{what}: {exc}"))
            return None
        self.statuses += [r.status_code for r in page.response.history] + [page.status]
        if page.status != 200:
            self.failures.append((page.status, f"{what}: {page.text[:300]}"))
            return None
        session = session_of(page)
        if session != self.session:
            self.restarts.append(Restart(self.session, session, counter_on(page), bool(page.response.history)))
            self.session, self.page, self.clicks, self.saved = session, page, 0, None
            if counter_on(page) != 0:
                self.mismatches.append(f"{what}: a fresh session shows the counter at {counter_on(page)}, not 0")
            return None
        self.page = page
        return page

    def _check_counter(self, what: str, page: Page) -> None:
        shown = counter_on(page)
        if shown != self.clicks:
            self.mismatches.append(f"{what}: the counter shows {shown}, {self.clicks} clicks were answered")

    def click(self) -> None:
        """Click `++` (back on the counter tab first if the page is another one)."""
        if counter_on(self.page) is None:
            page = self._go("counter tab", lambda p: p.click("#tab-counter"))
            if page is None:
                return
            self._check_counter("counter tab", page)
        page = self._go("click", lambda p: p.click("#increase"))
        if page is not None:
            self.clicks += 1
            self.counted += 1
            self._check_counter(f"click {self.clicks}", page)

    def fill_form(self) -> None:
        """The registration tab (the last form saved still there), a form saved, the counter tab."""
        page = self._go("form tab", lambda p: p.click("#tab-form"))
        if page is None:
            return
        shown = page.text_of("#saved") if page.tree is not None and page.tree.cssselect("#saved") else None
        if shown != self.saved:
            self.mismatches.append(f"form tab: {shown!r} saved, {self.saved!r} expected")
        number = self.forms + 1
        fields = {"name": f"{self.name} {number}", "age": str(number % 150), "email": f"{self.name}@example.org"}
        page = self._go("form", lambda p: p.submit("#registration", fields, button="#save"))
        if page is None:
            return
        self.forms += 1
        self.saved = f"Saved: {fields['name']}, {fields['age']} years, {fields['email']}"
        shown = page.text_of("#saved") if page.tree is not None and page.tree.cssselect("#saved") else None
        if shown != self.saved:
            self.mismatches.append(f"form {number}: {shown!r} saved, {self.saved!r} expected")
        page = self._go("counter tab", lambda p: p.click("#tab-counter"))
        if page is not None:
            self._check_counter("counter tab", page)


def run(users: Sequence[User], clicks: int, form_every: int = 20, midway: Callable[[], None] | None = None) -> None:
    """Each user clicks `clicks` times, saving a form every `form_every` clicks, all at once.

    `midway` runs in this thread once half of all the clicks were made, while the users go on;
    each user keeps its last click until it has run, so every user clicks after it too.
    """
    total = clicks * len(users)
    done = 0
    half, after = threading.Event(), threading.Event()
    lock = threading.Lock()
    if midway is None:
        after.set()

    def play(user: User) -> None:
        nonlocal done
        try:
            for n in range(1, clicks + 1):
                if n == clicks:
                    after.wait(60)
                user.click()
                if n % form_every == 0:
                    user.fill_form()
                with lock:
                    done += 1
                    if done >= total // 2:
                        half.set()
        finally:
            half.set()  # a user that fails does not leave the run waiting

    with ThreadPoolExecutor(len(users)) as pool:
        futures = [pool.submit(play, user) for user in users]
        if midway is not None:
            half.wait()
            try:
                midway()
            finally:
                after.set()
        for future in futures:
            future.result()


def check_users(users: Sequence[User], allowed: Sequence[int] = ()) -> None:
    """Not one click lost or counted twice, no form lost; no answer an error but the `allowed` ones
    (never a 500)."""
    mismatches = [f"{u.name}: {m}" for u in users for m in u.mismatches]
    assert not mismatches, mismatches
    errors = [(u.name, failure) for u in users for failure in u.failures if failure[0] not in allowed or failure[0] == 500]
    assert not errors, errors
