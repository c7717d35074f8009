"""Requests/s of the demo counter on the standalone server, and the size of its stored states.

    python bench/standalone_counter.py [--seconds 10] [--runs 3] [--connections 16]

Starts `nagare-admin serve demo` on a free loopback port, opens a session like a browser, then
loads it with wrk (Debian package `wrk`) in two ways:
- render: GET of the counter's page state (no action: rendered and stored as a new state)
- click: GET of the `++` link of one state (the action runs, a new state is rendered and stored)
spread over several sessions (a session's requests are serialised by its lock, as they must be),
and a plain WSGI hello-world served by the same publisher, as the baseline of the server itself.
Prints a Markdown table: median of the runs, and each run.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import lxml.html
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.server import NagareServer  # noqa: E402

HELLO = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "12")])
    return [b"Hello world\\n"]
'''


LUA = """
local targets = {%s}
local i = 0
request = function()
  i = i %% #targets + 1
  return wrk.format("GET", targets[i][1], {["Cookie"] = targets[i][2]})
end
"""


def wrk(base: str, targets: list[tuple[str, str]], seconds: int, connections: int, tmp: Path) -> float:
    """req/s of wrk requesting the (path, cookie) targets in turn."""
    script = tmp / "targets.lua"
    script.write_text(LUA % ", ".join(f'{{"{path}", "{cookie}"}}' for path, cookie in targets))
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), base]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"errors during the run:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def state_sizes(tmp: Path) -> dict[str, int]:
    """Stored bytes of each demo tab's state, measured in-process with the real serializer."""
    from nagare.callbacks import Callbacks
    from nagare.component import Component
    from nagare.demo.app import Demo
    from nagare.namespaces import xhtml5
    from nagare.sessions.serializer import Serializer

    serializer = Serializer(b"x" * 32, "demo")
    sizes = {}
    for tab in Demo.TABS:
        root = Component(Demo())
        root().select(tab)
        callbacks = Callbacks()
        h = xhtml5.Renderer(callbacks=callbacks, session_params={"_s": "0" * 32, "_c": "00001"}, static_url="/static/demo/")
        h.page(root.render(h))
        state, shared = serializer.dumps("0" * 32, (root, callbacks), {})
        sizes[tab] = len(state) + len(shared)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="[publisher] threads (default: the default)")
    parser.add_argument("--sessions", type=int, default=16, help="browser sessions the load is spread over")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nagare-bench-"))
    (tmp / "hello.py").write_text(HELLO)
    (tmp / "hello.cfg").write_text(f"[application]\npath = file {tmp}/hello.py:app\nname = hello\n")
    options = []
    if args.threads:
        (tmp / "publisher.cfg").write_text(f"[publisher]\nthreads = {args.threads}\n")
        options = ["-c", str(tmp / "publisher.cfg")]
    server = NagareServer([*options, "demo", str(tmp / "hello.cfg")], tmp)
    try:
        renders, clicks = [], []
        for _ in range(args.sessions):  # each a browser that opened the demo
            session = requests.Session()
            page = session.get(server.url + "/demo/")
            href = lxml.html.fromstring(page.content).cssselect("#increase")[0].get("href")
            cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
            state = href.split("&", 1)[1]
            renders.append((f"/demo/?{state}", cookie))
            clicks.append((f"/demo/{href}", cookie))
        results: dict[str, list[float]] = {"hello-world WSGI": [], "counter render": [], "counter click": []}
        for _ in range(args.runs):
            results["hello-world WSGI"].append(wrk(server.url, [("/hello/", "")], args.seconds, args.connections, tmp))
            results["counter render"].append(wrk(server.url, renders, args.seconds, args.connections, tmp))
            results["counter click"].append(wrk(server.url, clicks, args.seconds, args.connections, tmp))
    finally:
        server.stop()
    print(
        f"standalone publisher ({args.threads or 'default'} threads), {args.connections} connections over {args.sessions} sessions, "
        f"{args.seconds}s x {args.runs} runs, {os.cpu_count()} cores\n"
    )
    print("| load | median req/s | runs |")
    print("|---|---|---|")
    for name, values in results.items():
        print(f"| {name} | {statistics.median(values):.0f} | {', '.join(f'{v:.0f}' for v in values)} |")
    print("\n| demo tab | stored state (bytes) |")
    print("|---|---|")
    for tab, size in state_sizes(tmp).items():
        print(f"| {tab} | {size} |")


if __name__ == "__main__":
    main()
