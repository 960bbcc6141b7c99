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
