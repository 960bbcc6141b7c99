from django.db import migrations

from accounts.roles import ADMIN, MANAGER, REP, grant

# What this issue adds to each role. Reps import and export their own leads and merge
# duplicates among the leads they can see; admins also run the web forms and the duplicate
# policies, and read the intake records in Django admin.
REP_PERMS = ["intake.add_importjob", "intake.view_importjob", "intake.export_leads", "leads.merge_lead"]
MANAGER_PERMS = [*REP_PERMS]
ADMIN_PERMS = [
    *MANAGER_PERMS,
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


def add_permissions(apps, schema_editor):
    grant(apps, REP, REP_PERMS)
    grant(apps, MANAGER, MANAGER_PERMS)
    grant(apps, ADMIN, ADMIN_PERMS)


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0001_initial"),
        ("api", "0001_initial"),
        ("leads", "0004_intake_fields"),
        ("accounts", "0003_assignment_fields"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(add_permissions, migrations.RunPython.noop)]
