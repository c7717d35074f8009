"""The demo counter on our FastCGI pool behind nginx with one memcached, with redis and with two
memcached servers, against a plain WSGI counter in memcached on gunicorn behind the same nginx.

    .venv/bin/python bench/cluster.py [--peers-venv /tmp/bench-venv] [--seconds 10] [--runs 5] [--workers 2 4] \
        [--connections 16] [--sessions 64] [--stores memcached redis "2 memcached"] [--no-profile]
    .venv/bin/python bench/cluster.py --quick   # ~1.5 min: 1 run of 3 s per case, 2 workers, printed, nothing written

gunicorn (and py-spy, for the profile) come from a venv of their own, never from the project's
dependencies: `python3 -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install gunicorn
pymemcache py-spy`.

Everything is started here, in a temp dir, on free loopback ports: two memcached and a redis
(no persistence) for the whole run, and for each case and run the server behind an nginx of its
own (bench/fastcgi.py's configuration; for gunicorn the same with `proxy_pass` to its Unix
socket instead of `fastcgi_pass`):

- **nagare**, `[publisher] type = fastcgi` on a Unix socket, `minSpare = 1`, `maxSpare =
  maxChildren = --workers`, serving the demo, `[sessions]` `type = memcache` on one server,
  `type = redis`, or `type = memcache` with `host = A:port, B:port` (sessions placed on one of
  the two by hashing);
- **gunicorn**, `--workers` sync workers on a Unix socket, serving bench/apps/memcache_counter.py:
  a cookie names the session, each click is one memcached `incr`.

The load is bench/fastcgi.py's wrk script: each connection clicks `++` in sessions of its own
thread, each click following the link of the previous answer (the new state's URL), so that
every request locks the session, loads its state, runs the callback, renders and stores a new
state. The runs are interleaved (run 1 of every case, then run 2…, the order rotated each round);
the table gives the medians, and the ratio of each case to gunicorn with as many workers.

Per run, the CPU time of the server's process tree, nginx and the store(s) (from /proc, over the
measured run) divided by the requests wrk counted.

In process (this script's thread calling each WSGI application with a minimal environ, no
nginx, no FastCGI), interleaved batches of clicks give the CPU time of one click: the demo with
memory sessions, memcached (with and without the demo's `[database]`), two memcached, redis,
and the plain counter (bench/apps/demo_instances.py: an application object per case).

Then once per case, on stores started afresh behind a counting TCP proxy (a thread of this
process), its sessions first clicked past their window of `nb_states` states, a short run with
few connections gives:
- **round trips to the store per request**: the proxy counts, per connection, every time the
  client starts sending after the store has answered (a pipelined `set_many`, or a `noreply`
  delete followed by the unlock, is one round trip);
- **store commands per request**: memcached's `stats` deltas (`cmd_get` counts keys read,
  `cmd_set` every add/set/cas) and redis's `INFO commandstats` deltas, read directly;
- **bytes per session**: for the sessions of that run (their ids are in their URLs and keys), the
  keys and values they hold in the store once their window of states is full, and the store's
  own size of them (memcached's item size from `lru_crawler metadump`, redis's `MEMORY USAGE`).

When our counter with one memcached is below 0.8x gunicorn's, py-spy samples each worker during
two more runs, with its idle time (wall-clock: waiting on the store shows) and without (on CPU),
and the results file says where the time goes, in µs per request.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import re
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html
import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
from bench.browser import Browser  # noqa: E402
from bench.database import machine  # noqa: E402
from bench.fastcgi import LUA, NGINX_CONF, WRK_THREADS, Bench, Process, Run, wait_answers, wrk  # noqa: E402
from tests.support.server import free_port, wait_for_port  # noqa: E402

APPS = BENCH / "apps"
RESULTS = BENCH / "results"
STORES = ("memcached", "redis", "2 memcached")
TARGET = 0.8  # the issue's: our full round trip at no less than 0.8x the plain counter's req/s
CLOCK = os.sysconf("SC_CLK_TCK")

PROXY_LOCATION = """location / {{
            proxy_pass http://unix:{socket}:;
            proxy_set_header Host $host;
        }}"""


# -- the stores ------------------------------------------------------------------------------


class Store:
    """A memcached or a redis-server on a free loopback port (no persistence), its log in `folder`."""

    def __init__(self, kind: str, folder: Path, args: argparse.Namespace) -> None:
        self.kind = kind
        self.port = free_port()
        if kind == "memcached":
            command = [args.memcached, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "1024"]
            if os.geteuid() == 0:
                command += ["-u", "root"]  # memcached refuses to run as root without it
        else:
            command = [
                args.redis, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(folder), "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
            ]
        self.process = Process(command, folder / f"{kind}-{self.port}.log", folder)
        wait_for_port(self.port, self.process.popen)

    def request(self, payload: bytes, end: bytes) -> bytes:
        """One exchange on a connection of its own (not through any proxy): the reply up to `end`."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as connection:
            connection.sendall(payload)
            reply = b""
            while not reply.endswith(end):
                chunk = connection.recv(1 << 20)
                if not chunk:
                    break
                reply += chunk
            return reply

    def commands(self) -> Counter[str]:
        """What the store counts of the commands it served so far."""
        if self.kind == "memcached":
            stats = {}
            for line in self.request(b"stats\r\n", b"END\r\n").decode().splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[0] == "STAT" and parts[2].isdigit():
                    stats[parts[1]] = int(parts[2])
            return Counter({
                "keys read": stats["cmd_get"], "add/set/cas": stats["cmd_set"], "touch": stats["cmd_touch"],
                "deletes": stats["delete_hits"] + stats["delete_misses"], "incr": stats["incr_hits"] + stats["incr_misses"],
            })
        import redis

        client = redis.Redis(port=self.port)
        try:
            return Counter({name.removeprefix("cmdstat_"): value["calls"] for name, value in client.info("commandstats").items()})
        finally:
            client.close()

    def stop(self) -> None:
        self.process.stop()


