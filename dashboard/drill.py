"""The conditions behind the follow-up discipline and qualification panels, in one place.

The dashboard counts with them (over follow-ups, calls and stage changes, grouped in SQL) and
the lead list filters with them (`?drill=<code>&drill_from=…&drill_to=…`, turned into a lead
condition by `drill_q`), so a drilled-down list holds exactly the leads behind the number.

Definitions (the page's help text says the same):
- A rep's **follow-ups** are the cadence and one-off touches: cancelled rows (the lead moved on)
  and nurture recycles (the system's, not the rep's) do not count.
- A follow-up is **judged** once done or skipped, or when still pending past the policy's
  escalation delay (the moment the manager hears about it). Judged ones due in the range give
  the on-time share; one still pending inside the delay can still be done on time.
- **On time** = done at most `escalation_hours` after its due time.
- An **agreed date is kept** when a follow-up the lead agreed to (`agreed_with_lead`) was done
  on that calendar day, in the viewer's zone.
- **No next step** = an open lead (lead or prospect) with no pending follow-up.
- A discovery call **passes** when the evaluation recorded with it passed; a call recorded
  with no criteria published counts as not passing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate

from followups.models import FollowUp
from leads.models import Lead, StageChange
from qualification.models import CriteriaRule, DiscoveryCall, HelpfulClose

from .db import EvaluationPassed, RuleFailed

State = FollowUp.State

FOLLOWUP_OVERDUE = "fu_overdue"
NO_NEXT_STEP = "no_next_step"
FOLLOWUP_LATE = "fu_late"
AGREED_BROKEN = "agreed_broken"
CLOSE_UNSENT = "close_unsent"
CALL_HELD = "call_held"
CALL_PASSED = "call_passed"
CALL_FAILED = "call_failed"
OVERRIDE = "override"
RULE_FAILED = "rule_failed:"  # + a CriteriaRule.Kind value

# Codes whose condition needs the on-time delay (drill_grace: one query).
NEEDS_GRACE = {FOLLOWUP_LATE, AGREED_BROKEN}

DRILL_CHOICES: list[tuple[str, str]] = [
    (FOLLOWUP_OVERDUE, "has an overdue follow-up"),
    (NO_NEXT_STEP, "open, with no next step"),
    (FOLLOWUP_LATE, "a follow-up due in the range was late or missed"),
    (AGREED_BROKEN, "a date agreed with the lead was not kept"),
    (CLOSE_UNSENT, "helpful close not sent"),
    (CALL_HELD, "had a discovery call in the range"),
    (CALL_PASSED, "a discovery call in the range passed"),
    (CALL_FAILED, "a discovery call in the range did not pass"),
    (OVERRIDE, "a manager overrode the gate in the range"),
    *[(f"{RULE_FAILED}{kind}", f"a call in the range failed “{label}”") for kind, label in CriteriaRule.Kind.choices],
]


@dataclass(frozen=True)
class DrillWindow:
    """What the conditions are evaluated against: [since, until), now, and the on-time delay."""

    since: datetime | None
    until: datetime | None
    now: datetime
    grace: timedelta


def _in_range(field: str, w: DrillWindow) -> Q:
    cond = Q()
    if w.since:
        cond &= Q(**{f"{field}__gte": w.since})
    if w.until:
        cond &= Q(**{f"{field}__lt": w.until})
    return cond


# --- Follow-up rows ---------------------------------------------------------------------------


def worked_q() -> Q:
    """A rep's follow-ups: not cancelled, not a nurture recycle."""
    return Q(state__in=(State.PENDING, State.DONE, State.SKIPPED), recycles_lead=False)


def pending_q() -> Q:
    return Q(state=State.PENDING, recycles_lead=False)


def overdue_q(now: datetime) -> Q:
    return pending_q() & Q(due_at__lte=now)


def judged_q(w: DrillWindow) -> Q:
    """Worked follow-ups due in the range whose outcome is known (see the module docstring)."""
    known = Q(state__in=(State.DONE, State.SKIPPED)) | Q(state=State.PENDING, due_at__lte=w.now - w.grace)
    return worked_q() & _in_range("due_at", w) & known


