"""The debug pages (`--debug`, `[application] debug = on`): Werkzeug's interactive debugger.

An exception in a view or an action becomes a page with the traceback, each frame with a Python
console that runs code in the server: the console asks for a PIN that only the server's console
shows (Werkzeug's protection, kept as it is). Its requests are `?__debugger__=yes&cmd=…` relative
to the page, on any path: the debugger wraps the whole dispatcher. One process only (the frames
live in its memory): the multi-process publishers refuse debug mode.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from werkzeug.debug import DebuggedApplication

if TYPE_CHECKING:
    from nagare.types import WSGIApplication

log = logging.getLogger("nagare.publisher")


def debugger(app: WSGIApplication) -> DebuggedApplication:
    """`app` behind the debugger; its PIN logged for the user, who needs it to open a console."""
    # No /console: that path belongs to an application named `console`.
    debugged = DebuggedApplication(app, evalex=True, pin_security=True, console_path=None)  # type: ignore[arg-type]
    # Werkzeug logs the PIN (when the page's "printpin" link asks) on the logger `werkzeug`:
    # through our handlers, in our format, rather than a handler of its own.
    nagare = logging.getLogger("nagare")
    werkzeug = logging.getLogger("werkzeug")
    if nagare.handlers and not werkzeug.handlers:
        werkzeug.handlers = list(nagare.handlers)
        werkzeug.setLevel(logging.INFO)
        werkzeug.propagate = False
    pin = debugged.pin
    log.warning("debug mode: exceptions are shown in the browser, with consoles that run code on this machine; never in production")
    if pin is None:
        log.warning("the debugger's PIN is off (WERKZEUG_DEBUG_PIN=off): anyone who reaches the server can run code")
    else:
        log.warning("debugger PIN: %s", pin)
    return debugged