@dataclass
class Held:
    """What the store holds for the sessions of a run."""

    sessions: int = 0
    keys: int = 0
    payload: int = 0  # bytes of the keys and values
    stored: int = 0  # the store's own size of those keys (memcached's item size, redis's MEMORY USAGE)
    per_server: list[int] = field(default_factory=list)  # sessions found on each server


def held(stores: list[Store], sessions: list[str]) -> Held:
    """The keys of `sessions` in `stores` (each key names its session: nagare's and the counter's)."""
    found = Held(per_server=[0] * len(stores))
    owners: set[str] = set()
    for number, store in enumerate(stores):
        mine = set()
        if store.kind == "memcached":
            from pymemcache.client.base import Client

            dump = store.request(b"lru_crawler metadump all\r\n", b"END\r\n").decode()
            sizes = {}
            for line in dump.splitlines():
                fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
                if "key" in fields:
                    sizes[urllib.parse.unquote(fields["key"])] = int(fields["size"])
            keys = {key: next((s for s in sessions if s in key), None) for key in sizes}
            keys = {key: owner for key, owner in keys.items() if owner is not None}
            client = Client(("127.0.0.1", store.port))
            values = client.get_many(list(keys))
            client.close()
            for key, value in values.items():
                found.keys += 1
                found.payload += len(key) + len(value)
                found.stored += sizes[key]
                mine.add(keys[key])
        else:
            import redis

            client = redis.Redis(port=store.port)
            for key in client.scan_iter(count=1000):
                text = key.decode()
                owner = next((s for s in sessions if s in text), None)
                if owner is None:
                    continue
                found.keys += 1
                found.payload += len(key) + redis_payload(client, key)
                found.stored += client.memory_usage(key, samples=0) or 0
                mine.add(owner)
            client.close()
        found.per_server[number] = len(mine)
        owners |= mine
    found.sessions = len(owners)
    return found


def redis_payload(client: object, key: bytes) -> int:
    """The bytes of a redis value, whatever its type (fields and members included)."""
    kind = client.type(key).decode()  # type: ignore[attr-defined]
    if kind == "string":
        return client.strlen(key)  # type: ignore[attr-defined]
    if kind == "hash":
        return sum(len(k) + len(v) for k, v in client.hgetall(key).items())  # type: ignore[attr-defined]
    if kind == "list":
        return sum(map(len, client.lrange(key, 0, -1)))  # type: ignore[attr-defined]
    if kind == "set":
        return sum(map(len, client.smembers(key)))  # type: ignore[attr-defined]
    if kind == "zset":
        return sum(len(member) + 8 for member, _ in client.zrange(key, 0, -1, withscores=True))  # type: ignore[attr-defined]
    return 0


class CountingProxy:
    """A TCP proxy in front of a store, in a thread: counts the round trips of its clients.

    A round trip starts each time a client sends after the store answered it (or for the first
    time): a pipelined batch is one, and so is a `noreply` command sent with the next one.
    """

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.round_trips = 0
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ, None)
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopped:
            for key, _ in self._selector.select(0.2):
                if key.data is None:
                    client, _ = self.listener.accept()
                    store = socket.create_connection(self.target)
                    last = ["store"]  # who spoke last on this pair
                    for sock in (client, store):
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self._selector.register(client, selectors.EVENT_READ, (store, "client", last))
                    self._selector.register(store, selectors.EVENT_READ, (client, "store", last))
                    continue
                other, side, last = key.data
                sock = key.fileobj
                try:
                    data = sock.recv(1 << 20)
                except OSError:
                    data = b""
                if not data:
                    for s in (sock, other):
                        try:
                            self._selector.unregister(s)
                        except (KeyError, ValueError):
                            pass
                        s.close()
                    continue
                if side == "client" and last[0] == "store":
                    self.round_trips += 1
                last[0] = side
                other.sendall(data)

    def stop(self) -> None:
        self._stopped = True
        self._thread.join()
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()
        self._selector.close()


# -- the cases -------------------------------------------------------------------------------


@dataclass
class Count:
    requests: int
    round_trips: int
    commands: Counter[str]
    held: Held


@dataclass
class Case:
    server: str  # "nagare" or "gunicorn"
    store: str  # one of STORES
    workers: int
    runs: list[Run] = field(default_factory=list)
    cpu: list[dict[str, float]] = field(default_factory=list)  # µs of CPU per request: server, nginx, store
    count: Count | None = None
    failed: str = ""

    @property
    def name(self) -> str:
        return f"{self.server}-{self.store.replace(' ', '-')}-{self.workers}w"

    @property
    def label(self) -> str:
        return "demo counter (nagare)" if self.server == "nagare" else "plain counter (gunicorn)"


