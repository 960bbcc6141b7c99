"""Writes started from the dashboard: bulk reassignment and the weekly digest."""

from __future__ import annotations

import dataclasses
import logging
import zoneinfo
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from followups.emails import make_message
from leads.models import Lead
from leads.services import lead_reassign

from .models import DigestSent

logger = logging.getLogger(__name__)

MSG_NO_LEADS = "Tick at least one lead."


@transaction.atomic
def leads_bulk_reassign(*, leads: list[Lead], to_owner: User, by: User, reason: str = "") -> int:
    """Give every lead to `to_owner`, all or nothing. Returns how many changed owner.

    Each lead goes through leads.services.lead_reassign (permission, team membership, an
    Assignment row); the first refusal raises and rolls the whole batch back.
    """
    if not leads:
        raise ValidationError({"leads": MSG_NO_LEADS})
    changed = 0
    for lead in leads:
        if lead_reassign(lead=lead, to_owner=to_owner, by=by, reason=reason) is not None:
            changed += 1
    return changed


def digest_week_start(now: datetime) -> date:
    """Monday (UTC) of the week the digest for `now` belongs to."""
    today = now.astimezone(UTC).date()
    return today - timedelta(days=today.weekday())


def digest_send(*, manager: User, now: datetime | None = None) -> bool:
    """Send this week's digest to one manager, at most once. Returns True if sent now.

    1. Claim (manager, week) by inserting a DigestSent row: a unique constraint makes a second
       beat or a retried task stop here.
    2. Build the numbers (the manager's teams, the last 7 days in their time zone: leads received
       and their speed-to-lead, moves made, leads cooling now) and send.
    3. Mark it sent. If sending failed, drop the claim so the next run tries again.
    """
    from .selectors import DATE_CHANGED, DashboardFilters, dashboard_build

    now = now or timezone.now()
    week = digest_week_start(now)
    if not manager.email:
        return False
    try:
        with transaction.atomic():
            claim = DigestSent.objects.create(manager=manager, week_start=week, claimed_at=now)
    except IntegrityError:
        return False
    try:
        with timezone.override(_zone(manager)):
            today = timezone.localdate(now)
            filters = DashboardFilters(date_from=today - timedelta(days=7), date_to=today - timedelta(days=1))
            # New leads and their speed-to-lead (received last week), and last week's moves.
            dash = dashboard_build(user=manager, filters=filters, now=now)
            moves = dashboard_build(
                user=manager, filters=dataclasses.replace(filters, date_field=DATE_CHANGED), now=now
            )
            ctx = {
                "manager": manager,
                "dash": dash,
                "moves": moves,
                "site_url": settings.SITE_URL.rstrip("/"),
                "dashboard_path": reverse("dashboard:index"),
                "cooling_leads": dash.cooling_leads[:10],
            }
            make_message("dashboard-digest", manager.email, ctx).send()
    except Exception:
        claim.delete()
        raise
    DigestSent.objects.filter(pk=claim.pk).update(sent_at=timezone.now())
    return True


def _zone(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")
