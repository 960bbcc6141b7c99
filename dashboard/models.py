from __future__ import annotations

from django.conf import settings
from django.db import models


class Dashboard(models.Model):
    """No table: the home of the dashboard's permission (Django reads permissions from a model's Meta)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_dashboard", "Can open the pipeline dashboard of the teams one manages (all: admins)")]

    def __str__(self) -> str:
        return "dashboard"


class DigestSent(models.Model):
    """One weekly digest per manager and week: claimed before sending, so two beats send it once."""

    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    week_start = models.DateField()
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["manager", "week_start"], name="digestsent_unique_manager_week"),
        ]

    def __str__(self) -> str:
        return f"digest {self.week_start} → {self.manager_id}"


class DashboardSnapshot(models.Model):
    """The dashboard's figures for one scope and filter set, computed ahead by the beat task (the
    default views) or by a page view (any other filter set), so that opening the page reads one
    row instead of running its aggregates over the whole history (issue #6).

    `key` is a hash of everything the figures depend on besides the data: the visible scope, the
    filters, the follow-up policy and the time zone (dashboard.snapshots.snapshot_key). `user` is
    who it was computed for; None for the all-teams scope every admin shares.
    """

    key = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    filters = models.JSONField()
    figures = models.JSONField()  # dashboard.snapshots.figures_to_json
    computed_at = models.DateTimeField()
    compute_ms = models.PositiveIntegerField()

    class Meta:
        # The beat task's clean-up: delete where computed_at is old.
        indexes = [models.Index(fields=["computed_at"], name="dashsnapshot_computed_idx")]

    def __str__(self) -> str:
        return f"dashboard snapshot {self.key[:12]} at {self.computed_at:%Y-%m-%d %H:%M}"
