"""The three system calls the master makes on its workers: fork, kill, waitpid.

They are one object passed to the master, so that its reaping, replacing and killing are tested
in process with a fake that records the calls and hands out made-up exits (the real ones are
tested with real processes too).
"""

from __future__ import annotations

import gc
import os
from typing import Protocol


class Processes(Protocol):
    def fork(self) -> int:
        """0 in the child; in the parent, the child's pid."""

    def kill(self, pid: int, signum: int) -> None:
        """Send `signum` to `pid`; a process already gone is not an error."""

    def waitpid(self) -> tuple[int, int] | None:
        """(pid, wait status) of one child that exited, or None if none has (it never blocks)."""


class OSProcesses:
    """The real system calls."""

    def fork(self) -> int:
        # The objects the child inherits are frozen in it (gc.freeze: out of the collector's
        # generations). A worker's full collections would otherwise write in the header of each
        # of them, and the kernel copy every page they touch: after 30,000 clicks of the demo a
        # worker's private memory was 28 MB of its 55 instead of 11. The master's own collector
        # gets its objects back at once (freeze and unfreeze move lists, in constant time).
        gc.freeze()
        try:
            pid = os.fork()
        except BaseException:
            gc.unfreeze()
            raise
        if pid:
            gc.unfreeze()
        return pid

    def kill(self, pid: int, signum: int) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:  # it exited meanwhile: its exit is reaped at the next tick
            pass

    def waitpid(self) -> tuple[int, int] | None:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return None
        return (pid, status) if pid else None
