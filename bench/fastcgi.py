"""Our FastCGI pool against flup's fcgi_fork and uWSGI's FastCGI socket, behind a real nginx.

    python bench/fastcgi.py [--peers-venv /tmp/bench-venv] [--seconds 10] [--runs 3] [--connections 32] [--workers 4]

Run it with the project's venv; the peers come from another one (`python3 -m venv /tmp/bench-venv
&& /tmp/bench-venv/bin/pip install flup uwsgi`), never from the project's dependencies.

Everything is started here, in a temp dir, on free loopback ports: an nginx of its own (one
worker, no access log), then each FastCGI server with the same number of worker processes,
behind it over three transports:
- TCP: `fastcgi_pass 127.0.0.1:PORT`, a new connection per request;
- Unix socket: `fastcgi_pass unix:PATH`;
- TCP + keepalive: an `upstream` with `keepalive 16` and `fastcgi_keep_conn on`: nginx keeps up to
  16 idle connections open, more than the workers; a pool whose worker stays with its idle
  connection runs out of workers (wrk counts timeouts, the p99 explodes).
Each variant is loaded with wrk (`-t2 --latency`); the runs are interleaved (run 1 of every
variant, then run 2...) so that the machine's noise is shared; the table gives the medians and
the ratios to uWSGI on the same transport.

Applications: bench/apps/hello.py for the three servers, and the demo counter (`++` clicks spread
over browser sessions, the approach of standalone_counter.py) with memcache sessions on ours only,
compared with the standalone publisher (same memcached, no nginx) in the same run.
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

import lxml.html
import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
from tests.support.server import NagareServer, free_port, wait_for_port  # noqa: E402

WRK_THREADS = 2
HELLO = BENCH / "apps" / "hello.py"
RESULTS = BENCH / "results"

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
{user}pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    {upstream}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            include /etc/nginx/fastcgi_params;
            fastcgi_param PATH_INFO $fastcgi_script_name;
            {keep_conn}fastcgi_pass {target};
        }}
    }}
}}
"""

# flup has no command line: this runs its pre-forked server on the address of argv[1].
FLUP_RUNNER = """\
import sys
sys.path.insert(0, {apps!r})
from flup.server.fcgi_fork import WSGIServer
from hello import app
address, workers = sys.argv[1], int(sys.argv[2])
host, _, port = address.rpartition(":")
bind = address if address.startswith("/") else (host, int(port))
WSGIServer(app, bindAddress=bind, minSpare=workers, maxSpare=workers, maxChildren=workers).run()
"""

# Each request clicks `++` on the latest state of a session, the one of the previous answer's
# `++` link, as a browser does: a fixed link (standalone_counter.py) leaves the window of the
# nb_states most recent states after 20 clicks and is then answered with a 301 to a new page.
#: What the wrk scripts of the benches share (%-templates, as the scripts they go in): each thread
#: gets an id, the sessions it keeps (`ready`, their `cookies`), and counts its lost answers.
LUA_THREADS = """
local count, all = 0, {}
function setup(thread)
  thread:set("id", count)
  count = count + 1
  all[#all + 1] = thread
end
local ready, cookies = {}, {}
lost = 0  -- a global: done() reads it with thread:get
"""
LUA_DONE = """
function done(summary, latency, requests)
  local n = 0
  for _, thread in ipairs(all) do n = n + thread:get("lost") end
  io.write(string.format("Lost clicks: %%d\\n", n))
end
"""
# Each wrk thread owns its share of the sessions and never has two requests of one session in
# flight (they would measure its lock, polled every lock_poll_time, 0.1s, not the server).
LUA = """
local sessions = {%s}
""" + LUA_THREADS + """
function init(args)
  for k = 1, #sessions do
    if (k - 1) %% %d == id then
      local path, cookie = sessions[k][1], sessions[k][2]
      cookies[path:match("_s=(%%w+)")] = cookie
      ready[#ready + 1] = path
    end
  end
end
function request()
  local path = table.remove(ready, 1)
  if path == nil then return wrk.format("GET", "/demo/") end  -- every session lost
  return wrk.format("GET", path, {["Cookie"] = cookies[path:match("_s=(%%w+)")]})
end
function response(status, headers, body)
  local tag = body and body:match('<a[^>]-id="increase"[^>]->')
  local href = tag and tag:match('href="([^"]*)"')
  if status ~= 200 or href == nil then
    lost = lost + 1
    return
  end
  href = href:gsub("&amp;", "&")
  ready[#ready + 1] = href:sub(1, 1) == "/" and href or "/demo/" .. href
end
""" + LUA_DONE

TRANSPORTS = ("TCP", "Unix socket", "TCP + keepalive")
SERVERS = ("nagare", "flup", "uWSGI")
BASELINE = "baseline"  # our publisher from another source tree (--baseline): before/after a change


