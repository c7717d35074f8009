"""The master: forks the workers, keeps the pool sized and healthy, answers signals and status.

One loop, top to bottom: handle the signals recorded; look at the pool (reap the workers that
exited, read the others' slots — looking changes nothing); let the policy decide; act (fork,
signal, and the bookkeeping of what was seen and done); wait for a signal or a status client,
up to a tick, and answer the status. Signal handlers only append to a list, since work done in
a handler runs in the middle of whatever the loop was doing.

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
from types import FrameType

from nagare.server import handover
from nagare.server import status as status_report
from nagare.server.endpoint import StatusEndpoint
from nagare.server.sharing import Shared, Sharing
from nagare.server.policy import Actions, Exit, Policy, PoolSettings, Previous, State, WorkerView
from nagare.server.processes import OSProcesses, Processes
from nagare.server.scoreboard import Scoreboard, Slot
from nagare.server.worker import STUCK_SIGNAL, exit_worker, reopen_log_files

log = logging.getLogger("nagare.publisher")

TICK = 0.1  # seconds between two looks at the pool
KILL_AGAIN = 5.0  # seconds between two SIGKILLs of the workers that outlive a stop
INHERIT = handover.VARIABLE
CHECK = "NAGARE_FASTCGI_CHECK"  # set for the process that checks a reload: load, then exit


@dataclass
class WorkerInfo:
    """What the master knows of one of its workers; the worker's slot says the rest."""

    slot: int  # its index in the scoreboard
    last: Slot  # its last whole reading (a slot read in the middle of a write gives none)
    retiring: bool = False
    dumped_at: float | None = None


@dataclass(frozen=True)
class Observation:
    """One look at the pool."""

    exited: dict[int, int]  # pid -> wait status, of every child reaped
    slots: dict[int, Slot | None]  # our workers' slots (the exited ones too); None: no news
    workers: list[WorkerView]  # our workers alive
    exits: list[Exit]  # our workers reaped


