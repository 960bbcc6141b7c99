from django.db import migrations

from accounts.roles import sync_roles


def grant(apps, schema_editor):
    # dashboard.view_dashboard is in accounts.roles.MANAGER_PERMS (and so ADMIN_PERMS).
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0001_initial"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
