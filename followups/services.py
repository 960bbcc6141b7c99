"""Writes for follow-ups: scheduling cadences, what a rep does with a follow-up, the dispatcher
that reminds and escalates, the speed-to-lead alerts, nurture recycling, and notifications.

Views, tasks, commands and leads.services all call these; tasks only loop over the dispatchers.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db import models, transaction
from django.db.models import F, Min, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Membership, User
from leadflow.bulk import insert_rows
from leadflow.emailmarks import MarkStatement, email_marks, keep_mark_connections
from leads.models import Lead, lead_path_formatter

from .emails import EmailTemplates
from .models import Cadence, CadenceStep, FollowUp, FollowUpPolicy, Kind, Notification, SlaClock, zone_of
from .worktime import add_calendar_days, add_working_days, add_working_minutes, day_and_time

logger = logging.getLogger(__name__)

Stage = Lead.Stage
State = FollowUp.State

MSG_NOT_PENDING = "This follow-up is already {state}; only pending follow-ups can change."
MSG_IN_THE_PAST = "Pick a time in the future."
MSG_LEAD_CLOSED = "The lead is {stage}: follow-ups are for open and nurtured leads."
MSG_OWNER_NOT_IN_TEAM = "{owner} is not in the lead's team."
MSG_INSTRUCTION_REQUIRED = "Say what to do, in a few words."
MSG_RECYCLE_ONLY_DATE = "This is the end of the nurture period: change its date, not what it is."
MSG_RECYCLE_NOT_DONE = (
    "This is the end of the nurture period: it brings the lead back by itself. To bring it back now, "
    "move the lead to “Lead”; otherwise change the date."
)

# A follow-up time the browser sent "now" may be this far behind the server's clock.
PAST_TOLERANCE = timedelta(minutes=5)
RECYCLE_INSTRUCTION = "Nurture period over: call to ask what has changed"
# Stages whose leads may carry follow-ups; leaving them cancels what is pending.
FOLLOWUP_STAGES = (Stage.LEAD, Stage.PROSPECT, Stage.NURTURE)


# --- Scheduling ---------------------------------------------------------------------------------


def _zone_owner(lead: Lead) -> User | None:
    """Whose clock a lead's schedule follows: its owner, or its team's manager while in the pool."""
    return lead.owner if lead.owner_id else lead.team.manager


def step_due_at(*, step: CadenceStep, start: datetime, tz: ZoneInfo, policy: FollowUpPolicy) -> datetime:
    if step.unit == CadenceStep.Unit.HOURS:
        return start + timedelta(hours=step.offset)
    if step.unit == CadenceStep.Unit.DAYS:
        return add_calendar_days(start, step.offset, tz)
    return add_working_days(start, step.offset, tz, policy.working_hours)


@transaction.atomic
def followups_schedule_for(
    *, lead: Lead, cadence: Cadence, start: datetime, policy: FollowUpPolicy | None = None
) -> list[FollowUp]:
    """Write one pending FollowUp per cadence step, due `offset` after `start` in the owner's zone."""
    policy = policy or FollowUpPolicy.load()
    plan = _cadence_plan(
        steps=list(cadence.steps.all()), start=start, tz=zone_of(_zone_owner(lead)), policy=policy, now=timezone.now()
    )
    return FollowUp.objects.bulk_create(_followups_from_plan(lead, plan))


def _cadence_plan(
    *, steps: list[CadenceStep], start: datetime, tz: ZoneInfo, policy: FollowUpPolicy, now: datetime
) -> list[tuple[datetime, CadenceStep]]:
    """(due time, step) for a cadence started at `start` in zone `tz`.

    Steps already in the past when scheduled (an imported lead, a back-dated move) are not piled up:
    only the newest of them is kept, due now-ish, so a late schedule starts with one touch, not six.
    """
    planned = sorted(
        ((step_due_at(step=step, start=start, tz=tz, policy=policy), step) for step in steps), key=lambda p: p[0]
    )
    past = [p for p in planned if p[0] <= now]
    return past[-1:] + [p for p in planned if p[0] > now]


def _followups_from_plan(lead: Lead, plan: list[tuple[datetime, CadenceStep]]) -> list[FollowUp]:
    return [
        FollowUp(
            lead=lead, owner_id=lead.owner_id, due_at=due_at, kind=step.kind, instruction=step.instruction, step=step
        )
        for due_at, step in plan
    ]


@dataclass(frozen=True)
class FirstSchedule:
    """A new lead's first follow-ups (due time, cadence step) and speed-to-lead dues."""

    plan: list[tuple[datetime, CadenceStep]]
    owner_due: datetime
    manager_due: datetime


