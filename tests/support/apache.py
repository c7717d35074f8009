"""A real Apache 2.4 for the tests (`apache2 -DFOREGROUND`), on a free loopback port.

Its own minimal main configuration (Debian's /etc/apache2 is not used): ServerRoot, pid file,
runtime directory and logs in the temp dir, the modules a Nagare site needs loaded from
/usr/lib/apache2/modules, and Debian's default `<Directory /> Require all denied`, so that a
site must grant its static folders as it must on a Debian server.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.server import free_port, wait_for_port

APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
NEEDED = ("mpm_event", "authz_core", "mime", "rewrite", "proxy", "proxy_fcgi")

MAIN = """\
ServerRoot {tmp}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {tmp}/apache.pid
DefaultRuntimeDir {tmp}
ErrorLog {tmp}/apache-error.log
LogLevel warn
{modules}
TypesConfig /etc/mime.types
{user}
# Debian's apache2.conf denies the whole file system; a site grants what it serves.
<Directory />
    Options FollowSymLinks
    AllowOverride None
    Require all denied
</Directory>
Include {tmp}/site.conf
"""


class Apache:
    """apache2 running `site` (a `<VirtualHost>`; `{port}` replaced by its port)."""

    def __init__(self, tmp: Path, site: str) -> None:
        if not os.path.exists(APACHE):
            pytest.fail(f"apache2 is not installed at {APACHE} (apt-get install apache2; see .ci/packages.txt)")
        missing = [name for name in NEEDED if not (MODULES / f"mod_{name}.so").exists()]
        if missing:
            pytest.fail(f"Apache modules missing from {MODULES}: {', '.join(missing)}")
        self.tmp = tmp
        self.port = free_port()
        modules = "\n".join(f"LoadModule {name}_module {MODULES}/mod_{name}.so" for name in NEEDED)
        # as root, Apache must switch to a user (it refuses to serve as root): Debian's www-data
        user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
        (tmp / "site.conf").write_text(site.replace("{port}", str(self.port)))
        self.conf = tmp / "apache.conf"
        self.conf.write_text(MAIN.format(tmp=tmp, port=self.port, modules=modules, user=user))
        check = subprocess.run([APACHE, "-t", "-f", str(self.conf)], capture_output=True, text=True, timeout=60)
        if check.returncode != 0:
            pytest.fail(f"apache2 refuses its configuration: {check.stdout}{check.stderr}")
        self.process = subprocess.Popen(
            [APACHE, "-DFOREGROUND", "-f", str(self.conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )
        try:
            wait_for_port(self.port, self.process)
        except Exception:
            error = self.process.stderr.read().decode(errors="replace") if self.process.poll() is not None and self.process.stderr else ""
            self.stop()
            pytest.fail(f"apache2 did not start: {error} {self.error_log()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = self.tmp / "apache-error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # TERM: the parent stops its children, then exits
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:  # its children, if any outlived it (their own session, started above)
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
