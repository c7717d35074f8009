"""A real lighttpd for the tests (`lighttpd -D -f <conf>`), on a free loopback port."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.deployment import FrontServer

LIGHTTPD = shutil.which("lighttpd") or "/usr/sbin/lighttpd"


class Lighttpd(FrontServer):
    """lighttpd running the configuration `conf`: `{port}` and `{tmp}` in it are replaced."""

    name, error_log_name = "lighttpd", "lighttpd.log"

    def __init__(self, tmp: Path, conf: str) -> None:
        if not os.path.exists(LIGHTTPD):
            pytest.fail(f"lighttpd is not installed at {LIGHTTPD} (apt-get install lighttpd; see .ci/packages.txt)")
        super().__init__(tmp)
        self.conf = tmp / "lighttpd.conf"
        self.conf.write_text(conf.replace("{port}", str(self.port)).replace("{tmp}", str(tmp)))
        self.check([LIGHTTPD, "-tt", "-f", self.conf])
        self.start([LIGHTTPD, "-D", "-f", self.conf])  # TERM stops it at once
