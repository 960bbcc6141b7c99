from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db.models import CharField, QuerySet, Value

from leadflow import precompiled
from leadflow.precompiled import MAX_ID


class AccessBackend(ModelBackend):
    """Django's ModelBackend, reading a user's permissions and roles in one query instead of three.

    Every page asks for permissions (the nav, the views' checks) and shows the user's roles (the
    account menu): ModelBackend reads the user's own permissions and their groups' in two
    queries, and `user.groups.all` was a third. Here one UNION ALL reads the groups with their
    permissions and the user's own permissions; the result is cached on the user object for the
    request, under the attributes ModelBackend itself uses.
    """

    def get_user(self, user_id):
        """ModelBackend's (the user of a session, if they may log in), with the query compiled once
        (leadflow.precompiled): every request of a logged-in user runs it."""
        if not isinstance(user_id, int) or not 0 < user_id <= MAX_ID:
            return super().get_user(user_id)
        rows = precompiled.fetch("accounts.get_user", _user_by_id, user_id)
        user = rows[0] if rows else None
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            load_access(user_obj)
            if user_obj.is_superuser:
                # A superuser holds every permission (ModelBackend reads them all): rare, admins only.
                del user_obj._perm_cache, user_obj._user_perm_cache, user_obj._group_perm_cache
                return super().get_all_permissions(user_obj)
        return user_obj._perm_cache


def load_access(user) -> None:
    """Read the user's roles (group names) and permissions in one query and cache them on `user`:
    `_role_names`, and ModelBackend's `_user_perm_cache`, `_group_perm_cache` and `_perm_cache`.
    Every page asks, so the UNION is compiled once (leadflow.precompiled)."""
    roles, group_perms, user_perms = set(), set(), set()
    for role, app_label, codename in precompiled.fetch("accounts.load_access", _access_rows, user.pk):
        if role is not None:
            roles.add(role)
        if codename is not None:
            (group_perms if role is not None else user_perms).add(f"{app_label}.{codename}")
    user._role_names = sorted(roles)
    user._user_perm_cache = user_perms
    user._group_perm_cache = group_perms
    user._perm_cache = user_perms | group_perms


def _user_by_id(user_id: int) -> QuerySet:
    return get_user_model()._default_manager.filter(pk=user_id)


def _access_rows(user_id: int) -> QuerySet:
    """The user's groups with their permissions, and the user's own permissions (role None)."""
    no_role = Value(None, output_field=CharField())
    via_groups = Group.objects.filter(user=user_id).values_list(
        "name", "permissions__content_type__app_label", "permissions__codename"
    )
    own = Permission.objects.filter(user=user_id).values_list(no_role, "content_type__app_label", "codename")
    return via_groups.order_by().union(own.order_by(), all=True)