def filled(script: Path, base: str, clicks: int) -> Path:
    """bench/fastcgi.py's wrk script, its sessions first clicked `clicks` times each: their windows of states are full."""
    sessions = []
    for path, cookie in re.findall(r'\{"([^"]*)", "([^"]*)"\}', script.read_text()):
        for _ in range(clicks):
            page = requests.get(base + path, headers={"Cookie": cookie}, timeout=10)
            page.raise_for_status()
            href = lxml.html.fromstring(page.content).cssselect("#increase")[0].get("href")
            path = href if href.startswith("/") else f"/demo/{href}"
        sessions.append((path, cookie))
    script.write_text(LUA % (", ".join(f'{{"{path}", "{cookie}"}}' for path, cookie in sessions), WRK_THREADS))
    return script


def wrk_requests(run: Run) -> int:
    found = re.search(r"(\d+) requests in", run.output)
    return int(found.group(1)) if found else 0


def tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                pending += [int(p) for p in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return pids


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """utime + stime of each live process of `pids`."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / CLOCK
    return seconds


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy so far (all cores: /proc/stat, idle and iowait left out)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLOCK


def children_cpu() -> float:
    """CPU seconds of this process's waited-for children (wrk, the only one that ends during a run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class ClusterBench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.fastcgi = Bench(args, tmp)  # nginx and the wrk script as bench/fastcgi.py makes them
        self.stores: dict[str, list[Store]] = {}
        self.serial = 0

    def start(self) -> None:
        memcached = [Store("memcached", self.tmp, self.args) for _ in range(2)]
        self.stores = {"memcached": memcached[:1], "2 memcached": memcached}
        if "redis" in self.args.stores:
            self.stores["redis"] = [Store("redis", self.tmp, self.args)]

    def stop(self) -> None:
        for store in {id(s): s for stores in self.stores.values() for s in stores}.values():
            store.stop()

    # -- the pieces ----------------------------------------------------------------------------

    def nginx(self, directory: Path, socket_path: str, http: bool) -> tuple[Process, int]:
        if not http:
            return self.fastcgi.nginx(directory, socket_path, keepalive=False)
        # gunicorn speaks HTTP: bench/fastcgi.py's configuration with proxy_pass in place of fastcgi_pass
        port = free_port()
        conf = NGINX_CONF.format(
            tmp=directory, port=port, user="user root;\n" if os.geteuid() == 0 else "", upstream="", keep_conn="", target="",
        )
        conf, replaced = re.subn(r"location / \{.*?\n        \}", PROXY_LOCATION.format(socket=socket_path), conf, flags=re.S)
        if replaced != 1:
            raise RuntimeError("bench/fastcgi.py's nginx configuration has no `location / { ... }` block to replace")
        (directory / "nginx.conf").write_text(conf)
        command = [self.args.nginx, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", str(directory / "nginx-error.log")]
        process = Process(command, directory / "nginx.log", directory)
        wait_for_port(port, process.popen)
        return process, port

    def backend(self, case: Case, directory: Path, socket_path: str, ports: list[int]) -> Process:
        workers = case.workers
        if case.server == "gunicorn":
            command = [
                str(Path(self.args.peers_venv) / "bin" / "gunicorn"), "--workers", str(workers), "--bind", f"unix:{socket_path}",
                "--pythonpath", str(APPS), "memcache_counter:app",
            ]
            return Process(command, directory / "gunicorn.log", directory, {"COUNTER_MEMCACHED": f"127.0.0.1:{ports[0]}"})
        if case.store == "redis":
            sessions = f"type = redis\nurl = redis://127.0.0.1:{ports[0]}/0\n"
        else:
            sessions = f"type = memcache\nhost = {', '.join(f'127.0.0.1:{p}' for p in ports)}\n"
        (directory / "pub.cfg").write_text(
            f"[publisher]\ntype = fastcgi\nsocket = {socket_path}\nminSpare = 1\nmaxSpare = {workers}\nmaxChildren = {workers}\n"
            f"\n[sessions]\n{sessions}"
        )
        command = [sys.executable, "-m", "nagare", "serve", "-c", str(directory / "pub.cfg"), "demo"]
        return Process(command, directory / "nagare.log", directory, self.fastcgi.secret_env)

    def serve(self, case: Case, ports: list[int], label: str) -> tuple[Path, Process, Process | None, str]:
        """The case's server and its nginx, answering: (folder, server, nginx, base URL)."""
        self.serial += 1
        directory = self.tmp / f"{self.serial:03d}-{case.name}-{label}"
        directory.mkdir()
        socket_path = str(directory / "app.sock")
        backend = self.backend(case, directory, socket_path, ports)
        nginx = None
        try:
            nginx, port = self.nginx(directory, socket_path, http=case.server == "gunicorn")
            base = f"http://127.0.0.1:{port}"
            wait_answers(base + "/demo/", backend)
        except BaseException:
            if nginx is not None:
                nginx.stop(signal.SIGQUIT)
            backend.stop()
            raise
        return directory, backend, nginx, base

    # -- one case, one run ---------------------------------------------------------------------

    def run(self, case: Case) -> None:
        stores = self.stores[case.store]
        directory, backend, nginx, base = self.serve(case, [s.port for s in stores], f"run{len(case.runs) + 1}")
        try:
            wrk(base + "/demo/", self.args, self.fastcgi.counter_script(base, directory), seconds=self.args.warmup)
            script = self.fastcgi.counter_script(base, directory)  # fresh sessions: the warm-up's are far along
            watched = {"server": tree(backend.popen.pid), "nginx": tree(nginx.popen.pid), "store": [s.process.popen.pid for s in stores]}
            before = {name: cpu_seconds(pids) for name, pids in watched.items()}
            busy, wrk_cpu, started = machine_busy(), children_cpu(), time.monotonic()
            result = wrk(base + "/demo/", self.args, script)
            busy, wrk_cpu, elapsed = machine_busy() - busy, children_cpu() - wrk_cpu, time.monotonic() - started
            after = {name: cpu_seconds(tree(backend.popen.pid) if name == "server" else pids) for name, pids in watched.items()}
        finally:
            nginx.stop(signal.SIGQUIT)
            backend.stop()
        requests_ = wrk_requests(result) or 1
        case.runs.append(result)
        used = {name: spent(before[name], after[name]) for name in watched}
        case.cpu.append({name: value / requests_ * 1e6 for name, value in used.items()})
        # what the rest of the machine used meanwhile, in cores: the noise of this run
        case.cpu[-1]["others"] = max(busy - wrk_cpu - sum(used.values()), 0.0) / elapsed
        if self.args.raw is not None:
            (self.args.raw / f"{case.name}-run{len(case.runs)}.txt").write_text(result.output)
        cpu = case.cpu[-1]
        print(
            f"  {case.server:8} {case.store:11} {case.workers}w run {len(case.runs)}: {result.rps:7.0f} req/s  p99 {result.p99_ms:7.2f} ms  "
            f"timeouts {result.timeouts}  errors {result.errors}  CPU µs/request: server {cpu['server']:.0f}, nginx {cpu['nginx']:.0f}, "
            f"store {cpu['store']:.0f}; other processes {cpu['others']:.2f} cores",
            flush=True,
        )

    def count(self, case: Case) -> None:
        """Round trips, commands and bytes per session, on fresh stores behind counting proxies."""
        folder = self.tmp / f"count-{case.name}"
        folder.mkdir()
        kind = "redis" if case.store == "redis" else "memcached"
        stores = [Store(kind, folder, self.args) for _ in range(2 if case.store == "2 memcached" else 1)]
        proxies = [CountingProxy(s.port) for s in stores]
        light = argparse.Namespace(**{**vars(self.args), "connections": self.args.count_connections, "sessions": self.args.count_sessions})
        fastcgi = Bench(light, folder)
        try:
            directory, backend, nginx, base = self.serve(case, [p.port for p in proxies], "count")
            try:
                script = filled(fastcgi.counter_script(base, directory), base, self.args.nb_states + 1)
                sessions = re.findall(r"_s=(\w+)", script.read_text())
                trips, commands = sum(p.round_trips for p in proxies), sum((s.commands() for s in stores), Counter())
                result = wrk(base + "/demo/", light, script, seconds=self.args.count_seconds)
                time.sleep(0.5)  # the requests wrk left in flight
                trips = sum(p.round_trips for p in proxies) - trips
                commands = sum((s.commands() for s in stores), Counter()) - commands
            finally:
                nginx.stop(signal.SIGQUIT)
                backend.stop()
            commands.pop("info", None)
            case.count = Count(wrk_requests(result), trips, commands, held(stores, sessions))
        finally:
            for proxy in proxies:
                proxy.stop()
            for store in stores:
                store.stop()
        count = case.count
        per = count.requests or 1
        print(
            f"  {case.server:8} {case.store:11} {case.workers}w count: {count.requests} requests, {count.round_trips / per:.2f} round trips "
            f"and {sum(count.commands.values()) / per:.2f} commands per request, {count.held.payload / max(count.held.sessions, 1):.0f} "
            f"bytes per session ({count.held.sessions} sessions found of {len(sessions)}, per server {count.held.per_server})",
            flush=True,
        )

    # -- the profile ---------------------------------------------------------------------------

    def profile(self, case: Case) -> Profile:
        """py-spy on each worker during two runs: with the idle samples (wall-clock), then without (on CPU)."""
        stores = self.stores[case.store]
        directory, backend, nginx, base = self.serve(case, [s.port for s in stores], "profile")
        found = Profile(self.args.profile_seconds, [])
        try:
            wrk(base + "/demo/", self.args, self.fastcgi.counter_script(base, directory), seconds=self.args.warmup)
            for mode in ("wall", "cpu"):
                stacks, rps, found.workers = self.sample(backend, directory, base, mode)
                found.stacks[mode], found.rps[mode] = stacks, rps
        finally:
            nginx.stop(signal.SIGQUIT)
            backend.stop()
        if self.args.raw is not None:
            for mode, stacks in found.stacks.items():
                (self.args.raw / f"{case.name}-py-spy-{mode}.txt").write_text("".join(f"{s} {n}\n" for s, n in stacks.most_common()))
        return found

    def sample(self, backend: Process, directory: Path, base: str, mode: str) -> tuple[Counter[str], float, list[int]]:
        """(the main threads' collapsed stacks, req/s of the run, the workers' pids)."""
        script = self.fastcgi.counter_script(base, directory)  # fresh sessions
        seconds = self.args.profile_seconds
        load = subprocess.Popen(
            [self.args.wrk, f"-t{WRK_THREADS}", f"-c{self.args.connections}", f"-d{seconds + 3}s", "-s", str(script), base + "/demo/"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        time.sleep(1)
        workers = [pid for pid in tree(backend.popen.pid) if pid != backend.popen.pid]
        spies = []
        for pid in workers:
            output = directory / f"py-spy-{mode}-{pid}.txt"
            command = [
                str(Path(self.args.peers_venv) / "bin" / "py-spy"), "record", "--pid", str(pid), "--duration", str(seconds),
                "--rate", str(RATE), "--nonblocking", "--format", "raw", "--output", str(output), *(["--idle"] if mode == "wall" else []),
            ]
            spies.append((subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT), output))
        stacks: Counter[str] = Counter()
        for spy, output in spies:
            spy.wait()
            for line in output.read_text().splitlines() if output.exists() else []:
                stack, _, samples = line.rpartition(" ")
                if "Worker.run (" in stack:  # the worker's main thread, not the log's
                    stacks[stack] += int(samples)
        output, _ = load.communicate()
        rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
        return stacks, float(rps.group(1)) if rps else float("nan"), workers


@dataclass
class Profile:
    seconds: int
    workers: list[int]
    stacks: dict[str, Counter[str]] = field(default_factory=dict)  # "wall" (idle samples included), "cpu"
    rps: dict[str, float] = field(default_factory=dict)

    def per_request(self, mode: str, samples: int) -> float:
        """µs per request that `samples` of `mode` stand for.

        py-spy may take fewer samples than asked under load: the wall-clock run, where every
        worker is sampled all the time, gives the rate it achieved.
        """
        achieved = sum(self.stacks["wall"].values()) / (len(self.workers) * self.seconds) or RATE
        return samples / achieved / (self.rps[mode] * self.seconds) * 1e6


RATE = 200  # py-spy's samples per second


# -- in process: the CPU of one request, without nginx, FastCGI or another process ---------------

# The demo's application file, an instance and a name of its own per case (bench/apps/demo_instances.py:
# nagare.demo.app:app is one object, which a second load would configure again).
DEMO = "[application]\npath = python demo_instances:{name}\nname = {name}\ndebug = off\n"
DATABASE = (
    "\n[database]\nactivated = on\nuri = sqlite:///{folder}/demo.db\nmetadata = nagare.demo.wiki:metadata\n"
    "populate = nagare.demo.wiki:populate\n"
)


@dataclass
class Local:
    label: str
    sessions: str  # the [sessions] section; "" for the plain counter
    database: bool = True
    cpu: list[float] = field(default_factory=list)  # µs per click, one per batch
    wall: list[float] = field(default_factory=list)
    browser: Browser | None = None


def in_process(stores: dict[str, list[Store]], args: argparse.Namespace, tmp: Path) -> list[Local]:
    """CPU and wall-clock µs per click of the demo counter loaded in this process, and of the plain counter."""
    from nagare.config import application, publisher
    from nagare.wsgi.loader import load

    def memcache(servers: list[Store]) -> str:
        return f"type = memcache\nhost = {', '.join(f'127.0.0.1:{s.port}' for s in servers)}\n"

    cases = [
        Local("demo counter, memory sessions", "type = standalone\n"),
        Local("demo counter, memcached", memcache(stores["memcached"])),
        Local("demo counter, memcached, no [database]", memcache(stores["memcached"]), database=False),
        Local("demo counter, 2 memcached", memcache(stores["2 memcached"])),
    ]
    if "redis" in stores:
        cases.append(Local("demo counter, redis", f"type = redis\nurl = redis://127.0.0.1:{stores['redis'][0].port}/0\n"))
    cases.append(Local("plain counter, memcached", ""))
    folder = tmp / "in-process"
    folder.mkdir()
    sys.path.insert(0, str(APPS))
    for number, case in enumerate(cases):
        if not case.sessions:
            os.environ["COUNTER_MEMCACHED"] = f"127.0.0.1:{stores['memcached'][0].port}"
            import memcache_counter

            case.browser = Browser(memcache_counter.app, "")
            continue
        name = f"demo{number}"
        (folder / f"{name}.cfg").write_text(DEMO.format(name=name) + (DATABASE.format(folder=folder) if case.database else ""))
        (folder / f"pub{number}.cfg").write_text(f"[sessions]\n{case.sessions}")
        loaded = load(application.read(str(folder / f"{name}.cfg")), publisher.read(str(folder / f"pub{number}.cfg")))
        case.browser = Browser(loaded.wsgi, f"/{name}")
    for case in cases:  # warm: imports, caches, the window of states full
        for _ in range(args.nb_states + 30):
            try:
                case.browser.click()
            except RuntimeError as exc:
                raise RuntimeError(f"{case.label}: {exc}") from None
    for number in range(args.local_rounds):
        shift = number % len(cases)
        for case in cases[shift:] + cases[:shift]:
            cpu, wall = time.thread_time(), time.perf_counter()
            for _ in range(args.local_clicks):
                case.browser.click()
            case.cpu.append((time.thread_time() - cpu) / args.local_clicks * 1e6)
            case.wall.append((time.perf_counter() - wall) / args.local_clicks * 1e6)
    for case in cases:
        print(f"  in process: {case.label:40} CPU {median(case.cpu):6.0f} µs  wall {median(case.wall):6.0f} µs per click", flush=True)
    return cases


def local_text(cases: list[Local], args: argparse.Namespace) -> str:
    plain = next(c for c in cases if not c.sessions)
    lines = [
        f"In process (one thread of this script, no nginx, no FastCGI: the WSGI application called with a minimal environ, each "
        f"click following the `++` link of the last page), {args.local_rounds} interleaved batches of {args.local_clicks} clicks, "
        "medians. CPU: this thread's CPU time (`time.thread_time`), so the stores' own CPU and the other processes of the machine do "
        "not count; wall: the same clicks' elapsed time, the stores' answers included.",
        "",
        "| what | CPU µs / click | wall µs / click | CPU / plain counter's | batches (CPU µs) |",
        "|---|---|---|---|---|",
    ]
    for case in cases:
        lines.append(
            f"| {case.label} | {median(case.cpu):.0f} | {median(case.wall):.0f} | {median(case.cpu) / median(plain.cpu):.1f} "
            f"| {', '.join(f'{v:.0f}' for v in case.cpu)} |"
        )
    return "\n".join(lines)


# -- where the time goes ------------------------------------------------------------------------

# A sample of a worker's main thread is counted in the first of these phases one of its frames
# matches (the store's round trips inside the state's store count as the store, the pickling
# inside render_page as pickling); the rest by the module of its innermost frame.
PHASES = [
    ("store client: memcached/redis commands, their waits included", r"\((?:pymemcache|redis)/"),
    ("state: unpickling (Serializer.loads)", r"^Serializer\.loads "),
    ("state: pickling and signing (Serializer.dumps)", r"^Serializer\.dumps "),
    ("the demo's [database] transaction (SQLAlchemy; the counter tab reads nothing)", r"\(sqlalchemy/"),
    ("rendering the page (WSGIApp.render_page: components, renderer, serialisation)", r"^WSGIApp\.render_page "),
]
LEAVES = [
    ("WebOb (request, response, cookies)", r"\(webob/"),
    ("FastCGI: protocol, socket I/O, the worker's request loop", r"\(nagare/(?:publishers/fastcgi|fastcgi|server)/|\(socket\.py"),
    ("sessions: lock, keys, record (our code around the store)", r"\(nagare/sessions/"),
    ("WSGIApp: dispatch, the callback, the rest of the request", r"\(nagare/"),
]
IDLE = "waiting for a request (no request being served)"


def phase(stack: str) -> str | None:
    """The phase of one sample; None for another thread than the worker's."""
    frames = stack.split(";")
    if not any(frame.startswith("Worker.run ") for frame in frames):
        return None
    if not any(frame.startswith("Handler.serve ") for frame in frames):
        return IDLE
    for name, pattern in PHASES:
        if any(re.search(pattern, frame) for frame in frames):
            return name
    return next((name for name, pattern in LEAVES if re.search(pattern, frames[-1])), "other (standard library)")


def phases(stacks: Counter[str]) -> list[tuple[str, int]]:
    totals: Counter[str] = Counter()
    for stack, samples in stacks.items():
        name = phase(stack)
        if name is not None:
            totals[name] += samples
    return totals.most_common()


def inclusive(stacks: Counter[str], top: int) -> list[tuple[str, int]]:
    """The frames most often on the stack (each counted once per sample)."""
    totals: Counter[str] = Counter()
    for stack, samples in stacks.items():
        for frame in {re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")}:
            totals[frame] += samples
    serving = max((n for frame, n in totals.items() if frame.startswith("Handler.serve ")), default=0)
    return [(frame, n) for frame, n in totals.most_common() if n < serving][:top]


def leaves(stacks: Counter[str], top: int) -> list[tuple[str, int]]:
    totals: Counter[str] = Counter()
    for stack, samples in stacks.items():
        totals[re.sub(r":\d+\)$", ")", stack.rsplit(";", 1)[-1])] += samples
    return totals.most_common(top)


def short(frame: str) -> str:
    return re.sub(r"\(/[^)]*?/(site-packages|src|lib/python3\.\d+)/", r"(", frame).replace("|", "\\|")


# -- the report -------------------------------------------------------------------------------


def versions(args: argparse.Namespace) -> str:
    import pymemcache
    import redis

    def first_line(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True)
        except OSError as exc:
            return f"{command[0]}: {exc}"
        return (done.stdout + done.stderr).strip().splitlines()[0]

    head = subprocess.run(["git", "-C", str(BENCH.parent), "log", "-1", "--format=%h %s"], capture_output=True, text=True).stdout.strip()
    return (
        f"nagare at {head[:90]}; CPython {sys.version.split()[0]}, pymemcache {pymemcache.__version__}, redis-py {redis.__version__}, "
        f"{first_line([str(Path(args.peers_venv) / 'bin' / 'gunicorn'), '--version'])}, {first_line([args.memcached, '-V'])}, "
        f"{first_line([args.redis, '--version']).split(' sha=')[0]}, {first_line([args.nginx, '-v'])}, {first_line([args.wrk, '-v'])}"
    )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(
    cases: list[Case], args: argparse.Namespace, started: datetime.datetime, about: str, notes: list[str], local: str, profile: str
) -> str:
    lines = [
        f"{started:%Y-%m-%d %H:%M}, {machine()}, shared by wrk, nginx, the stores and the workers.",
        f"{about}.",
        f"wrk -t{WRK_THREADS} -c{args.connections} over {args.sessions} sessions, {args.seconds} s x {args.runs} runs (interleaved, "
        "the order rotated each round), medians; each server on a Unix socket behind an nginx of its own (one worker, no access log).",
        "",
        "| workers | app | store | req/s | p99 ms | req/s / gunicorn | p99 / gunicorn | server CPU µs/req | nginx CPU µs/req "
        "| store CPU µs/req | other processes (cores) | timeouts, errors (all runs) | req/s runs | req/s / gunicorn, each round |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for workers in args.workers:
        peer = next((c for c in cases if c.workers == workers and c.server == "gunicorn" and c.runs), None)
        for case in (c for c in cases if c.workers == workers):
            if not case.runs:
                lines.append(f"| {workers} | {case.label} | {case.store} | — | — | — | — | — | — | — | — | — | {case.failed or 'not run'} | — |")
                continue
            rps, p99 = median([r.rps for r in case.runs]), median([r.p99_ms for r in case.runs])
            if peer is None or peer is case:
                ratios = "1 | 1" if peer is case else "— | —"
            else:
                ratios = f"{rps / median([r.rps for r in peer.runs]):.2f} | {p99 / median([r.p99_ms for r in peer.runs]):.2f}"
            cpu = " | ".join(f"{median([c[name] for c in case.cpu]):.0f}" for name in ("server", "nginx", "store"))
            cpu += f" | {median([c['others'] for c in case.cpu]):.2f}"
            errors = f"{sum(r.timeouts for r in case.runs)}, {sum(r.errors for r in case.runs)}"
            runs = ", ".join(f"{r.rps:.0f}" for r in case.runs)
            rounds = "—"
            if peer is not None and peer is not case and len(peer.runs) == len(case.runs):  # run n of both in round n
                rounds = ", ".join(f"{r.rps / p.rps:.2f}" for r, p in zip(case.runs, peer.runs))
            lines.append(f"| {workers} | {case.label} | {case.store} | {rps:.0f} | {p99:.2f} | {ratios} | {cpu} | {errors} | {runs} | {rounds} |")
    lines += [
        "",
        f"Per request and per session, counted once per case on fresh stores behind a counting TCP proxy (wrk -c{args.count_connections} "
        f"over {args.count_sessions} sessions, {args.count_seconds} s; round trips: each time a client sends after the store answered; "
        "commands: memcached's `stats` deltas, where `keys read` counts every key of a multi-get, and redis's `INFO commandstats`; "
        "bytes: the keys and values of those sessions once their window of states is full, and the store's own size of them):",
        "",
        "| workers | app | store | requests | round trips / req | commands / req | keys / session | bytes / session (keys + values) "
        "| store's size / session | sessions per server |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        if case.count is None:
            continue
        count, found = case.count, case.count.held
        per, sessions = count.requests or 1, found.sessions or 1
        commands = ", ".join(f"{name} {value / per:.2f}" for name, value in sorted(count.commands.items()) if value / per >= 0.005)
        lines.append(
            f"| {case.workers} | {case.label} | {case.store} | {count.requests} | {count.round_trips / per:.2f} | {commands or '—'} "
            f"| {found.keys / sessions:.1f} | {found.payload / sessions:.0f} | {found.stored / sessions:.0f} "
            f"| {' / '.join(map(str, found.per_server))} |"
        )
    if local:
        lines += ["", local]
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    if profile:
        lines += ["", profile]
    return "\n".join(lines) + "\n"


def profile_text(case: Case, found: Profile, args: argparse.Namespace, ratio: float) -> str:
    wall, cpu = found.stacks["wall"], found.stacks["cpu"]
    lines = [
        f"## Where a worker's time goes ({case.label}, {case.store}, {case.workers} workers: {ratio:.2f}x gunicorn, below {TARGET}x)",
        "",
        f"py-spy record --nonblocking --rate {RATE} on each worker's main thread for {found.seconds} s under the same wrk load, twice: "
        f"with `--idle` (wall-clock: {sum(wall.values())} samples, {found.rps['wall']:.0f} req/s while sampled), then without (on CPU "
        f"only: {sum(cpu.values())} samples, {found.rps['cpu']:.0f} req/s). µs per request: a phase's samples over the rate py-spy "
        "achieved and the requests of the window. A sample is counted in the first phase one of its frames names (the store's "
        "commands inside the state's storing count as the store, the pickling inside render_page as pickling), otherwise by the "
        "module of its innermost frame.",
        "",
        "| phase | wall-clock share | wall µs / request | on-CPU share | CPU µs / request |",
        "|---|---|---|---|---|",
    ]
    on_cpu = dict(phases(cpu))
    for name, n in phases(wall):
        c = on_cpu.pop(name, 0)
        lines.append(
            f"| {name} | {n / sum(wall.values()):.1%} | {found.per_request('wall', n):.0f} | {c / max(sum(cpu.values()), 1):.1%} "
            f"| {found.per_request('cpu', c):.0f} |"
        )
    for name, c in on_cpu.items():
        lines.append(f"| {name} | — | — | {c / max(sum(cpu.values()), 1):.1%} | {found.per_request('cpu', c):.0f} |")
    lines.append(
        f"| all | 100% | {found.per_request('wall', sum(wall.values())):.0f} | 100% | {found.per_request('cpu', sum(cpu.values())):.0f} |"
    )
    samples = sum(cpu.values()) or 1
    lines += ["", "On CPU, the frames most often on the stack (inclusive; the frames around every request left out):", "",
              "| frame | share |", "|---|---|"]
    lines += [f"| `{short(frame)}` | {n / samples:.1%} |" for frame, n in inclusive(cpu, args.profile_top)]
    lines += ["", "On CPU, the innermost frames (self):", "", "| frame | share |", "|---|---|"]
    lines += [f"| `{short(frame)}` | {n / samples:.1%} |" for frame, n in leaves(cpu, args.profile_top)]
    return "\n".join(lines)


def redis_backend() -> bool:
    return any(entry.name == "redis" for entry in importlib.metadata.entry_points(group="nagare.sessions"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--peers-venv", default="/tmp/bench-venv", help="venv holding gunicorn and py-spy")
    parser.add_argument("--nginx", default="/usr/sbin/nginx")
    parser.add_argument("--wrk", default="/usr/bin/wrk")
    parser.add_argument("--memcached", default="/usr/bin/memcached")
    parser.add_argument("--redis", default="/usr/bin/redis-server")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=64, help="browser sessions the clicks are spread over")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4], help="worker processes of every server (one set of cases each)")
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES), help="the stores of our counter")
    parser.add_argument("--count-seconds", type=int, default=3)
    parser.add_argument("--count-connections", type=int, default=4)
    parser.add_argument("--count-sessions", type=int, default=16)
    parser.add_argument("--nb-states", type=int, default=20, help="[sessions] nb_states (the default): the count's sessions are clicked once more first")
    parser.add_argument("--local-rounds", type=int, default=5, help="in process: interleaved batches per case")
    parser.add_argument("--local-clicks", type=int, default=300, help="in process: clicks per batch")
    parser.add_argument("--no-profile", action="store_true", help="no py-spy profile, even below the target")
    parser.add_argument("--profile-seconds", type=int, default=8)
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--output", type=Path, default=RESULTS / "cluster.md")
    parser.add_argument("--quick", action="store_true", help="1 run of 3 s per case, 2 workers, printed, nothing written")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.runs, args.warmup, args.workers, args.count_seconds, args.profile_seconds = 3, 1, 1, [2], 2, 3
        args.local_rounds, args.local_clicks = 2, 100
    notes = []
    if "redis" in args.stores and not redis_backend():
        notes.append("redis: no `redis` entry point in the group nagare.sessions (the backend has not landed, or `pip install -e .` "
                     "was not run since): not measured.")
        args.stores.remove("redis")
    started = datetime.datetime.now()
    args.raw = None if args.quick else RESULTS / "raw" / f"cluster-{started:%Y%m%d-%H%M%S}"
    if args.raw is not None:
        args.raw.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix="nagare-bench-cluster-"))

    cases = [Case(server, store, workers) for workers in args.workers for server, store in
             [*(("nagare", s) for s in STORES if s in args.stores), ("gunicorn", "memcached")]]
    bench = ClusterBench(args, tmp)
    profile = local = ""
    try:
        bench.start()
        about = versions(args)
        for number in range(args.runs):
            print(f"run {number + 1}/{args.runs}", flush=True)
            shift = number % len(cases)
            for case in cases[shift:] + cases[:shift]:
                if case.failed:
                    continue
                try:
                    bench.run(case)
                except RuntimeError as exc:  # a server that does not start: the case is left out, with why
                    case.failed = str(exc).splitlines()[0][:200]
                    print(f"  {case.name}: {exc}", flush=True)
        print("in process", flush=True)
        local = local_text(in_process(bench.stores, args, tmp), args)
        print("counting round trips, commands and bytes", flush=True)
        for case in cases:
            if case.failed:
                continue
            try:
                bench.count(case)
            except RuntimeError as exc:
                notes.append(f"{case.name}: not counted: {str(exc).splitlines()[0][:200]}")
        ours = next((c for c in cases if c.server == "nagare" and c.store == "memcached" and c.runs), None)
        peer = next((c for c in cases if ours and c.server == "gunicorn" and c.workers == ours.workers and c.runs), None)
        if ours and peer:
            ratio = median([r.rps for r in ours.runs]) / median([r.rps for r in peer.runs])
            if ratio < TARGET and not args.no_profile:
                print(f"{ratio:.2f}x gunicorn, below {TARGET}x: profiling", flush=True)
                found = bench.profile(ours)
                if sum(found.stacks["wall"].values()) and sum(found.stacks["cpu"].values()):
                    profile = profile_text(ours, found, args, ratio)
                else:
                    notes.append("py-spy took no sample (does it have the right to ptrace the workers?)")
    finally:
        bench.stop()
    text = report(cases, args, started, about, notes, local, profile)
    print("\n" + text)
    if args.quick:
        return
    args.output.write_text(
        f"# The demo counter on memcached, redis and two memcached servers, against a plain counter on gunicorn\n\n"
        f"Written by `python bench/cluster.py`.\n\n{text}"
    )
    (args.raw / "runs.json").write_text(json.dumps(
        [{"server": c.server, "store": c.store, "workers": c.workers, "failed": c.failed,
          "runs": [{k: getattr(r, k) for k in ("rps", "p99_ms", "timeouts", "errors")} for r in c.runs], "cpu": c.cpu,
          "count": None if c.count is None else {"requests": c.count.requests, "round_trips": c.count.round_trips,
                                                  "commands": dict(c.count.commands), "held": vars(c.count.held)}} for c in cases],
        indent=1,
    ))
    print(f"written to {args.output} (raw runs in {args.raw}; servers' logs in {tmp})")


if __name__ == "__main__":
    main()
