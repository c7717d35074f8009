"""The master: forks the workers, keeps the pool sized and healthy, answers signals and status.

One loop, top to bottom (gunicorn's arbiter, without its signal-handler work): wait on the
signal wake-up pipe and the status sockets; handle the signals recorded; reap the workers that
exited; apply what the policy decides; answer the status requests. Signal handlers only append
to a list.

Signals (the process runs in the foreground, logs to stderr — what supervisor expects):
- TERM, INT: graceful stop — workers finish their request, bounded by `graceful_timeout`, then KILL;
- QUIT: stop at once;
- HUP: reload code and configuration: a child process first checks that the new configuration
  and application load, then the master re-executes itself keeping its pid, its listening socket
  and its workers, which it retires once the new workers are up — no request is refused;
- USR1: reopen the log files (the workers too).
"""

from __future__ import annotations

import atexit
import errno
import logging
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nagare.server import handover
from nagare.server import status as status_report
from nagare.server.endpoint import StatusEndpoint
from nagare.server.policy import Actions, Policy, PoolSettings, State, WorkerView
from nagare.server.scoreboard import Scoreboard
from nagare.server.worker import STUCK_SIGNAL, drain, exit_worker, reopen_log_files

log = logging.getLogger("nagare.publisher")

TICK = 0.1  # seconds between two looks at the pool
BOOT_FAILURES = 5  # workers in a row that die before serving: the master stops
INHERIT = handover.VARIABLE
CHECK = "NAGARE_FASTCGI_CHECK"  # set for the process that checks a reload: load, then exit


@dataclass
class WorkerInfo:
    slot: int
    retiring: bool = False
    dumped_at: float | None = None
    ready: bool = False  # has reached IDLE once


