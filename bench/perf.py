"""Performance at the limit (issue 12): every figure of the issue in one run, against its peers.

    .venv/bin/python bench/perf.py [--rounds 3] [--seconds 5] [--workers 2,4] [--connections 64] \
        [--only hello,keepalive,counter,memory,click] [--baseline DIR] [--peers-venv /tmp/bench-venv]
    .venv/bin/python bench/perf.py --quick   # 1 round of 3 s: a smoke test, printed, nothing written

Our server is the working tree's (`python -m nagare serve` with this venv's interpreter, so an edit
is measured at the next run); `--baseline DIR` adds the same cases served by another checkout of
this repository (`git worktree add DIR REV`; its `src` first on PYTHONPATH, as bench/fastcgi.py
does), for a before/after in the same run. The peers come from a venv of their own
(`/tmp/bench-venv/bin/pip install uwsgi flup gunicorn pymemcache`); the C responder is
bench/c/hello.c, built here with gcc against Debian's libfcgi-dev (installed if missing, as root).

Cases, each on an nginx of its own (bench/fastcgi.py's configuration: one worker, no access log),
with `--workers` processes, loaded by wrk -t2 -c`--connections` --latency:
- hello: bench/apps/hello.py on nagare, uWSGI (--fastcgi-socket), flup (fcgi_fork) and the C
  responder, over TCP, a Unix socket, and TCP + upstream keepalive (`keepalive 32`,
  `fastcgi_keep_conn on`: more idle connections than workers);
- keepalive: hello and the demo counter on ours over TCP with and without keepalive;
- counter: the demo counter (memcache sessions, `++` clicks following each answer's link, as
  bench/fastcgi.py's wrk script does) over a Unix socket, against bench/cluster.py's plain
  counter (one memcached `incr` a click) on gunicorn behind nginx (`proxy_pass`).
These cases run interleaved: round 1 of every case, then round 2..., the order rotated each round;
the tables give medians and ratios to the peers of the same run.
- memory: VmRSS, PSS (smaps_rollup: forked workers share their pages) and USS (private pages) of our workers at start
  and after `--memory-requests` clicks of the demo counter; of every server's workers after a
  hello load; bytes per session in memcached;
- click: bench/click.py --json (the in-process breakdown of a click), if it exists.
Results: bench/results/perf.md, wrk's outputs in bench/results/raw/perf-<date>/.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
from bench.cluster import Case as ClusterCase  # noqa: E402
from bench.cluster import ClusterBench, Store, cpu_seconds, held, tree, wrk_requests  # noqa: E402
from bench.database import machine  # noqa: E402
from bench.fastcgi import BASELINE, NGINX_CONF, Bench, Process, Run, memcache_sessions, wait_answers, wrk  # noqa: E402
from tests.support.server import free_port, wait_for_port  # noqa: E402

RESULTS = BENCH / "results"
C_SOURCE = BENCH / "c" / "hello.c"
TRANSPORTS = ("TCP", "Unix socket", "TCP + keepalive")
PEERS = ("uWSGI", "flup", "C")
KEEPALIVE = 64  # nginx's idle upstream connections kept: as many as wrk's (docs/deploying.md), more than the workers
PARTS = ("hello", "keepalive", "counter", "memory", "click")


@dataclass
class Case:
    app: str  # "hello" or "counter"
    server: str  # nagare, baseline, uWSGI, flup, C, gunicorn
    transport: str
    workers: int
    runs: list[Run] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # µs of CPU of the server's processes per request, one per run
    failed: str = ""

    @property
    def key(self) -> tuple[str, str, str, int]:
        return self.app, self.server, self.transport, self.workers

    @property
    def name(self) -> str:
        transport = self.transport.replace(" + ", "-").replace(" ", "-").lower()
        return f"{self.app}-{self.server.lower()}-{transport}-{self.workers}w"


def cases_of(parts: list[str], ours: list[str], workers: list[int]) -> list[Case]:
    """The interleaved cases the parts need, each once (keepalive reuses hello's TCP rows)."""
    wanted: list[tuple[str, str, str]] = []
    if "hello" in parts:
        wanted += [("hello", s, t) for t in TRANSPORTS for s in (*ours, *PEERS)]
    if "keepalive" in parts:
        wanted += [(app, s, t) for app in ("hello", "counter") for t in ("TCP", "TCP + keepalive") for s in ours]
    if "counter" in parts:
        wanted += [("counter", s, "Unix socket") for s in ours] + [("counter", "gunicorn", "Unix socket")]
    seen: dict[tuple[str, str, str, int], Case] = {}
    for w in workers:
        for app, server, transport in wanted:
            seen.setdefault((app, server, transport, w), Case(app, server, transport, w))
    return list(seen.values())


def memory_kb(pid: int) -> tuple[int, int, int]:
    """(VmRSS, Pss, Uss) of a process in kB. PSS shares each page among the processes that map
    it; USS counts the pages this process alone maps (Private_Clean + Private_Dirty): what one more
    forked worker adds."""
    status = Path(f"/proc/{pid}/status").read_text()
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    pss = re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)
    uss = sum(int(n) for n in re.findall(r"^Private_(?:Clean|Dirty):\s+(\d+) kB", rollup, re.M))
    return int(rss.group(1)) if rss else 0, int(pss.group(1)) if pss else 0, uss


