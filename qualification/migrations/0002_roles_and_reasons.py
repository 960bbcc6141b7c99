from django.db import migrations

from accounts.roles import sync_roles
from qualification.defaults import install_default_reasons


def forwards(apps, schema_editor):
    sync_roles(apps)
    install_default_reasons(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("qualification", "0001_initial"),
        ("accounts", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
