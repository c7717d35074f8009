"""A click of the demo counter in process: what it costs, phase by phase, and the bytes each state takes.

    .venv/bin/python bench/click.py [--clicks 300] [--rounds 9] [--store memory|memcached] [--no-database] [--json]
    .venv/bin/python bench/click.py --against /tmp/before/src [--rounds 40 --clicks 50]   # this tree against another
    .venv/bin/python bench/click.py --profile [--sort tottime]   # a cProfile of the clicks, no timings

The demo is loaded as `nagare-admin serve demo` loads it (`nagare.wsgi.loader.load` on its
application file: `[database]` on a SQLite file of a temp dir unless `--no-database`), with
memory sessions (`[sessions] type = standalone`) or, with `--store memcached`, a memcached this
script starts on a free loopback port. No HTTP server: this thread calls the WSGI application
with a minimal environ, each click a GET of the `++` link of the previous page (the new state's
URL), so that every click locks the session, loads its state, runs the callback, renders the
page and stores a new state.

The clicks run in batches of `--clicks`, `--rounds` times, plain batches and measured batches
interleaved. `total_us` is the median, over the plain batches, of the CPU time of one click (this
thread's `time.thread_time_ns()` around the WSGI call and the iteration of its body, ~3 µs of the
clock itself included; building the environ and finding the next link are not counted: on a
machine shared with other work the CPU time varies less than the elapsed time); `wall_us` the
same clicks' elapsed time (a store's answers included). The measured batches wrap a few
functions of the request path (here, not in the package) with `time.perf_counter_ns()`; each
part is its share of the measured batches' elapsed time, times `total_us`:

- `lock+fetch`: `Sessions.open` up to the state's bytes (the lock, `_fetch`): a store's round trip;
- `unpickle`: `Serializer.loads` (MAC checks, unpickling the state and the shared objects);
- `callbacks`: `Callbacks.run` (the `++` action);
- `render`: `WSGIApp.render_page` without what follows (the renderer made, the component tree
  rendered to elements);
- `serialise`: the renderer's `page()` (head, the tree to HTML bytes);
- `pickle+sign`: `Serializer.dumps`;
- `store`: the backend's `_store`, and the release of its lock;
- `webob/rest`: the rest of `total_us` (WebOb's request and response, the dispatch, the
  security context, the locale, the database transaction, the answer's iteration).

With a networked store the parts are shares of the elapsed time: `lock+fetch` and `store` then
hold the waits for the store's answers, in µs of the CPU total (compare them between runs, not
with `total_us`).

`best_us`: the least loaded plain batch. `state_bytes`: for each tab of the demo, the bytes of
the state stored once the tab is shown (its MAC included; the session's shared objects are
stored apart: `shared_bytes`).

`--json` prints `{"total_us": float, "wall_us": float, "best_us": float, "parts_us": {name:
float}, "state_bytes": {tab: int}, "shared_bytes": {tab: int}, "batches_us": [float], "source":
str}`; without it, a table.

`--against SRC` runs this tree's package (or the PYTHONPATH's) and SRC's (another tree's `src`:
`git worktree add /tmp/before REV`) in two worker processes of this script, their batches
alternated round by round (the order swapped every round), and prints both, with the median of
the rounds' differences: on a machine whose load changes from one second to the next, the
paired difference moves less than either median. `--json` then prints `{"this": ..., "against":
...}`, "this" with `paired_difference_us`.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import inspect
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
# Not this script's folder: an `import click` (the command-line library) would find this file.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(BENCH / "apps"))  # demo_instances: a DemoApp of its own per load
sys.path.insert(1, str(BENCH.parent))  # tests.support (after the PYTHONPATH's nagare: none under the repo's root)
from bench.browser import Browser  # noqa: E402

APPLICATION = """[application]
path = python demo_instances:{name}
name = {name}
debug = off
"""
DATABASE = """
[database]
activated = on
uri = sqlite:///{folder}/demo.db
metadata = nagare.demo.wiki:metadata
populate = nagare.demo.wiki:populate
"""
PARTS = ("lock+fetch", "unpickle", "callbacks", "render", "serialise", "pickle+sign", "store", "webob/rest")


class Phases:
    """Wraps functions of the request path to add their time to named counters (outermost calls only)."""

    def __init__(self) -> None:
        self.ns: dict[str, int] = dict.fromkeys(PARTS, 0)
        self.on = False
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, attribute: str, name: str, minus: tuple[str, ...] = ()) -> None:
        """`owner.attribute` counted in `name`, less what the `minus` counters gained meanwhile."""
        own = attribute in vars(owner)
        original = inspect.getattr_static(owner, attribute)
        function = original.__func__ if isinstance(original, staticmethod) else getattr(owner, attribute)
        ns, depth = self.ns, [0]

        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.on or depth[0]:
                return function(*args, **kwargs)
            depth[0] += 1
            before = [ns[m] for m in minus]
            start = time.perf_counter_ns()
            try:
                return function(*args, **kwargs)
            finally:
                spent = time.perf_counter_ns() - start
                depth[0] -= 1
                ns[name] += spent - sum(ns[m] - b for m, b in zip(minus, before))

        setattr(owner, attribute, staticmethod(timed) if isinstance(original, staticmethod) else timed)
        self._undo.append(lambda: setattr(owner, attribute, original) if own else delattr(owner, attribute))

    def wrap_context(self, owner: Any, attribute: str, enter: str, leave: str) -> None:
        """A context manager method: its entering counted in `enter`, its leaving in `leave`."""
        own = attribute in vars(owner)
        original = getattr(owner, attribute)
        ns = self.ns

        @contextlib.contextmanager
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            if not self.on:
                with original(*args, **kwargs) as value:
                    yield value
                return
            start = time.perf_counter_ns()
            manager = original(*args, **kwargs)
            value = manager.__enter__()
            ns[enter] += time.perf_counter_ns() - start
            try:
                yield value
            except BaseException:
                start = time.perf_counter_ns()
                if not manager.__exit__(*sys.exc_info()):
                    raise
            else:
                start = time.perf_counter_ns()
                manager.__exit__(None, None, None)
            finally:
                ns[leave] += time.perf_counter_ns() - start

        setattr(owner, attribute, timed)
        self._undo.append(lambda: setattr(owner, attribute, original) if own else delattr(owner, attribute))

    def undo(self) -> None:
        for undo in reversed(self._undo):
            undo()


def load_demo(folder: Path, name: str, sessions: str, database: bool) -> Any:
    from nagare.config import application, publisher
    from nagare.wsgi.loader import load

    (folder / f"{name}.cfg").write_text(APPLICATION.format(name=name) + (DATABASE.format(folder=folder) if database else ""))
    (folder / f"{name}-publisher.cfg").write_text(f"[sessions]\n{sessions}")
    return load(application.read(str(folder / f"{name}.cfg")), publisher.read(str(folder / f"{name}-publisher.cfg")))


def instrument(loaded: Any) -> Phases:
    """The phases of `loaded`'s requests: its sessions manager's and the package's functions wrapped."""
    from nagare.callbacks import Callbacks
    from nagare.sessions.serializer import Serializer
    from nagare.wsgi.app import WSGIApp

    phases = Phases()
    manager = loaded.sessions
    phases.wrap(Serializer, "loads", "unpickle")
    phases.wrap(Serializer, "dumps", "pickle+sign")
    phases.wrap(Callbacks, "run", "callbacks")
    phases.wrap(type(manager), "_store", "store")
    phases.wrap(type(manager), "_fetch", "lock+fetch")
    phases.wrap_context(type(manager), "_lock", "lock+fetch", "store")
    renderer = loaded.app.renderer_factory
    phases.wrap(renderer, "page", "serialise", minus=("pickle+sign", "store"))
    phases.wrap(WSGIApp, "render_page", "render", minus=("serialise", "pickle+sign", "store"))
    return phases