def workers_of(master: int) -> list[int]:
    return sorted(pid for pid in tree(master) if pid != master)


def build_c(tmp: Path) -> str:
    """The C responder built in `tmp`; libfcgi-dev installed first if missing (root only)."""
    if not Path("/usr/include/fcgiapp.h").exists() and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "libfcgi-dev"], capture_output=True, check=False)
    binary = tmp / "hello-fcgi"
    done = subprocess.run(["gcc", "-O2", "-Wall", "-o", str(binary), str(C_SOURCE), "-lfcgi"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"gcc could not build {C_SOURCE.name} (apt-get install gcc libfcgi-dev): {done.stderr.strip()[:300]}")
    return str(binary)


class PerfBench(Bench):
    """bench/fastcgi.py's Bench with the C responder, gunicorn, a worker count per case and `keepalive 32`."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        super().__init__(args, tmp)
        self.base_args = args
        self.cluster = ClusterBench(args, tmp)  # gunicorn's plain counter and its nginx, as bench/cluster.py runs them
        self.c_binary = ""
        self.store: Store | None = None

    def start(self) -> None:
        self.store = Store("memcached", self.tmp, self.args)
        self.memcached_port = self.store.port

    def stop(self) -> None:
        if self.store is not None:
            self.store.stop()

    def nginx(self, directory: Path, fastcgi: str, keepalive: bool) -> tuple[Process, int]:
        if not keepalive:
            return super().nginx(directory, fastcgi, keepalive)
        # bench/fastcgi.py's configuration with KEEPALIVE idle connections in place of its 16
        port = free_port()
        target = f"unix:{fastcgi}" if fastcgi.startswith("/") else fastcgi
        conf = NGINX_CONF.format(
            tmp=directory, port=port, user="user root;\n" if os.geteuid() == 0 else "",
            upstream=f"upstream backend {{ server {target}; keepalive {KEEPALIVE}; }}",
            keep_conn="fastcgi_keep_conn on;\n            ", target="backend",
        )
        (directory / "nginx.conf").write_text(conf)
        command = [self.args.nginx, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", str(directory / "nginx-error.log")]
        process = Process(command, directory / "nginx.log", directory)
        wait_for_port(port, process.popen)
        return process, port

    def backend(self, server: str, app: str, address: str, directory: Path) -> Process:
        if server == "C":
            if not self.c_binary:
                self.c_binary = build_c(self.tmp)
            return Process([self.c_binary, address, str(self.args.workers)], directory / "c.log", directory)
        if server == "gunicorn":
            case = ClusterCase("gunicorn", "memcached", self.args.workers)
            return self.cluster.backend(case, directory, address, [self.memcached_port])
        return super().backend(server, app, address, directory)

    def serve(self, case: Case, label: str) -> tuple[Path, Process, Process, str]:
        """The case's server and its nginx, answering: (folder, server, nginx, base URL)."""
        self.args = argparse.Namespace(**{**vars(self.base_args), "workers": case.workers})
        self.serial += 1
        directory = self.tmp / f"{self.serial:03d}-{case.name}-{label}"
        directory.mkdir()
        unix = case.transport == "Unix socket"
        address = str(directory / "fcgi.sock") if unix else f"127.0.0.1:{free_port()}"
        backend = self.backend(case.server, case.app, address, directory)
        nginx = None
        try:
            if case.server == "gunicorn":
                nginx, port = self.cluster.nginx(directory, address, http=True)
            else:
                nginx, port = self.nginx(directory, address, case.transport.endswith("keepalive"))
            base = f"http://127.0.0.1:{port}"
            wait_answers(base + self.path(case), backend)
        except BaseException:
            self.halt(case, backend, nginx)
            raise
        return directory, backend, nginx, base

    @staticmethod
    def path(case: Case) -> str:
        return "/demo/" if case.app == "counter" else "/hello/"

    @staticmethod
    def halt(case: Case, backend: Process, nginx: Process | None) -> None:
        if nginx is not None:
            nginx.stop(signal.SIGQUIT, timeout=5)
        # flup's master waits in select() without a timeout, restarted after a signal (PEP 475):
        # it never sees its SIGTERM flag while idle (bench/fastcgi.py)
        backend.stop(timeout=2, warn=False) if case.server == "flup" else backend.stop()

    def load(self, case: Case, base: str, directory: Path, seconds: int) -> Run:
        script = self.counter_script(base, directory) if case.app == "counter" else None
        return wrk(base + self.path(case), self.args, script, seconds=seconds)

    def run(self, case: Case) -> None:  # type: ignore[override]  # a Case of this file, not a Variant
        directory, backend, nginx, base = self.serve(case, f"r{len(case.runs) + 1}")
        try:
            self.load(case, base, directory, self.args.warmup)  # imports, first states, nginx's connections
            # the counter's fresh sessions are made before the CPU is read: their pages are not measured
            script = self.counter_script(base, directory) if case.app == "counter" else None
            before = cpu_seconds(tree(backend.popen.pid))
            result = wrk(base + self.path(case), self.args, script)
            after = cpu_seconds(tree(backend.popen.pid))
        finally:
            self.halt(case, backend, nginx)
        case.runs.append(result)
        used = sum(value - before.get(pid, 0.0) for pid, value in after.items())
        case.cpu.append(used / max(wrk_requests(result), 1) * 1e6)
        if self.args.raw is not None:
            (self.args.raw / f"{case.name}-r{len(case.runs)}.txt").write_text(result.output)
        print(
            f"  {case.app:7} {case.server:8} {case.transport:15} {case.workers}w r{len(case.runs)}: {result.rps:8.0f} req/s  "
            f"p99 {result.p99_ms:8.2f} ms  timeouts {result.timeouts}  errors {result.errors}  server CPU {case.cpu[-1]:.0f} µs/req",
            flush=True,
        )

    # -- memory --------------------------------------------------------------------------------

    def memory(self, servers: list[str]) -> dict[str, Any]:
        """Our workers' memory along the demo counter's clicks; every server's after a hello load; bytes per session."""
        args, workers = self.base_args, min(self.base_args.workers)
        found: dict[str, Any] = {"workers": workers, "requests": 0, "ours": {}, "hello": {}}
        folder = self.tmp / "memory"
        folder.mkdir()
        store = Store("memcached", folder, args)  # fresh: its stats are this load's only
        port, self.memcached_port = self.memcached_port, store.port
        case = Case("counter", "nagare", "Unix socket", workers)
        try:
            directory, backend, nginx, base = self.serve(case, "memory")
            try:
                first = workers_of(backend.popen.pid)
                found["ours"]["start"] = {pid: memory_kb(pid) for pid in first}
                sessions: list[str] = []
                runs: list[tuple[float, list[str]]] = []  # (clicks per session, its sessions) of each wrk run
                done, rate, stages = 0, 0.0, [("warm", args.memory_requests // 100), ("after", args.memory_requests)]
                for stage, target in stages:
                    while done < target:
                        script = self.counter_script(base, directory)  # fresh sessions: each run's links are their latest
                        made = re.findall(r"_s=(\w+)", script.read_text())
                        sessions += made
                        seconds = max(1, min(30, round((target - done) / rate))) if rate else 2
                        result = wrk(base + "/demo/", self.args, script, seconds=seconds)
                        done += wrk_requests(result) + args.sessions
                        runs.append((wrk_requests(result) / max(len(made), 1), made))
                        rate = result.rps or 1.0
                    found["ours"][stage] = {pid: memory_kb(pid) for pid in workers_of(backend.popen.pid)}
                    found[f"{stage} requests"] = done
                found["requests"], found["first"] = done, first
                found["master"] = memory_kb(backend.popen.pid)
            finally:
                self.halt(case, backend, nginx)
            stats = {}
            for line in store.request(b"stats\r\n", b"END\r\n").decode().splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[0] == "STAT":
                    stats[parts[1]] = parts[2]
            clicks, longest = max(runs)  # the run whose sessions were clicked the most: their window of states full
            kept = held([store], longest)
            found["store"] = {
                "bytes": int(stats["bytes"]), "items": int(stats["curr_items"]), "sessions made": len(sessions),
                "last": {"sessions": kept.sessions, "keys": kept.keys, "payload": kept.payload, "stored": kept.stored, "clicks": clicks},
            }
        finally:
            store.stop()
            self.memcached_port = port
        for server in servers:
            case = Case("hello", server, "Unix socket", workers)
            try:
                directory, backend, nginx, base = self.serve(case, "memory")
            except RuntimeError as exc:
                found["hello"][server] = str(exc).splitlines()[0][:200]
                continue
            try:
                wrk(base + "/hello/", self.args, seconds=args.seconds)
                found["hello"][server] = {
                    "master": memory_kb(backend.popen.pid), "workers": [memory_kb(pid) for pid in workers_of(backend.popen.pid)],
                }
            finally:
                self.halt(case, backend, nginx)
            print(f"  memory: {server} after a hello load: {found['hello'][server]}", flush=True)
        return found


# -- the report ----------------------------------------------------------------------------------


def first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{command[0]}: {exc}"
    return ((done.stdout + done.stderr).strip().splitlines() or ["?"])[0]


def versions(args: argparse.Namespace) -> list[str]:
    peers = Path(args.peers_venv) / "bin"

    def head(tree_: Path) -> str:
        log = subprocess.run(["git", "-C", str(tree_), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
        if log.returncode != 0:
            return "(not a git checkout)"
        dirty = subprocess.run(["git", "-C", str(tree_), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout
        return log.stdout.strip()[:80] + (" (+ uncommitted changes)" if dirty.strip() else "")

    flup = first_line([str(peers / "python"), "-c", "import importlib.metadata as m; print(m.version('flup'))"])
    libfcgi = first_line(["dpkg-query", "-W", "-f", "${Version}\n", "libfcgi-dev"])
    lines = [
        f"Machine: {machine()}; {os.cpu_count()} cores shared by wrk, nginx, memcached and the servers; "
        f"load average at the start {args.load}, at the end {' '.join(Path('/proc/loadavg').read_text().split()[:3])}.",
        f"nagare: the working tree at {head(BENCH.parent)}; CPython {sys.version.split()[0]}.",
        f"Peers: uWSGI {first_line([str(peers / 'uwsgi'), '--version'])}, flup {flup}, "
        f"{first_line([str(peers / 'gunicorn'), '--version'])}, libfcgi {libfcgi} ({first_line(['gcc', '--version'])}); "
        f"{first_line([args.nginx, '-v'])}, {first_line([args.memcached, '-V'])}, {first_line([args.wrk, '-v'])}.",
    ]
    if args.baseline:
        lines.append(f"baseline: {args.baseline} at {head(args.baseline)}.")
    return lines


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rps(case: Case) -> float:
    return med([r.rps for r in case.runs])


def p99(case: Case) -> float:
    return med([r.p99_ms for r in case.runs])


def ratios(case: Case, peer: Case | None) -> str:
    if peer is None or not peer.runs:
        return "— | —"
    if peer is case:
        return "1 | 1"
    return f"{rps(case) / rps(peer):.2f} | {p99(case) / p99(peer):.2f}"


def row_tail(case: Case) -> str:
    errors = f"{sum(r.timeouts for r in case.runs)}, {sum(r.errors for r in case.runs)}"
    return f"{med(case.cpu):.0f} | {errors} | {', '.join(f'{r.rps:.0f}' for r in case.runs)} |"


def hello_text(cases: dict[tuple[str, str, str, int], Case], args: argparse.Namespace) -> list[str]:
    lines = [
        "## 1. hello-world behind one nginx worker", "",
        "bench/apps/hello.py (13-byte body); C: bench/c/hello.c on libfcgi, the same bytes. Ratios on the same transport "
        "and worker count (p99: lower is better). Server CPU: the server's processes, µs per request wrk counted.", "",
        "| workers | transport | server | req/s | p99 ms | req/s / uWSGI | p99 / uWSGI | req/s / C | p99 / C "
        "| server CPU µs/req | timeouts, errors (all runs) | req/s runs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for w in args.workers:
        for t in TRANSPORTS:
            for s in (*args.ours, *PEERS):
                case = cases.get(("hello", s, t, w))
                if case is None:
                    continue
                if not case.runs:
                    lines.append(f"| {w} | {t} | {s} | — | — | — | — | — | — | — | — | {case.failed or 'not run'} |")
                    continue
                uwsgi, c = cases.get(("hello", "uWSGI", t, w)), cases.get(("hello", "C", t, w))
                lines.append(f"| {w} | {t} | {s} | {rps(case):.0f} | {p99(case):.2f} | {ratios(case, uwsgi)} | {ratios(case, c)} | {row_tail(case)}")
    lines += ["", "uWSGI ignores FCGI_KEEP_CONN (it closes after each answer; nginx reconnects): its keepalive row is TCP again."]
    return lines


def keepalive_text(cases: dict[tuple[str, str, str, int], Case], args: argparse.Namespace) -> list[str]:
    lines = [
        "## 2. keepalive tail", "",
        f"The same server over TCP without and with nginx's upstream keepalive (`keepalive {KEEPALIVE}`, `fastcgi_keep_conn on`), "
        f"wrk -c{args.connections}: the pool is saturated. The target: p99 with keepalive no worse than without (ratio <= 1).", "",
        "| app | server | workers | req/s TCP | req/s keepalive | p99 ms TCP | p99 ms keepalive | p99 keepalive / TCP "
        "| each round | no worse |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for app in ("hello", "counter"):
        for s in (*args.ours, *PEERS):
            for w in args.workers:
                plain, kept = cases.get((app, s, "TCP", w)), cases.get((app, s, "TCP + keepalive", w))
                if plain is None or kept is None or not plain.runs or not kept.runs:
                    continue
                ratio = p99(kept) / p99(plain)
                rounds = ", ".join(f"{k.p99_ms / p.p99_ms:.2f}" for k, p in zip(kept.runs, plain.runs))
                lines.append(
                    f"| {app} | {s} | {w} | {rps(plain):.0f} | {rps(kept):.0f} | {p99(plain):.2f} | {p99(kept):.2f} | {ratio:.2f} "
                    f"| {rounds} | {'yes' if ratio <= 1 else 'no'} |"
                )
    return lines


def counter_text(cases: dict[tuple[str, str, str, int], Case], args: argparse.Namespace) -> list[str]:
    lines = [
        "## 3. the demo counter against a plain counter", "",
        f"Clicks on `++` over {args.sessions} sessions, each following the link of the previous answer, memcache sessions, "
        "through nginx on a Unix socket; gunicorn: bench/apps/memcache_counter.py (one memcached `incr` a click, "
        "`proxy_pass`). The ratio of the issue is to gunicorn.", "",
        "| workers | server | req/s | p99 ms | req/s / gunicorn | p99 / gunicorn | server CPU µs/req | timeouts, errors (all runs) | req/s runs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for w in args.workers:
        peer = cases.get(("counter", "gunicorn", "Unix socket", w))
        for s in (*args.ours, "gunicorn"):
            case = cases.get(("counter", s, "Unix socket", w))
            if case is not None and case.runs:
                lines.append(f"| {w} | {s} | {rps(case):.0f} | {p99(case):.2f} | {ratios(case, peer)} | {row_tail(case)}")
            elif case is not None:
                lines.append(f"| {w} | {s} | — | — | — | — | — | — | {case.failed or 'not run'} |")
    return lines


def baseline_text(cases: dict[tuple[str, str, str, int], Case], args: argparse.Namespace) -> list[str]:
    lines = [
        f"## This tree against the baseline ({args.baseline}), same run", "",
        "| app | transport | workers | req/s now / before | p99 now / before | server CPU now / before |", "|---|---|---|---|---|---|",
    ]
    for (app, server, transport, w), case in cases.items():
        old = cases.get((app, BASELINE, transport, w))
        if server == "nagare" and case.runs and old is not None and old.runs:
            lines.append(f"| {app} | {transport} | {w} | {rps(case) / rps(old):.2f} | {p99(case) / p99(old):.2f} | {med(case.cpu) / med(old.cpu):.2f} |")
    return lines


def click(args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    """bench/click.py's breakdown, for this tree and the baseline: (table lines, or "not available"; its JSON)."""
    lines = ["## 4. a click in process (bench/click.py)", ""]
    script = BENCH / "click.py"
    if not script.exists():
        return lines + ["not available (no bench/click.py)"], {}
    found = {}
    for label, env in [("nagare", {}), *([(BASELINE, {"PYTHONPATH": str(args.baseline / "src")})] if args.baseline else [])]:
        done = subprocess.run(
            [sys.executable, str(script), "--json"], capture_output=True, text=True, timeout=900, env={**os.environ, **env}, cwd=BENCH.parent,
        )
        try:
            found[label] = json.loads(done.stdout[done.stdout.index("{"):])
        except ValueError:
            found[label] = None
            lines.append(f"{label}: not available (bench/click.py --json exited {done.returncode}: {done.stderr.strip()[-200:]})")
    found = {k: v for k, v in found.items() if v}
    if not found:
        return lines, found
    labels = list(found)
    lines += [
        "`python bench/click.py --json`: one click of the demo counter, in process (µs) and its stored state (bytes).", "",
        f"| part | {' | '.join(labels)} |", f"|---|{'---|' * len(labels)}",
    ]
    def shown(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(map(shown, value))
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    # every figure it prints, its name and unit from its key: total_us, parts_us: {name: µs}, state_bytes: {tab: bytes}...
    keys = dict.fromkeys(k for v in found.values() for k in v)
    for key in keys:
        unit = {"us": "µs", "bytes": "bytes"}.get(key.rpartition("_")[2], "")
        title = key.rpartition("_")[0] if unit else key
        if any(isinstance(v.get(key), dict) for v in found.values()):
            names = dict.fromkeys(n for v in found.values() for n in v.get(key) or {})
            lines += [f"| {title}: {n} {unit} | {' | '.join(shown((found[k].get(key) or {}).get(n, '—')) for k in labels)} |" for n in names]
        else:
            lines.append(f"| **{title}{' ' + unit if unit else ''}** | {' | '.join(shown(found[k].get(key, '—')) for k in labels)} |")
    return lines, found


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f}"


def memory_text(found: dict[str, Any], args: argparse.Namespace) -> list[str]:
    if "failed" in found:
        return ["## 5. memory", "", f"not measured: {found['failed']}"]
    ours, workers = found["ours"], found["workers"]
    lines = [
        "## 5. memory", "",
        f"Our pool with {workers} workers (`minSpare = 1`), the demo counter on a Unix socket, memcache sessions: VmRSS, PSS "
        f"(/proc/PID/smaps_rollup: a page shared by n processes counts 1/n in each) and USS (its private pages: what one more worker costs) of each worker, MB; start: once the pool "
        f"answers; warm: after {found['warm requests']:,} requests; after: after {found['requests']:,} requests "
        f"({found['requests'] - found['store']['sessions made']:,} clicks, each a new state, over fresh sessions of "
        f"{args.sessions} each run).", "",
        "| worker | RSS start | RSS warm | RSS after | RSS growth after warm | PSS start | PSS warm | PSS after | USS start | USS after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for pid in sorted(set(ours["start"]) | set(ours["after"])):
        got = [ours[stage].get(pid) for stage in ("start", "warm", "after")]
        rss_ = [mb(g[0]) if g else "—" for g in got]
        pss_ = [mb(g[1]) if g else "—" for g in got]
        uss_ = [mb(g[2]) if g else "—" for g in (got[0], got[2])]
        growth = f"{(got[2][0] - got[1][0]) / 1024:+.1f}" if got[1] and got[2] else "—"
        lines.append(f"| {pid} {'(at start)' if pid in found['first'] else '(forked later)'} | {' | '.join(rss_)} | {growth} | {' | '.join(pss_)} | {' | '.join(uss_)} |")
    lines += ["", f"Master: RSS {mb(found['master'][0])} MB, PSS {mb(found['master'][1])} MB.", ""]
    store = found["store"]
    last = store["last"]
    lines += [
        f"memcached after the load: `stats` bytes {store['bytes']:,} over {store['items']:,} items and {store['sessions made']:,} "
        f"sessions made: {store['bytes'] / max(store['sessions made'], 1):,.0f} bytes per session. The "
        f"{last['sessions']} sessions of the longest wrk run ({last['clicks']:.0f} clicks each): {last['keys'] / max(last['sessions'], 1):.1f} keys, "
        f"{last['payload'] / max(last['sessions'], 1):,.0f} bytes of keys and values, {last['stored'] / max(last['sessions'], 1):,.0f} "
        "bytes of memcached items per session.", "",
        f"After a hello load ({args.seconds} s, Unix socket, {workers} workers), MB:", "",
        "| server | workers | RSS per worker (median) | PSS per worker (median) | USS per worker (median) | RSS all workers | PSS all workers | master RSS, PSS | the pool's PSS (master + workers) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for server, got in found["hello"].items():
        if isinstance(got, str):
            lines.append(f"| {server} | — | — | — | — | — | — | {got} | — |")
            continue
        rss_, pss_ = [w[0] for w in got["workers"]], [w[1] for w in got["workers"]]
        uss_ = [w[2] for w in got["workers"]]
        lines.append(
            f"| {server} | {len(rss_)} | {mb(med(rss_))} | {mb(med(pss_))} | {mb(med(uss_))} | {mb(sum(rss_))} | {mb(sum(pss_))} "
            f"| {mb(got['master'][0])}, {mb(got['master'][1])} | {mb(sum(pss_) + got['master'][1])} |"
        )
    return lines


def report(cases: list[Case], args: argparse.Namespace, started: datetime.datetime, memory: dict[str, Any] | None, local: list[str]) -> str:
    keyed = {c.key: c for c in cases}
    lines = [
        "# Performance at the limit", "",
        f"Written by `{' '.join(['python bench/perf.py', *args.argv])}` on {started:%Y-%m-%d %H:%M}.", "",
        *versions(args), "",
        f"Each case on an nginx of its own (one worker, no access log), wrk -t2 -c{args.connections} --latency, {args.seconds} s "
        f"after {args.warmup} s of warm-up, {args.rounds} round(s) interleaved (the order rotated each round), medians.", "",
    ]
    parts = args.only
    if "hello" in parts:
        lines += [*hello_text(keyed, args), ""]
    if "keepalive" in parts or "hello" in parts:
        lines += [*keepalive_text(keyed, args), ""]
    if "counter" in parts:
        lines += [*counter_text(keyed, args), ""]
    if "click" in parts:
        lines += [*local, ""]
    if memory is not None:
        lines += [*memory_text(memory, args), ""]
    if args.baseline:
        lines += [*baseline_text(keyed, args), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--peers-venv", default="/tmp/bench-venv", help="venv holding uwsgi, flup, gunicorn, pymemcache")
    parser.add_argument("--nginx", default="/usr/sbin/nginx")
    parser.add_argument("--wrk", default="/usr/bin/wrk")
    parser.add_argument("--memcached", default="/usr/bin/memcached")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--connections", type=int, default=64, help="wrk's: more than the workers, the pool saturated")
    parser.add_argument("--sessions", type=int, default=128, help="browser sessions the counter's clicks are spread over")
    parser.add_argument("--workers", default="2,4", help="worker processes of every server, one set of cases each: 2,4")
    parser.add_argument("--only", action="append", help=f"some of {','.join(PARTS)} (comma-separated or repeated); all by default")
    parser.add_argument("--memory-requests", type=int, default=100_000, help="clicks of the demo counter before our workers' memory is read again")
    parser.add_argument("--baseline", type=Path, help="another checkout of this repository: its publisher is measured too, in the same run")
    parser.add_argument("--output", type=Path, default=RESULTS / "perf.md")
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s, 5,000 clicks for the memory: printed, nothing written")
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    args.workers = [int(w) for w in args.workers.split(",")]
    args.only = [p.strip() for item in args.only or [",".join(PARTS)] for p in item.split(",") if p.strip()]
    if unknown := set(args.only) - set(PARTS):
        parser.error(f"--only: unknown {', '.join(sorted(unknown))} (choose among {', '.join(PARTS)})")
    if args.quick:
        args.rounds, args.seconds, args.warmup, args.memory_requests = 1, 3, 1, 5_000
    if args.baseline:
        args.baseline = args.baseline.resolve()
        if not (args.baseline / "src" / "nagare").is_dir():
            parser.error(f"--baseline {args.baseline}: no src/nagare there (a checkout of this repository: git worktree add DIR REV)")
    args.ours = ["nagare", *([BASELINE] if args.baseline else [])]
    if not memcache_sessions():
        parser.error("nagare.sessions.memcache is not importable: the demo counter cannot run")
    started = datetime.datetime.now()
    args.load = " ".join(Path("/proc/loadavg").read_text().split()[:3])  # another bench running meanwhile shows here
    args.raw = None if args.quick else RESULTS / "raw" / f"perf-{started:%Y%m%d-%H%M%S}"
    if args.raw is not None:
        args.raw.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix="nagare-bench-perf-"))

    cases = cases_of(args.only, args.ours, args.workers)
    bench = PerfBench(args, tmp)
    memory, local, clicked = None, [], {}
    began = time.monotonic()
    try:
        bench.start()
        for number in range(args.rounds):
            print(f"round {number + 1}/{args.rounds} ({time.monotonic() - began:.0f} s)", flush=True)
            shift = number % max(len(cases), 1)
            for case in cases[shift:] + cases[:shift]:
                if case.failed:
                    continue
                try:
                    bench.run(case)
                except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:  # a server that does not start: left out, with why
                    case.failed = str(exc).splitlines()[0][:200]
                    print(f"  {case.name}: {exc}", flush=True)
        if "memory" in args.only:
            print(f"memory ({time.monotonic() - began:.0f} s)", flush=True)
            try:
                memory = bench.memory([*args.ours, *PEERS])
            except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
                memory = {"failed": str(exc).splitlines()[0][:300]}
                print(f"  memory: {exc}", flush=True)
        if "click" in args.only:
            print(f"in process: bench/click.py ({time.monotonic() - began:.0f} s)", flush=True)
            local, clicked = click(args)
    finally:
        bench.stop()
    text = report(cases, args, started, memory, local)
    print("\n" + text)
    print(f"({time.monotonic() - began:.0f} s; servers' logs in {tmp})")
    if args.raw is None:
        return
    args.output.write_text(text)
    (args.raw / "runs.json").write_text(json.dumps(
        {"cases": [{"app": c.app, "server": c.server, "transport": c.transport, "workers": c.workers, "failed": c.failed, "cpu_us": c.cpu,
                    "runs": [{k: getattr(r, k) for k in ("rps", "p99_ms", "timeouts", "errors")} for r in c.runs]} for c in cases],
         "memory": memory, "click": clicked}, indent=1, default=str,
    ))
    print(f"written to {args.output} (raw runs in {args.raw})")


if __name__ == "__main__":
    main()
