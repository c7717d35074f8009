"""A real Apache 2.4 for the tests (`apache2 -DFOREGROUND`), on a free loopback port.

Its own minimal main configuration (Debian's /etc/apache2 is not used): ServerRoot, pid file,
runtime directory and logs in the temp dir, the modules a Nagare site needs loaded from
/usr/lib/apache2/modules, and Debian's default `<Directory /> Require all denied`, so that a
site must grant its static folders as it must on a Debian server.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.deployment import FrontServer

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


class Apache(FrontServer):
    """apache2 running `site` (a `<VirtualHost>`; `{port}` replaced by its port)."""

    name, error_log_name = "apache2", "apache-error.log"

    def __init__(self, tmp: Path, site: str) -> None:
        if not os.path.exists(APACHE):
            pytest.fail(f"apache2 is not installed at {APACHE} (apt-get install apache2; see .ci/packages.txt)")
        missing = [name for name in NEEDED if not (MODULES / f"mod_{name}.so").exists()]
        if missing:
            pytest.fail(f"Apache modules missing from {MODULES}: {', '.join(missing)}")
        super().__init__(tmp)
        modules = "\n".join(f"LoadModule {name}_module {MODULES}/mod_{name}.so" for name in NEEDED)
        # as root, Apache must switch to a user (it refuses to serve as root): Debian's www-data
        user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
        (tmp / "site.conf").write_text(site.replace("{port}", str(self.port)))
        self.conf = tmp / "apache.conf"
        self.conf.write_text(MAIN.format(tmp=tmp, port=self.port, modules=modules, user=user))
        self.check([APACHE, "-t", "-f", self.conf])
        self.start([APACHE, "-DFOREGROUND", "-f", self.conf])  # TERM: the parent stops its children
