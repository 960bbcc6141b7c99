from django.db import migrations

from accounts.roles import sync_roles


def forwards(apps, schema_editor):
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0001_initial"),
        ("api", "0001_initial"),
        ("leads", "0004_intake_fields"),
        ("accounts", "0003_assignment_fields"),
        ("accounts", "0002_roles"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
