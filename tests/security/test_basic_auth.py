"""basic_auth.Authentication (RFC 7617): credentials in every request, a 401 challenge on refusal."""

from __future__ import annotations

import base64

import pytest
import requests
from webob import Request, Response
from webob.exc import HTTPUnauthorized

from nagare import security
from nagare.security import basic_auth, common
from nagare.security.common import User

from .conftest import Protected, served

PASSWORDS = {"ann": "s3cret", "zoë": "pässword", "empty": ""}


class Manager(basic_auth.Authentication, common.Rules):
    def get_password(self, username):
        return PASSWORDS.get(username)


class Member(User):
    pass


class MemberManager(Manager):
    def _create_user(self, username):
        return Member(username, "member")


@Manager.when(User, str)
def _users_read(rules, user, perm, subject):
    return perm == "read"


def basic(credentials: bytes) -> Request:
    request = Request.blank("/")
    request.headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
    return request


def user_of(manager, request):
    with security.bind(manager, request, Response()) as context:
        return context.user


def test_right_credentials_make_the_user():
    user = user_of(Manager("app"), basic(b"ann:s3cret"))
    assert type(user) is User and user.id == "ann" and user.credentials == () and not user.expired
    assert user_of(Manager("app"), basic("zoë:pässword".encode())).id == "zoë"  # UTF-8, as the challenge asks
    assert user_of(Manager("app"), basic("zoë:pässword".encode("latin-1"))).id == "zoë"  # older browsers
    assert user_of(Manager("app"), basic(b"empty:")).id == "empty"
    assert user_of(Manager("app"), basic(b"ann:pass:with:colons")) is None


def test_the_application_makes_its_own_users():
    user = user_of(MemberManager("app"), basic(b"ann:s3cret"))
    assert type(user) is Member and user.credentials == ("member",)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic " + base64.b64encode(b"ann:wrong").decode(),
        "Basic " + base64.b64encode(b"bob:s3cret").decode(),  # unknown user
        "Basic " + base64.b64encode(b"ann").decode(),  # no colon
        "Basic !!not base64!!",
        "Basic ",
        "Bearer abc",
        "Digest username=\"ann\"",
        "garbage",
    ],
)
def test_missing_wrong_or_malformed_credentials_are_anonymous(authorization):
    request = Request.blank("/")
    if authorization is not None:
        request.headers["Authorization"] = authorization
    assert user_of(Manager("app"), request) is None


def test_check_password_is_the_password_kept_for_the_user():
    manager = Manager("app")
    assert manager.check_password("ann", "s3cret")
    assert not manager.check_password("ann", "s3cret ")
    assert not manager.check_password("ann", "")
    assert not manager.check_password("nobody", "\0unknown")  # the placeholder of unknown users opens nothing
    assert not manager.check_password("ann", None)


def test_a_refusal_is_a_401_with_the_challenge():
    manager = Manager('my "app"')
    with pytest.raises(HTTPUnauthorized) as refused:
        manager.denies(common.Denial("no"))
    response = Request.blank("/").get_response(refused.value)
    assert response.status_code == 401
    assert response.headers.getall("WWW-Authenticate") == ['Basic realm="my \\"app\\"", charset="UTF-8"']
    assert "Traceback" not in response.text


def test_a_realm_that_cannot_be_sent_is_refused_at_once():
    with pytest.raises(ValueError, match="without control characters"):
        Manager("app\r\nSet-Cookie: x=1")


def test_through_a_real_client():
    def view(context, request):
        security.check_permissions("read")
        return f"hello {context.user.id}"

    with served(Protected(Manager("app"), view)) as url:
        challenge = requests.get(url, timeout=10)
        assert challenge.status_code == 401
        assert challenge.headers["WWW-Authenticate"] == 'Basic realm="app", charset="UTF-8"'
        assert requests.get(url, auth=("ann", "wrong"), timeout=10).status_code == 401
        answer = requests.get(url, auth=("ann", "s3cret"), timeout=10)
        assert (answer.status_code, answer.text) == (200, "hello ann")
