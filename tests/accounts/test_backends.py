"""accounts.backends.AccessBackend: ModelBackend's answers, from one query."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission

from accounts import roles
from accounts.backends import AccessBackend
from accounts.models import User
from tests.factories import make_user


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def test_it_grants_what_model_backend_grants_for_each_role(rep, manager, admin_user):
    for user in (rep, manager, admin_user):
        assert AccessBackend().get_all_permissions(fresh(user)) == ModelBackend().get_all_permissions(fresh(user))


def test_it_reads_own_and_group_permissions_and_role_names_in_one_query(manager, django_assert_num_queries):
    manager.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    manager.groups.add(Group.objects.get(name=roles.REP))
    user = fresh(manager)
    with django_assert_num_queries(1):
        assert user.has_perm("audit.view_auditevent")
        assert user.has_perm("leads.view_team_leads")
        assert not user.has_perm("leads.view_all_leads")
        assert user.role_names == [roles.MANAGER, roles.REP]
    assert user.get_user_permissions() == {"audit.view_auditevent"}
    assert "leads.view_team_leads" in user.get_group_permissions()


def test_a_user_without_a_role_has_no_role_names_and_no_permissions(db):
    user = fresh(make_user("nobody", role=None))
    assert user.role_names == []
    assert not user.has_perm("leads.view_lead")


def test_an_inactive_user_has_no_permissions(rep):
    rep.is_active = False
    rep.save()
    assert AccessBackend().get_all_permissions(fresh(rep)) == set()


def test_a_superuser_holds_every_permission(db):
    boss = fresh(make_user("boss", role=None, is_superuser=True))
    assert AccessBackend().get_all_permissions(boss) == ModelBackend().get_all_permissions(fresh(boss))
    assert boss.role_names == []


def test_it_finds_the_user_of_a_session_as_model_backend_does(rep, django_assert_num_queries):
    inactive = make_user("gone")
    inactive.is_active = False
    inactive.save()
    for user_id in (rep.pk, inactive.pk, rep.pk + 10_000, 2**63, 0):
        assert AccessBackend().get_user(user_id) == ModelBackend().get_user(user_id)
    with django_assert_num_queries(1):
        assert AccessBackend().get_user(rep.pk).username == rep.username
