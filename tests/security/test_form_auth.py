"""form_auth.Authentication: posted credentials, then a signed cookie; logout deletes it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from http.cookies import SimpleCookie

import pytest
import requests
from webob import Request, Response
from webob.exc import HTTPForbidden

from nagare import security
from nagare.security import common, form_auth
from nagare.security.common import User

from .conftest import Protected, served

PASSWORDS = {"ann": "s3cret", "zoë": "pässword"}


class Manager(form_auth.Authentication, common.Rules):
    def get_password(self, username):
        return PASSWORDS.get(username)


@Manager.when(User, str)
def _users_read(rules, user, perm, subject):
    return perm == "read"


def login_request(name="ann", password="s3cret", prefix="__ac", **kw):
    return Request.blank("/app/", POST={f"{prefix}_name": name, f"{prefix}_password": password}, **kw)


def run(manager, request):
    """One request through bind / finish: (context, the response's Set-Cookie headers)."""
    response = Response()
    with security.bind(manager, request, response) as context:
        context.finish(response)
    return context, response.headers.getall("Set-Cookie")


def cookie_of(headers, name="__ac"):
    [header] = [h for h in headers if h.startswith(name + "=")]
    morsel = SimpleCookie(header)[name]
    return morsel.value, header


def with_cookie(value, path="/app/", name="__ac"):
    request = Request.blank(path)
    request.headers["Cookie"] = f"{name}={value}"
    return request


def test_a_posted_login_makes_the_user_and_sets_a_signed_cookie(clock):
    manager = Manager(key=b"k" * 32, clock=clock)
    context, headers = run(manager, login_request())
    assert context.user.id == "ann" and context.login and context.identity == "ann"
    value, header = cookie_of(headers)
    assert "s3cret" not in value and "ann" not in value  # the name is encoded, the password absent
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "secure" not in header.lower() and "Max-Age" not in header  # http: not Secure; until the browser closes
    # the next request is authenticated by the cookie alone
    context, headers = run(manager, with_cookie(value))
    assert context.user.id == "ann" and not context.login and headers == []


def test_a_wrong_password_or_an_unknown_user_is_anonymous_and_sets_no_cookie():
    manager = Manager(key=b"k")
    uploads = [  # files sent under the fields' names
        Request.blank("/", POST={"__ac_name": ("name.txt", b"ann"), "__ac_password": "s3cret"}),
        Request.blank("/", POST={"__ac_name": "ann", "__ac_password": ("p.txt", b"s3cret")}),
    ]
    for request in (login_request(password="wrong"), login_request(name="bob"), login_request(password=""), *uploads):
        context, headers = run(manager, request)
        assert context.user is None and not context.login and headers == []


def test_only_a_posted_form_logs_in():
    # credentials in a query string end up in access logs and browser histories
    context, _ = run(Manager(key=b"k"), Request.blank("/app/?__ac_name=ann&__ac_password=s3cret"))
    assert context.user is None


def test_a_non_ascii_name_and_another_prefix(clock):
    manager = Manager(prefix="login", key="a key", clock=clock)
    context, headers = run(manager, login_request("zoë", "pässword", prefix="login"))
    value, _ = cookie_of(headers, "login")
    assert run(manager, with_cookie(value, name="login"))[0].user.id == "zoë"
    assert run(manager, login_request("zoë", "pässword"))[0].user is None  # the __ac fields mean nothing here


def test_an_altered_cookie_is_anonymous(clock):
    manager = Manager(key=b"k" * 32, clock=clock)
    value, _ = cookie_of(run(manager, login_request())[1])
    name, issued, signature = value.split(".")
    bob = form_auth._b64encode(b"bob")
    forged = [
        f"{bob}.{issued}.{signature}",  # another user
        f"{name}.{int(issued, 16) + 3600:x}.{signature}",  # a later time
        f"{name}.{issued}.{signature[:-2]}AA",
        f"{name}.{issued}",
        "garbage",
        "",
    ]
    for cookie in forged:
        assert run(manager, with_cookie(cookie))[0].user is None, cookie
    assert run(Manager(key=b"another key", clock=clock), with_cookie(value))[0].user is None
    assert run(Manager(prefix="other", key=b"k" * 32, clock=clock), with_cookie(value, name="other"))[0].user is None


def test_max_age_limits_the_cookie_and_the_login(clock):
    manager = Manager(key=b"k", max_age=3600, clock=clock)
    value, header = cookie_of(run(manager, login_request())[1])
    assert "Max-Age=3600" in header and "expires=" in header.lower()
    clock.now += 3599
    assert run(manager, with_cookie(value))[0].user.id == "ann"
    clock.now += 2
    # the browser would have dropped it; a copy kept by someone else is worth nothing either
    assert run(manager, with_cookie(value))[0].user is None
    assert Manager(key=b"k", max_age=timedelta(hours=2)).max_age == 7200


def test_expires_becomes_a_max_age(clock):
    # WebOb's `expires` argument is deprecated (a warning, an error in these tests): never passed on
    in_a_day = datetime.fromtimestamp(clock.now, timezone.utc) + timedelta(days=1)
    for expires in (timedelta(days=1), in_a_day, in_a_day.replace(tzinfo=None), 86400):
        _, header = cookie_of(run(Manager(key=b"k", expires=expires, clock=clock), login_request())[1])
        assert "Max-Age=86400" in header, expires


def test_cookie_attributes(clock):
    manager = Manager(key=b"k", path="/app/", domain="example.com", httponly=False, samesite="Strict", clock=clock)
    _, header = cookie_of(run(manager, login_request())[1])
    assert "Path=/app/" in header and "Domain=example.com" in header and "SameSite=Strict" in header
    assert "HttpOnly" not in header


def test_secure_when_served_over_https_unless_told(clock):
    https = login_request(base_url="https://example.com")
    assert "secure" in cookie_of(run(Manager(key=b"k"), https)[1])[1].lower()
    assert "secure" not in cookie_of(run(Manager(key=b"k", secure=False), https)[1])[1].lower()
    assert "secure" in cookie_of(run(Manager(key=b"k", secure=True), login_request())[1])[1].lower()


def test_logout_expires_the_user_and_deletes_the_cookie(clock):
    manager = Manager(key=b"k", clock=clock)
    value, _ = cookie_of(run(manager, login_request())[1])
    response = Response()
    with security.bind(manager, with_cookie(value), response) as context:
        user = security.get_user()
        assert manager.logout("/bye", delete_session=False) is True
        assert security.get_user() is None and user.expired and context.identity is None
        assert context.logout == common.Logout("/bye", False)
        assert not security.has_permissions("read")
        context.finish(response)
    value, header = cookie_of(response.headers.getall("Set-Cookie"))
    assert value == "" and "Max-Age=0" in header
    with security.bind(manager, Request.blank("/"), Response()) as context:
        assert manager.logout() is False  # nobody was logged in
        assert context.logout == common.Logout("", True)


def test_a_bad_prefix_is_refused_at_once():
    with pytest.raises(ValueError, match="letters, digits and '_'"):
        Manager(prefix="a;b")


def test_the_default_key_is_random_per_manager():
    value, _ = cookie_of(run(Manager(), login_request())[1])
    assert run(Manager(), with_cookie(value))[0].user is None


def test_a_refusal_is_a_403():
    with security.bind(Manager(key=b"k"), Request.blank("/"), Response()):
        with pytest.raises(HTTPForbidden):
            security.check_permissions("read")


def test_through_a_real_client():
    manager = Manager(key=b"k" * 32)

    def view(context, request):
        if request.path_info == "/logout":
            manager.logout()
            return "bye"
        security.check_permissions("read")
        return f"hello {context.user.id}"

    app = Protected(manager, view)
    with served(app) as url, requests.Session() as browser:
        assert browser.get(url + "/", timeout=10).status_code == 403
        assert browser.post(url + "/", data={"__ac_name": "ann", "__ac_password": "wrong"}, timeout=10).status_code == 403
        login = browser.post(url + "/", data={"__ac_name": "ann", "__ac_password": "s3cret"}, timeout=10)
        assert (login.status_code, login.text) == (200, "hello ann")
        assert app.events == ["new session for ann"]
        assert browser.get(url + "/", timeout=10).text == "hello ann"  # the cookie
        assert browser.get(url + "/logout", timeout=10).text == "bye"
        assert browser.get(url + "/", timeout=10).status_code == 403
        assert app.events[-1] == "logout to '', delete=True"


def test_the_cookie_of_a_login_goes_on_whatever_response_is_sent(clock):
    # a login posted with an action that is refused: the 403 sent carries the cookie
    manager = Manager(key=b"k", clock=clock)
    with security.bind(manager, login_request(), Response()) as context:
        with pytest.raises(HTTPForbidden) as refused:
            security.check_permissions("write")
        context.finish(refused.value)
    value, _ = cookie_of(refused.value.headers.getall("Set-Cookie"))
    assert run(manager, with_cookie(value))[0].user.id == "ann"
