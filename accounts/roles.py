"""Roles are Django groups with model permissions; the groups are created by migrations.

Code asks for a permission (`user.has_perm(...)`), never for a group name, so an admin can
grant a single person an extra right in Django admin without a new role.
"""

from __future__ import annotations

REP = "rep"
MANAGER = "manager"
ADMIN = "admin"
ROLES = (REP, MANAGER, ADMIN)

# Permission codenames ("app_label.codename") each role holds: the one list. Migrations (and
# tests that flush the database) apply it with `sync_roles`; an app that adds permissions adds
# them here and ships a migration that calls `sync_roles`.
REP_PERMS = [
    "leads.view_lead",
    "leads.add_lead",
    "leads.change_lead",
    "leads.view_activity",
    "leads.add_activity",
    "leads.view_leadsource",
    # Record calls on leads they can see, and send helpful closes.
    "qualification.view_discoverycall",
    "qualification.add_discoverycall",
    "qualification.view_helpfulclose",
    "qualification.change_helpfulclose",
    "qualification.view_disqualificationreason",
    # Work their follow-ups (which ones: the leads' visible_to rule decides).
    "followups.view_followup",
    "followups.add_followup",
    "followups.change_followup",
    # Import and export their own leads (managers: their teams'), merge duplicates among the
    # leads they can see.
    "intake.add_importjob",
    "intake.view_importjob",
    "intake.export_leads",
    "leads.merge_lead",
]
MANAGER_PERMS = [
    *REP_PERMS,
    "leads.reassign_lead",
    "leads.override_gate",
    "leads.view_team_leads",
    "dashboard.view_dashboard",
]
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
    "audit.view_auditevent",
    # Define "sales-ready" (publishing a version = adding one; versions are never changed) and
    # manage the disqualification reasons with their helpful-close templates.
    "qualification.view_criteriaversion",
    "qualification.add_criteriaversion",
    "qualification.view_criteriarule",
    "qualification.add_criteriarule",
    "qualification.add_disqualificationreason",
    "qualification.change_disqualificationreason",
    # Cadences and the follow-up policy (SLA, hours, thresholds); the dispatcher's rows.
    "followups.view_cadence",
    "followups.add_cadence",
    "followups.change_cadence",
    "followups.delete_cadence",
    "followups.view_cadencestep",
    "followups.add_cadencestep",
    "followups.change_cadencestep",
    "followups.delete_cadencestep",
    "followups.view_followuppolicy",
    "followups.change_followuppolicy",
    "followups.view_slaclock",
    "followups.view_notification",
    # Web-to-lead forms, duplicate policies per channel, and the intake records.
    "intake.view_webform",
    "intake.add_webform",
    "intake.change_webform",
    "intake.delete_webform",
    "intake.view_webformsubmission",
    "leads.view_duplicatepolicy",
    "leads.add_duplicatepolicy",
    "leads.change_duplicatepolicy",
    "leads.view_leadmerge",
    "leads.view_ownernotice",
    "api.view_apitoken",
    "api.change_apitoken",
]


ROLE_PERMS: dict[str, list[str]] = {REP: REP_PERMS, MANAGER: MANAGER_PERMS, ADMIN: ADMIN_PERMS}


def sync_roles(apps) -> None:
    """Create the role groups and grant them ROLE_PERMS. Idempotent.

    Works with a migration's historical `apps` and with the real registry. Permissions of apps
    not migrated yet are skipped: their own migration calls this again.
    """
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations ran; make sure they exist now.
    for app_config in apps.get_app_configs():
        # A migration's AppConfigStub has no models_module; create_permissions skips apps without one.
        had_models = getattr(app_config, "models_module", None)
        app_config.models_module = had_models or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = had_models

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = {tuple(name.split(".")) for name in names}
        perms = [
            p
            for p in Permission.objects.select_related("content_type")
            if (p.content_type.app_label, p.codename) in wanted
        ]
        group.permissions.add(*perms)
