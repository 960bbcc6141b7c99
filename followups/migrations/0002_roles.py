from django.db import migrations

from accounts.roles import ADMIN, MANAGER, REP, grant

# Reps and managers work their follow-ups (which ones: the leads' visible_to rule decides).
WORK_PERMS = ["followups.view_followup", "followups.add_followup", "followups.change_followup"]
# Admins also configure cadences and the policy (SLA, hours, thresholds) and see the dispatcher's rows.
ADMIN_PERMS = [
    *WORK_PERMS,
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
]


def grant_roles(apps, schema_editor):
    grant(apps, REP, WORK_PERMS)
    grant(apps, MANAGER, WORK_PERMS)
    grant(apps, ADMIN, ADMIN_PERMS)


class Migration(migrations.Migration):
    dependencies = [
        ("followups", "0001_initial"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant_roles, migrations.RunPython.noop)]