def followups_plan_new_leads(*, leads: list[Lead]) -> list[FirstSchedule]:
    """Work out new leads' first schedules before they are saved: the speed-to-lead clock and
    the `lead` stage's cadence from `received_at`, in the owner's zone. Sets each lead's
    `next_followup_at` (what followups_refresh_next would write) and `sla_due_at` (its clock's
    deadline), so the lead is saved with them: updating them afterwards would rewrite every new
    lead row in each of its indexes.

    A fixed number of queries for any number of leads: lead_create plans one, the CSV import a
    whole batch, so both write exactly the same rows (followups_on_leads_created writes them).
    """
    if not leads:
        return []
    policy = FollowUpPolicy.load()
    now = timezone.now()
    # The steps of the first active cadence, in one query (a web-form post plans one lead).
    first_cadence = Cadence.objects.active_for(Stage.LEAD).values("pk")[:1]
    steps = list(CadenceStep.objects.filter(cadence_id=Subquery(first_cadence)))
    # An import's leads share received_at and a handful of zones: work each schedule out once.
    plans: dict[tuple[datetime, ZoneInfo], FirstSchedule] = {}
    schedules = []
    for lead in leads:
        key = (lead.received_at, zone_of(_zone_owner(lead)))
        schedule = plans.get(key)
        if schedule is None:
            plan = _cadence_plan(steps=steps, start=key[0], tz=key[1], policy=policy, now=now)
            schedule = plans[key] = FirstSchedule(plan, *_sla_due(start=key[0], tz=key[1], policy=policy))
        lead.next_followup_at = min((due_at for due_at, _ in schedule.plan), default=None)
        if lead.first_contacted_at is None:  # followups_on_leads_created starts its clock
            lead.sla_due_at = schedule.owner_due
        schedules.append(schedule)
    return schedules


def followups_on_leads_created(*, leads: list[Lead], schedules: list[FirstSchedule]) -> None:
    """Write saved new leads' clocks and first follow-ups as planned by followups_plan_new_leads.
    Called inside the leads' transaction; asks for a dispatch after commit if something is due."""
    now = timezone.now()
    # Plain rows written by insert_rows, no model instances: for an import batch the instances
    # and bulk_create's per-value compile were most of the import's time.
    clocks: list[dict] = []
    rows: list[dict] = []
    for lead, schedule in zip(leads, schedules, strict=True):
        if lead.first_contacted_at is None:
            clocks.append(
                {
                    "lead_id": lead.pk,
                    "started_at": lead.received_at,
                    "owner_due_at": schedule.owner_due,
                    "manager_due_at": schedule.manager_due,
                    "next_alert_at": schedule.owner_due,
                }
            )
        rows += [
            {
                "lead_id": lead.pk,
                "owner_id": lead.owner_id,
                "due_at": due_at,
                "kind": step.kind,
                "instruction": step.instruction,
                "step_id": step.pk,
            }
            for due_at, step in schedule.plan
        ]
    insert_rows(SlaClock, clocks)
    insert_rows(FollowUp, rows)
    if any(c["owner_due_at"] <= now for c in clocks) or any(f["due_at"] <= now for f in rows):
        _enqueue_dispatch()


def followups_refresh_next(*, lead_ids: Iterable[int]) -> None:
    """Keep `Lead.next_followup_at` (the earliest pending due time) right: one UPDATE."""
    earliest = (
        FollowUp.objects.filter(lead=OuterRef("pk"), state=State.PENDING)
        .order_by()
        .values("lead")
        .annotate(m=Min("due_at"))
        .values("m")
    )
    Lead.objects.filter(pk__in=list(lead_ids)).update(next_followup_at=Subquery(earliest))


def _cancel_pending(lead: Lead, at: datetime) -> int:
    # Clearing the claim too: a dispatcher holding one of these rows sees it lost its claim and
    # marks nothing; the row also leaves the lease index.
    return FollowUp.objects.filter(lead=lead, state=State.PENDING).update(
        state=State.CANCELLED, completed_at=at, lease_until=None, claim_token=None
    )


def _dispatch_after_commit() -> None:
    from leadflow.queue import enqueue_on_commit

    from .tasks import dispatch_due_followups as dispatch_due_followups_task

    # Runs after the commit, outside any transaction: enqueue_on_commit sends at once, and logs
    # (never raises) a broker outage.
    enqueue_on_commit(dispatch_due_followups_task)


def _enqueue_dispatch() -> None:
    """Ask a worker to dispatch now, once per transaction, after it commits. If the broker is down,
    beat's next tick finds the rows anyway.

    One request in a transaction may create many due rows (an import, the demo data): a single
    "dispatch now" covers them all, so the callback is registered only if it is not there yet.
    (`run_on_commit` holds (savepoint ids, callback, robust) tuples; a rollback drops ours.)
    """
    pending = transaction.get_connection().run_on_commit
    if not any(callback is _dispatch_after_commit for _sids, callback, _robust in pending):
        transaction.on_commit(_dispatch_after_commit)


def followups_on_stage_change(*, lead: Lead, from_stage: str, to_stage: str, at: datetime) -> None:
    """Follow the lead's stage: called by leads.services inside its transaction.

    (A new lead's first schedule is followups_plan_new_leads' and followups_on_leads_created's.)
    1. Cancel what is pending (the old stage's cadence, one-offs, a nurture recycle).
    2. Leaving stage "lead" stops the speed-to-lead clock.
    3. Schedule the new stage's active cadence from `at`.
    4. Entering nurture sets `nurture_until` and schedules the recycle; leaving it clears it.
    5. Refresh `Lead.next_followup_at`; if something is due already, ask for a dispatch on commit.
    """
    policy = FollowUpPolicy.load()
    now = timezone.now()
    _cancel_pending(lead, now)
    due_now = False

    if from_stage == Stage.LEAD:
        sla_stop(lead=lead, at=at)

    created: list[FollowUp] = []
    cadence = Cadence.objects.active_for(to_stage).first()
    if cadence is not None:
        created = followups_schedule_for(lead=lead, cadence=cadence, start=at, policy=policy)

    if to_stage == Stage.NURTURE:
        until = (
            lead.nurture_until
            if lead.nurture_until and lead.nurture_until > at
            else at + timedelta(days=policy.nurture_days)
        )
        Lead.objects.filter(pk=lead.pk).update(nurture_until=until)
        lead.nurture_until = until
        created.append(
            FollowUp.objects.create(
                lead=lead,
                owner_id=lead.owner_id,
                due_at=until,
                kind=Kind.CALL,
                instruction=RECYCLE_INSTRUCTION,
                recycles_lead=True,
            )
        )
    elif from_stage == Stage.NURTURE:
        Lead.objects.filter(pk=lead.pk).update(nurture_until=None)
        lead.nurture_until = None

    followups_refresh_next(lead_ids=[lead.pk])
    if due_now or any(f.due_at <= now for f in created):
        _enqueue_dispatch()


