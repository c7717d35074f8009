"""The state pickler against cloudpickle, on the states of the demo's tabs.

    python bench/pickling.py [--number 2000] [--repeat 5]

For each tab: the state after one rendering (component tree + the page's actions), pickled by
`nagare.sessions.pickler` and by `cloudpickle.dumps`, then unpickled; the median of `--repeat`
timings of `--number` rounds, and the pickle sizes. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import pickle
import statistics
import timeit

import cloudpickle

from nagare.callbacks import Callbacks
from nagare.component import Component
from nagare.demo.app import Demo
from nagare.namespaces import xhtml5
from nagare.sessions.pickler import Pickler, Unpickler


def state_of(tab: str) -> tuple[Component, Callbacks]:
    root = Component(Demo())
    root().select(tab)
    callbacks = Callbacks()
    h = xhtml5.Renderer(callbacks=callbacks, session_params={"_s": "0" * 32, "_c": "00001"}, static_url="/static/demo/")
    h.page(root.render(h))
    return root, callbacks


def ours(state: object) -> bytes:
    buffer = io.BytesIO()
    Pickler(buffer, {}).dump(state)
    return buffer.getvalue()


def median_us(f, number: int, repeat: int) -> float:
    return statistics.median(timeit.repeat(f, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| tab | dumps µs (ours / cloudpickle) | loads µs (ours / cloudpickle) | bytes (ours / cloudpickle) |")
    print("|---|---|---|---|")
    for tab in Demo.TABS:
        state = state_of(tab)
        mine, theirs = ours(state), cloudpickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        dumps = (median_us(lambda: ours(state), args.number, args.repeat),
                 median_us(lambda: cloudpickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), args.number, args.repeat))
        loads = (median_us(lambda: Unpickler(io.BytesIO(mine), {}).load(), args.number, args.repeat),
                 median_us(lambda: pickle.loads(theirs), args.number, args.repeat))
        print(
            f"| {tab} | {dumps[0]:.0f} / {dumps[1]:.0f} ({dumps[1] / dumps[0]:.1f}×) "
            f"| {loads[0]:.0f} / {loads[1]:.0f} ({loads[1] / loads[0]:.1f}×) "
            f"| {len(mine)} / {len(theirs)} ({len(theirs) / len(mine):.1f}×) |"
        )


if __name__ == "__main__":
    main()
