from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """A sensitive action, kept for admins: who did what to which lead, and when."""

    class Action(models.TextChoices):
        REASSIGN = "reassign", "Lead reassigned"
        GATE_OVERRIDE = "gate_override", "Qualification gate overridden"
        CRITERIA_CHANGE = "criteria_change", "Sales-ready criteria changed"
        MERGE = "merge", "Leads merged"
        EXPORT = "export", "Leads exported"
        TOKEN_CREATED = "token_created", "API token created"
        TOKEN_REVOKED = "token_revoked", "API token revoked"

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    action = models.CharField(max_length=30, choices=Action)
    lead = models.ForeignKey("leads.Lead", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    summary = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["action", "-created_at"], name="audit_action_idx")]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.summary}"