def followups_on_reassign(*, lead: Lead, to_owner: User | None) -> None:
    """The lead changed hands: its pending follow-ups go with it (called by leads.services)."""
    FollowUp.objects.filter(lead=lead, state=State.PENDING).update(owner=to_owner)


# --- What a rep does with a follow-up -----------------------------------------------------------


def _locked_pending(followup: FollowUp) -> FollowUp:
    """Re-read the row under a lock; refuse if it is no longer pending. Serialises with the dispatcher."""
    locked = FollowUp.objects.select_for_update().get(pk=followup.pk)
    if locked.state != State.PENDING:
        raise ValidationError({"__all__": MSG_NOT_PENDING.format(state=locked.get_state_display().lower())})
    return locked


def _check_future(name: str, when: datetime | None, now: datetime) -> None:
    if when is None or when < now - PAST_TOLERANCE:
        raise ValidationError({name: MSG_IN_THE_PAST})


def _check_owner(lead: Lead, owner: User | None) -> None:
    if owner is None or owner.pk == lead.team.manager_id:
        return
    if not Membership.objects.filter(team_id=lead.team_id, user=owner).exists():
        raise ValidationError({"owner": MSG_OWNER_NOT_IN_TEAM.format(owner=owner)})


def _update_row(row: FollowUp, **fields) -> FollowUp:
    """Write fields to a locked row; a user's change also drops any dispatcher claim and back-off."""
    fields.update(lease_until=None, claim_token=None, attempts=0, last_error="", failed_at=None)
    FollowUp.objects.filter(pk=row.pk).update(**fields)
    for name, value in fields.items():
        setattr(row, name, value)
    return row


@transaction.atomic
def followup_add(
    *,
    lead: Lead,
    owner: User | None,
    due_at: datetime,
    kind: str,
    instruction: str,
    agreed_with_lead: bool = False,
    by: User | None,
) -> FollowUp:
    """A one-off follow-up: a rep's own next step, or a date agreed with the lead on a call
    (`agreed_with_lead=True`, e.g. the discovery call's next step)."""
    now = timezone.now()
    if lead.stage not in FOLLOWUP_STAGES:
        raise ValidationError({"__all__": MSG_LEAD_CLOSED.format(stage=lead.get_stage_display().lower())})
    _check_future("due_at", due_at, now)
    instruction = (instruction or "").strip()
    if not instruction:
        raise ValidationError({"instruction": MSG_INSTRUCTION_REQUIRED})
    _check_owner(lead, owner)
    followup = FollowUp(
        lead=lead,
        owner=owner,
        due_at=due_at,
        kind=kind,
        instruction=instruction,
        agreed_with_lead=agreed_with_lead,
        created_by=by,
    )
    followup.full_clean()
    followup.save()
    followups_refresh_next(lead_ids=[lead.pk])
    if due_at <= now:
        _enqueue_dispatch()
    return followup


@transaction.atomic
def followup_complete(
    *,
    followup: FollowUp,
    by: User,
    activity_kind: str,
    outcome: str,
    occurred_at: datetime | None = None,
    next_due_at: datetime | None = None,
    next_kind: str = Kind.CALL,
    next_instruction: str = "",
) -> FollowUp:
    """Done: log the activity it was (a call, an email…) and close the follow-up with it.

    1. Lock the row (refused if no longer pending).
    2. Log the activity through leads.services.activity_log (first contact, last touch, SLA stop).
    3. Close the row with the activity; optionally add the next step in the same transaction.
    """
    from leads.services import activity_log

    row = _locked_pending(followup)
    if row.recycles_lead:
        raise ValidationError({"__all__": MSG_RECYCLE_NOT_DONE})
    activity = activity_log(lead=row.lead, by=by, kind=activity_kind, outcome=outcome, occurred_at=occurred_at)
    _update_row(row, state=State.DONE, completed_at=timezone.now(), completed_by=by, activity=activity)
    if next_due_at is not None:
        followup_add(
            lead=row.lead,
            owner=row.owner,
            due_at=next_due_at,
            kind=next_kind,
            instruction=next_instruction,
            by=by,
        )
    followups_refresh_next(lead_ids=[row.lead_id])
    return row


@transaction.atomic
def followup_skip(*, followup: FollowUp, by: User) -> FollowUp:
    row = _locked_pending(followup)
    if row.recycles_lead:
        raise ValidationError({"__all__": MSG_RECYCLE_NOT_DONE})
    _update_row(row, state=State.SKIPPED, completed_at=timezone.now(), completed_by=by)
    followups_refresh_next(lead_ids=[row.lead_id])
    return row


@transaction.atomic
def followup_snooze(*, followup: FollowUp, by: User, until: datetime) -> FollowUp:
    """Remind me again at `until`: the follow-up is reminded (and escalated) afresh from then."""
    now = timezone.now()
    _check_future("until", until, now)
    row = _locked_pending(followup)
    _update_row(row, due_at=until, reminded_at=None, escalated_at=None)
    if row.recycles_lead:
        Lead.objects.filter(pk=row.lead_id).update(nurture_until=until)
    followups_refresh_next(lead_ids=[row.lead_id])
    return row


