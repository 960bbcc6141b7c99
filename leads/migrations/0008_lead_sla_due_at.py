"""Lead.sla_due_at: the owner's speed-to-lead deadline copied from the lead's SLA clock, so the
work queue's uncontacted leads are ordered along the QUEUE_ORDER indexes (rebuilt here with it).
The indexes are dropped before the copy so the UPDATE does not maintain them row by row."""

import django.db.models.functions.comparison
from django.conf import settings
from django.db import migrations, models
from django.db.models import Exists, OuterRef, Subquery


def copy_deadlines(apps, schema_editor):
    Lead = apps.get_model("leads", "Lead")
    SlaClock = apps.get_model("followups", "SlaClock")
    deadline = SlaClock.objects.filter(lead_id=OuterRef("pk")).values("owner_due_at")[:1]
    Lead.objects.filter(Exists(SlaClock.objects.filter(lead_id=OuterRef("pk")))).update(sla_due_at=Subquery(deadline))


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_assignment_fields'),
        ('leads', '0007_live_count_indexes'),
        ('followups', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='lead',
            name='lead_owner_order_idx',
        ),
        migrations.RemoveIndex(
            model_name='lead',
            name='lead_team_order_idx',
        ),
        migrations.RemoveIndex(
            model_name='lead',
            name='lead_source_order_idx',
        ),
        migrations.RemoveIndex(
            model_name='lead',
            name='lead_order_idx',
        ),
        migrations.RemoveIndex(
            model_name='lead',
            name='lead_team_stage_order_idx',
        ),
        migrations.RemoveIndex(
            model_name='lead',
            name='lead_source_stage_order_idx',
        ),
        migrations.RemoveIndex(
            model_name='lead',
            name='lead_stage_order_idx',
        ),
        migrations.AddField(
            model_name='lead',
            name='sla_due_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(copy_deadlines, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(models.F('owner'), models.Case(models.When(first_contacted_at__isnull=True, then=models.Value(0)), default=models.Value(1), output_field=models.IntegerField()), models.Case(models.When(first_contacted_at__isnull=True, then=django.db.models.functions.comparison.Coalesce('sla_due_at', 'received_at')), default=django.db.models.functions.comparison.Coalesce('last_touched_at', 'received_at')), models.F('id'), name='lead_owner_order_idx'),
        ),
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(models.F('team'), models.Case(models.When(first_contacted_at__isnull=True, then=models.Value(0)), default=models.Value(1), output_field=models.IntegerField()), models.Case(models.When(first_contacted_at__isnull=True, then=django.db.models.functions.comparison.Coalesce('sla_due_at', 'received_at')), default=django.db.models.functions.comparison.Coalesce('last_touched_at', 'received_at')), models.F('id'), name='lead_team_order_idx'),
        ),
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(models.F('source'), models.Case(models.When(first_contacted_at__isnull=True, then=models.Value(0)), default=models.Value(1), output_field=models.IntegerField()), models.Case(models.When(first_contacted_at__isnull=True, then=django.db.models.functions.comparison.Coalesce('sla_due_at', 'received_at')), default=django.db.models.functions.comparison.Coalesce('last_touched_at', 'received_at')), models.F('id'), name='lead_source_order_idx'),
        ),
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(models.Case(models.When(first_contacted_at__isnull=True, then=models.Value(0)), default=models.Value(1), output_field=models.IntegerField()), models.Case(models.When(first_contacted_at__isnull=True, then=django.db.models.functions.comparison.Coalesce('sla_due_at', 'received_at')), default=django.db.models.functions.comparison.Coalesce('last_touched_at', 'received_at')), models.F('id'), name='lead_order_idx'),
        ),
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(models.F('team'), models.F('stage'), models.Case(models.When(first_contacted_at__isnull=True, then=models.Value(0)), default=models.Value(1), output_field=models.IntegerField()), models.Case(models.When(first_contacted_at__isnull=True, then=django.db.models.functions.comparison.Coalesce('sla_due_at', 'received_at')), default=django.db.models.functions.comparison.Coalesce('last_touched_at', 'received_at')), models.F('id'), name='lead_team_stage_order_idx'),
        ),
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(models.F('source'), models.F('stage'), models.Case(models.When(first_contacted_at__isnull=True, then=models.Value(0)), default=models.Value(1), output_field=models.IntegerField()), models.Case(models.When(first_contacted_at__isnull=True, then=django.db.models.functions.comparison.Coalesce('sla_due_at', 'received_at')), default=django.db.models.functions.comparison.Coalesce('last_touched_at', 'received_at')), models.F('id'), name='lead_source_stage_order_idx'),
        ),
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(models.F('stage'), models.Case(models.When(first_contacted_at__isnull=True, then=models.Value(0)), default=models.Value(1), output_field=models.IntegerField()), models.Case(models.When(first_contacted_at__isnull=True, then=django.db.models.functions.comparison.Coalesce('sla_due_at', 'received_at')), default=django.db.models.functions.comparison.Coalesce('last_touched_at', 'received_at')), models.F('id'), name='lead_stage_order_idx'),
        ),
    ]
