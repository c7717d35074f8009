"""The publisher's listening sockets: the FastCGI one (TCP or Unix) and the status one.

They are opened once by the first master image; a reload inherits them (`nagare.server.handover`).
"""

from __future__ import annotations

import os
import socket
import stat

from nagare.errors import NagareError
from nagare.server.status import Address

STATUS_BACKLOG = 16  # a monitoring probe at a time: a small queue is plenty


def listen_tcp(host: str, port: int, backlog: int, defer: float) -> socket.socket:
    """A TCP socket listening on `host`:`port` whose accept() waits up to `defer` seconds for data."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except OSError as exc:
        raise NagareError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
        # accept() returns once the request's first bytes are there: a worker that accepts
        # serves at once instead of waiting for them
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, max(1, int(defer)))
    except OSError as exc:
        sock.close()
        raise NagareError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def listen_unix(path: str, umask: int | None, backlog: int) -> socket.socket:
    """A Unix socket at `path`, created under `umask` (None: the process's).

    A stale socket file (nobody listening: left by a server that died) is replaced; a file that is
    not a socket, or a socket another server listens on, is refused.
    """
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise NagareError(f"cannot listen on {path}: the file exists and is not a socket")
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)
            else:
                raise NagareError(f"cannot listen on {path}: another server listens on it")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # the umask is process-wide: set only around bind, which creates the file
    previous = os.umask(umask) if umask is not None else None
    try:
        sock.bind(path)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise NagareError(f"cannot listen on {path}: {exc.strerror or exc}") from None
    finally:
        if previous is not None:
            os.umask(previous)
    return sock


def listen_status(address: Address, umask: int | None) -> socket.socket:
    """The socket of the status endpoint (HTTP) at `address`, non-blocking: the master's loop
    accepts from it between its other duties and must not wait on a client gone meanwhile."""
    if address.path:
        sock = listen_unix(address.path, umask, STATUS_BACKLOG)
    else:
        try:
            sock = socket.create_server((address.host, address.port), backlog=STATUS_BACKLOG)
        except OSError as exc:
            raise NagareError(f"cannot listen on {address.text} for the status: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


def describe(sock: socket.socket, scheme: str = "") -> str:
    """Where `sock` listens, for the logs: `unix:/path`, `host:port` or `scheme://host:port/`."""
    address = sock.getsockname()
    if isinstance(address, str):
        return f"unix:{address}"
    text = f"{address[0]}:{address[1]}"
    return f"{scheme}://{text}/" if scheme else text


def unlink(path: str) -> None:
    """Remove the file of a Unix socket, if it is still there."""
    try:
        os.unlink(path)
    except OSError:
        pass


def no_delay(listener: socket.socket) -> None:
    """TCP_NODELAY on a TCP listening socket (whichever image opened it): the connections it
    accepts inherit it (Linux), one system call less a connection than setting it on each."""
    if listener.family in (socket.AF_INET, socket.AF_INET6):
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
