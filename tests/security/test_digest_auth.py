"""digest_auth.Authentication (RFC 7616): qop=auth, SHA-256 and MD5, signed nonces that go stale."""

from __future__ import annotations

import hashlib
import re

import pytest
import requests
from webob import Request, Response
from webob.exc import HTTPUnauthorized

from nagare import security
from nagare.security import common, digest_auth
from nagare.security.common import User
from nagare.security.digest_auth import Credentials, parse_params

from .conftest import Protected, served

PASSWORDS = {"ann": "s3cret", "zoë": "pässword"}


class Manager(digest_auth.Authentication, common.Rules):
    def get_password(self, username):
        return PASSWORDS.get(username)


@Manager.when(User, str)
def _users_read(rules, user, perm, subject):
    return perm == "read"


def challenges_of(manager, stale=False):
    """The parameters of each challenge of a refusal, as a client reads them."""
    context_request = Request.blank("/")
    with security.bind(manager, context_request, Response()) as context:
        context.stale = stale
        with pytest.raises(HTTPUnauthorized) as refused:
            manager.denies()
    headers = refused.value.headers.getall("WWW-Authenticate")
    assert all(header.startswith("Digest ") for header in headers)
    return [parse_params(header[len("Digest "):]) for header in headers]


def client_header(challenge, name, password, method="GET", uri="/page?x=1", nc="00000001", cnonce="0a4f113b", **override):
    """What a client answers to `challenge`: written from RFC 7616 §3.4, apart from the code under test."""
    algorithm = challenge["algorithm"]
    h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algorithm.removesuffix("-sess")]

    def hexdigest(text):
        return h(text.encode()).hexdigest()

    realm, nonce = override.pop("realm", challenge["realm"]), override.pop("nonce", challenge["nonce"])
    ha1 = hexdigest(f"{name}:{realm}:{password}")
    if algorithm.endswith("-sess"):
        ha1 = hexdigest(f"{ha1}:{nonce}:{cnonce}")
    ha2 = hexdigest(f"{method}:{uri}")
    response = hexdigest(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    params = {
        "username": f'"{name}"', "realm": f'"{realm}"', "nonce": f'"{nonce}"', "uri": f'"{uri}"',
        "algorithm": algorithm, "response": f'"{response}"', "opaque": f'"{challenge["opaque"]}"', "qop": "auth",
        "nc": nc, "cnonce": f'"{cnonce}"',
    }
    params.update(override)
    return "Digest " + ", ".join(f"{name}={value}" for name, value in params.items() if value is not None)


def request_with(header, method="GET", path="/page?x=1"):
    request = Request.blank(path, method=method)
    request.headers["Authorization"] = header
    return request


def authenticate(manager, request):
    with security.bind(manager, request, Response()) as context:
        return context.user, context.stale


# --- the hashes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "algorithm, expected",
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_the_response_of_the_rfc_example(algorithm, expected):
    # RFC 7616 §3.9.1: Mufasa, "Circle of Life", GET /dir/index.html
    manager = Manager("http-auth@example.org", b"key")
    credentials = Credentials(
        "GET", "/dir/index.html", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
        "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", expected, algorithm, False,
    )
    assert manager.response_digest("Mufasa", "Circle of Life", credentials) == expected


# --- the challenge ------------------------------------------------------------------------


def test_the_challenges_offer_sha256_then_md5_with_qop_auth_and_a_signed_nonce(clock):
    manager = Manager("my app", b"key", clock=clock)
    sha256, md5 = challenges_of(manager)
    assert (sha256["algorithm"], md5["algorithm"]) == ("SHA-256", "MD5")
    for challenge in (sha256, md5):
        assert challenge["realm"] == "my app" and challenge["qop"] == "auth" and challenge["charset"] == "UTF-8"
        assert "stale" not in challenge and challenge["nonce"] == sha256["nonce"]
    assert manager.nonce_age(sha256["nonce"]) == 0
    assert challenges_of(manager)[0]["nonce"] != sha256["nonce"]  # salted: never the same twice
    assert Manager("my app", b"other key", clock=clock).nonce_age(sha256["nonce"]) is None
    assert [c["algorithm"] for c in challenges_of(Manager("app", b"k", algorithms=["md5"]))] == ["MD5"]


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ValueError, match="needs a private key"):
        Manager("app", "")
    with pytest.raises(ValueError, match="digest algorithms are among"):
        Manager("app", b"k", algorithms=("SHA-512",))


# --- the credentials ----------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5", "SHA-256-sess", "MD5-sess"])
def test_right_credentials_make_the_user(algorithm, clock):
    manager = Manager("app", b"key", clock=clock, algorithms=("SHA-256", "MD5", "SHA-256-sess", "MD5-sess"))
    challenge = {c["algorithm"]: c for c in challenges_of(manager)}[algorithm]  # spelled as RFC 7616 does
    user, stale = authenticate(manager, request_with(client_header(challenge, "ann", "s3cret")))
    assert user.id == "ann" and not stale
    post = client_header(challenge, "ann", "s3cret", method="POST", uri="/page", nc="00000002")
    assert authenticate(manager, request_with(post, method="POST", path="/page"))[0].id == "ann"