@transaction.atomic
def followup_reschedule(
    *, followup: FollowUp, by: User, due_at: datetime, kind: str | None = None, instruction: str | None = None
) -> FollowUp:
    """Move the follow-up to another time (and optionally change what it is)."""
    now = timezone.now()
    _check_future("due_at", due_at, now)
    row = _locked_pending(followup)
    fields: dict = {"due_at": due_at, "reminded_at": None, "escalated_at": None}
    if kind is not None or instruction is not None:
        if row.recycles_lead:
            raise ValidationError({"instruction": MSG_RECYCLE_ONLY_DATE})
        instruction = (instruction if instruction is not None else row.instruction).strip()
        if not instruction:
            raise ValidationError({"instruction": MSG_INSTRUCTION_REQUIRED})
        fields.update(kind=kind or row.kind, instruction=instruction)
    _update_row(row, **fields)
    if row.recycles_lead:
        Lead.objects.filter(pk=row.lead_id).update(nurture_until=due_at)
    followups_refresh_next(lead_ids=[row.lead_id])
    return row


# --- Speed-to-lead clock ----------------------------------------------------------------------


def _sla_due(*, start: datetime, tz: ZoneInfo, policy: FollowUpPolicy) -> tuple[datetime, datetime]:
    """When a speed-to-lead clock started at `start` alerts the owner, then the manager (working time)."""
    hours = policy.working_hours
    owner_due = add_working_minutes(start, policy.sla_minutes, tz, hours)
    manager_due = add_working_minutes(start, policy.sla_manager_minutes, tz, hours)
    return owner_due, max(manager_due, owner_due)


def sla_stop(*, lead: Lead, at: datetime) -> None:
    """The lead was contacted (or left stage "lead"): no more speed-to-lead alerts for it."""
    SlaClock.objects.filter(lead=lead, stopped_at__isnull=True).update(
        stopped_at=at, next_alert_at=None, lease_until=None, claim_token=None
    )


# --- Notifications ----------------------------------------------------------------------------


def notification_mark_read(*, user: User, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (404-style DoesNotExist for anyone else's)."""
    notification = Notification.objects.get(pk=notification_id, user=user)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification


def notifications_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


# --- The dispatcher ---------------------------------------------------------------------------
#
# Shared by follow-ups and speed-to-lead clocks: claim → decide → send → mark (see
# followup_dispatch_batch for the steps). Nothing is sent while a row lock is held, and nothing is
# marked by a worker that lost its claim.


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), 3600))


@dataclass
class _Send:
    """One notification (and its email) a claimed row owes somebody."""

    row_id: int
    notification: dict  # the Notification row, written by insert_rows
    template: str
    ctx: dict


@dataclass
class _Batch:
    token: uuid.UUID
    ids: list[int]
    # Past this (time.monotonic()), no more emails: the lease may run out before the marks, and a
    # second worker taking the rows over would send them again.
    send_until: float = float("inf")
    sends: list[_Send] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def _claim(model: type[models.Model], sources: list[tuple[models.QuerySet, Q]], *, now: datetime, limit: int) -> _Batch:
    """Claim up to `limit` rows from `sources`, in order, in one short transaction.

    Each source is (queryset already filtered on its partial index and ordered, the condition that
    must still hold at UPDATE time). PostgreSQL: FOR UPDATE SKIP LOCKED lets concurrent claimers
    take different rows without waiting. SQLite ignores it; the conditional UPDATE then keeps two
    claimers from taking the same row (a row someone else claimed no longer matches).
    """
    token = uuid.uuid4()
    # A fifth of the lease is kept for marking (monotonic: `now` may be any time in tests and catch-ups).
    send_until = time.monotonic() + settings.FOLLOWUP_LEASE_SECONDS * 0.8
    lease_until = now + timedelta(seconds=settings.FOLLOWUP_LEASE_SECONDS)
    picked: list[int] = []
    with transaction.atomic():
        for q, still in sources:
            need = limit - len(picked)
            if need <= 0:
                break
            ids = list(q.select_for_update(skip_locked=True).values_list("id", flat=True)[:need])
            if ids:
                model.objects.filter(still, pk__in=ids).update(
                    lease_until=lease_until, claim_token=token, attempts=F("attempts") + 1
                )
                picked += ids
    claimed = (
        list(model.objects.filter(pk__in=picked, claim_token=token).values_list("id", flat=True)) if picked else []
    )
    return _Batch(token=token, ids=claimed, send_until=send_until)


