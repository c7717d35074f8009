"""Login forms: the credentials are posted once, then a signed cookie says who the user is.

    class Manager(form_auth.Authentication, common.Rules):
        def get_password(self, username):
            return PASSWORDS.get(username)

    app.security = Manager(key=SECRET, max_age=8 * 3600)

    # the login form of a view: plain fields named after the prefix
    with h.form:
        h << h.input(name='__ac_name') << h.input(type='password', name='__ac_password')
        h << h.input(type='submit', value='Log in')

A posted `<prefix>_name` and `<prefix>_password` are checked (`check_password`); when right, the
response sets the cookie `<prefix>`: the user name and the time of the login, signed with `key`
(HMAC-SHA256). Later requests are authenticated by that cookie alone, the password never being
stored; a cookie altered by anyone without the key, or older than `max_age`, reads as anonymous.
`logout()` expires the user and deletes the cookie.

`key=None` draws a random key when the manager is made: processes forked from one master share
it, but a restart logs everybody out and separate servers do not know each other's cookies. Give
a key to keep the logins across processes and restarts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from nagare.security import common

if TYPE_CHECKING:
    from webob import Request, Response

#: how far in the future a cookie's time may be (the clocks of two machines sharing the key)
CLOCK_SKEW = 60.0


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authentication(common.Authentication):
    """Credentials from the fields `<prefix>_name` / `<prefix>_password`, then kept in a signed cookie.

    The cookie's attributes are those of `webob.Response.set_cookie`. `secure=None` sets `Secure`
    when the request came over HTTPS. The cookie is `HttpOnly` unless `httponly=False`: no script
    has to read it, and one injected into a page could steal it. `samesite='Lax'` keeps it off
    the requests other sites' pages make.
    """

    def __init__(
        self,
        prefix: str = "__ac",
        key: str | bytes | None = None,
        max_age: int | timedelta | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool = True,
        comment: str | None = None,
        expires: datetime | timedelta | int | None = None,  # a naive datetime is taken as UTC, as WebOb does
        overwrite: bool = False,
        realm: str | None = None,
        *,
        samesite: Literal["Strict", "Lax", "None"] | None = "Lax",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not prefix or not prefix.replace("_", "").isalnum():
            raise ValueError(f"a form authentication prefix is made of letters, digits and '_', not {prefix!r}")
        self.prefix = prefix
        self.key = key.encode() if isinstance(key, str) else key if key else secrets.token_bytes(32)
        self.max_age = max_age.total_seconds() if isinstance(max_age, timedelta) else max_age
        self.path = path
        self.domain = domain
        self.secure = secure
        self.httponly = httponly
        self.comment = comment
        self.expires = expires
        self.overwrite = overwrite
        self.realm = realm
        self.samesite = samesite
        # Wall-clock time, not monotonic: a cookie is read by other processes, after restarts.
        self.clock = clock

    # -- the login form -------------------------------------------------------------------

    def get_ids(self, request: Request, response: Response) -> tuple[str | None, str | None]:
        """(name, password) posted in the login fields; (None, None) without a name.

        Only a POST body counts: credentials in a query string end up in logs and histories.
        """
        fields = request.POST
        name = fields.get(f"{self.prefix}_name")
        password = fields.get(f"{self.prefix}_password", "")
        if not isinstance(name, str) or not name:
            return (None, None)
        return (name, password if isinstance(password, str) else None)

    def create_user(self, request: Request, response: Response, *args: Any) -> common.User | None:
        """The user who logs in with this request, or the one its cookie names; None when anonymous."""
        from nagare import security  # the package imports the managers' base: imported when used

        name, password = self.get_ids(request, response)
        if name is not None:
            if not self.check_password(name, password):
                common.log.info("login of %r refused", name)
                return None
            user = self._create_user(name)
            security.current().login = user is not None
            return user
        name = self.cookie_user(request)
        return self._create_user(name) if name is not None else None

    # -- the cookie -----------------------------------------------------------------------

    def _signature(self, payload: str) -> str:
        # The cookie's name is signed too: a value made for another prefix is not valid here.
        return _b64encode(hmac.new(self.key, f"{self.prefix}\0{payload}".encode(), hashlib.sha256).digest())

    def cookie_value(self, name: str) -> str:
        """The cookie of `name`, logged in now: `<name>.<time>.<signature>`, URL-safe."""
        payload = f"{_b64encode(name.encode('utf-8'))}.{int(self.clock()):x}"
        return f"{payload}.{self._signature(payload)}"

    def cookie_user(self, request: Request) -> str | None:
        """The user name of the request's cookie; None without one, or when altered or too old."""
        value = request.cookies.get(self.prefix)
        if not value or value.count(".") != 2:
            return None
        encoded, issued, signature = value.split(".")
        if not hmac.compare_digest(signature.encode(), self._signature(f"{encoded}.{issued}").encode()):
            common.log.info("authentication cookie %r refused: bad signature", self.prefix)
            return None
        if self.max_age is not None:
            age = self.clock() - int(issued, 16)  # signed by us: a number
            if age > self.max_age or age < -CLOCK_SKEW:
                return None
        try:
            return _b64decode(encoded).decode("utf-8")
        except (binascii.Error, ValueError):
            return None

    def is_secure(self, request: Request) -> bool:
        """Whether the cookie gets `Secure`: as set, or (None) when the request came over HTTPS."""
        return self.secure if self.secure is not None else request.scheme == "https"

    def end_rendering(self, request: Request, response: Response, session: Any) -> None:
        """Set the cookie after a login, delete it after a logout."""
        from nagare import security

        context = security.current()
        if context.logout is not None:
            response.delete_cookie(self.prefix, path=self.path, domain=self.domain)
        elif context.login:
            name, _ = self.get_ids(request, response)
            if name is None:
                return
            response.set_cookie(
                self.prefix,
                self.cookie_value(name),
                max_age=self.cookie_max_age(),
                path=self.path,
                domain=self.domain,
                secure=self.is_secure(request),
                httponly=self.httponly,
                comment=self.comment,
                overwrite=self.overwrite,
                samesite=self.samesite,
            )

    def cookie_max_age(self) -> int | None:
        """The cookie's `Max-Age`: `max_age`, else what `expires` leaves, else None (until the browser closes).

        WebOb's own `expires` argument is deprecated (a warning at each login): turned into a
        `Max-Age` here, which WebOb completes with the matching `Expires`.
        """
        if self.max_age is not None:
            return int(self.max_age)
        expires = self.expires
        if isinstance(expires, timedelta):
            return int(expires.total_seconds())
        if isinstance(expires, datetime):
            moment = expires if expires.tzinfo is not None else expires.replace(tzinfo=timezone.utc)
            return max(0, int(moment.timestamp() - self.clock()))
        return expires
