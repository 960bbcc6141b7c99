"""Indexes for a million leads (the benchmark issue): the queue order per scope (and its overdue
follow-ups segment), counts per stage, and trigram search. Indexes only; no data or field changes.

The trigram GIN indexes and the pg_trgm extension exist on PostgreSQL only: they are not in the
model state (SQLite has no GIN), and their operations do nothing on other databases. They index
UPPER(col::text) because that is what Django's `icontains` compares on PostgreSQL
(`UPPER("leads_lead"."name"::text) LIKE UPPER('%term%')`), so the planner can use them as is.
"""

import django.db.models.functions.comparison
from django.conf import settings
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

TRIGRAM_COLUMNS = ["name", "email", "company"]


class RunSQLOnPostgres(migrations.RunSQL):
    """RunSQL that is skipped on databases other than PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


QUEUE_ORDER = [
    models.Case(
        models.When(first_contacted_at__isnull=True, then=models.Value(0)),
        default=models.Value(1),
        output_field=models.IntegerField(),
    ),
    django.db.models.functions.comparison.Coalesce("last_touched_at", "received_at"),
    models.F("id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_roles"),
        ("leads", "0004_intake_fields"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(models.F("owner"), *QUEUE_ORDER, name="lead_owner_order_idx"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(models.F("team"), *QUEUE_ORDER, name="lead_team_order_idx"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(models.F("source"), *QUEUE_ORDER, name="lead_source_order_idx"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(*QUEUE_ORDER, name="lead_order_idx"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(models.F("team"), models.F("stage"), *QUEUE_ORDER, name="lead_team_stage_order_idx"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(models.F("source"), models.F("stage"), *QUEUE_ORDER, name="lead_source_stage_order_idx"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(models.F("stage"), *QUEUE_ORDER, name="lead_stage_order_idx"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["source", "stage", "team", "owner"], name="lead_source_stage_idx"),
        ),
        # The queue's overdue follow-ups segment (leads.selectors.LeadQueue).
        *[
            migrations.AddIndex(
                model_name="lead",
                index=models.Index(
                    *scope,
                    models.F("next_followup_at"),
                    models.F("id"),
                    condition=models.Q(first_contacted_at__isnull=False, next_followup_at__isnull=False),
                    name=f"lead_{name}next_fu_idx",
                ),
            )
            for name, scope in [
                ("owner_", [models.F("owner")]),
                ("team_", [models.F("team")]),
                ("source_", [models.F("source")]),
                ("", []),
            ]
        ],
        # Skipped by Django itself on databases other than PostgreSQL.
        TrigramExtension(),
        *[
            RunSQLOnPostgres(
                sql=f"CREATE INDEX lead_{column}_trgm_idx ON leads_lead USING gin (UPPER({column}::text) gin_trgm_ops)",
                reverse_sql=f"DROP INDEX IF EXISTS lead_{column}_trgm_idx",
            )
            for column in TRIGRAM_COLUMNS
        ],
    ]
