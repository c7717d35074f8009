"""dummy_manager.Manager: the manager of an application that sets none."""

from __future__ import annotations

import base64

import pytest
from webob import Request, Response
from webob.exc import HTTPForbidden

from nagare import security
from nagare.security import common, dummy_manager


def test_nobody_is_authenticated_whatever_the_request_carries():
    request = Request.blank("/", POST={"__ac_name": "ann", "__ac_password": "x"})
    request.headers["Authorization"] = "Basic " + base64.b64encode(b"ann:x").decode()
    with security.bind(dummy_manager.Manager(), request, Response()) as context:
        assert context.user is None and security.get_user() is None and not context.login


def test_only_public_passes_and_a_refusal_is_a_403():
    with security.bind(dummy_manager.Manager(), Request.blank("/"), Response()):
        assert security.has_permissions(common.public) is True
        for perm in (common.private, "read", object(), ("read", "write")):
            assert isinstance(security.has_permissions(perm), common.Denial)
        with pytest.raises(HTTPForbidden):
            security.check_permissions("read")