def on_time_q(w: DrillWindow) -> Q:
    return Q(state=State.DONE, completed_at__lte=F("due_at") + w.grace)


def late_q(w: DrillWindow) -> Q:
    """Judged and not on time: skipped, still pending past the delay, or done after it."""
    return judged_q(w) & missed_q(w)


def missed_q(w: DrillWindow) -> Q:
    """Of judged follow-ups, the late ones (late_q without repeating judged_q: the dashboard
    counts over judged rows already, and a condition on the row's own columns only lets its
    counts come from the followup_worked_due_idx index alone)."""
    return Q(state__in=(State.SKIPPED, State.PENDING)) | Q(state=State.DONE, completed_at__gt=F("due_at") + w.grace)


def agreed_judged_q(w: DrillWindow) -> Q:
    return judged_q(w) & Q(agreed_with_lead=True)


def agreed_kept_q() -> Q:
    """Done on the agreed calendar day (the current time zone's, as TruncDate reads it)."""
    return Q(state=State.DONE, completed_at__date=TruncDate("due_at"))


def agreed_broken_q(w: DrillWindow) -> Q:
    return agreed_judged_q(w) & agreed_missed_q()


def agreed_missed_q() -> Q:
    """Of judged follow-ups, the agreed ones not kept (agreed_broken_q without judged_q, as missed_q)."""
    day = TruncDate("due_at")
    return Q(agreed_with_lead=True) & (
        Q(state__in=(State.SKIPPED, State.PENDING))
        | Q(state=State.DONE, completed_at__date__lt=day)
        | Q(state=State.DONE, completed_at__date__gt=day)
    )


# --- Calls and overrides ------------------------------------------------------------------------


def calls_in(w: DrillWindow) -> Q:
    return _in_range("held_at", w)


def call_passed_q() -> Q:
    return Q(EvaluationPassed("evaluation"))


def call_failed_q() -> Q:
    return ~Q(EvaluationPassed("evaluation"))


def rule_failed_q(kind: str) -> Q:
    return Q(RuleFailed("evaluation", kind))


def overrides_in(w: DrillWindow) -> Q:
    # Only the lead → prospect gate can be overridden; naming the stage uses the report index.
    return Q(to_stage=Lead.Stage.PROSPECT, is_override=True) & _in_range("changed_at", w)


# --- As conditions on leads (the lead list) -----------------------------------------------------


def _exists(q: QuerySet) -> Q:
    return Q(Exists(q.filter(lead=OuterRef("pk"))))


def has_next_step_q() -> Q:
    """Leads with a pending follow-up (the complement of "no next step" among open leads)."""
    return _exists(FollowUp.objects.filter(pending_q()))


def drill_q(code: str, w: DrillWindow) -> Q:
    """The leads behind the panel number `code` (one of DRILL_CHOICES)."""
    followups = FollowUp.objects.all()
    calls = DiscoveryCall.objects.filter(calls_in(w))
    if code == FOLLOWUP_OVERDUE:
        return _exists(followups.filter(overdue_q(w.now)))
    if code == NO_NEXT_STEP:
        return Q(stage__in=Lead.OPEN_STAGES) & ~has_next_step_q()
    if code == FOLLOWUP_LATE:
        return _exists(followups.filter(late_q(w)))
    if code == AGREED_BROKEN:
        return _exists(followups.filter(agreed_broken_q(w)))
    if code == CLOSE_UNSENT:
        return _exists(HelpfulClose.objects.filter(sent_at__isnull=True))
    if code == CALL_HELD:
        return _exists(calls)
    if code == CALL_PASSED:
        return _exists(calls.filter(call_passed_q()))
    if code == CALL_FAILED:
        return _exists(calls.filter(call_failed_q()))
    if code == OVERRIDE:
        return _exists(StageChange.objects.filter(overrides_in(w)))
    if code.startswith(RULE_FAILED):
        return _exists(calls.filter(rule_failed_q(code.removeprefix(RULE_FAILED))))
    raise ValueError(f"unknown drill-down code {code!r}")


def drill_grace() -> timedelta:
    """The on-time delay: the follow-up policy's escalation hours. One query."""
    from followups.models import FollowUpPolicy

    return timedelta(hours=FollowUpPolicy.load().escalation_hours)
