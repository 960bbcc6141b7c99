"""Celery tasks of the intake app. Each takes ids, fetches, and calls a service."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

# Seconds one import task runs before it queues its own continuation; well under the
# project-wide CELERY_TASK_SOFT_TIME_LIMIT (60 s).
IMPORT_TASK_BUDGET = 40
# The same for one web-form drain (a backlog after an outage is drained by a chain of tasks).
DRAIN_TASK_BUDGET = 40
# Confirmations the per-minute catch-up sends at most (their task was lost or failed).
CONFIRMATIONS_CATCH_UP_BATCH = 500


@shared_task(ignore_result=True)
def webform_submissions_drain_task() -> None:
    """Make the leads of pending web-form submissions (asked for by posts, debounced)."""
    from leadflow.queue import enqueue_on_commit

    from .services import webform_submissions_drain

    if not webform_submissions_drain(budget_seconds=DRAIN_TASK_BUDGET).finished:
        # A backlog: queue the rest. If the broker is down, intake_catch_up carries on.
        enqueue_on_commit(webform_submissions_drain_task)


@shared_task(ignore_result=True)
def webform_confirmations_send_task(submission_ids: list[int]) -> None:
    """The confirmations of one drained batch (one message per batch, one mail connection)."""
    from .services import webform_confirmations_send

    webform_confirmations_send(ids=submission_ids, limit=len(submission_ids))


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
    """Periodic (beat, every minute): make the leads of web-form submissions no drain was asked
    for (posted while Redis was down), send confirmations whose task was lost, and restart
    imports nobody is running."""
    from .services import import_jobs_stalled, webform_confirmations_send, webform_submissions_drain

    drained = webform_submissions_drain(budget_seconds=DRAIN_TASK_BUDGET / 2)
    if not drained.finished:
        try:
            webform_submissions_drain_task.apply_async(retry=False)
        except Exception:
            logger.warning("broker unavailable: the web-form drain goes on at the next catch-up")
    sent = webform_confirmations_send(limit=CONFIRMATIONS_CATCH_UP_BATCH)
    stalled = import_jobs_stalled()
    for job_id in stalled:
        try:
            import_job_run_task.apply_async(args=[job_id], retry=False)
        except Exception:
            logger.warning("broker unavailable: import %s not restarted now", job_id)
    return {"submissions_processed": drained.processed, "confirmations_sent": sent, "imports_restarted": len(stalled)}
