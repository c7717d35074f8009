"""common.Rules: deny by default, public / private, collections, the most specific rule decides."""

from __future__ import annotations

import pickle

import pytest

from nagare.security import common
from nagare.security.common import Denial, Rules, User, private, public, when


class Rules1(Rules):
    pass


class Rules2(Rules1):
    pass


class Editor(User):
    pass


class Edit(common.Permission):
    pass


class Article:
    def __init__(self, author: str) -> None:
        self.author = author


class Draft(Article):
    pass


@Rules1.when(User, Edit, Article)
def _authors_edit(rules, user, perm, article):
    return article.author == user.id


@Rules1.when(Editor, Edit, Article)
def _editors_edit_all(rules, user, perm, article):
    return True


@Rules1.when(User, str, Draft)
def _drafts_are_read_by_their_author(rules, user, perm, draft):
    if perm != "read":
        return NotImplemented  # another rule decides
    return draft.author == user.id or Denial("a draft is read by its author only")


@Rules1.when(User, str, object)
def _users_read_everything(rules, user, perm, subject):
    return perm == "read"


@Rules2.when(User, Edit, Article)
def _nobody_edits_in_rules2(rules, user, perm, article):
    return Denial("frozen")


def test_everything_is_refused_by_default():
    rules = Rules()
    for user, perm, subject in [(None, "read", None), (User("ann"), Edit(), Article("ann")), (User("x"), 42, object())]:
        result = rules.has_permission(user, perm, subject)
        assert not result and isinstance(result, Denial)


def test_public_always_passes_private_never():
    rules = Rules1()
    ann = User("ann")
    assert rules.has_permission(None, public, None) is True
    assert rules.has_permission(ann, public, Article("bob")) is True
    assert not rules.has_permission(ann, private, None)
    # the users' rule on (User, str, object) does not open private
    assert not rules.has_permission(ann, private, Article("ann"))


def test_the_permissions_of_a_collection_pass_when_one_of_them_does():
    rules = Rules1()
    ann = User("ann")
    for collection in (tuple, list, set, frozenset):
        assert rules.has_permission(ann, collection(["write", "read"]), None) is True
        assert not rules.has_permission(ann, collection(["write", private]), None)
        assert rules.has_permission(None, collection([private, public]), None) is True
    assert not rules.has_permission(ann, (), None)  # nothing asked for, nothing granted
    denial = rules.has_permission(User("bob"), ("read", "x"), Draft("ann"))
    assert isinstance(denial, Denial)


def test_the_most_specific_rule_decides():
    rules = Rules1()
    assert rules.has_permission(User("ann"), Edit(), Article("ann")) is True
    assert not rules.has_permission(User("bob"), Edit(), Article("ann"))
    assert rules.has_permission(Editor("bob"), Edit(), Article("ann")) is True  # a subclass of User
    assert rules.has_permission(User("bob"), "read", Article("ann")) is True


def test_a_rule_that_returns_not_implemented_hands_over_to_the_next():
    rules = Rules1()
    assert rules.has_permission(User("ann"), "read", Draft("ann")) is True
    denial = rules.has_permission(User("bob"), "read", Draft("ann"))
    assert isinstance(denial, Denial) and denial.message == "a draft is read by its author only"
    # 'write' on a draft: the draft rule passes its turn, the users' rule refuses
    assert rules.has_permission(User("ann"), "write", Draft("ann")) is False


def test_rules_apply_to_their_class_and_its_subclasses_and_a_subclass_overrides():
    assert not Rules().has_permission(User("ann"), Edit(), Article("ann"))  # registered on Rules1
    denial = Rules2().has_permission(User("ann"), Edit(), Article("ann"))
    assert isinstance(denial, Denial) and denial.message == "frozen"
    assert Rules2().has_permission(User("ann"), "read", None) is True  # inherited


def test_the_permission_type_decides_before_the_subject_type():
    class Local(Rules):
        pass

    @Local.when(object, object, Article)
    def _articles_are_open(rules, user, perm, subject):
        return True

    # (object, Private, object) and (object, object, Article) both match; the permission wins
    assert not Local().has_permission(None, private, Article("x"))
    assert Local().has_permission(None, "anything", Article("x")) is True


def test_none_as_a_type_is_the_anonymous_user():
    class Local(Rules):
        pass

    @Local.when(None, str)
    def _anonymous_may_sign_up(rules, user, perm, subject):
        return perm == "sign up"

    assert Local().has_permission(None, "sign up", None) is True
    assert not Local().has_permission(User("ann"), "sign up", None)


def test_rules_registered_after_a_lookup_are_seen():
    class Local(Rules):
        pass

    assert not Local().has_permission(None, "late", None)  # cached as refused

    @Local.when(None, str)
    def _late(rules, user, perm, subject):
        return True

    assert Local().has_permission(None, "late", None) is True


def test_peak_rules_spelling():
    class Local(Rules):
        pass

    class Secret(common.Permission):
        pass

    @when(Rules.has_permission, (Local, User, Secret, object))
    def _four_types(rules, user, perm, subject):
        return user.id == "root"

    assert Local().has_permission(User("root"), Secret(), None) is True
    assert not Rules().has_permission(User("root"), Secret(), None)  # registered for Local only

    class Shared(common.Permission):
        pass

    @when(Rules.has_permission, (User, Shared))
    def _three_types(rules, user, perm, subject):  # as PEAK-Rules did: for every manager
        return True

    assert Rules().has_permission(User("x"), Shared(), None) is True
    assert Local().has_permission(User("x"), Shared(), None) is True


def test_unsupported_rule_declarations_are_one_line_errors():
    with pytest.raises(TypeError, match="strings are not supported"):
        when(Rules.has_permission, "isinstance(user, User)")
    with pytest.raises(TypeError, match="extend Rules.has_permission"):
        when(len, (User,))
    with pytest.raises(TypeError, match="must be a class or None"):
        Rules.when("admin")
    with pytest.raises(TypeError, match="must be a Rules class"):
        when(Rules.has_permission, (User, User, str, object))


def test_public_and_private_keep_their_identity_when_pickled():
    assert pickle.loads(pickle.dumps(public)) is public
    assert pickle.loads(pickle.dumps(private)) is private
    assert len(pickle.dumps(public, protocol=pickle.HIGHEST_PROTOCOL)) < 60  # by name


def test_a_denial_is_false_and_says_why():
    denial = Denial("not yours")
    assert not denial and str(denial) == "not yours" and "not yours" in repr(denial)
    assert str(Denial()) == "Access forbidden"
