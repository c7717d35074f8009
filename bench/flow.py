"""What resuming a flow costs: a request that resumes a `Task` against a plain action on the same page.

    python bench/flow.py [--rounds 15] [--requests 150] [--copies 500] [--histories 10 100 1000]
                         [--venvs .venv .venv-3.12 .venv-3.13] [--output bench/results/flow.md]
    python bench/flow.py --quick     # a ~20 s smoke run: 3 rounds, histories 10 and 1000, printed only

Everything runs on each CPython asked for (the venvs of the repository), each in a process of its
own (`--worker`, which prints JSON); this process writes the Markdown report.

In process, through the real `WSGIApp` with memory sessions (a minimal WSGI driver of its own:
one environ per request, a urlencoded POST, the session cookie), two applications show the same
page, a `util.Ask` form:

- **flow**: the root is a `Task` whose `go` loops `while True` over `comp.call(Ask('Step %d' % n))`,
  through a chain of plain helper functions: at depth N, N frames of user code hold the suspended
  call (`go`, then N-1 helpers each calling the next, the innermost doing `comp.call`);
- **plain**: the root component shows the `Ask`; its `on_answer` callback counts and shows the
  next `Ask` (`comp.becomes`), no flow.

Each session first answers the form `history` times (the flow has resumed that many times), then
the measured requests all answer the form of that last page (each one unpickles the same state,
runs the action, renders and stores a new state: the history stays the same during the measure,
as with the back button). The rounds are interleaved (every case once, then again, in a rotated
order); CPU time of the process per request, medians of the rounds; the bytes stored per state
come from the session's DEBUG log ("state N stored: X bytes").

Then, to say where the time goes: the parts of a request (timers wrapped around the action, the
unpickling, the pickling and the rendering); the resume alone, without HTTP
(`engine.resume(continuation, answer)` on freshly unpickled states: the flow re-enters its
frames, runs to its next `comp.call` and is captured again), against the plain page's
`comp.answer(answer)`, garbage collector off as in `timeit`; a resume taken apart (timers around
the engine's trace function, jumps and capture); and what switching `sys.settrace` costs.

The pages' classes are imported by their module name (`flow`), as an application's are: the
session's pickler stores objects of `__main__` by value.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import io
import json
import linecache
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from nagare import component, util
from nagare.callbacks import Callbacks
from nagare.component import Component
from nagare.config import loader
from nagare.flow import engine
from nagare.namespaces import xhtml5
from nagare.sessions.memory import Sessions
from nagare.sessions.serializer import Serializer
from nagare.wsgi.app import WSGIApp

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
DEPTHS = (1, 5, 20)
HISTORIES = (10, 100, 1000)
VENVS = (".venv", ".venv-3.12", ".venv-3.13")
NAME = "flowbench"

# --- the two pages ---------------------------------------------------------------------------------

# The helpers of the flow, level2 ... level20: plain functions of this module, each calling the
# next, until the one at the flow's depth calls. Written as source (registered in linecache, as a
# module's would be) rather than 19 functions by hand.
_HELPERS = "".join(
    f"def level{k}(comp, n, depth):\n"
    f"    if depth == {k}:\n"
    f"        return comp.call(util.Ask('Step %d' % n))\n"
    f"    return level{k + 1}(comp, n, depth)\n\n"
    for k in range(2, max(DEPTHS))
) + (
    f"def level{max(DEPTHS)}(comp, n, depth):\n"
    f"    return comp.call(util.Ask('Step %d' % n))\n"
)
_HELPERS_FILE = f"<{__file__} helpers>"
linecache.cache[_HELPERS_FILE] = (len(_HELPERS), None, _HELPERS.splitlines(True), _HELPERS_FILE)
exec(compile(_HELPERS, _HELPERS_FILE, "exec"), globals())
level2 = globals()["level2"]  # the first helper, by its name (for the readers of this file)


class Steps(component.Task):
    """The flow: asks, counts the answers, asks again, for ever."""

    def __init__(self, depth: int) -> None:
        self.depth = depth

    def go(self, comp: Component) -> None:
        n = 0
        while True:
            if self.depth == 1:
                comp.call(util.Ask("Step %d" % n))
            else:
                level2(comp, n, self.depth)
            n += 1


class Plain:
    """The same page without a flow: the Ask's on_answer callback counts and shows the next Ask."""

    def __init__(self) -> None:
        self.n = 0

    def answered(self, comp: Component, answer: object) -> None:
        self.n += 1
        comp.becomes(util.Ask("Step %d" % self.n))