def batch(browser: Browser, phases: Phases, clicks: int, measured: bool) -> dict[str, Any]:
    """One batch of clicks: its CPU and elapsed ns, and with `measured` the ns of each part."""
    phases.on = measured
    for key in phases.ns:
        phases.ns[key] = 0
    browser.elapsed_ns = browser.cpu_ns = 0
    for _ in range(clicks):
        browser.click()
    phases.on = False
    return {"cpu": browser.cpu_ns, "wall": browser.elapsed_ns, "parts": dict(phases.ns) if measured else None}


def summary(batches: list[dict[str, Any]], clicks: int, states: dict[str, int], shared: dict[str, int]) -> dict[str, Any]:
    """The medians of the batches of one tree: the plain ones give the totals, the measured ones the parts' shares."""
    plain = [b for b in batches if b["parts"] is None]
    measured = [b for b in batches if b["parts"] is not None]
    total = statistics.median(b["cpu"] for b in plain) / clicks / 1e3
    shares = []
    for b in measured:
        share = {key: value / b["wall"] for key, value in b["parts"].items() if key != "webob/rest"}
        share["webob/rest"] = 1 - sum(share.values())
        shares.append(share)
    return {
        "total_us": round(total, 1),
        "wall_us": round(statistics.median(b["wall"] for b in plain) / clicks / 1e3, 1),
        # the least loaded batch: the cost of a click when nothing else ran on its core
        "best_us": round(min(b["cpu"] for b in plain) / clicks / 1e3, 1),
        "parts_us": {key: round(statistics.median(share[key] for share in shares) * total, 1) for key in PARTS},
        "state_bytes": states,
        "shared_bytes": shared,
        "batches_us": [round(b["cpu"] / clicks / 1e3, 1) for b in plain],
    }


