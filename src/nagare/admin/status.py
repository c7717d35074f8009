"""`nagare-admin status`: the pool of a running FastCGI server, read from its status endpoint.

The master answers `[publisher] status` (host:port, or the path of a Unix socket) with the pool
status as JSON, or as OpenMetrics text for `/metrics`. This command asks it with a plain HTTP/1.0
GET on a socket: the same code for TCP and Unix sockets, which `http.client` does not connect to.
"""

from __future__ import annotations

import argparse
import json
import socket
from typing import Any

from nagare.admin.command import ArgumentParser, Command
from nagare.config import publisher
from nagare.errors import CommandError, NagareError
from nagare.server.status import Address

TIMEOUT = 5.0  # seconds: the master answers between two ticks of its loop (0.1s)
OPENMETRICS = "application/openmetrics-text"
_POOL_KEYS = (
    "pool", "start since", "accepted conn", "requests", "listen queue", "max listen queue", "listen queue len",
    "idle processes", "active processes", "total processes", "max active processes", "max children reached",
    "slow requests", "processes",
)
_PROCESS_KEYS = ("pid", "state", "requests", "memory", "request duration", "request method", "request uri")


def parse_address(text: str) -> Address:
    """--url as the user wrote it; a wrong one is a one-line error."""
    try:
        return Address.parse(text)
    except ValueError as exc:
        raise CommandError(f"status address {text!r}: {exc}") from None


def connect(address: Address, timeout: float) -> socket.socket:
    if address.path:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address.path)
        except BaseException:
            sock.close()
            raise
        return sock
    return socket.create_connection((address.host, address.port), timeout)


def address_from(conf_file: str | None, url: str | None) -> Address:
    """--url, else `[publisher] status` of the publisher file."""
    if url:
        return parse_address(url)
    if not conf_file:
        raise CommandError("where is the status? give -c publisher.conf (with [publisher] status = host:port) or --url host:port")
    conf = publisher.read(conf_file)
    if "status" not in conf.publisher_class.SETTINGS:
        raise CommandError(
            f"[publisher] type = {conf.publisher.type!r} in {conf_file} has no status endpoint: "
            "it is the FastCGI publisher's (type = fastcgi, status = host:port)"
        )
    address: Address | None = conf.publisher.status  # checked by the publisher's settings
    if address is None:
        raise CommandError(
            f"[publisher] status is empty in {conf_file}: set it to host:port or the path of a Unix socket "
            "(and restart the server), or give --url"
        )
    return address


def fetch(address: Address, target: str = "/", accept: str = "application/json", timeout: float = TIMEOUT) -> bytes:
    """The body of the answer to `GET target`; a NagareError in one line when there is none."""
    where = f"cannot reach the status at {address.text}"
    try:
        with connect(address, timeout) as sock:
            host = address.path and "localhost" or f"{address.host}:{address.port}"
            sock.sendall(f"GET {target} HTTP/1.0\r\nHost: {host}\r\nAccept: {accept}\r\n\r\n".encode("latin-1"))
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except ConnectionRefusedError:
        raise NagareError(f"{where}: connection refused — is the server running?") from None
    except FileNotFoundError:
        raise NagareError(f"{where}: no such socket — is the server running?") from None
    except TimeoutError:
        raise NagareError(f"{where}: no answer within {timeout:g}s") from None
    except OSError as exc:
        raise NagareError(f"{where}: {exc.strerror or exc}") from None
    return parse_response(address, b"".join(chunks))


def parse_response(address: Address, raw: bytes) -> bytes:
    """The body of an HTTP/1.x answer read to its end; it must be a complete 200."""
    bad = f"bad answer from the status at {address.text}"
    head, separator, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(None, 2)
    if not separator or len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
        what = f"not HTTP ({raw[:40].decode('latin-1')!r})" if raw else "the connection closed without an answer"
        raise NagareError(f"{bad}: {what} — is it the [publisher] status address, not the FastCGI port?")
    if status_line[1] != "200":
        raise NagareError(f"{bad}: {' '.join(status_line[1:])}")
    headers = dict(line.partition(":")[::2] for line in lines[1:])
    length = {k.strip().lower(): v.strip() for k, v in headers.items()}.get("content-length")
    if length is not None and length.isdigit() and int(length) != len(body):
        raise NagareError(f"{bad}: {len(body)} bytes instead of the {length} announced")
    return body


def decode_status(address: Address, body: bytes) -> dict[str, Any]:
    bad = f"bad answer from the status at {address.text}"
    try:
        status = json.loads(body)
    except ValueError as exc:
        raise NagareError(f"{bad}: not JSON ({exc})") from None
    if not isinstance(status, dict):
        raise NagareError(f"{bad}: a JSON object expected")
    missing = [key for key in _POOL_KEYS if key not in status]
    if not missing and isinstance(status["processes"], list):
        missing = sorted({key for p in status["processes"] for key in _PROCESS_KEYS if key not in p})
    if missing:
        raise NagareError(f"{bad}: no {', '.join(repr(k) for k in missing)}")
    return status


def uptime(seconds: float) -> str:
    """`45s`, `3m07s`, `2h05m`, `4d03h`."""
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def render(status: dict[str, Any]) -> str:
    """The pool line, then one row per worker."""
    queue = status["listen queue"]
    pool = (
        f"pool {status['pool']}: up {uptime(status['start since'])}, accepted {status['accepted conn']}, "
        f"requests {status['requests']}, listen queue {'-' if queue is None else queue} "
        f"(max {status['max listen queue']}, len {status['listen queue len']}), "
        f"processes {status['idle processes']} idle / {status['active processes']} active / {status['total processes']} total, "
        f"max active {status['max active processes']}, max children reached {status['max children reached']}, "
        f"slow requests {status['slow requests']}"
    )
    rows = [("PID", "STATE", "REQUESTS", "MEMORY MB", "DURATION", "REQUEST")]
    for p in status["processes"]:
        if p["request method"] not in ("", "-"):
            request = f"{p['request method']} {p['request uri']}"
        elif p.get("last request uri"):
            request = f"- (last {p['last request uri']})"
        else:
            request = "-"
        rows.append((
            str(p["pid"]), str(p["state"]), str(p["requests"]), f"{p['memory'] / (1 << 20):.1f}",
            f"{p['request duration'] / 1e6:.3f}s", request,
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [pool, ""]
    for row in rows:
        cells = [row[0].rjust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]),
                 row[3].rjust(widths[3]), row[4].rjust(widths[4]), row[5]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


class Status(Command):
    desc = "Show the pool of a running FastCGI server: its workers and counters ([publisher] status)"

    def set_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("-c", "--conf", help="publisher configuration file (its [publisher] status is asked)")
        parser.add_argument("--url", help="address of the status instead: host:port or the path of a Unix socket")
        output = parser.add_mutually_exclusive_group()
        output.add_argument("--json", action="store_true", help="print the status as the server sends it (JSON)")
        output.add_argument("--metrics", action="store_true", help="print the OpenMetrics text (what Prometheus scrapes)")

    def run(self, args: argparse.Namespace) -> int:
        address = address_from(args.conf, args.url)
        if args.metrics:
            text = fetch(address, "/metrics", OPENMETRICS).decode("utf-8", "replace")
            if not text.endswith("# EOF\n"):
                raise NagareError(f"bad answer from the status at {address.text}: OpenMetrics text without its '# EOF' end")
            print(text, end="")
            return 0
        body = fetch(address)
        status = decode_status(address, body)
        if args.json:
            print(body.decode("utf-8").rstrip("\n"))
        else:
            print(render(status))
        return 0