def _deliver(batch: _Batch, now: datetime) -> None:
    """Send the email copy of every notification of the batch that has none yet.

    Runs outside any transaction, over one mail connection. Each email's emailed_at is written
    right after it went: a crash between the two resends that one email (same Message-ID), never
    the batch. A failure is recorded against the row that owes it, which backs off and retries.
    """
    by_key = {s.notification["key"]: s for s in batch.sends}
    if not by_key:
        return
    to_email = list(
        Notification.objects.filter(key__in=list(by_key), emailed_at__isnull=True)
        .exclude(email_to="")
        .values_list("pk", "key", "email_to")
    )
    if not to_email:
        return
    try:
        connection = get_connection()
        connection.open()
    except Exception as e:  # the mail server is down: every row of the batch backs off
        for _pk, key, _email_to in to_email:
            batch.failed[by_key[key].row_id] = f"email connection: {e!r}"
        return
    templates: dict[str, EmailTemplates] = {}  # by name, loaded once per batch
    try:
        with email_marks(MARK_EMAILED, now) as marks:
            for pk, key, email_to in to_email:
                send = by_key[key]
                if send.row_id in batch.failed:
                    continue
                if time.monotonic() > batch.send_until:  # a slow mail server: the rest wait for a retry
                    batch.failed[send.row_id] = "email: the claim's lease ran short before it could be sent"
                    continue
                try:
                    # Times in the email read in the recipient's zone.
                    if send.template not in templates:
                        templates[send.template] = EmailTemplates.load(send.template)
                    with timezone.override(zone_of(send.ctx["recipient"])):
                        msg = templates[send.template].message(email_to, send.ctx, key=key, connection=connection)
                except Exception as e:
                    batch.failed[send.row_id] = f"email to {email_to}: {e!r}"
                    continue
                # The previous email's mark is committed before this email goes, and this one is
                # marked right after it went: a kill resends at most the one email in flight (same
                # Message-ID). Marking a whole batch after send_messages() would resend up to a batch.
                marks.wait()
                try:
                    msg.send()
                except Exception as e:
                    batch.failed[send.row_id] = f"email to {email_to}: {e!r}"
                else:
                    marks.mark(pk)
    finally:
        connection.close()


# Each email's emailed_at, written right after it went (leadflow.emailmarks).
MARK_EMAILED = MarkStatement(
    name="lf_mark_emailed", sql=f"UPDATE {Notification._meta.db_table} SET emailed_at = %s WHERE id = %s"
)


def _record_failures(model: type[models.Model], batch: _Batch, *, now: datetime, max_attempts: int) -> None:
    """Rows whose send failed keep their state and back off; after max_attempts they are failed."""
    for row_id, error in batch.failed.items():
        logger.warning("%s %s: send failed: %s", model.__name__, row_id, error)
        row = model.objects.filter(pk=row_id, claim_token=batch.token).values("attempts").first()
        if row is None:
            continue
        if row["attempts"] >= max_attempts:
            update = {"failed_at": now, "lease_until": None}
            if model is SlaClock:
                update["next_alert_at"] = None
        else:
            update = {"lease_until": now + _backoff(row["attempts"])}
        model.objects.filter(pk=row_id, claim_token=batch.token).update(
            claim_token=None, last_error=error[:2000], **update
        )


def _notification(*, user: User, kind: str, key: str, text: str, url: str, now: datetime) -> dict:
    """A Notification row for insert_rows (a batch's are written in one statement, without the
    model instances and bulk_create's per-value compile)."""
    return {
        "user_id": user.pk,
        "kind": kind,
        "key": key,
        "text": text[:300],
        "url": url,
        "created_at": now,
        "email_to": user.email or "",
    }


def _local(when: datetime, user: User) -> str:
    # The pages' format ("Fri 6 Nov, 09:40"), so a reminder reads like the page it links to.
    return day_and_time(when, zone_of(user))


def _lead_label(lead: Lead) -> str:
    return f"{lead.name} ({lead.company})" if lead.company else lead.name


def _greeting(recipient: User) -> dict:
    """Who a follow-up email is for: the user (whose zone its times read in) and the name it greets."""
    return {"recipient": recipient, "greeting_name": recipient.first_name or recipient.username}


def _due_key(followup: FollowUp, what: str) -> str:
    # The due time is part of the key: a snoozed follow-up is reminded again at its new time.
    return f"fu:{followup.pk}:{what}:{int(followup.due_at.timestamp())}"