def state_sizes(loaded: Any) -> tuple[dict[str, int], dict[str, int]]:
    """The bytes of the state (and of the shared objects) stored once each tab of the demo is shown."""
    from nagare.demo.app import Demo

    manager = type(loaded.sessions)
    original, own = manager._store, "_store" in vars(manager)
    last: dict[str, int] = {}

    def recording(self: Any, lease: Any, state_id: int, secure_id: str, state: bytes, shared: bytes) -> None:
        last["state"], last["shared"] = len(state), len(shared)
        original(self, lease, state_id, secure_id, state, shared)

    manager._store = recording  # type: ignore[method-assign]
    try:
        browser = Browser(loaded.wsgi, f"/{loaded.name}")
        states, shared = {}, {}
        for tab in Demo.TABS:
            browser.click(f"tab-{tab}")
            states[tab], shared[tab] = last["state"], last["shared"]
    finally:
        if own:
            manager._store = original  # type: ignore[method-assign]
        else:
            del manager._store
    return states, shared


def profile(browser: Browser, clicks: int, sort: str) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(clicks):
        browser.click()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats(sort).print_stats(45)


class Demo:
    """The demo loaded, warmed and instrumented in this process."""

    def __init__(self, folder: Path, sessions: str, database: bool) -> None:
        self.loaded = load_demo(folder, "clicks", sessions, database)
        self.browser = Browser(self.loaded.wsgi, f"/{self.loaded.name}")
        for _ in range(getattr(self.loaded.sessions, "nb_states", 20) + 50):  # warm: imports, caches, the window full
            self.browser.click()
        self.phases: Phases | None = None

    def batch(self, clicks: int, measured: bool) -> dict[str, Any]:
        if self.phases is None:
            self.phases = instrument(self.loaded)
        return batch(self.browser, self.phases, clicks, measured)

    def sizes(self) -> tuple[dict[str, int], dict[str, int]]:
        if self.phases is not None:
            self.phases.undo()
            self.phases = None
        return state_sizes(self.loaded)


class Worker:
    """This script in another process (`--worker`), maybe on another tree of the package (`PYTHONPATH`)."""

    def __init__(self, args: argparse.Namespace, sessions: str, pythonpath: str | None) -> None:
        env = dict(os.environ)
        if pythonpath is not None:
            env["PYTHONPATH"] = pythonpath
        command = [sys.executable, __file__, "--worker", sessions]
        if args.no_database:
            command.append("--no-database")
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.source = self.ask({"do": "source"})

    def ask(self, command: dict[str, Any]) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker ({self.process.args}) ended: exit status {self.process.wait()}")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def serve(sessions: str, database: bool) -> None:
    """`--worker`: one JSON command a line on stdin, one JSON answer a line on stdout."""
    import nagare

    out = sys.stdout
    sys.stdout = sys.stderr  # whatever the application prints stays off the answers
    with tempfile.TemporaryDirectory(prefix="nagare-click-") as tmp:
        demo = Demo(Path(tmp), sessions, database)
        for line in sys.stdin:
            command = json.loads(line)
            if command["do"] == "source":
                answer: Any = os.path.dirname(nagare.__file__)
            elif command["do"] == "batch":
                answer = demo.batch(command["clicks"], command["measured"])
            else:
                answer = demo.sizes()
            out.write(json.dumps(answer) + "\n")
            out.flush()


