"""The building blocks of a security manager: users, permissions, rules and authentication.

A manager, set as `WSGIApp.security`, mixes an authentication class (how a request says who the
user is: `basic_auth`, `digest_auth`, `form_auth`) with `Rules` (what a user may do):

    class Rules(common.Rules):
        pass

    @Rules.when(User, str, Article)
    def _(rules, user, perm, article):
        return perm == 'read' or article.author == user.id

    class Manager(form_auth.Authentication, Rules):
        def get_password(self, username):
            return PASSWORDS.get(username)

`Rules.has_permission(user, perm, subject)` dispatches on the types of its arguments to the most
specific rule registered (see `Rules.when`); it replaces the PEAK-Rules generic function of Nagare
0.5, whose `when(Rules.has_permission, (User, Perm, Subject))` spelling is kept by `when()` here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

from webob.exc import HTTPForbidden

if TYPE_CHECKING:
    from types import TracebackType

    from webob import Request, Response

__all__ = [
    "Authentication",
    "Denial",
    "Logout",
    "Permission",
    "Private",
    "Public",
    "Rule",
    "Rules",
    "User",
    "private",
    "public",
    "same_secret",
    "when",
]

log = logging.getLogger("nagare.security")

#: A rule: `rule(rules, user, perm, subject)` returns a true value (granted), a false one or a
#: `Denial` (refused), or `NotImplemented` to let the next matching rule decide.
Rule = Callable[[Any, Any, Any, Any], object]
R = TypeVar("R", bound=Rule)


# -- users -----------------------------------------------------------------------------------


class User:
    """An authenticated user: `id` (the login name by default) and its `credentials`.

    A user is anonymous-looking once `expired` (after a logout): `security.get_user()` then
    returns None. `with user:` makes it the current user for the block (a batch job acting as
    someone), the previous one coming back at the end.
    """

    def __init__(self, id: Any = None, *args: Any) -> None:
        self.id = id
        self.credentials = args
        self.expired = False

    def __enter__(self) -> User:
        from nagare import security  # the package imports this module: imported when used

        security.current().push(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        from nagare import security

        security.current().pop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id!r}{' expired' if self.expired else ''}>"


# -- permissions -----------------------------------------------------------------------------


class Permission:
    """Base class of the permission objects an application defines (any object may be one)."""

    def __repr__(self) -> str:
        return f"<permission {type(self).__name__}>"


class Public(Permission):
    """The permission everybody has, anonymous users too: `public`."""

    def __reduce__(self) -> str:
        return "public"  # pickled by name: the same object once loaded, and a few bytes


class Private(Permission):
    """The permission nobody has: `private`."""

    def __reduce__(self) -> str:
        return "private"


public = Public()
private = Private()


class Denial:
    """A refusal: false in a boolean context, with the reason in `message`."""

    __slots__ = ("message",)

    def __init__(self, message: str = "Access forbidden") -> None:
        self.message = message

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"<Denial {self.message!r}>"


# -- rules -----------------------------------------------------------------------------------


def _kind(value: object, role: str) -> type:
    if value is None:
        return type(None)  # `when(None, ...)`: a rule for the anonymous user
    if not isinstance(value, type):
        raise TypeError(f"a rule's {role} must be a class or None, not {value!r}")
    return value


class Rules:
    """The permission rules: `has_permission(user, perm, subject)`, denying by default.

    Rules are registered for the types of (manager, user, permission, subject) with
    `SomeRules.when(user_type, perm_type, subject_type)`; they apply to managers of that class
    and its subclasses. Of the rules whose types match the arguments, the most specific decides:
    the permission's type first, then the subject's, the user's, and last the manager's class
    (so a subclass overrides its base for the same types). A rule may return `NotImplemented`
    to hand over to the next one. That order never leaves a tie, where a generic function
    would stop on an ambiguity: `public` (a permission rule) beats any rule on a subject.

    Built in: `public` always passes, `private` never does, a tuple, list or set passes when one
    of its permissions does, anything else is refused.
    """

    # (manager class, user type, permission type, subject type) -> rule; one registry for every
    # manager, the manager class being one of the types matched.
    _rules: ClassVar[dict[tuple[type, type, type, type], Rule]] = {}
    # (type(manager), type(user), type(perm), type(subject)) -> the rules that match, best first
    _matches: ClassVar[dict[tuple[type, type, type, type], tuple[Rule, ...]]] = {}

    @classmethod
    def when(cls, user: type | None = object, perm: type | None = object, subject: type | None = object) -> Callable[[R], R]:
        """Register the decorated `rule(rules, user, perm, subject)` for these types (None: NoneType)."""
        key = (cls, _kind(user, "user type"), _kind(perm, "permission type"), _kind(subject, "subject type"))

        def register(rule: R) -> R:
            Rules._rules[key] = rule
            Rules._matches.clear()  # registering happens at import: the cache fills again once
            return rule

        return register

    def has_permission(self, user: Any, perm: Any, subject: Any) -> object:
        """Whether `user` has `perm` on `subject`: true, or false / a `Denial`."""
        kinds = (type(self), type(user), type(perm), type(subject))
        matches = Rules._matches.get(kinds)
        if matches is None:
            matches = Rules._matches[kinds] = _matching(kinds)
        for rule in matches:
            result = rule(self, user, perm, subject)
            if result is not NotImplemented:
                return result
        return Denial()


def _matching(kinds: tuple[type, type, type, type]) -> tuple[Rule, ...]:
    """The rules registered for supertypes of `kinds`, the most specific first."""
    mros = [kind.__mro__ for kind in kinds]
    found = []
    for key, rule in list(Rules._rules.items()):  # a copy: a module being imported may register meanwhile
        if all(registered in mro for registered, mro in zip(key, mros)):
            manager, user, perm, subject = (mro.index(registered) for registered, mro in zip(key, mros))
            found.append(((perm, subject, user, manager), rule))
    found.sort(key=lambda entry: entry[0])
    return tuple(rule for _, rule in found)


@Rules.when()
def _refused(rules: Rules, user: object, perm: object, subject: object) -> Denial:
    return Denial()


@Rules.when(object, Public)
def _public(rules: Rules, user: object, perm: object, subject: object) -> bool:
    return True


@Rules.when(object, Private)
def _private(rules: Rules, user: object, perm: object, subject: object) -> Denial:
    return Denial()


def _any_of(rules: Rules, user: object, perms: tuple[object, ...] | list[object] | set[object], subject: object) -> object:
    denial: object = Denial()
    for perm in perms:
        result = rules.has_permission(user, perm, subject)
        if result:
            return result
        denial = result if isinstance(result, Denial) else denial
    return denial


for _collection in (tuple, list, set, frozenset):
    Rules.when(object, _collection)(_any_of)
del _collection


def when(generic: Callable[..., object], types: tuple[type | None, ...] | str) -> Callable[[R], R]:
    """PEAK-Rules' spelling: `@when(Rules.has_permission, (User, Perm, Subject))`.

    The types are those of (user, permission, subject), or of (manager, user, permission,
    subject). The rule is registered on the class that defines `generic`, so it applies to every
    manager, as a PEAK-Rules rule did. String conditions are not supported.
    """
    if isinstance(types, str):
        raise TypeError(f"rule conditions as strings are not supported ({types!r}): give the types and test the values in the rule")
    owner = _owner(generic)
    if len(types) == 4:
        manager = types[0]
        if not (isinstance(manager, type) and issubclass(manager, Rules)):
            raise TypeError(f"the first of four rule types must be a Rules class, not {manager!r}")
        return manager.when(*types[1:])
    if not 1 <= len(types) <= 3:
        raise TypeError(f"a rule takes the types of (user, permission, subject), not {len(types)} types")
    return owner.when(*types)


def _owner(generic: Callable[..., object]) -> type[Rules]:
    module = sys.modules.get(getattr(generic, "__module__", None) or "")
    owner: Any = module
    for name in getattr(generic, "__qualname__", "").split(".")[:-1]:
        owner = getattr(owner, name, None)
    if not (isinstance(owner, type) and issubclass(owner, Rules) and getattr(owner, "has_permission", None) is generic):
        raise TypeError(f"rules extend Rules.has_permission, not {generic!r}")
    return owner


# -- authentication --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Logout:
    """What `Authentication.logout()` asked: where to send the browser, whether to drop the session."""

    location: str = ""
    delete_session: bool = True


def same_secret(given: str | bytes, expected: str | bytes) -> bool:
    """Compare two secrets in a time that tells nothing about them, their length included."""
    given = given.encode() if isinstance(given, str) else given
    expected = expected.encode() if isinstance(expected, str) else expected
    # Hashed first: compare_digest returns at once on different lengths.
    return hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(expected).digest())


class Authentication:
    """Who the user of a request is: the base of the authentication classes.

    An application overrides `get_password(username)` (the password kept for that user, None when
    unknown), or `check_password` to check a hash instead, and `_create_user(username)` to make
    its own user objects. `create_user(request, response)` runs them once per request.
    """

    def get_ids(self, request: Request, response: Response) -> tuple[Any, ...]:
        """The identifiers the request carries: (username, password, ...), or (None,)."""
        return (None,)

    def get_password(self, username: str) -> str | None:
        """The password of `username`, None for an unknown user."""
        return None

    def check_password(self, username: str, password: Any, **kw: Any) -> bool:
        """Whether `password` is the one of `username` (compared in constant time)."""
        expected = self.get_password(username)
        if not isinstance(password, str):
            return False
        # An unknown user costs as much as a known one: the time does not tell which names exist.
        return same_secret(password, expected if expected is not None else "\0unknown") and expected is not None

    def _create_user(self, username: Any) -> User | None:
        """The user object of an authenticated `username`."""
        return User(username)

    def create_user(self, request: Request, response: Response, *args: Any) -> User | None:
        """The user of this request, None when anonymous or when its credentials are wrong."""
        ids = self.get_ids(request, response)
        if not ids or ids[0] is None:
            return None
        if not self.check_password(*ids):
            log.info("authentication of %r refused", ids[0])
            return None
        return self._create_user(ids[0])

    def denies(self, denial: Denial | None = None) -> NoReturn:
        """Refuse the request: 403 Forbidden."""
        raise HTTPForbidden(detail=str(denial) if denial is not None else None)

    def logout(self, location: str = "", delete_session: bool = True) -> bool:
        """Log the current user out: expired now, forgotten by the browser with the response.

        `location`: where the browser goes next ('' for the same path); `delete_session`: the
        session is dropped. Returns whether a user was logged in.
        """
        from nagare import security

        context = security.current()
        user = context.user
        if user is not None:
            user.expired = True
        context.logout = Logout(location, delete_session)
        return user is not None

    def end_rendering(self, request: Request, response: Response, session: Any) -> None:
        """Write what the browser must keep of the authentication into the response sent."""
