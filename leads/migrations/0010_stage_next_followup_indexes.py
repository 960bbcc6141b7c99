"""Indexes for the work queue's overdue segment in a list of one stage (see Lead.Meta.indexes)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_assignment_fields'),
        ('leads', '0009_partial_link_indexes_for_bulk_insert'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(models.F('owner'), models.F('stage'), models.F('next_followup_at'), models.F('id'), condition=models.Q(('first_contacted_at__isnull', False), ('next_followup_at__isnull', False)), name='lead_owner_stage_next_fu_idx'),
        ),
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(models.F('team'), models.F('stage'), models.F('next_followup_at'), models.F('id'), condition=models.Q(('first_contacted_at__isnull', False), ('next_followup_at__isnull', False)), name='lead_team_stage_next_fu_idx'),
        ),
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(models.F('source'), models.F('stage'), models.F('next_followup_at'), models.F('id'), condition=models.Q(('first_contacted_at__isnull', False), ('next_followup_at__isnull', False)), name='lead_source_stage_next_fu_idx'),
        ),
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(models.F('stage'), models.F('next_followup_at'), models.F('id'), condition=models.Q(('first_contacted_at__isnull', False), ('next_followup_at__isnull', False)), name='lead_stage_next_fu_idx'),
        ),
    ]
