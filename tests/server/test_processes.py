"""The real system calls of the master (nagare.server.processes.OSProcesses)."""

from __future__ import annotations

import gc
import os
import signal

import pytest

from nagare.server.processes import OSProcesses


def test_a_forked_worker_keeps_what_it_inherits_out_of_its_collector():
    """The child's inherited objects are frozen (its full collections do not write in their pages);
    the master's are not: its collector keeps them."""
    processes = OSProcesses()
    read, write = os.pipe()
    pid = processes.fork()
    if pid == 0:  # the child: say what it sees, and leave at once
        try:
            os.write(write, str(gc.get_freeze_count()).encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        answer = os.read(read, 100).decode()
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert int(answer) > 1000  # the interpreter's and the tests' objects
    assert gc.get_freeze_count() == 0  # in the master, given back to its collector


def test_a_failed_fork_gives_the_objects_back(monkeypatch):
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    with pytest.raises(BlockingIOError):
        OSProcesses().fork()
    assert gc.get_freeze_count() == 0


def test_kill_of_a_process_already_gone_is_not_an_error():
    processes = OSProcesses()
    pid = processes.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    processes.kill(pid, signal.SIGTERM)  # reaped: no such process
    assert processes.waitpid() is None