def table(result: dict[str, Any], other: dict[str, Any] | None = None) -> str:
    lines = ["| part | µs / click |" + (" before | after − before |" if other else ""), "|---|---|" + ("---|---|" if other else "")]
    rows = [*((key, "parts_us", key) for key in PARTS), ("total (CPU)", "total_us", None), ("elapsed", "wall_us", None)]
    for label, field, key in rows:
        mine = result[field] if key is None else result[field][key]
        line = f"| {label} | {mine:.0f} |"
        if other:
            theirs = other[field] if key is None else other[field][key]
            line += f" {theirs:.0f} | {mine - theirs:+.0f} |"
        lines.append(line)
    lines += ["", "| tab | state bytes | shared bytes |" + (" state bytes before |" if other else ""),
              "|---|---|---|" + ("---|" if other else "")]
    for tab, size in result["state_bytes"].items():
        line = f"| {tab} | {size:,} | {result['shared_bytes'][tab]:,} |"
        if other:
            line += f" {other['state_bytes'].get(tab, 0):,} |"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clicks", type=int, default=300, help="clicks per batch")
    parser.add_argument("--rounds", type=int, default=9, help="plain batches (and as many measured ones)")
    parser.add_argument("--store", choices=("memory", "memcached"), default="memory")
    parser.add_argument("--no-database", action="store_true", help="without the demo's [database]")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--against", metavar="SRC", help="also the package of SRC (another tree's src/), the batches alternated")
    parser.add_argument("--profile", action="store_true", help="a cProfile of --clicks clicks instead of the timings")
    parser.add_argument("--sort", default="tottime", help="the profile's order (pstats' keys)")
    parser.add_argument("--worker", metavar="SESSIONS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        serve(args.worker, not args.no_database)
        return

    import nagare

    with tempfile.TemporaryDirectory(prefix="nagare-click-") as tmp:
        folder = Path(tmp)
        memcached = None
        if args.store == "memcached":
            from tests.support.memcached import Memcached

            memcached = Memcached(folder)
            sessions = f"type = memcache\nhost = 127.0.0.1:{memcached.port}\n"
        else:
            sessions = "type = standalone\n"
        try:
            if args.profile:
                profile(Demo(folder, sessions, not args.no_database).browser, args.clicks, args.sort)
                return
            if args.against:
                workers = [Worker(args, sessions, None), Worker(args, sessions, args.against)]
                batches: list[list[dict[str, Any]]] = [[], []]
                for number in range(args.rounds):
                    for index in ((0, 1) if number % 2 == 0 else (1, 0)):
                        for measured in (False, True):
                            answer = workers[index].ask({"do": "batch", "clicks": args.clicks, "measured": measured})
                            batches[index].append(answer)
                results = [summary(b, args.clicks, *w.ask({"do": "sizes"})) for b, w in zip(batches, workers)]
                for worker, result in zip(workers, results):
                    result["source"] = worker.source
                    worker.close()
                # Each round ran both trees back to back: the median of the rounds' differences
                # follows the machine's load less than the difference of the medians.
                mine, theirs = results[0]["batches_us"], results[1]["batches_us"]
                results[0]["paired_difference_us"] = round(statistics.median(a - b for a, b in zip(mine, theirs)), 1)
            else:
                demo = Demo(folder, sessions, not args.no_database)
                batches_ = []
                for _ in range(args.rounds):
                    for measured in (False, True):
                        batches_.append(demo.batch(args.clicks, measured))
                results = [summary(batches_, args.clicks, *demo.sizes())]
                results[0]["source"] = os.path.dirname(nagare.__file__)
        finally:
            if memcached is not None:
                memcached.stop()

    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else {"this": results[0], "against": results[1]}))
        return
    print(f"{args.store} sessions, {'no ' if args.no_database else ''}[database], {args.rounds} × {args.clicks} clicks")
    for result in results:
        print(f"{result['source']}: {result['total_us']:.0f} µs of CPU a click (median; best batch {result['best_us']:.0f}; "
              f"batches {', '.join(f'{t:.0f}' for t in result['batches_us'])}), {result['wall_us']:.0f} µs elapsed")
    if len(results) > 1:
        print(f"this tree − the other, the median of the rounds' differences: {results[0]['paired_difference_us']:+.0f} µs a click")
    print()
    print(table(results[0], results[1] if len(results) > 1 else None))


if __name__ == "__main__":
    main()
