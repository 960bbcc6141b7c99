from django.db import migrations

from accounts.roles import ADMIN, ADMIN_PERMS, MANAGER, MANAGER_PERMS, REP, REP_PERMS, grant


def create_roles(apps, schema_editor):
    grant(apps, REP, REP_PERMS)
    grant(apps, MANAGER, MANAGER_PERMS)
    grant(apps, ADMIN, ADMIN_PERMS)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("leads", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
