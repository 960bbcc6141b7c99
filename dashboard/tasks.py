"""Celery tasks of the dashboard: the weekly digest to each manager, and the snapshots of every
manager's default view (dashboard.snapshots)."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

# Scheduled by CELERY_BEAT_SCHEDULE in leadflow/settings.py (Monday 06:00 UTC).


@shared_task
def digests_send_weekly() -> int:
    """Enqueue one digest per active manager (ids only). Returns how many were enqueued."""
    from accounts.models import User

    ids = list(
        User.objects.filter(is_active=True, managed_teams__isnull=False)
        .exclude(email="")
        .distinct()
        .values_list("pk", flat=True)
    )
    for pk in ids:
        digest_send_task.delay(pk)
    return len(ids)


@shared_task(bind=True, max_retries=3, default_retry_delay=300)
def digest_send_task(self, manager_id: int) -> bool:
    from accounts.models import User

    from .services import digest_send

    manager = User.objects.filter(pk=manager_id, is_active=True).first()
    if manager is None or not manager.has_perm("dashboard.view_dashboard"):
        return False
    try:
        return digest_send(manager=manager)
    except Exception as exc:  # the mail server may be down: the claim was dropped, try again later
        logger.warning("digest to manager %s not sent: %s", manager_id, exc)
        raise self.retry(exc=exc) from exc


# Scheduled by CELERY_BEAT_SCHEDULE in leadflow/settings.py (every DASHBOARD_SNAPSHOT_INTERVAL).


@shared_task
def snapshots_refresh() -> int:
    """Recompute every manager's and the admins' default dashboard. Returns how many were written."""
    from .snapshots import snapshots_refresh_defaults

    return len(snapshots_refresh_defaults())
