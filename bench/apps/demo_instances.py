"""The demo's application, one instance per name: `path = python demo_instances:<any name>`.

bench/cluster.py loads the demo several times in one process (memory sessions, memcached,
redis...). `nagare.demo.app:app` is one object: a second load would configure that same
`WSGIApp` again, its sessions replacing those of the first. Here each name is a `DemoApp` of its
own (the demo's class, views and components as they are), made at its first lookup.
"""

from __future__ import annotations

from nagare.demo import app as demo

_instances: dict[str, demo.DemoApp] = {}


def __getattr__(name: str) -> demo.DemoApp:
    if name.startswith("__"):
        raise AttributeError(name)
    if name not in _instances:
        _instances[name] = demo.DemoApp(demo.Demo)
    return _instances[name]
