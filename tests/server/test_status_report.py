"""The pool status from plain data: PHP-FPM's fields, JSON, OpenMetrics text."""

from __future__ import annotations

import json
import re

from nagare.server.policy import State
from nagare.server.scoreboard import Slot
from nagare.server.status import Totals, report, to_json, to_openmetrics

WALL = 1_700_000_100.0  # time.time() now
NOW = 500.0  # time.monotonic() now


def slot(index: int, state: State, pid: int, requests: int = 0, **kw: object) -> Slot:
    values = {"accepted": requests, "slow": 0, "heartbeat": NOW, "since": NOW - 1, "rss": 20 << 20,
              "last_duration": 0.25, "method": "GET", "uri": "/app/last"}
    values.update(kw)
    return Slot(index, state, pid, requests, **values)  # type: ignore[arg-type]


def totals(**kw: object) -> Totals:
    t = Totals("app", WALL - 100, 1024, **kw)  # type: ignore[arg-type]
    t.started.update({11: WALL - 90, 12: WALL - 50, 13: WALL - 5})
    return t


SLOTS = [
    slot(0, State.IDLE, 11, requests=4, slow=1),
    slot(1, State.BUSY, 12, requests=2, since=NOW - 3.5, method="POST", uri="/app/form"),
    slot(2, State.FREE, 0),
    slot(3, State.STARTING, 13),
    slot(4, State.FREE, 99, requests=1000),  # a released slot keeps no worker
]

POOL_FIELDS = [  # PHP-FPM's names, in its order (plus "requests")
    "pool", "process manager", "start time", "start since", "accepted conn", "requests", "listen queue",
    "max listen queue", "listen queue len", "idle processes", "active processes", "total processes",
    "max active processes", "max children reached", "slow requests", "processes",
]
PROCESS_FIELDS = [
    "pid", "state", "start time", "start since", "requests", "request duration", "request method",
    "request uri", "last request uri", "memory",
]


def test_fields_as_php_fpm_names_them():
    status = report(totals(), SLOTS, 3, NOW, WALL)
    assert list(status) == POOL_FIELDS
    assert status["pool"] == "app" and status["process manager"] == "dynamic"
    assert (status["start time"], status["start since"]) == (int(WALL - 100), 100)
    assert (status["listen queue"], status["listen queue len"]) == (3, 1024)
    # a starting worker counts as idle, as PHP-FPM has idle + active = total
    assert (status["idle processes"], status["active processes"], status["total processes"]) == (2, 1, 3)
    assert status["max active processes"] == 1
    assert [list(p) for p in status["processes"]] == [PROCESS_FIELDS] * 3


def test_processes_sorted_by_pid_busy_ones_show_their_request():
    idle, busy, starting = report(totals(), SLOTS, 0, NOW, WALL)["processes"]
    assert (idle["pid"], idle["state"], idle["requests"]) == (11, "Idle", 4)
    assert (idle["request method"], idle["request uri"], idle["last request uri"]) == ("-", "-", "/app/last")
    assert idle["request duration"] == 250_000  # its last request, in microseconds as PHP-FPM
    assert (idle["start time"], idle["start since"], idle["memory"]) == (int(WALL - 90), 90, 20 << 20)
    assert (busy["state"], busy["request method"], busy["request uri"]) == ("Running", "POST", "/app/form")
    assert busy["request duration"] == 3_500_000  # running for
    assert starting["state"] == "Starting"


def test_counters_of_exited_workers_are_kept_in_the_totals():
    status = report(totals(accepted=100, requests=90, slow=7, max_active=9, max_children_reached=2), SLOTS, 0, NOW, WALL)
    assert status["accepted conn"] == 100 + 4 + 2
    assert status["requests"] == 90 + 4 + 2
    assert status["slow requests"] == 7 + 1
    assert status["max active processes"] == 9
    assert status["max children reached"] == 2


def test_no_workers():
    status = report(totals(), [], None, NOW, WALL)
    assert status["processes"] == [] and status["total processes"] == 0 and status["listen queue"] is None


def test_json_round_trip():
    status = report(totals(), SLOTS, 0, NOW, WALL)
    assert json.loads(to_json(status)) == status


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$')
DESCRIPTOR = re.compile(r"^# (TYPE|HELP) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$")


def parse_openmetrics(text: str) -> dict[str, tuple[str, list[tuple[str, str, float]]]]:
    """family -> (type, [(sample name, labels, value)]); fails on any line out of the format."""
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    families: dict[str, tuple[str, list[tuple[str, str, float]]]] = {}
    current = None
    for line in text.splitlines()[:-1]:
        if m := DESCRIPTOR.match(line):
            kind, name, rest = m.groups()
            if kind == "TYPE":
                assert name not in families, f"family {name} twice"
                assert rest in ("counter", "gauge", "info", "stateset", "unknown", "histogram", "summary", "gaugehistogram")
                families[name] = (rest, [])
            current = name
            assert name in families, f"HELP before TYPE: {line}"
            continue
        m = SAMPLE.match(line)
        assert m, f"not OpenMetrics: {line!r}"
        name, labels, value = m.groups()
        kind = families[current][0]
        assert name == (f"{current}_total" if kind == "counter" else current), line
        if kind == "counter":
            assert float(value) >= 0
        families[current][1].append((name, labels or "", float(value)))
    return families


def test_openmetrics_parses():
    status = report(totals(requests=90), SLOTS, 3, NOW, WALL)
    families = parse_openmetrics(to_openmetrics(status).decode())
    counters = [name for name, (kind, _) in families.items() if kind == "counter"]
    assert "nagare_fastcgi_requests" in counters and "nagare_fastcgi_max_children_reached" in counters
    assert families["nagare_fastcgi_requests"][1] == [("nagare_fastcgi_requests_total", '{pool="app"}', 96.0)]
    assert families["nagare_fastcgi_listen_queue"][1][0][2] == 3.0
    per_worker = families["nagare_fastcgi_process_requests"][1]
    assert [(labels, value) for _, labels, value in per_worker] == [
        ('{pool="app",pid="11"}', 4.0), ('{pool="app",pid="12"}', 2.0), ('{pool="app",pid="13"}', 0.0)
    ]


def test_openmetrics_without_listen_queue_and_workers_still_parses():
    families = parse_openmetrics(to_openmetrics(report(totals(), [], None, NOW, WALL)).decode())
    assert "nagare_fastcgi_listen_queue" not in families
    assert families["nagare_fastcgi_process_memory_bytes"][1] == []


def test_openmetrics_escapes_the_pool_label():
    t = Totals('a"b\\c\nd', WALL, 16)
    families = parse_openmetrics(to_openmetrics(report(t, [], None, NOW, WALL)).decode())
    assert families["nagare_fastcgi_requests"][1][0][1] == '{pool="a\\"b\\\\c\\nd"}'