def flow_root(depth: int) -> Component:
    return Component(Steps(depth))


def plain_root() -> Component:
    comp = Component(util.Ask("Step 0"))
    return comp.on_answer(Plain().answered, comp)


# --- the requests, through WSGIApp -----------------------------------------------------------------


class Sizes(logging.Handler):
    """Keeps the sizes of the session's "state N stored: X bytes, shared objects Y bytes" records."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.stored: list[tuple[int, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("state %d stored"):
            args: Any = record.args
            self.stored.append((args[1], args[2]))


def make_app(root_factory: Any) -> WSGIApp:
    settings = loader.check(None, Sessions.SETTINGS, {})
    sessions = Sessions(settings, Serializer(b"b" * 32, NAME), NAME)
    return WSGIApp(root_factory, name=NAME, sessions=sessions)


_FORM = re.compile(
    rb'name="_s" value="([0-9a-f]+)".*name="_c" value="(\d+)".*<p>Step (\d+)</p>'
    rb'<input type="text" value="[^"]*" name="(_action\d+)"> <input type="submit" value="Send" name="(_action\d+)">'
)


class Browser:
    """One session of one application: GETs the page, then POSTs answers to its Ask form."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.cookie = ""
        self.status = ""
        self.headers: list[tuple[str, str]] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        self.status, self.headers = status, headers

    def request(self, method: str, body: bytes = b"") -> bytes:
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "/t",
            "PATH_INFO": "/",
            "QUERY_STRING": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "localhost",
            "HTTP_COOKIE": self.cookie,
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        page = b"".join(self.app(environ, self.start_response))
        if not self.status.startswith("200"):
            raise RuntimeError(f"{method}: {self.status}\n{page.decode(errors='replace')[:2000]}")
        for name, value in self.headers:
            if name == "Set-Cookie":
                self.cookie = value.split(";")[0]
        return page


def answer_of(page: bytes, typed: str = "x") -> tuple[bytes, int]:
    """The POST body answering the Ask form of `page`, and the step it shows."""
    match = _FORM.search(page)
    if match is None:
        raise RuntimeError(f"no Ask form in the page:\n{page.decode(errors='replace')[:2000]}")
    s, c, step, text, submit = (g.decode() for g in match.groups())
    return urlencode({"_s": s, "_c": c, text: typed, submit: "Send"}).encode(), int(step)


class Case:
    """One application (flow at a depth, or plain) in one session, `history` answers into it."""

    def __init__(self, kind: str, depth: int, history: int, root: Callable[[], Component] | None = None) -> None:
        self.kind, self.depth, self.history = kind, depth, history
        self.app = make_app(root or ((lambda: flow_root(depth)) if kind == "flow" else plain_root))
        self.browser = Browser(self.app)
        page = self.browser.request("GET")
        for _ in range(history):
            page = self.browser.request("POST", answer_of(page)[0])
        self.body, step = answer_of(page)
        if step != history:
            raise RuntimeError(f"{self.label}: the page shows step {step} after {history} answers")
        self.expected = b"<p>Step %d</p>" % (history + 1)
        self.times: list[float] = []  # CPU µs per request, one per round

    @property
    def label(self) -> str:
        return f"flow depth {self.depth}" if self.kind == "flow" else "plain"

    def run(self, requests: int, clock: Callable[[], float] = time.process_time) -> float:
        """Answer the form `requests` times; the mean time per request in µs."""
        request, body, expected = self.browser.request, self.body, self.expected
        start = clock()
        for _ in range(requests):
            if expected not in request("POST", body):
                raise RuntimeError(f"{self.label}, history {self.history}: the answer did not show step {self.history + 1}")
        return (clock() - start) / requests * 1e6

    def stored(self) -> tuple[int, int]:
        """(state bytes, shared bytes) stored by one more request, from the session's DEBUG log."""
        log = self.app.sessions.log  # type: ignore[union-attr]
        sizes, level = Sizes(), log.level
        log.addHandler(sizes)
        log.setLevel(logging.DEBUG)
        try:
            self.browser.request("POST", self.body)
        finally:
            log.removeHandler(sizes)
            log.setLevel(level)
        if len(sizes.stored) != 1:
            raise RuntimeError(f"{self.label}: {len(sizes.stored)} states stored by one request")
        return sizes.stored[0]


