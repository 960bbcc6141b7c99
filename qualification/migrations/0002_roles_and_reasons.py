from django.db import migrations

from accounts.roles import ADMIN, MANAGER, REP, grant
from qualification.defaults import DEFAULT_REASONS

# Reps and managers record calls on leads they can see, and send helpful closes.
WORK_PERMS = [
    "qualification.view_discoverycall",
    "qualification.add_discoverycall",
    "qualification.view_helpfulclose",
    "qualification.change_helpfulclose",
    "qualification.view_disqualificationreason",
]
# Admins also define "sales-ready" (publishing a version = adding one; versions are never
# changed) and manage the disqualification reasons with their helpful-close templates.
ADMIN_ONLY_PERMS = [
    "qualification.view_criteriaversion",
    "qualification.add_criteriaversion",
    "qualification.view_criteriarule",
    "qualification.add_criteriarule",
    "qualification.add_disqualificationreason",
    "qualification.change_disqualificationreason",
]


def forwards(apps, schema_editor):
    grant(apps, REP, WORK_PERMS)
    grant(apps, MANAGER, WORK_PERMS)
    grant(apps, ADMIN, WORK_PERMS + ADMIN_ONLY_PERMS)
    Reason = apps.get_model("qualification", "DisqualificationReason")
    for position, (code, label, needs_text, creates_close, template) in enumerate(DEFAULT_REASONS):
        Reason.objects.get_or_create(
            code=code,
            defaults={
                "label": label,
                "needs_text": needs_text,
                "creates_helpful_close": creates_close,
                "helpful_close_template": template,
                "position": position * 10,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("qualification", "0001_initial"),
        ("accounts", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
