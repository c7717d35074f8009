"""Security: who the user of the current request is, and what they may do.

The application binds a manager to each request (`bind`); views and actions then ask:

    security.get_user()                          # the user, None when anonymous
    if security.has_permissions('edit', doc):    # True, or a false Denial
        h << h.a('Edit').action(self.edit)
    security.check_permissions('edit', doc)      # the manager refuses: 403 (401 with basic/digest)

    class Document:
        @security.permissions('edit')            # checked before each call, the document as subject
        def edit(self): ...

`security.wrapper(action, perm, subject)` is what `.action(f, permissions=perm, subject=s)`
registers: the check runs when the action does.

The manager (`WSGIApp.security`) mixes an authentication class of `basic_auth`, `digest_auth` or
`form_auth` with `common.Rules`; without one, `dummy_manager.Manager` lets only `public` pass.

The current manager and user live in a context variable: each request (each thread, each task)
sees its own, set by `bind` and cleared when its `with` ends.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Protocol

from webob import Response
from webob.exc import HTTPException, HTTPForbidden

from nagare.partial import Decorator
from nagare.security import dummy_manager
from nagare.security.common import Denial, Logout, Permission, User, private, public

if TYPE_CHECKING:
    from webob import Request

__all__ = [
    "Context",
    "Denial",
    "Manager",
    "Permission",
    "User",
    "Wrapper",
    "bind",
    "check_permissions",
    "current",
    "get_manager",
    "get_user",
    "has_permissions",
    "permissions",
    "private",
    "public",
    "set_manager",
    "set_user",
    "wrapper",
]

log = logging.getLogger("nagare.security")


class Manager(Protocol):
    """What a security manager does: an authentication class of this package mixed with `common.Rules`."""

    def create_user(self, request: Request, response: Response, *args: Any) -> Any:
        """The user of the request, None when anonymous."""

    def has_permission(self, user: Any, perm: Any, subject: Any) -> object:
        """True when granted; false or a `Denial` when refused."""

    def denies(self, denial: Denial | None = None) -> NoReturn:
        """Raise the HTTP error that refuses the request (403, 401)."""

    def end_rendering(self, request: Request, response: Response, session: Any) -> None:
        """Write the authentication's cookies into the response sent."""


#: the manager of code that runs outside a request (a batch, a test): only `public` passes
DEFAULT_MANAGER: Manager = dummy_manager.Manager()


@dataclass(eq=False, slots=True)
class Context:
    """The security of one request: its manager and user, and what happened to them.

    `login`: the request brought credentials that were accepted (a login form was posted): the
    application renews the session id, so that a session id known before the login is worth
    nothing after it. `logout`: `manager.logout()` was called. `stale`: digest credentials were
    right but their nonce too old (the 401 then tells the browser to retry with a new one).
    """

    manager: Manager
    request: Request | None = None
    response: Response | None = None
    user: Any = None
    login: bool = False
    logout: Logout | None = None
    stale: bool = False
    _users: list[Any] = field(default_factory=list)

    @property
    def identity(self) -> Any:
        """The id of the valid user, None when anonymous: what a session keeps to see a new login."""
        user = self.user
        return None if user is None or getattr(user, "expired", False) else getattr(user, "id", None)

    def push(self, user: Any) -> None:
        """Make `user` current until `pop()` (`with user:`)."""
        self._users.append(self.user)
        self.user = user

    def pop(self) -> None:
        """The user current before the last `push()` is again."""
        self.user = self._users.pop()

    def finish(self, response: Response | HTTPException, session: Any = None) -> None:
        """Let the manager write its cookies into `response`, the one sent (a page, a redirect, an error).

        `session` is the request's session, or None; the manager sees this context as current.
        """
        # WebOb's HTTP errors are responses; a bare HTTPException carries one.
        sent = response if isinstance(response, Response) else getattr(response, "wsgi_response", None)
        if self.request is None or not isinstance(sent, Response):
            return
        token = _current.set(self)
        try:
            self.manager.end_rendering(self.request, sent, session)
        finally:
            _current.reset(token)


_current: ContextVar[Context | None] = ContextVar("nagare.security", default=None)


def current() -> Context:
    """The security context of the running request (outside a request: one of the default manager)."""
    context = _current.get()
    if context is None:
        context = Context(DEFAULT_MANAGER)
        _current.set(context)
    return context


def bind(manager: Manager | None, request: Request, response: Response) -> AbstractContextManager[Context]:
    """Authenticate the request with `manager` and make them current for the `with` block.

    Yields the `Context` (`context.user` is the user found, None when anonymous); the previous
    context comes back at the end, an exception too.
    """
    return _Binding(Context(manager if manager is not None else DEFAULT_MANAGER, request, response), request, response)