def rotated(items: list[Any], r: int) -> list[Any]:
    return items[r % len(items):] + items[: r % len(items)]


def http(histories: list[int], rounds: int, requests: int) -> list[dict[str, Any]]:
    """CPU µs per request of every case, interleaved rounds; and the bytes each stores."""
    cases = [Case("plain", 0, h) for h in histories] + [Case("flow", d, h) for h in histories for d in DEPTHS]
    for case in cases:  # warm up: the engine's caches (fingerprints, resume lines), the pickler's
        case.run(max(1, requests // 10))
    for r in range(rounds):
        for case in rotated(cases, r):
            gc.collect()
            case.times.append(case.run(requests))
    return [
        {"kind": c.kind, "depth": c.depth, "history": c.history, "times": c.times, "stored": c.stored()} for c in cases
    ]


class Timed:
    """Accumulates the time spent in some functions, wrapped in place while it is active."""

    def __init__(self, *targets: tuple[Any, str]) -> None:
        self.targets = targets
        self.ns: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self.saved: list[tuple[Any, str, Any]] = []

    def wrap(self, name: str, f: Any) -> Any:
        clock = time.perf_counter_ns

        def timed(*args: Any, **kw: Any) -> Any:
            start = clock()
            try:
                return f(*args, **kw)
            finally:
                self.ns[name] = self.ns.get(name, 0) + clock() - start
                self.calls[name] = self.calls.get(name, 0) + 1

        return timed

    def __enter__(self) -> Timed:
        for owner, name in self.targets:
            f = getattr(owner, name)
            self.saved.append((owner, name, owner.__dict__[name]))
            setattr(owner, name, self.wrap(name, f))
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, f in self.saved:
            setattr(owner, name, f)

    def reset(self) -> None:
        self.ns.clear()
        self.calls.clear()


def request_parts(rounds: int, requests: int) -> dict[str, dict[str, float]]:
    """Where the time of a request goes (wall µs, median of rounds, history 10): the action (the
    flow's resume), unpickling, pickling, rendering (without the pickling) and the rest."""
    cases = [Case("plain", 0, 10)] + [Case("flow", d, 10) for d in DEPTHS]
    medians: dict[str, dict[str, float]] = {}
    samples: dict[str, dict[str, list[float]]] = {case.label: {} for case in cases}
    with Timed((WSGIApp, "__call__"), (Callbacks, "run"), (Serializer, "loads"), (Serializer, "dumps"), (WSGIApp, "render_page")) as timed:
        for case in cases:
            case.run(max(1, requests // 10))
        for r in range(rounds):
            for case in rotated(cases, r):
                gc.collect()
                timed.reset()
                case.run(requests, time.perf_counter)
                us = {name: ns / requests / 1000 for name, ns in timed.ns.items()}
                parts = {
                    "request": us["__call__"],
                    "action": us["run"],
                    "loads": us["loads"],
                    "dumps": us["dumps"],
                    "render": us["render_page"] - us["dumps"],
                }
                parts["rest"] = parts["request"] - sum(v for k, v in parts.items() if k != "request")
                for name, value in parts.items():
                    samples[case.label].setdefault(name, []).append(value)
    for label, values_of in samples.items():
        medians[label] = {name: statistics.median(values) for name, values in values_of.items()}
    return medians


# --- the resume alone ------------------------------------------------------------------------------


def pickled_state(root: Component) -> tuple[Serializer, bytes, bytes]:
    """`root` rendered once (a Task starts and suspends), then pickled as a session stores it."""
    callbacks = Callbacks()
    h = xhtml5.Renderer(callbacks=callbacks, session_params={"_s": "0" * 32, "_c": "00001"}, static_url="/")
    h.page(root.render(h))
    serializer = Serializer(b"b" * 32, NAME)
    state, shared = serializer.dumps("0" * 32, (root, callbacks), {})
    return serializer, state, shared


def prepared(state: tuple[Serializer, bytes, bytes], flow: bool, copies: int) -> list[tuple[Any, ...]]:
    """`copies` unpickled copies of `state`, each as the call that answers it."""
    serializer, data, shared = state
    calls: list[tuple[Any, ...]] = []
    for _ in range(copies):
        loaded: Any = serializer.loads("0" * 32, data, shared)[0]
        root: Component = loaded[0]
        if flow:
            pending: Any = root._on_answer
            pending.cancel()  # what PendingCall does before it resumes
            calls.append((engine.resume, pending.continuation, "x", root))
        else:
            calls.append((root.answer, "x", root))
    return calls


def answer_all(calls: list[tuple[Any, ...]], flow: bool) -> float:
    """Answer every prepared copy (garbage collector off); CPU µs per answer."""
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        for f, *args, _root in calls:
            f(*args)
        elapsed = time.process_time() - start
    finally:
        gc.enable()
    for *_, root in calls[:: max(1, len(calls) // 10)]:
        if not isinstance(root.o, util.Ask) or root.o.msg != "Step 1" or (flow and root._on_answer.continuation is None):
            raise RuntimeError(f"the answer shows {root.o!r}, not the next Ask of a suspended flow")
    return elapsed / len(calls) * 1e6


def resume_times(rounds: int, copies: int) -> dict[str, Any]:
    """CPU µs per resume by depth, and per answer of the plain page (medians of rounds); the bytes of each state."""
    states = {"plain": pickled_state(plain_root())} | {f"flow {d}": pickled_state(flow_root(d)) for d in DEPTHS}
    times: dict[str, list[float]] = {key: [] for key in states}
    for key, state in states.items():  # warm up
        answer_all(prepared(state, key != "plain", 50), key != "plain")
    for r in range(rounds):
        for key in rotated(list(states), r):
            times[key].append(answer_all(prepared(states[key], key != "plain", copies), key != "plain"))
    return {
        "median_us": {key: statistics.median(values) for key, values in times.items()},
        "runs_us": times,
        "bytes": {key: len(state) + len(shared) for key, (_, state, shared) in states.items()},
    }


def resume_parts(rounds: int, copies: int, depth: int = 5) -> dict[str, float]:
    """Where a resume at `depth` goes (wall µs, medians): the trace function's calls, the jumps, the
    capture of the next suspension; the rest is the flow's own code, the checks of the frames'
    functions and sys.settrace. The wrappers add their own cost to each part."""
    state = pickled_state(flow_root(depth))
    samples: dict[str, list[float]] = {}
    original_jumper = engine._Resumer._jumper

    def jumper(self: Any, target: int, last: bool) -> Any:
        return timed.wrap("jump", original_jumper(self, target, last))

    # 3.12 and later resume with sys.monitoring events: their callbacks are the calls and jumps.
    monitored = engine._MONITORING is not None
    calls_of, jumps_of = ("started", "line") if monitored else ("on_call", "jump")
    targets = [(engine._MonitoredResumer, "started"), (engine._MonitoredResumer, "line")] if monitored else [(engine._Resumer, "on_call")]
    with Timed(*targets, (engine, "_capture")) as timed:
        if not monitored:
            engine._Resumer._jumper = jumper  # type: ignore[method-assign]
        try:
            answer_all(prepared(state, True, 50), True)
            for _ in range(rounds):
                calls = prepared(state, True, copies)
                timed.reset()
                gc.collect()
                gc.disable()
                start = time.perf_counter_ns()
                for f, *args, _root in calls:
                    f(*args)
                total = time.perf_counter_ns() - start
                gc.enable()
                parts = {
                    "resume": total,
                    "trace calls": timed.ns.get(calls_of, 0),
                    "jumps": timed.ns.get(jumps_of, 0),
                    "capture": timed.ns["_capture"],
                }
                parts["rest"] = total - parts["trace calls"] - parts["jumps"] - parts["capture"]
                for name, ns in parts.items():
                    samples.setdefault(name, []).append(ns / copies / 1000)
                samples.setdefault("trace calls n", []).append(timed.calls.get(calls_of, 0) / copies)
                samples.setdefault("jumps n", []).append(timed.calls.get(jumps_of, 0) / copies)
        finally:
            engine._Resumer._jumper = original_jumper  # type: ignore[method-assign]
    return {name: statistics.median(values) for name, values in samples.items()}


def toggle(number: int) -> float:
    """µs of one `sys.settrace(f)` + `sys.settrace(previous)`, as a resume does, from where it is called."""

    def trace(frame: Any, event: str, arg: Any) -> None:
        return None

    previous = sys.gettrace()
    start = time.perf_counter_ns()
    for _ in range(number):
        sys.settrace(trace)
        sys.settrace(previous)
    return (time.perf_counter_ns() - start) / number / 1000


class Toggler(Plain):
    """The plain page, whose on_answer also times `toggle` from where actions run (WSGIApp's stack)."""

    measured: list[float] = []

    def answered(self, comp: Component, answer: object) -> None:
        Toggler.measured.append(toggle(100))
        super().answered(comp, answer)


def toggler_root() -> Component:
    comp = Component(util.Ask("Step 0"))
    return comp.on_answer(Toggler().answered, comp)


def settrace_cost(functions: int = 200, number: int = 1000) -> dict[str, float]:
    """What switching the trace function on and off costs in an action, and then for each function
    run after it: from 3.12 (PEP 669), each change instruments again the code objects of every frame
    on the stack, and every code object run afterwards once."""
    case = Case("plain", 0, 0, toggler_root)
    Toggler.measured.clear()
    case.run(30)
    namespace: dict[str, Any] = {}
    exec("".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(functions)), namespace)
    fs = [namespace[f"f{i}"] for i in range(functions)]

    def each(tracing: bool) -> float:
        start = time.perf_counter_ns()
        for _ in range(number):
            if tracing:
                toggle(1)
            for f in fs:
                f(1)
        return (time.perf_counter_ns() - start) / number / 1000

    gc.disable()
    try:
        after = statistics.median((each(True) - each(False)) / functions for _ in range(5))
    finally:
        gc.enable()
    return {"in an action": statistics.median(Toggler.measured), "per function after": after}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Everything, on this interpreter."""
    return {
        "python": platform.python_version(),
        "http": http(args.histories, args.rounds, args.requests),
        "parts": request_parts(max(3, args.rounds // 2), args.requests),
        "resume": resume_times(args.rounds, args.copies),
        "resume parts": resume_parts(max(3, args.rounds // 2), args.copies),
        "settrace": settrace_cost(),
    }


def everywhere(args: argparse.Namespace) -> list[dict[str, Any]]:
    """`measure` on each CPython asked for, each in a process of its own."""
    results = []
    for venv in args.venvs:
        python = ROOT / venv / "bin" / "python"
        if not python.exists():
            print(f"{venv}: not there, skipped", file=sys.stderr)
            continue
        command = [str(python), __file__, "--worker", "--rounds", str(args.rounds), "--requests", str(args.requests),
                   "--copies", str(args.copies), "--histories", *map(str, args.histories)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            raise RuntimeError(f"{venv}: {done.stderr}")
        results.append(json.loads(done.stdout))
        print(f"{venv}: CPython {results[-1]['python']} measured", file=sys.stderr)
    return results


# --- the report ------------------------------------------------------------------------------------


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}, {platform.machine()}), {platform.system()} {platform.release()}"


def report(results: list[dict[str, Any]], args: argparse.Namespace, started: datetime.datetime) -> str:
    pythons = [r["python"] for r in results]
    lines = [
        "# Flow resumption: a request that resumes a flow against a plain action on the same page",
        "",
        "Written by `python bench/flow.py" + (" --quick" if args.quick else "") + "`.",
        "",
        f"{started:%Y-%m-%d %H:%M}, {machine()}; CPython {', '.join(pythons)}, each in a process of its own; "
        f"memory sessions; {args.rounds} interleaved rounds of {args.requests} requests per case; "
        "CPU time of the process (other processes on the machine do not count), medians of the rounds.",
        "",
        "## Requests through WSGIApp",
        "",
        "Each request answers the Ask form of the page reached after `history` answers: unpickle the state, run the "
        "action (resume the flow, or call on_answer), render, pickle and store. Extra: flow minus plain, same history "
        "and CPython: the median of the rounds' differences (each round runs them one after the other). Bytes: "
        "state + shared objects, as the session's DEBUG log gives them.",
        "",
        "| history | page | " + " | ".join(f"{p} µs (extra)" for p in pythons) + " | bytes stored (extra) |",
        "|---|---|" + "---|" * len(pythons) + "---|",
    ]
    rows = [(c["kind"], c["depth"], c["history"]) for c in results[0]["http"]]
    rows.sort(key=lambda row: (row[2], row[1]))

    def case(result: dict[str, Any], kind: str, depth: int, history: int) -> dict[str, Any]:
        return next(c for c in result["http"] if (c["kind"], c["depth"], c["history"]) == (kind, depth, history))

    for kind, depth, history in rows:
        cells = []
        sizes = []
        for result in results:
            this, plain = case(result, kind, depth, history), case(result, "plain", 0, history)
            median = statistics.median(this["times"])
            cells.append(f"{median:.0f}" if kind == "plain" else f"{median:.0f} ({extra_us(this, plain):+.0f})")
            size, base_size = sum(this["stored"]), sum(plain["stored"])
            sizes.append(f"{size}" if kind == "plain" else f"{size} ({size - base_size:+d})")
        label = "plain" if kind == "plain" else f"flow, depth {depth}"
        shown = sizes[0] if len(set(sizes)) == 1 else " / ".join(sizes)
        lines.append(f"| {history} | {label} | " + " | ".join(cells) + f" | {shown} |")
    lines += [
        "",
        "The rounds (µs per request, in the order they ran):",
        "",
        "| CPython | history | page | rounds |",
        "|---|---|---|---|",
    ]
    for result in results:
        for c in sorted(result["http"], key=lambda c: (c["history"], c["depth"])):
            label = "plain" if c["kind"] == "plain" else f"flow, depth {c['depth']}"
            lines.append(f"| {result['python']} | {c['history']} | {label} | {', '.join(f'{t:.0f}' for t in c['times'])} |")
    lines += [
        "",
        "## Where the time of a request goes",
        "",
        "History 10, wall µs (the functions wrapped with timers, not the rounds above), medians: the action "
        "(`Callbacks.run`: the flow's resume), unpickling and pickling the state (`Serializer.loads`/`dumps`), "
        "rendering (`render_page` without the pickling), the rest (WebOb, the session, the response).",
        "",
        "| CPython | page | request | action | loads | dumps | render | rest |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for label, p in result["parts"].items():
            lines.append(
                f"| {result['python']} | {label} | {p['request']:.0f} | {p['action']:.0f} | {p['loads']:.0f} "
                f"| {p['dumps']:.0f} | {p['render']:.0f} | {p['rest']:.0f} |"
            )
    lines += [
        "",
        "## The resume alone (no HTTP)",
        "",
        f"On freshly unpickled states, {args.copies} per round, {args.rounds} interleaved rounds, garbage collector off, "
        "CPU µs: `engine.resume(continuation, answer)` (check the frames' functions, re-enter the frames under the "
        "trace function, run to the next `comp.call`, capture it) for the flow; `comp.answer(answer)` (its on_answer "
        "callback) for the plain page. Bytes: the state stored after the first rendering.",
        "",
        "| CPython | plain µs | depth 1 µs | depth 5 µs | depth 20 µs | µs per frame (5 → 20) | bytes plain / 1 / 5 / 20 |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        m, b = result["resume"]["median_us"], result["resume"]["bytes"]
        lines.append(
            f"| {result['python']} | {m['plain']:.1f} | {m['flow 1']:.1f} | {m['flow 5']:.1f} | {m['flow 20']:.1f} "
            f"| {(m['flow 20'] - m['flow 5']) / 15:.1f} | {b['plain']} / {b['flow 1']} / {b['flow 5']} / {b['flow 20']} |"
        )
    lines += [
        "",
        "A resume at depth 5, taken apart (wall µs, the engine's private functions wrapped with timers, which adds "
        "their own cost): the trace function's `call` events (every function called until the last frame is "
        "re-entered), the jumps (`frame.f_lineno`, one per frame), the capture of the next suspension; the rest is the "
        "flow's own code, the checks of the frames' functions before it runs and `sys.settrace`. Then what "
        "`sys.settrace(f)` + `sys.settrace(None)` cost, timed in an action of a request (WSGIApp's frames on the "
        "stack), and then for each function run after them (the difference with and without, over 200 functions).",
        "",
        "| CPython | resume | trace calls (events) | jumps (number) | capture | rest | settrace on+off in an action | then per function run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        p, s = result["resume parts"], result["settrace"]
        lines.append(
            f"| {result['python']} | {p['resume']:.1f} | {p['trace calls']:.1f} ({p['trace calls n']:.0f}) "
            f"| {p['jumps']:.1f} ({p['jumps n']:.0f}) | {p['capture']:.1f} | {p['rest']:.1f} "
            f"| {s['in an action']:.1f} | {s['per function after']:.2f} |"
        )
    lines += ["", "## Against the target", ""]
    lines += targets(results)
    lines.append("")
    return "\n".join(lines)


def extra_us(flow: dict[str, Any], plain: dict[str, Any]) -> float:
    """µs more per request than the plain page: the median of the rounds' differences."""
    differences: list[float] = [f - p for f, p in zip(flow["times"], plain["times"])]
    return statistics.median(differences)


def targets(results: list[dict[str, Any]]) -> list[str]:
    """The issue's target: at most 0.1 ms more per request at depth 5, flat in the history, at most 1 KB more state."""
    lines = []
    for result in results:
        def extra(depth: int, history: int, result: dict[str, Any] = result) -> tuple[float, int]:
            cases = {(c["kind"], c["depth"], c["history"]): c for c in result["http"]}
            flow, plain = cases["flow", depth, history], cases["plain", 0, history]
            return extra_us(flow, plain), sum(flow["stored"]) - sum(plain["stored"])

        histories = sorted({c["history"] for c in result["http"]})
        time_extra = {h: extra(5, h)[0] for h in histories}
        byte_extra = {h: extra(5, h)[1] for h in histories}
        worst = max(time_extra.values())
        lines.append(
            f"- CPython {result['python']}, depth 5: {', '.join(f'{time_extra[h]:+.0f} µs' for h in histories)} per request "
            f"at history {', '.join(map(str, histories))} — {'met' if worst <= 100 else 'NOT met'} (≤ 100 µs); "
            f"state {', '.join(f'{byte_extra[h]:+d}' for h in histories)} bytes — "
            f"{'met' if max(byte_extra.values()) <= 1024 else 'NOT met'} (≤ 1 KB)."
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 15, quick 3)")
    parser.add_argument("--requests", type=int, default=None, help="requests per case and round (default 150, quick 40)")
    parser.add_argument("--copies", type=int, default=None, help="resumes per depth and round (default 500, quick 100)")
    parser.add_argument("--histories", type=int, nargs="+", default=None, help="default 10 100 1000 (quick: 10 1000)")
    parser.add_argument("--venvs", nargs="+", default=list(VENVS), help="the venvs (under the repository) to measure in")
    parser.add_argument("--quick", action="store_true", help="a short smoke run, printed and not written")
    parser.add_argument("--output", type=Path, default=None, help=f"default {RESULTS / 'flow.md'} (none with --quick)")
    parser.add_argument("--worker", action="store_true", help="measure on this interpreter only, print JSON")
    args = parser.parse_args()
    args.rounds = args.rounds or (3 if args.quick else 15)
    args.requests = args.requests or (40 if args.quick else 150)
    args.copies = args.copies or (100 if args.quick else 500)
    args.histories = args.histories or ([10, 1000] if args.quick else list(HISTORIES))
    if args.worker:
        print(json.dumps(measure(args)))
        return
    started = datetime.datetime.now()
    text = report(everywhere(args), args, started)
    print(text)
    output = args.output or (None if args.quick else RESULTS / "flow.md")
    if output is not None:
        output.write_text(text)
        print(f"written to {output}", file=sys.stderr)
    print(f"{(datetime.datetime.now() - started).total_seconds():.0f} s", file=sys.stderr)


if __name__ == "__main__":
    # The pages' classes and functions by their importable name, as an application's are: the
    # session's pickler stores those of __main__ by value (kilobytes more in every state).
    sys.path.insert(0, str(BENCH))
    import flow

    flow.main()
