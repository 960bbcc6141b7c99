from __future__ import annotations

from typing import Any

from .models import AuditEvent


def audit_record(*, actor, action: str, summary: str, lead=None, data: dict[str, Any] | None = None) -> AuditEvent:
    """Record a sensitive action. Call it inside the action's transaction, so the record exists
    exactly when the action does."""
    return AuditEvent.objects.create(actor=actor, action=action, lead=lead, summary=summary[:500], data=data or {})
