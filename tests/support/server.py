"""Start real servers for the tests: `nagare-admin serve` in a subprocess on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def port_is_free(port: int) -> bool:
    """Nothing listens on `port`, and a new server (SO_REUSEADDR, as servers do) can bind it."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        pass
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
    """Send `sig`, wait up to `timeout`, then kill; the exit status."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def nagare_admin(
    *args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run `python -m nagare <args>` to completion; its output as text (`stdin`: its input, else none).

    With a `cwd`, the session secret is kept there rather than in the user's home.
    """
    environment = dict(os.environ)
    if cwd is not None:
        environment.setdefault("NAGARE_SECRET_FILE", str(Path(cwd) / "secret"))
    environment.update(env or {})
    feed: dict[str, object] = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(
        [sys.executable, "-m", "nagare", *args],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout, **feed,  # type: ignore[call-overload]
    )


class NagareServer:
    """`python -m nagare serve ... --port N` running until `stop()`; its stderr kept in a file.

    `command` runs another serving command instead (`serve-module`).
    """

    def __init__(
        self,
        args: Sequence[str],
        tmp: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        command: str = "serve",
    ) -> None:
        self.port = port or free_port()
        self.log_path = tmp / f"server-{self.port}.log"
        self.args = [sys.executable, "-m", "nagare", command, "--port", str(self.port), *args]
        environment = dict(os.environ)
        environment.setdefault("NAGARE_SECRET_FILE", str(tmp / "secret"))
        environment.update(env or {})
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT, env=environment, cwd=tmp)
        try:
            wait_for_port(self.port, self.process)
        except Exception:
            self.stop()
            raise RuntimeError(f"server did not start: {self.log()}") from None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        if not self._log.closed:  # readable after stop() too
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        status = stop_process(self.process, sig, timeout)
        self._log.close()
        return status
