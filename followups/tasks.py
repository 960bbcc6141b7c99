"""Celery tasks: thin loops over followups.services. Beat ticks `dispatch_due_followups`
(CELERY_BEAT_SCHEDULE in leadflow/settings.py); requests ask for an early run on commit."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


# `expires`: a trigger that waited in the broker longer than a tick (workers were down, Redis
# was restored) is dropped; the next one finds everything due in the database anyway.
@shared_task(ignore_result=True, expires=settings.FOLLOWUP_TICK_SECONDS)
def dispatch_due_followups() -> int:
    from .services import dispatch_due

    return dispatch_due()