class Master:
    """The pool's process manager: `run()` until stopped; its exit status (1: workers fail at start)."""

    def __init__(
        self,
        listener: socket.socket,
        handoff: tuple[socket.socket, socket.socket],
        run_worker: Callable[[int, Scoreboard, int, Shared], int],
        pool: PoolSettings,
        *,
        name: str,
        graceful_timeout: float = 30.0,
        status: socket.socket | None = None,
        backlog: int = 1024,
        old_workers: tuple[int, ...] = (),
        processes: Processes | None = None,
        sharing: Sharing | None = None,
    ) -> None:
        self.listener = listener
        self.handoff = handoff
        # the pool's shared epoll and kept-alive connections (nagare.server.sharing)
        self.sharing = sharing if sharing is not None else Sharing(handoff[0], listener, None)
        self.run_worker = run_worker  # in the forked child: serves, returns the exit status
        self.policy = Policy(pool)
        self.pool = pool
        self.graceful_timeout = graceful_timeout
        self.status_listener = status
        self.endpoint = StatusEndpoint(status, self.status)
        self.processes: Processes = processes or OSProcesses()
        self.scoreboard = Scoreboard(pool.max_children * 2 + 2)  # room for workers finishing
        self.workers: dict[int, WorkerInfo] = {}
        self.previous = set(old_workers)  # of the master image before a reload, still alive
        self.previous_retired = False
        self.signals: list[int] = []
        self.stop_deadline: float | None = None
        self.reload_check: subprocess.Popen[bytes] | None = None
        self.totals = status_report.Totals(name, time.time(), backlog)
        self.started = time.monotonic()
        self.exit_status = 0
        self.at_max_children = False  # counted once each time the pool hits maxChildren
        self._wake_fds: tuple[int, int] | None = None

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

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.signals.append(signum)

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> int:
        wake_r = self._install_signals()
        while True:
            self.handle_signals(time.monotonic())
            if not self.tick(time.monotonic()):
                break
            ready = self.wait(wake_r, TICK)
            self.endpoint.serve(ready, time.monotonic())  # during a stop too: unread bytes would make select spin
        self.close()
        return self.exit_status

    def tick(self, now: float) -> bool:
        """One look at the pool, the policy's decision, what it takes; False once stopped."""
        seen = self.observe()
        stopping = self.stop_deadline is not None
        actions = self.policy.decide(seen.workers, now, seen.exits, self.previous_generation(), stopping)
        self.apply(actions, seen, now)
        if self.stop_deadline is None:
            self.check_reload()
        elif not self.workers and not self.previous:
            return False
        elif now >= self.stop_deadline:
            self.kill_all(signal.SIGKILL)
            self.stop_deadline = now + KILL_AGAIN
        return True

    def wait(self, wake_r: int, timeout: float) -> set[int]:
        """The file descriptors that became readable within `timeout`: the signals' wake-up pipe
        (emptied here), the status sockets.

        The workers' messages about kept-alive connections are handled meanwhile, without
        returning: the pool needs a look only every tick.
        """
        sharing = self.sharing
        deadline = time.monotonic() + timeout
        while True:
            try:
                ready, _, _ = select.select([wake_r, sharing.fileno(), *self.endpoint.fds()], [], [], timeout)
            except InterruptedError:
                return set()
            if sharing.fileno() in ready:
                sharing.handle()
                ready.remove(sharing.fileno())
                timeout = deadline - time.monotonic()
                if not ready and timeout > 0:
                    continue
            break
        if wake_r in ready:
            drain(wake_r)
        return set(ready)

    def handle_signals(self, now: float) -> None:
        while self.signals:
            signum = self.signals.pop(0)
            if signum == signal.SIGCHLD:
                continue  # the exits are reaped every tick
            if signum in (signal.SIGTERM, signal.SIGINT):
                if self.stop_deadline is None:
                    log.info("stopping: waiting up to %gs for the requests in flight", self.graceful_timeout)
                    self.stop(signal.SIGTERM, self.graceful_timeout, now)
                else:  # asked twice: the user means it
                    self.stop(signal.SIGQUIT, 1.0, now)
            elif signum == signal.SIGQUIT:
                log.info("stopping now")
                self.stop(signal.SIGQUIT, 1.0, now)
            elif signum == signal.SIGHUP:
                self.start_reload()
            elif signum == signal.SIGUSR1:
                reopen_log_files()
                self.kill_all(signal.SIGUSR1)

    def stop(self, signum: int, timeout: float, now: float) -> None:
        self.stop_deadline = now + timeout
        if self.reload_check is not None:
            self.reload_check.kill()
        self.kill_all(signum)

    def kill_all(self, signum: int) -> None:
        for pid in [*self.workers, *self.previous]:
            if signum == signal.SIGTERM and pid in self.workers:
                self.workers[pid].retiring = True
            self.processes.kill(pid, signum)

    # -- observe -----------------------------------------------------------------------------

    def observe(self) -> Observation:
        """The exits and the slots as they are: nothing is recorded nor changed by looking."""
        exited: dict[int, int] = {}
        while (found := self.processes.waitpid()) is not None:
            pid, status = found
            check = self.reload_check
            if check is not None and pid == check.pid:  # its Popen can no longer wait for it
                check.returncode = os.waitstatus_to_exitcode(status)
            else:
                exited[pid] = status
        slots: dict[int, Slot | None] = {}
        workers, exits = [], []
        stopping = self.stop_deadline is not None
        for pid, info in self.workers.items():
            if pid in exited:  # it is dead: a write it left half done stays so, no waiting
                slot = slots[pid] = self.scoreboard.read(info.slot, patience=0.0)
                exits.append(Exit(pid, (slot or info.last).state, asked=info.retiring or stopping))
            else:
                slot = slots[pid] = self.scoreboard.read(info.slot)
                last = slot or info.last
                workers.append(WorkerView(pid, last.state, last.since, last.heartbeat, info.retiring, info.dumped_at, news=slot is not None))
        return Observation(exited, slots, workers, exits)

    def previous_generation(self) -> Previous | None:
        if not self.previous or self.previous_retired:
            return None
        return Previous(tuple(sorted(self.previous)), self.started)

    # -- act ---------------------------------------------------------------------------------

    def apply(self, actions: Actions, seen: Observation, now: float) -> None:
        self.record(seen)
        for gone in seen.exits:
            self.forget(gone, seen.exited[gone.pid], actions)
        if actions.stop:
            log.error("%d workers in a row failed at start: stopping (see the errors above)", self.policy.boot_failures)
            self.exit_status = 1
            self.stop(signal.SIGTERM, self.graceful_timeout, now)
        if actions.max_children_reached and not self.at_max_children:
            log.warning("the pool reached maxChildren (%d): requests wait for a free worker", self.pool.max_children)
            self.totals.max_children_reached += 1
        self.at_max_children = actions.max_children_reached
        for _ in range(actions.spawn):
            self.spawn(now)
        for pid in actions.retire:
            self.workers[pid].retiring = True
            self.processes.kill(pid, signal.SIGTERM)
        for pid in actions.dump:
            self.dump(pid, now)
        for pid in actions.kill:
            log.error("worker %d killed", pid)
            self.processes.kill(pid, signal.SIGKILL)
        if actions.retire_previous:
            self.previous_retired = True
            for pid in actions.retire_previous:
                self.processes.kill(pid, signal.SIGTERM)
            log.info("reloaded: %d workers of the previous code retired", len(actions.retire_previous))

    def record(self, seen: Observation) -> None:
        """Keep what this look at the pool taught: the last whole slots, the most workers busy."""
        for pid, slot in seen.slots.items():
            if slot is not None:
                self.workers[pid].last = slot
        for pid in self.previous & seen.exited.keys():
            self.sharing.gone(pid, 0)
        self.previous -= seen.exited.keys()
        busy = sum(1 for w in seen.workers if w.state == State.BUSY)
        self.totals.max_active = max(self.totals.max_active, busy)

    def forget(self, gone: Exit, status: int, actions: Actions) -> None:
        """A worker reaped: its counts go to the totals, its slot is freed; say why it went."""
        pid = gone.pid
        info = self.workers.pop(pid)
        self.totals.started.pop(pid, None)
        last = info.last
        self.totals.accepted += last.accepted
        self.totals.requests += last.requests
        self.totals.slow += last.slow
        now_seen = self.scoreboard.read(info.slot, patience=0.0) or last  # its last words
        self.sharing.gone(pid, now_seen.conn if now_seen.state == State.BUSY else 0)
        self.scoreboard.release(info.slot)
        if pid in actions.failed:
            log.error("worker %d %s before serving", pid, _describe(status))
        elif pid not in actions.replace:
            pass  # it was asked to go, or it is not replaced since the pool stops
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            log.debug("worker %d exited (recycled)", pid)
        else:
            log.warning("worker %d %s: replaced", pid, _describe(status))

    def spawn(self, now: float) -> None:
        index = self.scoreboard.free_slot()
        if index is None:
            return
        claimed = self.scoreboard.claim(index, now)
        master = os.getpid()  # the child's getppid() could already be 1 if we died meanwhile
        try:
            channel = self.sharing.channel()
            pid = self.processes.fork()
        except OSError as exc:  # EAGAIN, ENOMEM, EMFILE: the pool goes on, the policy asks again
            self.scoreboard.release(index)
            log.error("cannot fork a worker: %s", exc.strerror or exc)
            return
        if pid == 0:
            status = 1
            try:
                self.in_child()
                self.sharing.in_child(channel)
                sharing = self.sharing
                shared = Shared(sharing.epoll, channel[1] if channel else None, self.handoff[1], set(sharing.conns))
                status = self.run_worker(index, self.scoreboard, master, shared)
            except BaseException:
                log.exception("worker %d failed", os.getpid())
            finally:
                exit_worker(status)
        self.sharing.forked(pid, channel)
        self.workers[pid] = WorkerInfo(index, claimed)
        self.totals.started[pid] = time.time()

    def in_child(self) -> None:
        """Drop what only the master uses (the worker installs its own signal handlers)."""
        signal.set_wakeup_fd(-1)
        for fd in self._wake_fds or ():
            os.close(fd)
        self.endpoint.close_clients()
        if self.status_listener is not None:
            self.status_listener.close()
        self.signals.clear()

    def dump(self, pid: int, now: float) -> None:
        """Make a stuck worker log its stack; SIGKILL follows after kill_grace (the policy's)."""
        info = self.workers[pid]
        slot = info.last
        info.retiring, info.dumped_at = True, now
        if slot.state == State.BUSY:
            log.error(
                "worker %d stuck for %.1fs on %s %s: its stack follows, killed in %gs",
                pid, now - slot.since, slot.method, slot.uri, self.pool.kill_grace,
            )
        else:
            log.error("worker %d gave no sign of life for %.1fs: its stack follows, killed in %gs", pid, now - slot.heartbeat, self.pool.kill_grace)
        self.processes.kill(pid, STUCK_SIGNAL)

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
        handover.give(handover.Handover(
            self.listener, self.handoff, self.status_listener, (*self.workers, *self.previous), self.sharing.encode(),
        ))
        self.endpoint.close_clients()
        signal.set_wakeup_fd(-1)
        log.info("reloading: the new code is loaded by a new master image (pid %d)", os.getpid())
        atexit._run_exitfuncs()  # our background log writer writes its queue before the exec
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])

    # -- status ------------------------------------------------------------------------------

    def status(self) -> status_report.Status:
        queue = listen_queue(self.listener)
        if queue is not None:
            self.totals.max_listen_queue = max(self.totals.max_listen_queue, queue)
        # a slot in the middle of a write shows the worker as it was last seen whole
        slots = [self.scoreboard.read(info.slot) or info.last for info in self.workers.values()]
        return status_report.report(self.totals, slots, queue, time.monotonic(), time.time())

    def close(self) -> None:
        self.sharing.close()
        self.endpoint.close_clients()
        self.scoreboard.close()
        if self._wake_fds is not None:
            signal.set_wakeup_fd(-1)
            for fd in self._wake_fds:
                os.close(fd)


def drain(fd: int) -> None:
    """Empty the signal wake-up pipe `fd` (non-blocking)."""
    try:
        while os.read(fd, 512):
            pass
    except (BlockingIOError, InterruptedError):
        pass


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
    queue: int = struct.unpack_from("=I", info, 24)[0]
    return queue


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        try:
            name = signal.Signals(os.WTERMSIG(status)).name
        except ValueError:
            name = str(os.WTERMSIG(status))
        return f"was killed by {name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
