"""Celery tasks of the leads app. Each takes ids, fetches, and calls a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def owner_notice_send_task(notice_id: int) -> None:
    from .services import owner_notice_send

    owner_notice_send(notice_id=notice_id)


@shared_task(ignore_result=True, expires=55)
def owner_notices_catch_up_task() -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): notices whose task was lost."""
    from .services import owner_notices_catch_up

    return owner_notices_catch_up()