def _followup_sends(
    row: FollowUp,
    *,
    users: dict[int, User],
    lead_path: Callable[[int], str],
    now: datetime,
    policy: FollowUpPolicy,
) -> tuple[list[_Send], set[str]]:
    """What a claimed, locked, pending follow-up owes now, and which marks that will set.
    `row` carries its lead and its team's `manager_id`; `users` has its owner and that manager;
    `lead_path` is a batch's lead_path_formatter()."""
    sends: list[_Send] = []
    marks: set[str] = set()
    lead, manager = row.lead, users[row.manager_id]
    recipient = users[row.owner_id] if row.owner_id else manager
    label = _lead_label(lead)
    kind_label = row.get_kind_display()
    # The emails' templates read plain values, not the row and its lead: the template engine
    # tries item access first, so each attribute of a model instance cost it an exception.
    base_ctx = {
        "kind_label": kind_label,
        "instruction": row.instruction,
        "agreed_with_lead": row.agreed_with_lead,
        "lead_label": label,
        "lead_phone": lead.phone,
        "lead_email": lead.email,
        "path": lead_path(lead.pk),
    }
    if row.reminded_at is None and row.due_at <= now:
        marks.add("reminded_at")
        due_local = _local(row.due_at, recipient)
        if row.recycles_lead:
            kind, template = Notification.Kind.NURTURE, "nurture-recycle"
            text = f"{label} is back from nurture: {row.instruction}"
        else:
            kind, template = Notification.Kind.REMINDER, "followup-reminder"
            text = f"{kind_label} {label}: {row.instruction} (due {due_local})"
        n = _notification(
            user=recipient, kind=kind, key=_due_key(row, "reminder"), text=text, url=base_ctx["path"], now=now
        )
        ctx = {**base_ctx, **_greeting(recipient), "due_local": due_local}
        sends.append(_Send(row.pk, n, template, ctx))
    reminded = row.reminded_at is not None or "reminded_at" in marks
    late_by = now - row.due_at
    if (
        reminded
        and not row.recycles_lead
        and row.escalated_at is None
        and late_by >= timedelta(hours=policy.escalation_hours)
    ):
        marks.add("escalated_at")
        # A manager who owns the follow-up was reminded already; escalating to oneself says nothing.
        if recipient.pk != manager.pk:
            hours = int(late_by.total_seconds() // 3600)
            text = f"Overdue {hours} h: {recipient}'s {kind_label.lower()} with {label}"
            n = _notification(
                user=manager,
                kind=Notification.Kind.ESCALATION,
                key=_due_key(row, "escalation"),
                text=text,
                url=base_ctx["path"],
                now=now,
            )
            ctx = {
                **base_ctx,
                **_greeting(manager),
                "owner": recipient,
                "hours": hours,
                "due_local": _local(row.due_at, manager),
            }
            sends.append(_Send(row.pk, n, "followup-escalation", ctx))
    return sends, marks


def followup_dispatch_batch(*, now: datetime, policy: FollowUpPolicy | None = None) -> int:
    """Remind and escalate one batch of due follow-ups. Returns the rows claimed (0: none due).

    1. Claim (short transaction, no I/O): pending unreminded rows with due_at <= now, then reminded
       rows due for escalation, then rows whose lease ran out (a worker died, or a back-off is over);
       three queries, each on its own partial index, ordered, LIMIT batch, FOR UPDATE SKIP LOCKED;
       then lease_until, claim_token and attempts + 1 are set where each row is still as read.
    2. Decide (short transaction): lock the claimed rows, re-check each is still ours, pending and
       due (a snooze, completion or stage change either went first and we see it, or waits for us),
       and create its notifications: INSERT … ON CONFLICT DO NOTHING on the unique key, so a retry
       or a second worker can never show one twice.
    3. Send (no transaction): email the notifications not emailed yet.
    4. Mark (short transactions): reminded_at / escalated_at and release the claim, only where our
       token still holds. Recycle rows return their lead to stage "lead" in the same transaction.
       Failed sends back off; after max_attempts the row is marked failed for an admin to see.
    """
    policy = policy or FollowUpPolicy.load()
    pending = FollowUp.objects.filter(state=State.PENDING, lease_until__isnull=True, failed_at__isnull=True)
    due = Q(reminded_at__isnull=True, due_at__lte=now)
    escalation = Q(
        reminded_at__isnull=False, escalated_at__isnull=True, due_at__lte=now - timedelta(hours=policy.escalation_hours)
    )
    unclaimed = Q(state=State.PENDING, lease_until__isnull=True, failed_at__isnull=True)
    expired = Q(lease_until__lte=now)
    batch = _claim(
        FollowUp,
        [
            (pending.filter(due).order_by("due_at", "id"), unclaimed & due),
            (pending.filter(escalation).order_by("due_at", "id"), unclaimed & escalation),
            (FollowUp.objects.filter(expired).order_by("lease_until", "id"), expired),
        ],
        now=now,
        limit=policy.batch_size,
    )
    if not batch.ids:
        return 0

    marks: dict[int, set[str]] = {}
    recycle: list[int] = []
    with transaction.atomic():
        rows = list(
            FollowUp.objects.select_for_update(of=("self",))
            .filter(pk__in=batch.ids, claim_token=batch.token)
            .select_related("lead")
            .annotate(manager_id=F("lead__team__manager_id"))
            .order_by("id")
        )
        # The few users a batch writes to (owners, their managers) are read once, not with every
        # row: making each row's owner and manager instances was a tenth of the batch's CPU.
        users = User.objects.in_bulk(({r.owner_id for r in rows} | {r.manager_id for r in rows}) - {None})
        lead_path = lead_path_formatter()
        for row in rows:
            if row.state != State.PENDING:
                marks[row.pk] = set()
                continue
            try:
                sends, row_marks = _followup_sends(row, users=users, lead_path=lead_path, now=now, policy=policy)
            except Exception as e:  # a bad row must not stop the batch: it backs off alone
                batch.failed[row.pk] = f"decide: {e!r}"
                continue
            batch.sends += sends
            marks[row.pk] = row_marks
            if row.recycles_lead and "reminded_at" in row_marks:
                recycle.append(row.pk)
        insert_rows(Notification, [s.notification for s in batch.sends], ignore_conflicts=True)

    _deliver(batch, now)

    groups: dict[frozenset[str], list[int]] = {}
    for row_id, row_marks in marks.items():
        if row_id not in batch.failed and row_id not in recycle:
            groups.setdefault(frozenset(row_marks), []).append(row_id)
    release = {"lease_until": None, "claim_token": None, "attempts": 0, "last_error": ""}
    for row_marks, ids in groups.items():
        FollowUp.objects.filter(pk__in=ids, claim_token=batch.token).update(
            **release, **{name: now for name in row_marks}
        )
    for row_id in recycle:
        if row_id not in batch.failed:
            try:
                _recycle_lead(row_id, token=batch.token, now=now)
            except Exception as e:  # this lead's move failed (rolled back); the others go on
                batch.failed[row_id] = f"recycle: {e!r}"
    _record_failures(FollowUp, batch, now=now, max_attempts=policy.max_attempts)
    return len(batch.ids)


@transaction.atomic
def _recycle_lead(row_id: int, *, token: uuid.UUID, now: datetime) -> None:
    """The nurture period is over: the lead returns to stage "lead" (and gets that cadence)."""
    from leads.services import lead_change_stage

    row = FollowUp.objects.select_for_update().filter(pk=row_id, claim_token=token).select_related("lead").first()
    if row is None:  # lost the claim (a rep rescheduled it meanwhile): theirs is the last word
        return
    if row.lead.stage == Stage.NURTURE:
        lead_change_stage(lead=row.lead, to_stage=Stage.LEAD, by=None, reason="Nurture period over", at=now)
    # The stage change cancelled every pending row of the lead, this one too: it is done instead.
    FollowUp.objects.filter(pk=row_id).update(
        state=State.DONE, reminded_at=now, completed_at=now, lease_until=None, claim_token=None, attempts=0
    )


def _sla_sends(clock: SlaClock, *, lead_path: Callable[[int], str], now: datetime) -> tuple[list[_Send], set[str]]:
    """What a claimed clock owes now, and which marks that will set. `lead_path` is a batch's
    lead_path_formatter(), as for _followup_sends."""
    sends: list[_Send] = []
    marks: set[str] = set()
    lead = clock.lead
    manager = lead.team.manager
    # Plain values for the templates, as for the follow-up emails (see _followup_sends).
    base_ctx = {
        "lead_label": _lead_label(lead),
        "received_at": lead.received_at,
        "owner_name": str(lead.owner) if lead.owner else "",
        "lead_phone": lead.phone,
        "lead_email": lead.email,
        "path": lead_path(lead.pk),
    }
    if clock.owner_alerted_at is None and clock.owner_due_at <= now:
        marks.add("owner_alerted_at")
        owner = lead.owner or manager
        text = f"Speed-to-lead: {_lead_label(lead)} is not contacted yet (due {_local(clock.owner_due_at, owner)}). Call now."
        n = _notification(
            user=owner,
            kind=Notification.Kind.SLA_OWNER,
            key=f"sla:{lead.pk}:owner",
            text=text,
            url=base_ctx["path"],
            now=now,
        )
        sends.append(_Send(clock.pk, n, "sla-alert", {**base_ctx, **_greeting(owner), "to_manager": False}))
    if clock.manager_alerted_at is None and clock.manager_due_at <= now:
        marks.add("manager_alerted_at")
        who = f"owner {lead.owner}" if lead.owner else "no owner"
        text = (
            f"Speed-to-lead missed: {_lead_label(lead)}, {who}, "
            f"still not contacted since {_local(lead.received_at, manager)}"
        )
        n = _notification(
            user=manager,
            kind=Notification.Kind.SLA_MANAGER,
            key=f"sla:{lead.pk}:manager",
            text=text,
            url=base_ctx["path"],
            now=now,
        )
        sends.append(_Send(clock.pk, n, "sla-alert", {**base_ctx, **_greeting(manager), "to_manager": True}))
    return sends, marks


def sla_dispatch_batch(*, now: datetime, policy: FollowUpPolicy | None = None) -> int:
    """Speed-to-lead alerts for one batch of clocks: the same claim → decide → send → mark as
    followup_dispatch_batch. A clock whose lead was contacted (or moved on) just stops."""
    policy = policy or FollowUpPolicy.load()
    due = Q(next_alert_at__isnull=False, next_alert_at__lte=now, lease_until__isnull=True)
    expired = Q(lease_until__lte=now)
    batch = _claim(
        SlaClock,
        [
            (SlaClock.objects.filter(due).order_by("next_alert_at", "id"), due),
            (SlaClock.objects.filter(expired).order_by("lease_until", "id"), expired),
        ],
        now=now,
        limit=policy.batch_size,
    )
    if not batch.ids:
        return 0

    marks: dict[int, set[str]] = {}
    manager_alerted: set[int] = set()  # clocks whose manager was alerted before this batch
    with transaction.atomic():
        clocks = (
            SlaClock.objects.select_for_update(of=("self",))
            .filter(pk__in=batch.ids, claim_token=batch.token)
            .select_related("lead__team__manager", "lead__owner")
            .order_by("id")
        )
        lead_path = lead_path_formatter()
        for clock in clocks:
            lead = clock.lead
            if clock.stopped_at or lead.first_contacted_at or lead.stage != Stage.LEAD:
                marks[clock.pk] = {"stopped_at"}
                continue
            try:
                sends, clock_marks = _sla_sends(clock, lead_path=lead_path, now=now)
            except Exception as e:
                batch.failed[clock.pk] = f"decide: {e!r}"
                continue
            batch.sends += sends
            marks[clock.pk] = clock_marks
            if clock.manager_alerted_at is not None:
                manager_alerted.add(clock.pk)
        insert_rows(Notification, [s.notification for s in batch.sends], ignore_conflicts=True)

    _deliver(batch, now)

    # Most clocks only need their marks written: one UPDATE per kind of mark, where our token still
    # holds. A clock whose lead goes back to the pool moves it in its own transaction.
    groups: dict[tuple[frozenset[str], bool], list[int]] = {}
    for clock_id, clock_marks in marks.items():
        if clock_id in batch.failed:
            continue
        if "manager_alerted_at" in clock_marks and policy.sla_return_to_pool:
            try:
                _sla_mark(clock_id, clock_marks, token=batch.token, now=now, policy=policy)
            except Exception as e:  # e.g. the return to the pool failed (rolled back): retry later
                batch.failed[clock_id] = f"mark: {e!r}"
            continue
        manager_done = "manager_alerted_at" in clock_marks or clock_id in manager_alerted
        groups.setdefault((frozenset(clock_marks), manager_done), []).append(clock_id)
    for (clock_marks, manager_done), ids in groups.items():
        SlaClock.objects.filter(pk__in=ids, claim_token=batch.token).update(
            **_sla_mark_fields(clock_marks, manager_done=manager_done, now=now)
        )
    _record_failures(SlaClock, batch, now=now, max_attempts=policy.max_attempts)
    return len(batch.ids)


@transaction.atomic
def _sla_mark(clock_id: int, marks: set[str], *, token: uuid.UUID, now: datetime, policy: FollowUpPolicy) -> None:
    from leads.services import lead_return_to_pool

    clock = SlaClock.objects.select_for_update().filter(pk=clock_id, claim_token=token).select_related("lead").first()
    if clock is None:  # lost the claim: the lead was contacted meanwhile, or another worker has it
        return
    manager_done = "manager_alerted_at" in marks or clock.manager_alerted_at is not None
    update = _sla_mark_fields(marks, manager_done=manager_done, now=now)
    if "manager_alerted_at" in marks and policy.sla_return_to_pool and clock.lead.owner_id:
        lead_return_to_pool(lead=clock.lead, by=None, reason="Speed-to-lead SLA missed")
        update["returned_to_pool_at"] = now
    SlaClock.objects.filter(pk=clock_id).update(**update)


def _sla_mark_fields(marks: Iterable[str], *, manager_done: bool, now: datetime) -> dict:
    """What marking a clock writes: its marks, the next alert (the manager's, unless done), the claim released."""
    update: dict = {"lease_until": None, "claim_token": None, "attempts": 0, "last_error": ""}
    if "stopped_at" in marks:
        update.update(stopped_at=Coalesce("stopped_at", Value(now)), next_alert_at=None)
    else:
        update.update({name: now for name in marks})
        update["next_alert_at"] = None if manager_done else F("manager_due_at")
    return update


def dispatch_due(*, now: Callable[[], datetime] = timezone.now, budget_seconds: float | None = None) -> int:
    """Run the dispatchers until nothing is due (or the time budget is spent). Returns rows handled.

    Catch-up after downtime is natural: everything with a due time <= now is found, each once.

    On PostgreSQL the dispatcher's commits do not wait for the disk (synchronous_commit off; a
    commit per email made the fsync the main cost). That is safe here because every write of the
    dispatcher can be redone: a database crash may lose its last few commits, which only means a
    row is claimed and sent again (email is at-least-once anyway, with the same Message-ID). The
    follow-ups themselves are written by the requests, with durable commits.
    """
    budget = settings.FOLLOWUP_DISPATCH_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    stop_at = time.monotonic() + budget
    total = 0
    # One second connection for the emails' marks for the whole round, not one per batch.
    with _redoable_commits(), keep_mark_connections():
        while time.monotonic() < stop_at:
            at = now()
            policy = FollowUpPolicy.load()  # once per round: an admin's change applies from the next one
            handled = followup_dispatch_batch(now=at, policy=policy) + sla_dispatch_batch(now=at, policy=policy)
            total += handled
            if handled == 0:
                break
    return total


@contextmanager
def _redoable_commits() -> Iterator[None]:
    if db_connection.vendor != "postgresql":
        yield
        return
    with db_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with db_connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


# --- Defaults ---------------------------------------------------------------------------------

H, D, WD = CadenceStep.Unit.HOURS, CadenceStep.Unit.DAYS, CadenceStep.Unit.WORKING_DAYS
DEFAULT_CADENCES: dict[str, tuple[str, list[tuple[int, str, str, str]]]] = {
    "New lead": (
        Stage.LEAD,
        [
            (0, H, Kind.CALL, "Call now: introduce yourself and book a discovery call"),
            (1, WD, Kind.EMAIL, "Send a short note with one useful resource"),
            (3, WD, Kind.CALL, "Second call: ask about the problem in their words"),
            (7, D, Kind.EMAIL, "Follow up by email: still interested?"),
            (14, D, Kind.CALL, "Call again; leave a voicemail if no answer"),
            (30, D, Kind.EMAIL, "Last try: ask whether to close the file or check back later"),
        ],
    ),
    "Prospect": (
        Stage.PROSPECT,
        [
            (1, WD, Kind.EMAIL, "Send the recap of the discovery call and the next step"),
            (3, WD, Kind.CALL, "Check the proposal landed; answer questions"),
            (7, D, Kind.CALL, "Decision check-in with the decision maker"),
            (14, D, Kind.TASK, "Review the deal: move it on, nurture it, or close it"),
        ],
    ),
    "Nurture (slow)": (
        Stage.NURTURE,
        [
            (30, D, Kind.EMAIL, "Share something useful (article, case study), no pitch"),
            (60, D, Kind.EMAIL, "Check in: has anything changed?"),
        ],
    ),
}


@transaction.atomic
def cadences_ensure_defaults() -> list[Cadence]:
    """Create the default cadences (new lead, prospect, slow nurture) where missing; idempotent.

    A stage that already has an active cadence of another name keeps it (the admin's choice wins).
    """
    created = []
    for name, (stage, steps) in DEFAULT_CADENCES.items():
        if Cadence.objects.filter(name=name).exists():
            continue
        active = not Cadence.objects.active_for(stage).exists()
        cadence = Cadence.objects.create(name=name, stage=stage, is_active=active)
        CadenceStep.objects.bulk_create(
            CadenceStep(cadence=cadence, offset=offset, unit=unit, kind=kind, instruction=instruction)
            for offset, unit, kind, instruction in steps
        )
        created.append(cadence)
    return created
