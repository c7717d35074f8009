"""The listening sockets: TCP with TCP_DEFER_ACCEPT, a Unix socket (umask, stale file, live one), the status."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from nagare.errors import NagareError

from nagare.publishers.fastcgi.sockets import describe, listen_status, listen_tcp, listen_unix, no_delay, unlink
from nagare.server.status import Address


def test_tcp_defers_accept_until_the_first_bytes() -> None:
    with listen_tcp("127.0.0.1", 0, 8, 2.5) as sock:
        host, port = sock.getsockname()
        assert describe(sock) == f"127.0.0.1:{port}" and describe(sock, "http") == f"http://127.0.0.1:{port}/"
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT) > 0


def test_a_busy_port_is_one_line_naming_it() -> None:
    with listen_tcp("127.0.0.1", 0, 8, 1) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(NagareError, match=f"cannot listen on 127.0.0.1:{port}: "):
            listen_tcp("127.0.0.1", port, 8, 1)


def test_a_unix_socket_is_created_under_the_umask(tmp_path) -> None:
    path = str(tmp_path / "fcgi.sock")
    before = os.umask(0o022)
    try:
        with listen_unix(path, 0o077, 8) as sock:
            assert describe(sock) == f"unix:{path}"
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        assert os.umask(0o022) == 0o022  # the process's umask is back
    finally:
        os.umask(before)


def test_a_stale_unix_socket_is_replaced_a_live_one_refused(tmp_path) -> None:
    path = str(tmp_path / "fcgi.sock")
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(path)  # closed without unlinking: a server that died
    with listen_unix(path, None, 8) as live:
        with pytest.raises(NagareError, match="another server listens on it"):
            listen_unix(path, None, 8)
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)  # the first one still listens
        assert live.accept()[0].close() is None


def test_a_file_that_is_not_a_socket_is_left_alone(tmp_path) -> None:
    path = tmp_path / "fcgi.sock"
    path.write_text("data")
    with pytest.raises(NagareError, match="the file exists and is not a socket"):
        listen_unix(str(path), None, 8)
    assert path.read_text() == "data"


def test_the_status_listens_without_blocking_on_tcp_or_a_unix_socket(tmp_path) -> None:
    with listen_status(Address("127.0.0.1:0", host="127.0.0.1", port=0), None) as tcp:
        assert not tcp.getblocking() and describe(tcp, "http").startswith("http://127.0.0.1:")
    path = str(tmp_path / "status.sock")
    with listen_status(Address(path, path=path), 0o077) as unix:
        assert not unix.getblocking() and describe(unix) == f"unix:{path}"
    unlink(path)
    unlink(path)  # already gone: nothing to do
    assert not os.path.exists(path)


def test_the_connections_accepted_on_tcp_have_no_nagle_delay():
    """TCP_NODELAY is set once, on the listening socket: each connection it accepts has it."""
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family, socket.SOCK_STREAM) as listener:
            listener.bind((host, 0))
            listener.listen()
            no_delay(listener)
            with socket.create_connection(listener.getsockname()[:2]) as client:
                accepted, _ = listener.accept()
                with accepted:
                    assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                assert not client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)  # the option, not a default

