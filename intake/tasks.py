"""Celery tasks of the intake app. Each takes ids, fetches, and calls a service."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

# Seconds one import task runs before it queues its own continuation; well under the
# project-wide CELERY_TASK_SOFT_TIME_LIMIT (60 s).
IMPORT_TASK_BUDGET = 40


@shared_task(ignore_result=True)
def webform_confirmation_send_task(submission_id: int) -> None:
    from .services import webform_confirmation_send

    webform_confirmation_send(submission_id=submission_id)


@shared_task(ignore_result=True)
def import_job_run_task(job_id: int) -> None:
    from leadflow.queue import enqueue_on_commit

    from .services import import_job_run

    if not import_job_run(job_id=job_id, budget_seconds=IMPORT_TASK_BUDGET):
        # Out of time: queue the rest (resumes at the first unprocessed row). If the broker is
        # down, intake_catch_up finds the unclaimed job.
        enqueue_on_commit(import_job_run_task, job_id)


@shared_task(ignore_result=True)
def intake_catch_up() -> dict[str, int]:
    """Periodic: send confirmations whose task was lost (e.g. posted while Redis was down) and
    restart imports nobody is running."""
    from .services import import_jobs_stalled, webform_confirmations_catch_up

    sent = webform_confirmations_catch_up()
    stalled = import_jobs_stalled()
    for job_id in stalled:
        try:
            import_job_run_task.apply_async(args=[job_id], retry=False)
        except Exception:
            logger.warning("broker unavailable: import %s not restarted now", job_id)
    return {"confirmations_sent": sent, "imports_restarted": len(stalled)}
