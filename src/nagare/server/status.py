"""The pool status, as PHP-FPM reports it: a dict, JSON and OpenMetrics text (pure functions)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypedDict

from nagare.server.policy import State
from nagare.server.scoreboard import Slot

_STATES = {State.STARTING: "Starting", State.IDLE: "Idle", State.BUSY: "Running", State.STOPPING: "Finishing"}


@dataclass(frozen=True)
class Address:
    """Where the status listens: a Unix socket `path`, or `host` and `port`."""

    text: str  # as the user wrote it, for the messages
    path: str = ""
    host: str = ""
    port: int = 0

    @classmethod
    def parse(cls, text: str) -> "Address":
        """`host:port`, `:port`, `/path/of.sock` or `unix:path` (as the server logs it); `http://` allowed."""
        value = text.strip()
        if value.startswith("unix:"):
            return cls(text, path=value[5:])
        if value.startswith("http://"):
            value = value[7:].partition("/")[0]
        elif "/" in value:  # a path: a Unix socket
            return cls(text, path=value)
        host, _, port = value.rpartition(":")
        try:
            number = int(port)
        except ValueError:
            number = -1
        if not 0 < number < 65536:
            raise ValueError("expected host:port or the path of a Unix socket")
        return cls(text, host=host.strip("[]") or "127.0.0.1", port=number)


@dataclass
class Totals:
    """What the master counts itself, and what the workers that exited had counted."""

    pool: str
    start_time: float  # epoch seconds
    listen_queue_len: int  # the backlog
    accepted: int = 0
    requests: int = 0
    slow: int = 0
    max_active: int = 0
    max_children_reached: int = 0
    max_listen_queue: int = 0
    started: dict[int, float] = field(default_factory=dict)  # pid -> epoch seconds it was forked


# PHP-FPM's field names, spaces included: tools that read its status read ours
Process = TypedDict("Process", {
    "pid": int, "state": str, "start time": int, "start since": int, "requests": int,
    "request duration": int, "request method": str, "request uri": str, "last request uri": str, "memory": int,
})
Status = TypedDict("Status", {
    "pool": str, "process manager": str, "start time": int, "start since": int, "accepted conn": int,
    "requests": int, "listen queue": int | None, "max listen queue": int, "listen queue len": int,
    "idle processes": int, "active processes": int, "total processes": int, "max active processes": int,
    "max children reached": int, "slow requests": int, "processes": list[Process],
})


def report(totals: Totals, slots: list[Slot], listen_queue: int | None, now: float, wall: float) -> Status:
    """The status of the pool: PHP-FPM's field names, then one entry per worker."""
    workers = [s for s in slots if s.state != State.FREE and s.pid]
    # as PHP-FPM, idle + active = total: a starting worker is about to be idle, a stopping one
    # is finishing its request
    active = sum(1 for s in workers if s.state in (State.BUSY, State.STOPPING))
    idle = len(workers) - active
    processes: list[Process] = []
    for s in sorted(workers, key=lambda s: s.pid):
        busy = s.state == State.BUSY
        started = totals.started.get(s.pid, wall)
        processes.append({
            "pid": s.pid,
            "state": _STATES.get(s.state, s.state.name),
            "start time": int(started),
            "start since": int(wall - started),
            "requests": s.requests,
            # microseconds, as PHP-FPM: tools reading its status read ours
            "request duration": int(((now - s.since) if busy else s.last_duration) * 1e6),
            "request method": s.method if busy else "-",
            "request uri": s.uri if busy else "-",
            "last request uri": s.uri,
            "memory": s.rss,
        })
    return {
        "pool": totals.pool,
        "process manager": "dynamic",
        "start time": int(totals.start_time),
        "start since": int(wall - totals.start_time),
        "accepted conn": totals.accepted + sum(s.accepted for s in workers),
        "requests": totals.requests + sum(s.requests for s in workers),
        "listen queue": listen_queue,
        "max listen queue": totals.max_listen_queue,
        "listen queue len": totals.listen_queue_len,
        "idle processes": idle,
        "active processes": active,
        "total processes": len(workers),
        "max active processes": max(totals.max_active, active),
        "max children reached": totals.max_children_reached,
        "slow requests": totals.slow + sum(s.slow for s in workers),
        "processes": processes,
    }


def to_json(status: Status) -> bytes:
    return json.dumps(status, indent=1).encode()


_METRICS = [
    ("start_time_seconds", "gauge", "start time", "when the pool started (Unix time)"),
    ("accepted_connections", "counter", "accepted conn", "connections accepted by the pool"),
    ("requests", "counter", "requests", "requests served"),
    ("listen_queue", "gauge", "listen queue", "connections waiting to be accepted"),
    ("max_listen_queue", "gauge", "max listen queue", "most connections seen waiting"),
    ("listen_queue_length", "gauge", "listen queue len", "size of the listen backlog"),
    ("idle_processes", "gauge", "idle processes", "workers waiting for a request"),
    ("active_processes", "gauge", "active processes", "workers serving a request"),
    ("total_processes", "gauge", "total processes", "workers"),
    ("max_active_processes", "gauge", "max active processes", "most workers seen busy at once"),
    ("max_children_reached", "counter", "max children reached", "times the pool wanted to grow past maxChildren"),
    ("slow_requests", "counter", "slow requests", "requests slower than slow_request_time"),
]


def to_openmetrics(status: Status) -> bytes:
    """The OpenMetrics text format (`application/openmetrics-text; version=1.0.0`)."""
    pool = _label(status["pool"])
    lines = []
    fields: Mapping[str, object] = status  # looked up by the names in the tables below
    for name, kind, key, help_ in _METRICS:
        value = fields[key]
        if value is None:
            continue
        metric = f"nagare_fastcgi_{name}"
        lines.append(f"# TYPE {metric} {kind}")
        lines.append(f"# HELP {metric} {help_}")
        sample = f"{metric}_total" if kind == "counter" else metric
        lines.append(f'{sample}{{pool="{pool}"}} {value}')
    per_worker = [
        ("process_requests", "counter", "requests", "requests served by the worker"),
        ("process_memory_bytes", "gauge", "memory", "resident memory of the worker"),
        ("process_request_duration_microseconds", "gauge", "request duration", "current (busy) or last request duration"),
    ]
    for name, kind, key, help_ in per_worker:
        metric = f"nagare_fastcgi_{name}"
        lines.append(f"# TYPE {metric} {kind}")
        lines.append(f"# HELP {metric} {help_}")
        sample = f"{metric}_total" if kind == "counter" else metric
        for process in status["processes"]:
            values: Mapping[str, object] = process
            lines.append(f'{sample}{{pool="{pool}",pid="{process["pid"]}"}} {values[key]}')
    lines.append("# EOF")
    return ("\n".join(lines) + "\n").encode()


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
