"""The demo's data page (the Wiki tab) on our FastCGI pool behind nginx, with PostgreSQL and memcached
sessions, against the same page with its text in memory, in one run.

    .venv/bin/python bench/database.py [--seconds 10] [--runs 3] [--workers 2 4] [--connections 16] [--sessions 32]
    .venv/bin/python bench/database.py --quick   # ~30 s: 1 run of 3 s per case, printed, nothing written

Everything is started here, in a temp dir: a PostgreSQL cluster (tests/support/postgresql.py:
initdb, a free port, no fsync), a memcached and, for each case and run, our FastCGI pool
(`minSpare = 1`, `maxSpare = maxChildren = --workers`, memcache sessions, a Unix socket) behind
an nginx of its own (bench/fastcgi.py's configuration). Both applications are the demo itself
(bench/apps/wiki_bench.py): `database` with `[database] uri` at the PostgreSQL, `memory` with the
wiki's two reads answered from a dict.

The load: `--sessions` browser sessions each open /demo/wiki/FrontPage (the REST URL), then wrk
reloads each session's page by its state URL (`/demo/wiki/FrontPage?_s=…&_c=…`), as the browser's
reload button does, always the state the previous answer was rendered for (a fixed state would
leave memcache's window of 20 states and answer 301). Per request: the session locked and its
state loaded from memcached, the page (the entity loaded by key, its WikiWords looked up) rendered,
a new state stored. No session is created during the measure. Runs are interleaved (run 1 of every
case, then run 2…), the table gives medians.

Queries per request: counted in the workers (SQLAlchemy's `before_cursor_execute` and the pool's
`checkout`: bench/apps/wiki_bench.py), and PostgreSQL's own count of transactions of the database
(`pg_stat_database.xact_commit + xact_rollback`), both as the difference over the measured run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
from bench.fastcgi import LUA_DONE, LUA_THREADS, WRK_THREADS, Bench, Process, Run, wait_answers, wrk  # noqa: E402
from tests.support.postgresql import PostgreSQL  # noqa: E402

APPS = BENCH / "apps"
RESULTS = BENCH / "results"
PAGE = "/demo/wiki/FrontPage"
CASES = ("database", "memory")
STATE = re.compile(r"_s=(\w+)&(?:amp;)?_c=(\d+)")

# Each request reloads one session's page by the state the previous answer was rendered for (its
# links carry it, and the cookie is the one of its session id); a thread never has two requests of one session in flight (that would measure
# the session's lock). An answer without the wiki's text, or without a state, is a lost reload.
LUA = """
local sessions = {%s}
""" + LUA_THREADS + """
function init(args)
  for k = 1, #sessions do
    if (k - 1) %% %d == id then
      cookies[sessions[k][1]] = sessions[k][3]
      ready[#ready + 1] = {sessions[k][1], sessions[k][2]}
    end
  end
end
function request()
  local state = table.remove(ready, 1)
  if state == nil then return wrk.format("GET", "%s") end
  return wrk.format("GET", "%s?_s=" .. state[1] .. "&_c=" .. state[2], {["Cookie"] = cookies[state[1]]})
end
function response(status, headers, body)
  local s, c = nil, nil
  if body and body:find('id="wiki-text"', 1, true) then
    s, c = body:match("_s=(%%w+)&amp;_c=(%%d+)")
  end
  if status ~= 200 or s == nil then
    lost = lost + 1
    return
  end
  ready[#ready + 1] = {s, c}
end
""" + LUA_DONE


@dataclass
class Counts:
    requests: int = 0
    statements: int = 0
    checkouts: int = 0
    transactions: int = 0  # PostgreSQL's, of the bench's database


@dataclass
class Case:
    app: str
    workers: int
    runs: list[Run] = field(default_factory=list)
    counts: list[Counts] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"wiki-{self.app}-{self.workers}w"


def read_counts(folder: Path) -> Counts:
    counts = Counts()
    for file in folder.iterdir():
        numbers = file.read_text().split()
        if len(numbers) == 3:
            counts.requests += int(numbers[0])
            counts.statements += int(numbers[1])
            counts.checkouts += int(numbers[2])
    return counts


class DatabaseBench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.fastcgi = Bench(args, tmp)  # memcached and nginx as bench/fastcgi.py starts them
        self.postgresql: PostgreSQL | None = None
        self.uri = ""
        self.serial = 0

    def start(self) -> None:
        self.postgresql = PostgreSQL()
        self.uri = self.postgresql.create_database("wiki")
        self.fastcgi.start_memcached()

    def stop(self) -> None:
        if self.fastcgi.memcached is not None:
            self.fastcgi.memcached.stop()
        if self.postgresql is not None:
            self.postgresql.destroy()

    def transactions(self) -> int:
        assert self.postgresql is not None
        time.sleep(1.1)  # a backend reports its statistics at most once a second
        rows = self.postgresql.query("postgres", "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'wiki'")
        return int(rows[0][0])

    def pool(self, case: Case, directory: Path, socket: str, counts: Path) -> Process:
        workers = case.workers
        (directory / "pub.cfg").write_text(
            f"[publisher]\ntype = fastcgi\nsocket = {socket}\nminSpare = 1\nmaxSpare = {workers}\nmaxChildren = {workers}\n"
            f"\n[sessions]\ntype = memcache\nhost = 127.0.0.1\nport = {self.fastcgi.memcached_port}\n"
        )
        conf = f"[application]\npath = python wiki_bench:{case.app}\nname = demo\ndebug = off\n"
        if case.app == "database":
            conf += (
                f"\n[database]\nactivated = on\nuri = {self.uri}\nmetadata = nagare.demo.wiki:metadata\n"
                "populate = nagare.demo.wiki:populate\n"
            )
        (directory / "wiki.cfg").write_text(conf)
        env = {
            **self.fastcgi.secret_env,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(APPS), os.environ.get("PYTHONPATH", "")])),
            "NAGARE_BENCH_COUNTS": str(counts),
        }
        command = [sys.executable, "-m", "nagare", "serve", "-c", str(directory / "pub.cfg"), str(directory / "wiki.cfg")]
        return Process(command, directory / "nagare.log", directory, env)

    def script(self, base: str, directory: Path) -> Path:
        """A wrk script reloading --sessions browser sessions' wiki page, round robin."""
        sessions = []
        for _ in range(self.args.sessions):
            browser = requests.Session()
            page = browser.get(base + PAGE, timeout=10)
            page.raise_for_status()
            if 'id="wiki-text"' not in page.text:
                raise RuntimeError(f"{base + PAGE} shows no page of the wiki:\n{page.text[:2000]}")
            session, state = STATE.search(page.text).groups()
            cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
            sessions.append((session, state, cookie))
        script = directory / "reload.lua"
        body = ", ".join(f'{{"{s}", "{c}", "{cookie}"}}' for s, c, cookie in sessions)
        script.write_text(LUA % (body, WRK_THREADS, PAGE, PAGE))
        return script

    def run(self, case: Case) -> None:
        self.serial += 1
        directory = self.tmp / f"{self.serial:03d}-{case.name}"
        counts = directory / "counts"
        counts.mkdir(parents=True)
        socket = str(directory / "fcgi.sock")
        backend = self.pool(case, directory, socket, counts)
        nginx = None
        try:
            nginx, port = self.fastcgi.nginx(directory, socket, keepalive=False)
            base = f"http://127.0.0.1:{port}"
            wait_answers(base + PAGE, backend)
            wrk(base + PAGE, self.args, self.script(base, directory), seconds=self.args.warmup)  # every worker forked and warm
            script = self.script(base, directory)  # sessions of their own: no session is created while measured
            before = read_counts(counts)
            xact = self.transactions() if case.app == "database" else 0
            result = wrk(base + PAGE, self.args, script)
            after = read_counts(counts)
            spent = Counts(
                after.requests - before.requests, after.statements - before.statements, after.checkouts - before.checkouts,
                (self.transactions() - xact - 1) if case.app == "database" else 0,  # minus the reading of the count
            )
        finally:
            if nginx is not None:
                nginx.stop(signal.SIGQUIT)
            backend.stop()
        case.runs.append(result)
        case.counts.append(spent)
        if self.args.raw is not None:
            (self.args.raw / f"{case.name}-run{len(case.runs)}.txt").write_text(result.output)
        per = spent.requests or 1
        print(
            f"  {case.app:8} {case.workers} workers run {len(case.runs)}: {result.rps:7.0f} req/s  p99 {result.p99_ms:7.2f} ms  "
            f"timeouts {result.timeouts}  errors {result.errors}  per request: {spent.statements / per:.2f} statements, "
            f"{spent.checkouts / per:.2f} checkouts, {spent.transactions / per:.2f} transactions ({spent.requests} requests)",
            flush=True,
        )


def versions(args: argparse.Namespace, postgresql_bin: str) -> str:
    import psycopg2
    import pymemcache
    import sqlalchemy

    def first_line(command: list[str]) -> str:
        done = subprocess.run(command, capture_output=True, text=True)
        return (done.stdout + done.stderr).strip().splitlines()[0]

    return (
        f"CPython {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, psycopg2 {psycopg2.__version__.split()[0]}, "
        f"pymemcache {pymemcache.__version__}, {first_line([str(Path(postgresql_bin) / 'postgres'), '--version'])}, "
        f"{first_line([args.memcached, '-V'])}, {first_line([args.nginx, '-v'])}, {first_line([args.wrk, '-v'])}"
    )


def machine() -> str:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({model or platform.processor() or platform.machine()}, {platform.machine()}), {platform.system()} {platform.release()}"


def table(cases: list[Case], args: argparse.Namespace, started: datetime.datetime, about: str) -> str:
    lines = [
        f"{started:%Y-%m-%d %H:%M}, {machine()}, shared by wrk, nginx, PostgreSQL, memcached and the workers.",
        f"{about}.",
        f"wrk -t{WRK_THREADS} -c{args.connections} over {args.sessions} sessions, {args.seconds} s x {args.runs} runs (interleaved), medians; "
        "our FastCGI pool on a Unix socket behind nginx, memcache sessions.",
        "",
        "| workers | page | req/s | p99 ms | req/s / memory | p99 / memory | statements / request | checkouts / request | transactions / request | timeouts, errors (all runs) | req/s runs |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for workers in args.workers:
        peer = next((c for c in cases if c.workers == workers and c.app == "memory" and c.runs), None)
        for case in (c for c in cases if c.workers == workers and c.runs):
            rps = statistics.median(r.rps for r in case.runs)
            p99 = statistics.median(r.p99_ms for r in case.runs)
            if peer is None or peer is case:
                ratios = "1 | 1" if peer is case else "— | —"
            else:
                ratios = f"{rps / statistics.median(r.rps for r in peer.runs):.2f} | {p99 / statistics.median(r.p99_ms for r in peer.runs):.2f}"
            requests_ = sum(c.requests for c in case.counts) or 1
            per = [sum(getattr(c, name) for c in case.counts) / requests_ for name in ("statements", "checkouts", "transactions")]
            measured = f"{per[0]:.2f} | {per[1]:.2f} | {per[2]:.2f}" if case.app == "database" else f"{per[0]:.0f} | {per[1]:.0f} | —"
            runs = ", ".join(f"{r.rps:.0f}" for r in case.runs)
            errors = f"{sum(r.timeouts for r in case.runs)}, {sum(r.errors for r in case.runs)}"
            lines.append(f"| {workers} | {case.app} | {rps:.0f} | {p99:.2f} | {ratios} | {measured} | {errors} | {runs} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--nginx", default="/usr/sbin/nginx")
    parser.add_argument("--wrk", default="/usr/bin/wrk")
    parser.add_argument("--memcached", default="/usr/bin/memcached")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=32, help="browser sessions the reloads are spread over")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4], help="worker processes of the pool (one case each)")
    parser.add_argument("--output", type=Path, default=RESULTS / "database.md")
    parser.add_argument("--quick", action="store_true", help="1 run of 3 s per case, printed, nothing written")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.runs, args.warmup, args.sessions = 3, 1, 1, 16
    started = datetime.datetime.now()
    args.raw = None if args.quick else RESULTS / "raw" / f"database-{started:%Y%m%d-%H%M%S}"
    if args.raw is not None:
        args.raw.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix="nagare-bench-database-"))

    cases = [Case(app, workers) for workers in args.workers for app in CASES]
    bench = DatabaseBench(args, tmp)
    try:
        bench.start()
        assert bench.postgresql is not None
        about = versions(args, str(bench.postgresql.bin))
        for number in range(1, args.runs + 1):
            print(f"run {number}/{args.runs}", flush=True)
            for case in cases:
                bench.run(case)
    finally:
        bench.stop()
    text = table(cases, args, started, about)
    print("\n" + text)
    if args.quick:
        return
    args.output.write_text(f"# The demo's data page with and without a database\n\nWritten by `python bench/database.py`.\n\n{text}")
    (args.raw / "runs.json").write_text(json.dumps(
        [{"app": c.app, "workers": c.workers,
          "runs": [{k: getattr(r, k) for k in ("rps", "p99_ms", "timeouts", "errors")} for r in c.runs],
          "counts": [vars(n) for n in c.counts]} for c in cases],
        indent=1,
    ))
    print(f"written to {args.output} (raw runs in {args.raw}; servers' logs in {tmp})")


if __name__ == "__main__":
    main()