class _Binding:
    """`bind()`'s context manager (a class: a generator's costs more, once a request)."""

    __slots__ = ("context", "request", "response", "token")

    def __init__(self, context: Context, request: Request, response: Response) -> None:
        self.context, self.request, self.response = context, request, response

    def __enter__(self) -> Context:
        context = self.context
        self.token = token = _current.set(context)
        try:
            context.user = context.manager.create_user(self.request, self.response)
        except BaseException:
            _current.reset(token)
            raise
        return context

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: types.TracebackType | None) -> None:
        _current.reset(self.token)


def get_user(only_valid: bool = True) -> Any:
    """The user of the current request; None when anonymous or (with `only_valid`) logged out."""
    context = _current.get()
    user = context.user if context is not None else None
    if only_valid and user is not None and getattr(user, "expired", False):
        return None
    return user


def set_user(user: Any) -> None:
    """Make `user` the user of the current request."""
    current().user = user


def get_manager() -> Manager:
    """The security manager of the current request."""
    context = _current.get()
    return context.manager if context is not None else DEFAULT_MANAGER


def set_manager(manager: Manager) -> None:
    """Make `manager` the security manager of the current request."""
    current().manager = manager


def has_permissions(perm: Any, subject: Any = None) -> Literal[True] | Denial:
    """Whether the current user has `perm` on `subject`: True, or a `Denial` (false)."""
    result = get_manager().has_permission(get_user(), perm, subject)
    if result:
        return True
    return result if isinstance(result, Denial) else Denial()


def check_permissions(perm: Any, subject: Any = None) -> None:
    """Go on when the current user has `perm` on `subject`; else the manager refuses (`denies()`)."""
    result = has_permissions(perm, subject)
    if result:
        return
    user = get_user()
    # One line per refusal: who, what, on which kind of object (its repr could be anything).
    log.log(
        logging.WARNING if user is not None else logging.INFO,
        "permission %r refused to %s on %s: %s",
        perm,
        "anonymous" if user is None else repr(getattr(user, "id", user)),
        type(subject).__name__,
        result,
    )
    get_manager().denies(result)
    raise HTTPForbidden(detail=str(result))  # a manager whose denies() returned: refused all the same


class Wrapper:
    """`action`, run only when the current user has `permission` on `subject`."""

    __slots__ = ("action", "permission", "subject")

    def __init__(self, action: Callable[..., Any], permission: Any, subject: Any = None) -> None:
        self.action = action
        self.permission = permission
        self.subject = subject

    def __call__(self, *args: Any, **kw: Any) -> Any:
        check_permissions(self.permission, self.subject)
        return self.action(*args, **kw)

    def __reduce__(self) -> str | tuple[Any, ...]:
        return Wrapper, (self.action, self.permission, self.subject)  # the slots, without their names

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.action!r} permission={self.permission!r}>"


class _MethodWrapper(Wrapper):
    """A method decorated by `@permissions`, read on its object.

    Pickled as `getattr(obj, name)`, which makes it again through the decorator: pickling the bound
    method itself would give it back decorated, checked twice, and once more at every state.
    """

    __slots__ = ()

    def __reduce__(self) -> str | tuple[Any, ...]:
        method = self.action
        if isinstance(method, types.MethodType):
            name = method.__func__.__name__
            if name.startswith("__") and not name.endswith("__"):  # name-mangled by its class
                owner = method.__func__.__qualname__.rpartition(".")[0].rpartition(".")[2]
                name = f"_{owner.lstrip('_')}{name}"
            found = getattr(type(method.__self__), name, None)
            if isinstance(found, Decorator) and found.f is method.__func__:
                return getattr, (method.__self__, name)
        return super().__reduce__()


def wrapper(action: Callable[..., Any], perm: Any, subject: Any) -> Wrapper:
    """`action` checked against `perm` on `subject` each time it is called."""
    return Wrapper(action, perm, subject)


def _guard(f: Callable[..., Any], perm: Any, subject: Any) -> Wrapper:
    instance = getattr(f, "__self__", None)
    if isinstance(f, types.MethodType) and instance is not None:
        return _MethodWrapper(f, perm, subject if subject is not None else instance)
    return Wrapper(f, perm, subject)


def permissions(perm: Any, subject: Any = None) -> Callable[[Callable[..., Any]], Decorator]:
    """Decorate a method (or function) to check `perm` on `subject` before each call.

    The subject is by default the object the method is called on.
    """

    def decorate(f: Callable[..., Any]) -> Decorator:
        return Decorator(f, _guard, perm, subject)

    return decorate
