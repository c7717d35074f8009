"""What every publisher is: a settings table and `serve(apps)`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from nagare.config.settings import Setting, Table, string
from nagare.config.values import Values
from nagare.wsgi.dispatch import Dispatcher
from nagare.wsgi.loader import NAGARE_STATIC, LoadedApp

TYPE = Setting("type", string, "standalone", "the publisher (entry point of nagare.publishers)")


class Publisher:
    """Base of the publishers."""

    SETTINGS: ClassVar[Table[Values]] = Table("publisher", [TYPE])
    #: several processes: in-memory sessions and the debugger cannot work
    multiprocess: ClassVar[bool] = False
    #: serves /static/<name>/ itself (in production the front web server does)
    serves_static: ClassVar[bool] = False

    def __init__(self, settings: Values) -> None:
        self.settings = settings

    def dispatcher(self, apps: Sequence[LoadedApp]) -> Dispatcher:
        static: dict[str, str] = {}
        if self.serves_static:
            static["nagare"] = NAGARE_STATIC
            static.update({app.name: app.static for app in apps if app.static})
        return Dispatcher({app.name: app.wsgi for app in apps}, static)

    def serve(self, apps: Sequence[LoadedApp]) -> None:
        raise NotImplementedError
