"""HTTP Basic authentication (RFC 7617): the browser sends the user name and password every time.

    class Manager(basic_auth.Authentication, common.Rules):
        def get_password(self, username):
            return PASSWORDS.get(username)

    app.security = Manager('my application')

A refusal is a 401 with the challenge, so that the browser asks for (other) credentials. The
password travels in clear: serve such an application over HTTPS.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, NoReturn

from webob.exc import HTTPUnauthorized

from nagare.security import common

if TYPE_CHECKING:
    from webob import Request, Response


def quoted(value: str) -> str:
    """`value` as an HTTP quoted-string (RFC 9110 §5.6.4)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def checked_realm(realm: str) -> str:
    """The realm, refused when it could not be sent in a header."""
    if not isinstance(realm, str) or any(ord(c) < 32 or ord(c) == 127 for c in realm):
        raise ValueError(f"an authentication realm is a string without control characters, not {realm!r}")
    return realm


def authorization(request: Request, scheme: str) -> str | None:
    """The credentials of the `Authorization` header when it uses `scheme`, else None."""
    header = request.headers.get("Authorization")
    if not header:
        return None
    kind, _, credentials = header.strip().partition(" ")
    return credentials.strip() if kind.lower() == scheme.lower() else None


class Authentication(common.Authentication):
    """Basic authentication in `realm` (the name the browser shows when it asks)."""

    def __init__(self, realm: str = "") -> None:
        self.realm = checked_realm(realm)

    def get_ids(self, request: Request, response: Response) -> tuple[str | None, str | None]:
        """(username, password) of the `Authorization` header; (None, None) when absent or malformed."""
        credentials = authorization(request, "Basic")
        if credentials is None:
            return (None, None)
        try:
            decoded = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            return (None, None)
        try:
            text = decoded.decode("utf-8")  # what the challenge's charset asks for
        except UnicodeDecodeError:
            text = decoded.decode("latin-1")  # older browsers send their own code page
        username, colon, password = text.partition(":")
        return (username, password) if colon else (None, None)

    def challenge(self) -> str:
        """The `WWW-Authenticate` header of a refusal."""
        return f'Basic realm={quoted(self.realm)}, charset="UTF-8"'

    def denies(self, denial: common.Denial | None = None) -> NoReturn:
        """Refuse the request: 401 with the challenge, so that the browser asks for credentials."""
        raise HTTPUnauthorized(detail=str(denial) if denial is not None else None, headers=[("WWW-Authenticate", self.challenge())])
