"""Requests/s of the demo counter on the standalone server, and the size of its stored states.

    python bench/standalone_counter.py [--seconds 10] [--runs 3] [--connections 16]

Starts `nagare-admin serve demo` on a free loopback port, opens a session like a browser, then
loads it with wrk (Debian package `wrk`) in two ways:
- render: GET of the counter's page state (no action: the state is rendered and stored in place)
- click: GET of the `++` link of one state (the action runs, a new state is rendered and stored)
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


def wrk(url: str, seconds: int, connections: int, cookie: str | None) -> float:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url]
    if cookie:
        args[1:1] = ["-H", f"Cookie: {cookie}"]
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
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nagare-bench-"))
    (tmp / "hello.py").write_text(HELLO)
    (tmp / "hello.cfg").write_text(f"[application]\npath = file {tmp}/hello.py:app\nname = hello\n")
    server = NagareServer(["demo", str(tmp / "hello.cfg")], tmp)
    try:
        session = requests.Session()
        page = session.get(server.url + "/demo/")
        href = lxml.html.fromstring(page.content).cssselect("#increase")[0].get("href")
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        click_url = server.url + "/demo/" + href
        render_url = page.url
        results: dict[str, list[float]] = {"hello-world WSGI": [], "counter render": [], "counter click": []}
        for _ in range(args.runs):
            results["hello-world WSGI"].append(wrk(server.url + "/hello/", args.seconds, args.connections, None))
            results["counter render"].append(wrk(render_url, args.seconds, args.connections, cookie))
            results["counter click"].append(wrk(click_url, args.seconds, args.connections, cookie))
    finally:
        server.stop()
    print(f"standalone publisher, {args.connections} connections, {args.seconds}s x {args.runs} runs, {os.cpu_count()} cores\n")
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
