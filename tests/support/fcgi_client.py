"""A FastCGI client playing nginx, to test the FastCGI publisher from outside.

Written apart from `nagare.fastcgi` on purpose (it imports nothing from it): a client sharing
the server's codec would agree with the server's bugs.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import unquote_to_bytes

_HEADER = struct.Struct(">BBHHBB")
_BEGIN = 1
_ABORT = 2
_END = 3
_PARAMS = 4
_STDIN = 5
_STDOUT = 6
_STDERR = 7
_GET_VALUES = 9
_GET_VALUES_RESULT = 10
_RESPONDER = 1
_STDIN_CHUNK = 8192  # nginx writes the body in buffers of this order


@dataclass
class Response:
    """One FastCGI response, its CGI headers parsed."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    stderr: bytes = b""
    app_status: int = 0
    protocol_status: int = 0
    raw: bytes = field(default=b"", repr=False)

    def header(self, name: str) -> str | None:
        """The first header named `name` (case-insensitive), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _record(record_type: int, request_id: int, content: bytes = b"") -> bytes:
    # nginx pads to 8 bytes too; the server must accept any padding anyway.
    padding = (8 - len(content) % 8) % 8
    return _HEADER.pack(1, record_type, request_id, len(content), padding, 0) + content + b"\0" * padding


def _length(n: int) -> bytes:
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def _pairs(params: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in params.items():
        n, v = name.encode("latin-1"), value.encode("latin-1")
        out += _length(len(n)) + _length(len(v)) + n + v
    return bytes(out)


def _stream(record_type: int, request_id: int, data: bytes, chunk: int) -> bytes:
    out = b"".join(_record(record_type, request_id, data[i : i + chunk]) for i in range(0, len(data), chunk))
    return out + _record(record_type, request_id)  # the empty record ending the stream


def _parse_pairs(data: bytes) -> dict[str, str]:
    result: dict[str, str] = {}
    i = 0
    lengths = []
    while i < len(data):
        lengths.clear()
        for _ in range(2):
            if data[i] & 0x80:
                lengths.append(struct.unpack(">I", data[i : i + 4])[0] & 0x7FFFFFFF)
                i += 4
            else:
                lengths.append(data[i])
                i += 1
        n, v = lengths
        result[data[i : i + n].decode("latin-1")] = data[i + n : i + n + v].decode("latin-1")
        i += n + v
    return result


def encode_request(
    path: str = "/",
    method: str = "GET",
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    request_id: int = 1,
    keep_conn: bool = False,
    address: tuple[str, int] = ("127.0.0.1", 80),
) -> bytes:
    """The bytes nginx sends for one request (with the stock /etc/nginx/fastcgi_params)."""
    uri = path + ("?" + query if query else "")
    # nginx's $uri and $fastcgi_script_name are %-decoded; the app is mounted at the root, so
    # as in the deployment guide's nginx config SCRIPT_NAME is empty and PATH_INFO carries the path.
    decoded = unquote_to_bytes(path).decode("latin-1")
    headers = dict(headers or {})
    cgi = {
        "QUERY_STRING": query,
        "REQUEST_METHOD": method,
        "CONTENT_TYPE": headers.pop("Content-Type", headers.pop("content-type", "")),
        "CONTENT_LENGTH": str(len(body)) if body or method in ("POST", "PUT", "PATCH") else "",
        "SCRIPT_NAME": "",
        "REQUEST_URI": uri,
        "DOCUMENT_URI": decoded,
        "DOCUMENT_ROOT": "/var/www/html",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_SCHEME": "http",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": "nginx/1.22.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "54321",
        "SERVER_ADDR": address[0],
        "SERVER_PORT": str(address[1]),
        "SERVER_NAME": "localhost",
        "REDIRECT_STATUS": "200",
        "PATH_INFO": decoded,
        "HTTP_HOST": headers.pop("Host", headers.pop("host", "localhost")),
    }
    for name, value in headers.items():
        cgi["HTTP_" + name.upper().replace("-", "_")] = value
    cgi.update(params or {})
    begin = struct.pack(">HB5x", _RESPONDER, 1 if keep_conn else 0)
    return b"".join(
        (
            _record(_BEGIN, request_id, begin),
            _stream(_PARAMS, request_id, _pairs(cgi), 0xFFFF),
            _stream(_STDIN, request_id, body, _STDIN_CHUNK),
        )
    )


def parse_cgi(stdout: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of a CGI response."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, body = stdout.partition(separator)
        if found:
            break
    else:
        raise ValueError(f"no end of CGI headers in {stdout[:200]!r}")
    status = 200
    headers = []
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if name.lower() == "status":
            status = int(value.split()[0])
        else:
            headers.append((name, value))
    return status, headers, body


class FastCGIClient:
    """A connection to a FastCGI server, at (host, port) or a unix socket path."""

    def __init__(self, address: tuple[str, int] | str, timeout: float = 10.0, keep_conn: bool = False) -> None:
        self.address = address
        self.keep_conn = keep_conn
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(address)
        except OSError:
            self.sock.close()  # refused while the server starts: no socket left for the GC to warn about
            raise
        self._pending = b""

    def __enter__(self) -> FastCGIClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        """Send any bytes, for hostile-input tests."""
        self.sock.sendall(data)

    def recv_all(self) -> bytes:
        """Everything the server sends until it closes the connection (or the timeout)."""
        chunks = [self._pending]
        self._pending = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def _read_exact(self, n: int) -> bytes:
        while len(self._pending) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"the server closed the connection ({len(self._pending)} of {n} bytes read)")
            self._pending += chunk
        data, self._pending = self._pending[:n], self._pending[n:]
        return data

    def read_record(self) -> tuple[int, int, bytes]:
        """(type, request id, content) of the next record from the server."""
        version, record_type, request_id, length, padding, _ = _HEADER.unpack(self._read_exact(8))
        if version != 1:
            raise ValueError(f"the server sent FastCGI version {version}")
        content = self._read_exact(length + padding)[:length]
        return record_type, request_id, content

    def request(
        self,
        path: str = "/",
        method: str = "GET",
        query: str = "",
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        request_id: int = 1,
    ) -> Response:
        """Send one request as nginx does and read its response up to END_REQUEST."""
        address = self.address if isinstance(self.address, tuple) else ("127.0.0.1", 80)
        self.send_raw(
            encode_request(path, method, query, body, headers, params, request_id, self.keep_conn, address)
        )
        stdout, stderr = [], []
        while True:
            record_type, rid, content = self.read_record()
            if rid != request_id:
                raise ValueError(f"record of type {record_type} for request {rid}, expected {request_id}")
            if record_type == _STDOUT:
                stdout.append(content)
            elif record_type == _STDERR:
                stderr.append(content)
            elif record_type == _END:
                app_status, protocol_status = struct.unpack(">IB3x", content)
                break
            else:
                raise ValueError(f"unexpected record type {record_type} from the server")
        raw = b"".join(stdout)
        if protocol_status != 0 and not raw:
            return Response(0, [], b"", b"".join(stderr), app_status, protocol_status, raw)
        status, cgi_headers, content_body = parse_cgi(raw)
        return Response(status, cgi_headers, content_body, b"".join(stderr), app_status, protocol_status, raw)

    def get_values(self, names: list[str] | tuple[str, ...]) -> dict[str, str]:
        """The answer to a GET_VALUES asking for `names`."""
        self.send_raw(_record(_GET_VALUES, 0, _pairs(dict.fromkeys(names, ""))))
        record_type, rid, content = self.read_record()
        if (record_type, rid) != (_GET_VALUES_RESULT, 0):
            raise ValueError(f"record of type {record_type} for request {rid} in answer to GET_VALUES")
        return _parse_pairs(content)

    def abort(self, request_id: int = 1) -> None:
        """Send ABORT_REQUEST for `request_id`."""
        self.send_raw(_record(_ABORT, request_id))


def request(address: tuple[str, int] | str, path: str = "/", **kw: object) -> Response:
    """One request on a new connection."""
    timeout = kw.pop("timeout", 10.0)
    with FastCGIClient(address, timeout=timeout) as client:  # type: ignore[arg-type]
        return client.request(path, **kw)  # type: ignore[arg-type]