class Master:
    def __init__(
        self,
        listener: socket.socket,
        handoff: tuple[socket.socket, socket.socket],
        run_worker: Callable[[int, Scoreboard, int], int],
        pool: PoolSettings,
        *,
        name: str,
        graceful_timeout: float = 30.0,
        status: socket.socket | None = None,
        backlog: int = 1024,
        old_workers: tuple[int, ...] = (),
    ) -> None:
        self.listener = listener
        self.handoff = handoff
        self.run_worker = run_worker  # in the forked child: serves, returns the exit status
        self.policy = Policy(pool)
        self.pool = pool
        self.graceful_timeout = graceful_timeout
        self.status_listener = status
        self.endpoint = StatusEndpoint(status, self.status)
        self.scoreboard = Scoreboard(pool.max_children * 2 + 2)  # room for workers finishing
        self.workers: dict[int, WorkerInfo] = {}
        self.old_workers = set(old_workers)  # of the master image before a reload
        self.old_retired = False
        self.signals: list[int] = []
        self.stop_deadline: float | None = None
        self.boot_failures = 0
        self.reload_check: subprocess.Popen[bytes] | None = None
        self.totals = status_report.Totals(name, time.time(), backlog)
        self.started = time.monotonic()
        self.exit_status = 0
        self.at_max_children = False  # counted once each time the pool hits maxChildren

    # -- signals -----------------------------------------------------------------------------

    def _install_signals(self) -> int:
        wake_r, wake_w = os.pipe()
        for fd in (wake_r, wake_w):
            os.set_blocking(fd, False)
            os.set_inheritable(fd, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1, signal.SIGCHLD):
            signal.signal(signum, self._record)
        self._wake_fds = (wake_r, wake_w)
        return wake_r

    def _record(self, signum: int, frame: Any) -> None:
        self.signals.append(signum)

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> int:
        wake_r = self._install_signals()
        for _ in range(self.policy.initial()):
            self.spawn()
        while True:
            try:
                ready, _, _ = select.select([wake_r, *self.endpoint.fds()], [], [], TICK)
            except InterruptedError:
                ready = []
            if wake_r in ready:
                drain(wake_r)
            self.handle_signals()
            self.reap()
            now = time.monotonic()
            if self.stop_deadline is None:
                self.check_reload()
                self.retire_old_generation()
                self.apply(self.policy.decide(self.views(), now), now)
            elif not self.workers and not self.old_workers:
                break
            elif now >= self.stop_deadline:
                self.kill_all(signal.SIGKILL)
                self.stop_deadline = now + 5.0
            self.endpoint.serve(ready, now)  # during a stop too: unread bytes would make select spin
        self.close()
        return self.exit_status

    def handle_signals(self) -> None:
        while self.signals:
            signum = self.signals.pop(0)
            if signum == signal.SIGCHLD:
                continue  # reap() runs every turn
            if signum in (signal.SIGTERM, signal.SIGINT):
                if self.stop_deadline is None:
                    log.info("stopping: waiting up to %gs for the requests in flight", self.graceful_timeout)
                    self.stop(signal.SIGTERM, self.graceful_timeout)
                else:  # asked twice: the user means it
                    self.stop(signal.SIGQUIT, 1.0)
            elif signum == signal.SIGQUIT:
                log.info("stopping now")
                self.stop(signal.SIGQUIT, 1.0)
            elif signum == signal.SIGHUP:
                self.start_reload()
            elif signum == signal.SIGUSR1:
                reopen_log_files()
                self.kill_all(signal.SIGUSR1)

    def stop(self, signum: int, timeout: float) -> None:
        self.stop_deadline = time.monotonic() + timeout
        if self.reload_check is not None:
            self.reload_check.kill()
        self.kill_all(signum)

    def kill_all(self, signum: int) -> None:
        for pid in [*self.workers, *self.old_workers]:
            if signum == signal.SIGTERM and pid in self.workers:
                self.workers[pid].retiring = True
            _kill(pid, signum)

    # -- workers -----------------------------------------------------------------------------

    def spawn(self) -> None:
        index = self.scoreboard.free_slot()
        if index is None:
            return
        now = time.monotonic()
        self.scoreboard.claim(index, now)
        master = os.getpid()  # the child's getppid() could already be 1 if we died meanwhile
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                self.in_child()
                status = self.run_worker(index, self.scoreboard, master)
            except BaseException:
                log.exception("worker %d failed", os.getpid())
            finally:
                exit_worker(status)
        self.workers[pid] = WorkerInfo(index)
        self.totals.started[pid] = time.time()

    def in_child(self) -> None:
        """Drop what only the master uses (the worker installs its own signal handlers)."""
        signal.set_wakeup_fd(-1)
        for fd in self._wake_fds:
            os.close(fd)
        self.endpoint.close_clients()
        if self.status_listener is not None:
            self.status_listener.close()
        self.signals.clear()

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            check = self.reload_check
            if check is not None and pid == check.pid:  # its Popen can no longer wait for it
                check.returncode = os.waitstatus_to_exitcode(status)
                continue
            self.totals.started.pop(pid, None)
            if pid in self.old_workers:
                self.old_workers.discard(pid)
                continue
            info = self.workers.pop(pid, None)
            if info is None:
                continue  # the reload check process, reaped by its Popen
            slot = self.scoreboard.read(info.slot)
            self.totals.accepted += slot.accepted
            self.totals.requests += slot.requests
            self.totals.slow += slot.slow
            self.scoreboard.release(info.slot)
            if info.retiring or self.stop_deadline is not None:
                continue
            how = _describe(status)
            if not info.ready and slot.state == State.STARTING:
                self.boot_failures += 1
                log.error("worker %d %s before serving", pid, how)
                if self.boot_failures >= BOOT_FAILURES:
                    log.error("%d workers in a row failed at start: stopping (see the errors above)", self.boot_failures)
                    self.exit_status = 1
                    self.stop(signal.SIGTERM, self.graceful_timeout)
                    return
            elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                log.debug("worker %d exited (recycled)", pid)
            else:
                log.warning("worker %d %s: replaced", pid, how)
            self.spawn()  # a worker that crashed or was recycled is replaced at once

    def views(self) -> list[WorkerView]:
        views = []
        active = 0
        for pid, info in self.workers.items():
            slot = self.scoreboard.read(info.slot)
            if slot.state == State.IDLE and not info.ready:
                info.ready = True
                self.boot_failures = 0
            if slot.state == State.BUSY:
                active += 1
            views.append(WorkerView(pid, slot.state, slot.since, slot.heartbeat, info.retiring, info.dumped_at))
        self.totals.max_active = max(self.totals.max_active, active)
        return views

    def apply(self, actions: Actions, now: float) -> None:
        if actions.max_children_reached and not self.at_max_children:
            log.warning("the pool reached maxChildren (%d): requests wait for a free worker", self.pool.max_children)
            self.totals.max_children_reached += 1
        self.at_max_children = actions.max_children_reached
        for _ in range(actions.spawn):
            self.spawn()
        for pid in actions.retire:
            self.workers[pid].retiring = True
            _kill(pid, signal.SIGTERM)
        for pid in actions.dump:
            info = self.workers[pid]
            slot = self.scoreboard.read(info.slot)
            info.retiring, info.dumped_at = True, now
            if slot.state == State.BUSY:
                log.error(
                    "worker %d stuck for %.1fs on %s %s: its stack follows, killed in %gs",
                    pid, now - slot.since, slot.method, slot.uri, self.pool.kill_grace,
                )
            else:
                log.error("worker %d gave no sign of life for %.1fs: its stack follows, killed in %gs", pid, now - slot.heartbeat, self.pool.kill_grace)
            _kill(pid, STUCK_SIGNAL)
            self.spawn()  # its replacement starts now, not when it finally dies
        for pid in actions.kill:
            log.error("worker %d killed", pid)
            _kill(pid, signal.SIGKILL)

    # -- reload ------------------------------------------------------------------------------

    def start_reload(self) -> None:
        if self.reload_check is not None:
            return
        log.info("reloading: checking the new configuration and application")
        env = dict(os.environ, **{CHECK: "1"})
        env.pop(INHERIT, None)
        self.reload_check = subprocess.Popen(
            [sys.executable, *sys.orig_argv[1:]], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, close_fds=True,
        )

    def check_reload(self) -> None:
        check = self.reload_check
        if check is None or check.poll() is None:
            return
        self.reload_check = None
        error = check.stderr.read().decode(errors="replace").strip() if check.stderr else ""
        if check.stderr:
            check.stderr.close()
        if check.returncode != 0:
            reason = error.splitlines()[-1] if error else f"exit status {check.returncode}"
            log.error("reload refused, the running code goes on: %s", reason)
            return
        self.reexec()

    def reexec(self) -> None:
        """Become the new master image: same pid, same listening socket, same workers (for now)."""
        handover.give(handover.Handover(self.listener, self.handoff, self.status_listener, (*self.workers, *self.old_workers)))
        self.endpoint.close_clients()
        signal.set_wakeup_fd(-1)
        log.info("reloading: the new code is loaded by a new master image (pid %d)", os.getpid())
        atexit._run_exitfuncs()  # our background log writer writes its queue before the exec
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])

    def retire_old_generation(self) -> None:
        """After a reload: retire the previous image's workers once ours serve."""
        if not self.old_workers or self.old_retired:
            return
        ready = sum(1 for info in self.workers.values() if info.ready)  # views() marks them
        if ready >= self.policy.initial() or time.monotonic() - self.started > 30:
            self.old_retired = True
            for pid in self.old_workers:
                _kill(pid, signal.SIGTERM)
            log.info("reloaded: %d workers of the previous code retired", len(self.old_workers))

    # -- status ------------------------------------------------------------------------------

    def status(self) -> status_report.Status:
        queue = listen_queue(self.listener)
        if queue is not None:
            self.totals.max_listen_queue = max(self.totals.max_listen_queue, queue)
        return status_report.report(self.totals, self.scoreboard.slots(), queue, time.monotonic(), time.time())

    def close(self) -> None:
        self.endpoint.close_clients()
        self.scoreboard.close()
        signal.set_wakeup_fd(-1)
        for fd in self._wake_fds:
            os.close(fd)


def listen_queue(sock: socket.socket) -> int | None:
    """Connections waiting in the accept queue of a TCP listening socket (Linux TCP_INFO)."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or not hasattr(socket, "TCP_INFO"):
        return None  # Linux reports no queue length for Unix sockets without sock_diag
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return None
    # struct tcp_info: 8 one-byte fields, then u32 rto, ato, snd_mss, rcv_mss, unacked (for a
    # listening socket: the accept queue), sacked (its maximum)
    return struct.unpack_from("=I", info, 24)[0]


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        try:
            name = signal.Signals(os.WTERMSIG(status)).name
        except ValueError:
            name = str(os.WTERMSIG(status))
        return f"was killed by {name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