@dataclass
class Run:
    """One wrk run: what the table needs, and wrk's own output for bench/results/raw/."""

    rps: float
    p99_ms: float
    timeouts: int
    errors: int  # connect, read and write errors, non-2xx/3xx responses, counter clicks without a `++` link
    output: str


@dataclass
class Variant:
    app: str  # "hello" or "counter"
    server: str
    transport: str
    runs: list[Run] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.app}-{self.server}-{self.transport}".replace(" + ", "-").replace(" ", "-").lower()


def to_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, args: argparse.Namespace, script: Path | None = None, seconds: int | None = None) -> Run:
    command = [args.wrk, f"-t{WRK_THREADS}", f"-c{args.connections}", f"-d{seconds or args.seconds}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    connect, read, write, timeouts = (int(n) for n in sockets.groups()) if sockets else (0, 0, 0, 0)
    lost = re.search(r"Lost clicks: (\d+)", out)  # the counter's script: answers without a `++` link
    errors = connect + read + write + (int(non_2xx.group(1)) if non_2xx else 0) + (int(lost.group(1)) if lost else 0)
    return Run(rps, to_ms(*p99.groups()) if p99 else float("nan"), timeouts, errors, out)


class Process:
    """A command in its own process group, its output in a log file; `stop()` ends the group."""

    def __init__(self, command: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._file = open(log, "wb")
        self.popen = subprocess.Popen(
            command, stdout=self._file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0, warn: bool = True) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                if warn:
                    print(f"  {self.log.name}: still running after {timeout}s, killed", file=sys.stderr)
        try:  # workers left behind by a master that died or was killed
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()
        self._file.close()

    def tail(self) -> str:
        self._file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.secret_env = {"NAGARE_SECRET_FILE": str(tmp / "secret")}
        self.memcached: Process | None = None
        self.memcached_port = 0
        self.serial = 0  # a fresh directory, port and socket per start

    # -- the pieces ----------------------------------------------------------------------------

    def start_memcached(self) -> None:
        self.memcached_port = free_port()
        command = [self.args.memcached, "-l", "127.0.0.1", "-p", str(self.memcached_port), "-U", "0", "-m", "256"]
        if os.geteuid() == 0:
            command += ["-u", "root"]  # memcached refuses to run as root without it
        self.memcached = Process(command, self.tmp / "memcached.log", self.tmp)
        wait_for_port(self.memcached_port, self.memcached.popen)

    def nginx(self, directory: Path, fastcgi: str, keepalive: bool) -> tuple[Process, int]:
        port = free_port()
        target = f"unix:{fastcgi}" if fastcgi.startswith("/") else fastcgi
        conf = NGINX_CONF.format(
            tmp=directory, port=port,
            # As root, nginx's workers would run as nobody: they could not reach a socket in the temp dir.
            user="user root;\n" if os.geteuid() == 0 else "",
            upstream=f"upstream backend {{ server {target}; keepalive 16; }}" if keepalive else "",
            keep_conn="fastcgi_keep_conn on;\n            " if keepalive else "",
            target="backend" if keepalive else target,
        )
        (directory / "nginx.conf").write_text(conf)
        command = [self.args.nginx, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", str(directory / "nginx-error.log")]
        process = Process(command, directory / "nginx.log", directory)
        wait_for_port(port, process.popen)
        return process, port

    def backend(self, server: str, app: str, address: str, directory: Path) -> Process:
        workers = self.args.workers
        env = dict(self.secret_env)
        if server == BASELINE:  # the same command, another source tree first on the path
            env["PYTHONPATH"] = str(self.args.baseline / "src")
        if server in ("nagare", BASELINE):
            if address.startswith("/"):
                listen = f"socket = {address}\n"
            else:
                host, _, port = address.rpartition(":")
                listen = f"host = {host}\nport = {port}\n"
            conf = f"[publisher]\ntype = fastcgi\n{listen}minSpare = 1\nmaxSpare = {workers}\nmaxChildren = {workers}\n"
            if app == "counter":
                conf += f"\n[sessions]\ntype = memcache\nhost = 127.0.0.1\nport = {self.memcached_port}\n"
                target = "demo"
            else:
                (directory / "hello.cfg").write_text(f"[application]\npath = file {HELLO}:app\nname = hello\n")
                target = str(directory / "hello.cfg")
            (directory / "pub.cfg").write_text(conf)
            command = [sys.executable, "-m", "nagare", "serve", "-c", str(directory / "pub.cfg"), target]
        elif server == "flup":
            (directory / "flup_server.py").write_text(FLUP_RUNNER.format(apps=str(HELLO.parent)))
            command = [str(Path(self.args.peers_venv) / "bin" / "python"), str(directory / "flup_server.py"), address, str(workers)]
        else:
            command = [
                str(Path(self.args.peers_venv) / "bin" / "uwsgi"), "--fastcgi-socket", address, "--wsgi-file", str(HELLO),
                "--processes", str(workers), "--master", "--disable-logging", "--die-on-term",
            ]
        return Process(command, directory / f"{server}.log", directory, env)

    # -- one variant, one run ------------------------------------------------------------------

    def run(self, variant: Variant) -> None:
        self.serial += 1
        directory = self.tmp / f"{self.serial:03d}-{variant.name}"
        directory.mkdir()
        address = str(directory / "fcgi.sock") if variant.transport == "Unix socket" else f"127.0.0.1:{free_port()}"
        backend = self.backend(variant.server, variant.app, address, directory)
        nginx = None
        try:
            nginx, port = self.nginx(directory, address, variant.transport.endswith("keepalive"))
            path = "/demo/" if variant.app == "counter" else "/hello/"
            base = f"http://127.0.0.1:{port}"
            wait_answers(base + path, backend)
            script = self.counter_script(base, directory) if variant.app == "counter" else None
            wrk(base + path, self.args, script, seconds=2)  # warm-up: imports, first states, nginx's connections
            # new sessions: the warm-up moved the old ones past their first links, which fall out
            # of the nb_states window after 20 clicks and answer 301 (not counted by wrk)
            script = self.counter_script(base, directory) if variant.app == "counter" else None
            result = wrk(base + path, self.args, script)
        finally:
            if nginx is not None:
                nginx.stop(signal.SIGQUIT)
            if variant.server == "flup":
                # Its master waits in select() without a timeout, which Python restarts after a
                # signal (PEP 475): it never sees its SIGTERM flag while idle.
                backend.stop(timeout=2, warn=False)
            else:
                backend.stop()
        self.record(variant, result)

    def run_standalone(self, variant: Variant) -> None:
        self.serial += 1
        directory = self.tmp / f"{self.serial:03d}-{variant.name}"
        directory.mkdir()
        (directory / "pub.cfg").write_text(f"[sessions]\ntype = memcache\nhost = 127.0.0.1\nport = {self.memcached_port}\n")
        server = NagareServer(["-c", str(directory / "pub.cfg"), "demo"], directory, env=self.secret_env)
        try:
            wrk(server.url + "/demo/", self.args, self.counter_script(server.url, directory), seconds=2)
            result = wrk(server.url + "/demo/", self.args, self.counter_script(server.url, directory))
        finally:
            server.stop()
        self.record(variant, result)

    def counter_script(self, base: str, directory: Path) -> Path:
        """A wrk script clicking `++` in --sessions browser sessions, round robin."""
        targets = []
        for _ in range(self.args.sessions):
            browser = requests.Session()
            page = browser.get(base + "/demo/", timeout=10)
            page.raise_for_status()
            href = lxml.html.fromstring(page.content).cssselect("#increase")[0].get("href")
            cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
            targets.append((f"/demo/{href}", cookie))
        script = directory / "clicks.lua"
        script.write_text(LUA % (", ".join(f'{{"{path}", "{cookie}"}}' for path, cookie in targets), WRK_THREADS))
        return script

    def record(self, variant: Variant, result: Run) -> None:
        variant.runs.append(result)
        raw = self.args.raw / f"{variant.name}-run{len(variant.runs)}.txt"
        raw.write_text(result.output)
        print(
            f"  {variant.app:7} {variant.server:10} {variant.transport:15} run {len(variant.runs)}: "
            f"{result.rps:8.0f} req/s  p99 {result.p99_ms:8.2f} ms  timeouts {result.timeouts}  errors {result.errors}",
            flush=True,
        )


def wait_answers(url: str, backend: Process, timeout: float = 30.0) -> None:
    """Until the backend answers 200 through nginx (nginx itself answers 502 until then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if backend.popen.poll() is not None:
            raise RuntimeError(f"{backend.log.name} exited with status {backend.popen.returncode}:\n{backend.tail()}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} does not answer 200 after {timeout}s:\n{backend.tail()}")


def memcache_sessions() -> bool:
    try:
        import nagare.sessions.memcache  # noqa: F401
    except ImportError:
        return False
    return True


def median(variant: Variant, attribute: str) -> float:
    return statistics.median(getattr(run, attribute) for run in variant.runs)


def table(variants: list[Variant], args: argparse.Namespace, started: datetime.datetime) -> str:
    lines = [
        f"{started:%Y-%m-%d}, {os.cpu_count()} cores ({platform.processor() or platform.machine()}), shared by wrk, nginx "
        f"and the server; {args.workers} workers each, wrk -t2 -c{args.connections}, {args.seconds}s x {args.runs} runs "
        "(interleaved), medians; ratios to uWSGI on the same transport (p99: lower is better).",
        "",
        "| app | server | transport | req/s | p99 ms | req/s / uWSGI | p99 / uWSGI | timeouts, errors (all runs) | req/s runs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    reference = {(v.app, v.transport): v for v in variants if v.server == "uWSGI" and v.runs}
    for v in variants:
        if v.server == "standalone" and v.runs:
            reference |= {("counter", t): v for t in (*TRANSPORTS, v.transport)}
    for v in variants:
        if not v.runs:
            continue
        rps, p99 = median(v, "rps"), median(v, "p99_ms")
        peer = reference.get((v.app, v.transport))
        if peer is not None and peer is not v:
            ratios = f"{rps / median(peer, 'rps'):.2f} | {p99 / median(peer, 'p99_ms'):.2f}"
        else:
            ratios = "1 | 1" if peer is v else "— | —"
        timeouts, errors = sum(r.timeouts for r in v.runs), sum(r.errors for r in v.runs)
        runs = ", ".join(f"{r.rps:.0f}" for r in v.runs)
        lines.append(f"| {v.app} | {v.server} | {v.transport} | {rps:.0f} | {p99:.2f} | {ratios} | {timeouts}, {errors} | {runs} |")
    if any(v.app == "counter" for v in variants):
        lines += ["", "Counter rows: ratios to the standalone publisher (HTTP, no nginx, same memcached), not to uWSGI."]
    before = {(v.app, v.transport): v for v in variants if v.server == BASELINE and v.runs}
    if before:
        lines += [
            "", f"This tree against the baseline ({args.baseline}), same run:", "",
            "| app | transport | req/s now / before | p99 now / before |", "|---|---|---|---|",
        ]
        for v in variants:
            old = before.get((v.app, v.transport))
            if v.server == "nagare" and v.runs and old is not None:
                lines.append(
                    f"| {v.app} | {v.transport} | {median(v, 'rps') / median(old, 'rps'):.2f} "
                    f"| {median(v, 'p99_ms') / median(old, 'p99_ms'):.2f} |"
                )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--peers-venv", default="/tmp/bench-venv", help="venv holding flup and uwsgi")
    parser.add_argument("--nginx", default="/usr/sbin/nginx")
    parser.add_argument("--wrk", default="/usr/bin/wrk")
    parser.add_argument("--memcached", default="/usr/bin/memcached")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4, help="worker processes of every server")
    parser.add_argument("--sessions", type=int, default=128, help="browser sessions the counter's clicks are spread over")
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS))
    parser.add_argument("--transports", nargs="+", choices=TRANSPORTS, default=list(TRANSPORTS))
    parser.add_argument("--no-counter", action="store_true", help="only the hello-world")
    parser.add_argument("--output", type=Path, default=RESULTS / "fastcgi.md")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout of this repository (git worktree add DIR REV): its publisher is measured too, in the same run"
    )
    args = parser.parse_args()
    started = datetime.datetime.now()
    args.raw = RESULTS / "raw" / f"fastcgi-{started:%Y%m%d-%H%M%S}"
    args.raw.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix="nagare-bench-fastcgi-"))

    servers = [*args.servers, BASELINE] if args.baseline else args.servers
    variants = [Variant("hello", s, t) for s in servers for t in args.transports]
    counter = not args.no_counter and "nagare" in args.servers
    if counter and not memcache_sessions():
        print("note: nagare.sessions.memcache is not importable: the demo counter is skipped")
        counter = False
    if counter:
        variants += [Variant("counter", s, t) for s in ("nagare", BASELINE) if s in servers for t in args.transports]
        variants.append(Variant("counter", "standalone", "HTTP (no nginx)"))

    bench = Bench(args, tmp)
    try:
        if counter:
            bench.start_memcached()
        for number in range(1, args.runs + 1):
            print(f"run {number}/{args.runs}", flush=True)
            for variant in variants:
                if variant.server == "standalone":
                    bench.run_standalone(variant)
                else:
                    bench.run(variant)
    finally:
        if bench.memcached is not None:
            bench.memcached.stop()
    text = table(variants, args, started)
    print("\n" + text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(f"# FastCGI servers behind nginx\n\nWritten by `python bench/fastcgi.py`.\n\n{text}")
    (args.raw / "runs.json").write_text(json.dumps(
        [{"app": v.app, "server": v.server, "transport": v.transport,
          "runs": [{k: getattr(r, k) for k in ("rps", "p99_ms", "timeouts", "errors")} for r in v.runs]} for v in variants],
        indent=1,
    ))
    print(f"written to {args.output} (raw runs in {args.raw}; servers' logs in {tmp})")


if __name__ == "__main__":
    main()
