"""HTTP Digest authentication (RFC 7616): the browser proves it knows the password without sending it.

    class Manager(digest_auth.Authentication, common.Rules):
        def get_password(self, username):
            return PASSWORDS.get(username)

    app.security = Manager('my application', private_key)

The challenge offers `qop=auth` with the algorithms given (SHA-256 and MD5 by default, MD5 being
what every client knows). The nonce carries the time it was made, signed with `private_key`, so
any process holding the key checks it without storing anything; after `nonce_lifetime` seconds
it is *stale*: right credentials on a stale nonce get a 401 with `stale=true`, and the browser
retries at once with a new nonce, without asking the user.

Nothing is stored per nonce either: a request replayed as it is within the nonce's lifetime is
accepted again (its `nc` is not tracked). Like Basic, serve it over HTTPS when that matters.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import unquote, urlsplit

from webob.exc import HTTPUnauthorized

from nagare.security import common
from nagare.security.basic_auth import authorization, checked_realm, quoted

if TYPE_CHECKING:
    from webob import Request, Response

#: the hash of each algorithm, by upper-cased name (the "-sess" variants hash the client's nonce into HA1)
HASHES: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "MD5-SESS": hashlib.md5,
    "SHA-256": hashlib.sha256,
    "SHA-256-SESS": hashlib.sha256,
}
#: the names as RFC 7616 spells them, in the challenges
SPELLING = {"MD5": "MD5", "MD5-SESS": "MD5-sess", "SHA-256": "SHA-256", "SHA-256-SESS": "SHA-256-sess"}

# An auth-param: token "=" (token / quoted-string), then a comma or the end (RFC 9110 §11.2).
_PARAM = re.compile(r'\s*([-!#$%&\'*+.^_`|~0-9A-Za-z]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,|$)')
_ESCAPE = re.compile(r"\\(.)")
_NC = re.compile(r"[0-9a-fA-F]{8}")
#: how far in the future a nonce's time may be (the clocks of two machines sharing the key)
CLOCK_SKEW = 60.0


def parse_params(text: str) -> dict[str, str] | None:
    """The auth-params of a header, by lower-cased name; None when malformed or repeated."""
    params: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _PARAM.match(text, position)
        if match is None:
            return None
        name, quoted_value, token = match.groups()
        name = name.lower()
        if name in params:
            return None
        params[name] = _ESCAPE.sub(r"\1", quoted_value) if quoted_value is not None else token
        position = match.end()
    return params


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a Digest `Authorization` header proves, for `check_password`."""

    method: str
    uri: str
    nonce: str
    nc: str
    cnonce: str
    qop: str
    response: str
    algorithm: str
    stale: bool


