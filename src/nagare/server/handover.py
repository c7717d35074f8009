"""What a master image hands to the next one when it reloads: sockets and workers.

A reload re-executes the master (same pid, for supervisor): the listening socket, the hand-off
socket pair and the status socket stay open across `exec`, and the new image must know their
file descriptors and the pids of the workers it inherits (it retires them once its own serve).
They travel in one environment variable; this module is its only writer and its only reader.

    NAGARE_FASTCGI_INHERIT=<listen>,<handoff send>,<handoff receive>,<status or -1>;<pid>,<pid>...;<sharing>

<sharing> is nagare.server.sharing's own text (the shared epoll, connections and channels).
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping
from dataclasses import dataclass

from nagare.errors import NagareError

VARIABLE = "NAGARE_FASTCGI_INHERIT"


class HandoverError(NagareError):
    """The variable is not one a master image wrote."""


@dataclass(frozen=True)
class Handover:
    """The sockets and workers of the previous master image."""

    listener: socket.socket
    handoff: tuple[socket.socket, socket.socket]
    status: socket.socket | None
    workers: tuple[int, ...]
    sharing: str = ""

    def sockets(self) -> list[socket.socket]:
        found = [self.listener, *self.handoff]
        return found if self.status is None else [*found, self.status]

    def encode(self) -> str:
        """The variable's value; the sockets are made inheritable (they must survive `exec`)."""
        for sock in self.sockets():
            sock.set_inheritable(True)
        fds = [self.listener.fileno(), *(s.fileno() for s in self.handoff), self.status.fileno() if self.status is not None else -1]
        return ",".join(map(str, fds)) + ";" + ",".join(map(str, self.workers)) + ";" + self.sharing

    @classmethod
    def decode(cls, value: str) -> "Handover":
        """The sockets named by `value`, no longer inheritable; `HandoverError` if malformed."""
        fds_text, separator, rest = value.partition(";")
        pids_text, _, sharing = rest.partition(";")
        try:
            fds = [int(fd) for fd in fds_text.split(",")]
            pids = tuple(int(pid) for pid in pids_text.split(",") if pid)
        except ValueError:
            raise HandoverError(f"{VARIABLE}={value!r}: expected fds;pids") from None
        if not separator or len(fds) != 4 or min(fds[:3]) < 0 or any(pid <= 0 for pid in pids):
            raise HandoverError(f"{VARIABLE}={value!r}: expected listen,send,receive,status;pids")
        try:
            listener, send, receive = (socket.socket(fileno=fd) for fd in fds[:3])
            status = socket.socket(fileno=fds[3]) if fds[3] >= 0 else None
        except OSError as exc:
            raise HandoverError(f"{VARIABLE}={value!r}: {exc.strerror or exc}") from None
        handover = cls(listener, (send, receive), status, pids, sharing)
        for sock in handover.sockets():
            sock.set_inheritable(False)
        return handover


def take(environ: MutableMapping[str, str] = os.environ) -> Handover | None:
    """The hand-over left by the previous image, removed from `environ`; None at a first start."""
    value = environ.pop(VARIABLE, None)
    return Handover.decode(value) if value else None


def give(handover: Handover, environ: MutableMapping[str, str] = os.environ) -> None:
    """Leave `handover` for the next image (called just before `exec`)."""
    environ[VARIABLE] = handover.encode()