def test_a_non_ascii_user_name(clock):
    manager = Manager("app", b"key", clock=clock)
    challenge = challenges_of(manager)[0]
    extended = client_header(challenge, "zoë", "pässword", **{"username": None, "username*": "UTF-8''zo%C3%AB"})
    assert authenticate(manager, request_with(extended))[0].id == "zoë"
    # sent as raw UTF-8 in the quoted string (browsers do), read by WSGI as latin-1
    raw = client_header(challenge, "zoë", "pässword").encode("utf-8").decode("latin-1")
    assert authenticate(manager, request_with(raw))[0].id == "zoë"


@pytest.mark.parametrize(
    "change",
    [
        {"password": "wrong"},
        {"username": "bob", "password": "s3cret"},  # unknown
        {"nonce": "123.abc.def"},  # not signed with our key
        {"realm": "other"},
        {"uri": "/other?x=1"},  # a proof made for another page
        {"qop": "auth-int"},
        {"qop": None},
        {"nc": "1"},
        {"cnonce": '""'},
        {"opaque": '"forged"'},
        {"algorithm": "SHA-512-256"},
        {"response": '"0123"'},
    ],
)
def test_wrong_credentials_are_anonymous(change, clock):
    manager = Manager("app", b"key", clock=clock)
    challenge = challenges_of(manager)[0]
    change = dict(change)
    password = change.pop("password", "s3cret")
    username = change.pop("username", "ann")
    uri = change.pop("uri", "/page?x=1")
    header = client_header(challenge, username, password, uri=uri, **change)
    assert authenticate(manager, request_with(header)) == (None, False)


@pytest.mark.parametrize(
    "header",
    ["Digest", "Digest ", 'Digest username="ann', "Digest username=ann,, realm=x", 'Digest username="a", username="b"', "Digest =x", "Basic abc"],
)
def test_malformed_headers_are_anonymous(header):
    assert authenticate(Manager("app", b"key"), request_with(header)) == (None, False)


def test_an_old_nonce_is_stale_and_the_401_says_so(clock):
    manager = Manager("app", b"key", clock=clock, nonce_lifetime=300)
    challenge = challenges_of(manager)[0]
    clock.now += 301
    request = request_with(client_header(challenge, "ann", "s3cret"))
    with security.bind(manager, request, Response()) as context:
        assert context.user is None and context.stale
        with pytest.raises(HTTPUnauthorized) as refused:
            security.check_permissions("read")
    headers = refused.value.headers.getall("WWW-Authenticate")
    assert len(headers) == 2 and all(header.endswith(", stale=true") for header in headers)
    # a wrong password on an old nonce is not stale: the browser must ask the user
    assert authenticate(manager, request_with(client_header(challenge, "ann", "wrong"))) == (None, False)


def test_a_nonce_from_the_future_is_refused(clock):
    manager = Manager("app", b"key", clock=clock)
    challenge = challenges_of(manager)[0]
    clock.now -= 3600  # this server's clock is an hour behind the one that made the nonce
    assert authenticate(manager, request_with(client_header(challenge, "ann", "s3cret"))) == (None, False)


def test_parse_params():
    assert parse_params('a=1, b="two, three", c="q\\"uote"') == {"a": "1", "b": "two, three", "c": 'q"uote'}
    assert parse_params("A=1") == {"a": "1"}
    assert parse_params('a="unterminated') is None


# --- real clients -------------------------------------------------------------------------


def view(context, request):
    security.check_permissions("read")
    return f"hello {context.user.id}"


def test_through_requests():
    with served(Protected(Manager("app", b"key"), view)) as url:
        assert requests.get(url, timeout=10).status_code == 401
        assert requests.get(url + "/x", auth=requests.auth.HTTPDigestAuth("ann", "wrong"), timeout=10).status_code == 401
        answer = requests.get(url + "/x?y=1", auth=requests.auth.HTTPDigestAuth("ann", "s3cret"), timeout=10)
        assert (answer.status_code, answer.text) == (200, "hello ann")


@pytest.mark.parametrize("algorithms", [("SHA-256", "MD5"), ("MD5",)])
def test_through_a_browser_which_renews_a_stale_nonce_by_itself(chromium, clock, algorithms):
    manager = Manager("app", b"key", clock=clock, nonce_lifetime=300, algorithms=algorithms)
    seen = []

    def logged(context, request):
        seen.append((request.headers.get("Authorization") or "", context.stale))
        return view(context, request)

    with served(Protected(manager, logged)) as url:
        browser = chromium.new_context(http_credentials={"username": "ann", "password": "s3cret"})
        try:
            page = browser.new_page()
            assert page.goto(url + "/page").status == 200 and page.text_content("body") == "hello ann"
            algorithm = re.search(r"algorithm=\"?([-\w]+)", seen[-1][0]).group(1)
            assert algorithm == algorithms[0]
            clock.now += 600
            assert page.goto(url + "/other").status == 200 and page.text_content("body") == "hello ann"
        finally:
            browser.close()
    stale = [entry for entry in seen if entry[1]]
    assert stale, "the browser never sent the old nonce"
    assert seen[-1][0].startswith("Digest ") and not seen[-1][1]
