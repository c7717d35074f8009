"""The module functions on the current request: bind, get/set user and manager, checks, decorator, wrapper."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import pickle
import threading

import pytest
from webob import Request, Response
from webob.exc import HTTPForbidden, HTTPUnauthorized

from nagare import security
from nagare.security import basic_auth, common, dummy_manager
from nagare.security.common import Denial, User, public
from tests.support.pickling import dumps, loads


class Manager(common.Authentication, common.Rules):
    """Users named by a header: enough to see what bind() does with a manager."""

    def create_user(self, request, response, *args):
        name = request.headers.get("X-User")
        return User(name) if name else None


@Manager.when(User, str)
def _owners(rules, user, perm, subject):
    return getattr(subject, "owner", None) == user.id or Denial(f"{perm} is for the owner")


class BasicManager(basic_auth.Authentication, Manager):
    pass


class Document:
    def __init__(self, owner):
        self.owner = owner
        self.edits = 0

    @security.permissions("edit")
    def edit(self, n=1):
        self.edits += n
        return self.edits

    @security.permissions(public)
    def read(self):
        return "text"

    @security.permissions("edit")
    def __rename(self):
        return "renamed"

    def rename(self):
        return self.__rename


def blank(user=None):
    request = Request.blank("/")
    if user:
        request.headers["X-User"] = user
    return request, Response()



# --- the current request ------------------------------------------------------------------


def test_bind_authenticates_and_clears_at_the_end():
    manager = Manager()
    assert security.get_user() is None
    with security.bind(manager, *blank("ann")) as context:
        assert context.user.id == "ann" and security.get_user() is context.user
        assert security.get_manager() is manager
        assert context.identity == "ann" and not context.login and context.logout is None
    assert security.get_user() is None
    assert security.get_manager() is not manager


def test_bind_clears_after_an_exception_and_nests():
    with pytest.raises(RuntimeError):
        with security.bind(Manager(), *blank("ann")):
            with security.bind(Manager(), *blank("bob")):
                assert security.get_user().id == "bob"
            assert security.get_user().id == "ann"
            raise RuntimeError
    assert security.get_user() is None


def test_without_a_manager_only_public_passes():
    with security.bind(None, *blank()):
        assert isinstance(security.get_manager(), dummy_manager.Manager)
        assert security.get_user() is None
        assert security.has_permissions(public) is True
        assert not security.has_permissions("read")
    # outside any request too: a batch, a test
    assert security.has_permissions(public) is True
    assert isinstance(security.has_permissions(common.private), Denial)


def test_each_thread_and_task_sees_its_own_user():
    manager = Manager()
    seen = {}
    barrier = threading.Barrier(2)

    def request(name):
        with security.bind(manager, *blank(name)):
            barrier.wait(5)  # both bound at once
            seen[name] = security.get_user().id

    threads = [threading.Thread(target=request, args=(name,)) for name in ("ann", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert seen == {"ann": "ann", "bob": "bob"}

    async def task(name):
        with security.bind(manager, *blank(name)):
            await asyncio.sleep(0.01)
            return security.get_user().id

    async def both():
        return await asyncio.gather(task("carl"), task("dora"))

    # In a thread of its own: a test before this one may have left an event loop running in this
    # thread (Playwright's synchronous API does), and asyncio.run() refuses to nest.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, both()).result() == ["carl", "dora"]


def test_set_user_and_set_manager():
    with security.bind(Manager(), *blank()):
        security.set_user(User("ann"))
        assert security.get_user().id == "ann"
        other = Manager()
        security.set_manager(other)
        assert security.get_manager() is other
    assert security.get_user() is None


def test_a_user_is_the_current_user_inside_its_with_block():
    with security.bind(Manager(), *blank("ann")):
        with User("admin") as admin:
            assert security.get_user() is admin
            with User("nested"):
                assert security.get_user().id == "nested"
            assert security.get_user() is admin
        assert security.get_user().id == "ann"
    with User("batch"):  # outside a request: a batch job acting as someone
        assert security.get_user().id == "batch"
    assert security.get_user() is None


def test_an_expired_user_reads_as_anonymous():
    with security.bind(Manager(), *blank("ann")) as context:
        context.user.expired = True
        assert security.get_user() is None
        assert security.get_user(only_valid=False).id == "ann"
        assert context.identity is None
        assert not security.has_permissions("edit", Document("ann"))


# --- checks -------------------------------------------------------------------------------


def test_has_permissions_is_true_or_a_denial():
    with security.bind(Manager(), *blank("ann")):
        assert security.has_permissions("edit", Document("ann")) is True
        denial = security.has_permissions("edit", Document("bob"))
        assert isinstance(denial, Denial) and not denial and denial.message == "edit is for the owner"


def test_check_permissions_refuses_with_403_and_a_log_line(caplog):
    caplog.set_level(logging.INFO, logger="nagare.security")
    with security.bind(Manager(), *blank("ann")):
        security.check_permissions("edit", Document("ann"))  # passes: nothing raised
        assert not caplog.records
        with pytest.raises(HTTPForbidden) as refused:
            security.check_permissions("edit", Document("bob"))
    assert refused.value.status_code == 403
    assert "edit is for the owner" in Request.blank("/").get_response(refused.value).text
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "permission 'edit' refused to 'ann' on Document: edit is for the owner"


def test_check_permissions_with_basic_auth_refuses_with_401():
    with security.bind(BasicManager("docs"), *blank()):
        with pytest.raises(HTTPUnauthorized) as refused:
            security.check_permissions("edit", Document("bob"))
    assert refused.value.headers["WWW-Authenticate"] == 'Basic realm="docs", charset="UTF-8"'


def test_a_manager_whose_denies_returns_still_refuses():
    class Lenient(Manager):
        def denies(self, denial=None):
            return None  # an application's override that forgot to raise

    with security.bind(Lenient(), *blank("ann")):
        with pytest.raises(HTTPForbidden):
            security.check_permissions("edit", Document("bob"))


# --- @permissions and wrapper -------------------------------------------------------------


def test_the_decorator_checks_before_the_method_runs_with_the_object_as_subject():
    doc = Document("ann")
    with security.bind(Manager(), *blank("ann")):
        assert doc.edit() == 1 and doc.edit(n=2) == 3
        assert doc.read() == "text"
    with security.bind(Manager(), *blank("bob")):
        with pytest.raises(HTTPForbidden):
            doc.edit()
        assert doc.read() == "text"
    assert doc.edits == 3  # the refused call did not run
    assert Document.edit.__name__ == "edit" and Document.edit.__wrapped__ is not None


def test_the_decorator_with_an_explicit_subject_and_on_a_function():
    shared = Document("ann")

    @security.permissions("edit", shared)
    def touch(doc):
        doc.edits += 1
        return doc.edits

    with security.bind(Manager(), *blank("ann")):
        assert touch(Document("bob")) == 1  # checked on `shared`, which ann owns
    with security.bind(Manager(), *blank("bob")):
        with pytest.raises(HTTPForbidden):
            touch(Document("bob"))


def test_wrapper_checks_each_call():
    doc = Document("ann")
    action = security.wrapper(lambda: "done", "edit", doc)
    with security.bind(Manager(), *blank("ann")):
        assert action() == "done"
    with security.bind(Manager(), *blank("bob")):
        with pytest.raises(HTTPForbidden):
            action()
    with security.bind(Manager(), *blank()):
        passing = security.wrapper(lambda value: value * 2, public, None)
        assert passing(21) == 42  # the value of a field goes through


def test_a_decorated_method_pickles_by_reference_and_is_checked_once_after_loading():
    doc = Document("ann")
    action = doc.edit
    data = dumps(action)
    assert b"cloudpickle" not in data and b"nagare.security" not in data  # getattr(doc, 'edit') only
    for _ in range(3):  # a state stored and loaded again and again
        action = loads(data)
        data = dumps(action)
    assert isinstance(action.action, type(doc.rename))  # the bound method itself: not wrapped again
    loaded_doc = action.subject
    with security.bind(Manager(), *blank("ann")):
        assert action() == 1
    assert loaded_doc.edits == 1 and action.action.__self__ is loaded_doc
    with security.bind(Manager(), *blank("bob")):
        with pytest.raises(HTTPForbidden):
            action()
    # a name-mangled private method too
    private_action = loads(dumps(doc.rename()))
    with security.bind(Manager(), *blank("ann")):
        assert private_action() == "renamed"


def test_a_wrapper_pickles_with_the_standard_pickle_too():
    doc = Document("ann")
    action = pickle.loads(pickle.dumps(security.wrapper(doc.read, "edit", doc)))
    with security.bind(Manager(), *blank("ann")):
        assert action() == "text"
    with security.bind(Manager(), *blank("bob")):
        with pytest.raises(HTTPForbidden):
            action()