def _username(params: dict[str, str]) -> str | None:
    extended = params.get("username*")
    if extended is not None:  # RFC 8187: UTF-8''percent-encoded
        charset, _, rest = extended.partition("''")
        if charset.lower() != "utf-8" or "username" in params:
            return None
        try:
            return unquote(rest, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            return None
    username = params.get("username")
    if username is None:
        return None
    try:  # a header's bytes come as latin-1; the challenge asked for UTF-8
        return username.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return username


class Authentication(common.Authentication):
    """Digest authentication in `realm`, nonces signed with `private_key`."""

    def __init__(
        self,
        realm: str = "",
        private_key: str | bytes = b"",
        *,
        algorithms: Sequence[str] = ("SHA-256", "MD5"),
        nonce_lifetime: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.realm = checked_realm(realm)
        key = private_key.encode() if isinstance(private_key, str) else private_key
        if not key:
            raise ValueError("digest authentication needs a private key to sign its nonces")
        self.key = key
        unknown = [name for name in algorithms if name.upper() not in HASHES]
        if unknown or not algorithms:
            raise ValueError(f"digest algorithms are among {', '.join(SPELLING.values())}, not {list(algorithms)!r}")
        self.algorithms = tuple(name.upper() for name in algorithms)
        self.nonce_lifetime = nonce_lifetime
        # Wall-clock time, not monotonic: a nonce is checked by other processes, after a restart.
        self.clock = clock
        self.opaque = hmac.new(self.key, b"opaque\0" + self.realm.encode(), hashlib.sha256).hexdigest()[:32]

    # -- nonces ---------------------------------------------------------------------------

    def _signature(self, issued: str, salt: str) -> str:
        message = f"nonce\0{self.realm}\0{issued}\0{salt}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:32]

    def make_nonce(self) -> str:
        """A new nonce: its time, a salt, their signature."""
        issued, salt = format(int(self.clock()), "x"), secrets.token_hex(8)
        return f"{issued}.{salt}.{self._signature(issued, salt)}"

    def nonce_age(self, nonce: str) -> float | None:
        """How old a nonce made here is, in seconds; None when it was not made with this key."""
        parts = nonce.split(".")
        if len(parts) != 3:
            return None
        issued, salt, signature = parts
        if not issued or not hmac.compare_digest(signature.encode(), self._signature(issued, salt).encode()):
            return None
        try:
            age = self.clock() - int(issued, 16)
        except ValueError:
            return None
        return age if age >= -CLOCK_SKEW else None

    # -- the request's credentials --------------------------------------------------------

    def get_ids(self, request: Request, response: Response) -> tuple[str | None, Credentials | None]:
        """(username, credentials) of the `Authorization` header; (None, None) when absent or not for us."""
        header = authorization(request, "Digest")
        params = parse_params(header) if header is not None else None
        if params is None:
            return (None, None)
        username = _username(params)
        algorithm = params.get("algorithm", "MD5").upper()
        required = ("realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
        if username is None or any(not params.get(name) for name in required) or algorithm not in self.algorithms:
            return (None, None)
        if params["realm"] != self.realm or params["qop"] != "auth" or not _NC.fullmatch(params["nc"]):
            return (None, None)
        if "opaque" in params and not hmac.compare_digest(params["opaque"].encode(), self.opaque.encode()):
            return (None, None)
        if not self._same_target(params["uri"], request):
            return (None, None)
        age = self.nonce_age(params["nonce"])
        if age is None:
            return (None, None)
        credentials = Credentials(
            request.method, params["uri"], params["nonce"], params["nc"], params["cnonce"], params["qop"],
            params["response"], algorithm, age > self.nonce_lifetime,
        )
        return (username, credentials)

    @staticmethod
    def _same_target(uri: str, request: Request) -> bool:
        # The digest covers `uri`: it must be the request's target, or a proof made for one page
        # would open another. Compared decoded: clients differ in what they percent-encode.
        target = urlsplit(uri)
        return unquote(target.path) == unquote(request.path) and target.query == request.query_string

    def response_digest(self, username: str, password: str, credentials: Credentials) -> str:
        """The `response` a client knowing `password` sends with these credentials (RFC 7616 §3.4.1)."""
        digest = HASHES[credentials.algorithm]

        def h(text: str) -> str:
            return str(digest(text.encode("utf-8")).hexdigest())

        ha1 = h(f"{username}:{self.realm}:{password}")
        if credentials.algorithm.endswith("-SESS"):
            ha1 = h(f"{ha1}:{credentials.nonce}:{credentials.cnonce}")
        ha2 = h(f"{credentials.method}:{credentials.uri}")
        c = credentials
        return h(f"{ha1}:{c.nonce}:{c.nc}:{c.cnonce}:{c.qop}:{ha2}")

    def check_password(self, username: str, password: Any, **kw: Any) -> bool:
        """Whether the digest of `password` (the `Credentials`) is the one of `username`'s password."""
        if not isinstance(password, Credentials):
            return False
        expected = self.get_password(username)
        # An unknown user costs as much as a known one.
        digest = self.response_digest(username, expected if expected is not None else "\0unknown", password)
        return common.same_secret(password.response.lower(), digest) and expected is not None

    def create_user(self, request: Request, response: Response, *args: Any) -> common.User | None:
        """The user of this request; None when anonymous, wrong, or right on a stale nonce."""
        username, credentials = self.get_ids(request, response)
        if username is None or credentials is None:
            return None
        if not self.check_password(username, credentials):
            common.log.info("authentication of %r refused", username)
            return None
        if credentials.stale:
            from nagare import security  # the package imports the managers' base: imported when used

            security.current().stale = True  # the 401 says stale=true: the browser retries alone
            return None
        return self._create_user(username)

    # -- refusals -------------------------------------------------------------------------

    def challenges(self, stale: bool = False) -> list[str]:
        """The `WWW-Authenticate` headers of a refusal, one per algorithm, sharing a new nonce."""
        nonce = self.make_nonce()
        common_params = f'realm={quoted(self.realm)}, qop="auth", nonce="{nonce}", opaque="{self.opaque}", charset=UTF-8'
        stale_param = ", stale=true" if stale else ""
        return [f"Digest {common_params}, algorithm={SPELLING[name]}{stale_param}" for name in self.algorithms]

    def denies(self, denial: common.Denial | None = None) -> NoReturn:
        """Refuse the request: 401 with the challenges, `stale=true` when only the nonce was too old."""
        from nagare import security

        headers = [("WWW-Authenticate", challenge) for challenge in self.challenges(security.current().stale)]
        raise HTTPUnauthorized(detail=str(denial) if denial is not None else None, headers=headers)
