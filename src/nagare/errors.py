"""The errors Nagare reports to its users.

A user mistake (a bad config file, a wrong command line) is a `NagareError`: it is printed as
one line and the command exits with status 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class NagareError(Exception):
    """An error caused by the user's input, reported as one line."""

    exit_code = 2


class CommandError(NagareError):
    """A wrong command line."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ConfigError(NagareError):
    """A wrong value, unknown key or unreadable configuration file.

    The message names the file, the section and the key so that the user can fix it at once.
    """

    def __init__(
        self,
        filename: str | None,
        section: str | None = None,
        key: str | None = None,
        value: object = None,
        reason: str = "",
    ) -> None:
        self.filename = filename
        self.section = section
        self.key = key
        self.value = value
        self.reason = reason
        where = filename or "<configuration>"
        if section:
            where += f": [{section}]"
        if key:
            where += f" {key}"
            if value is not None:
                where += f" = {value!r}"
        super().__init__(f"{where}: {reason}" if reason else where)


class ObjectReferenceError(NagareError):
    """An object reference (`python mod:obj`, `file path:obj`, ...) that cannot be loaded."""


class SessionError(Exception):
    """Base of the errors raised by the session managers during a request."""


class ExpirationError(SessionError):
    """The session or the state asked for does not exist (any more)."""


class SessionSecurityError(SessionError):
    """The browser's secure id does not match the session's: a hijack attempt or a stale cookie."""


class LockError(SessionError):
    """The session lock could not be acquired in time."""


class StoreUnavailableError(SessionError):
    """The sessions store (memcached, ...) cannot be reached or refused a command."""


class DatabaseUnavailableError(NagareError):
    """A database cannot be reached while a state is loaded (an entity it holds): 503, as for the
    database errors of the request itself."""


class StateError(SessionError):
    """The stored state is not authentic or cannot be read back; it is never unpickled."""


class ContinuationError(NagareError):
    """`comp.call()` and `Task` need continuations that CPython lacks."""


class AnswerWithoutCall(Exception):
    """`comp.answer(r)` on a component that nobody listens to (no `on_answer`, no pending call).

    A mistake in the application's code, not in what its user did: it keeps its traceback.
    """


class ContinuationUnavailable(ContinuationError, NotImplementedError):
    """Suspending the running code was asked for, and no continuation engine is there to do it.

    Also a `NotImplementedError`: what Nagare 0.5.1 raised on CPython for the same call, which
    0.5 applications may catch.
    """
