"""Roles are Django groups with model permissions; the groups are created by migrations.

Code asks for a permission (`user.has_perm(...)`), never for a group name, so an admin can
grant a single person an extra right in Django admin without a new role.
"""

from __future__ import annotations

REP = "rep"
MANAGER = "manager"
ADMIN = "admin"
ROLES = (REP, MANAGER, ADMIN)

# Permission codenames ("app_label.codename") each role holds. Later apps extend these maps
# in their own migrations with `grant`.
REP_PERMS = [
    "leads.view_lead",
    "leads.add_lead",
    "leads.change_lead",
    "leads.view_activity",
    "leads.add_activity",
    "leads.view_leadsource",
]
MANAGER_PERMS = [*REP_PERMS, "leads.reassign_lead", "leads.override_gate", "leads.view_team_leads"]
ADMIN_PERMS = [
    *MANAGER_PERMS,
    "leads.view_all_leads",
    # Settings pages and Django admin: sources, people, teams, and reading the history.
    "leads.add_leadsource",
    "leads.change_leadsource",
    "leads.view_stagechange",
    "leads.view_assignment",
    "accounts.view_user",
    "accounts.add_user",
    "accounts.change_user",
    "accounts.view_team",
    "accounts.add_team",
    "accounts.change_team",
    "accounts.view_membership",
    "accounts.add_membership",
    "accounts.change_membership",
    "accounts.delete_membership",
]


def grant(apps, role: str, perm_names: list[str]) -> None:
    """Add permissions to a role's group. For use inside data migrations."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations ran; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=role)
    for name in perm_names:
        app_label, codename = name.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
