"""Writes for qualification: discovery calls, criteria versions, disqualification with a helpful
close, nurture. Views, admin, commands and tests all call these."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from leads.models import Activity, Lead, StageChange
from leads.services import FUTURE_TOLERANCE, activity_log, lead_change_stage

from .evaluation import evaluate
from .models import CriteriaRule, CriteriaVersion, DiscoveryCall, DisqualificationReason, HelpfulClose
from .selectors import criteria_current

Budget = DiscoveryCall.Budget
Timeline = DiscoveryCall.Timeline
Kind = CriteriaRule.Kind

MSG_HELD_IN_FUTURE = "A call cannot be in the future."
MSG_HELD_BEFORE_RECEIVED = "The lead arrived at {received}; the call cannot be earlier."
MSG_BUDGET_NEGATIVE = "A budget cannot be negative."
MSG_BUDGET_ZERO = "A budget of 0 is “no budget”: choose that instead."
MSG_BUDGET_NO_AMOUNT = "Give the amount, or choose “no budget” or “not known yet”."
MSG_BUDGET_NO_CURRENCY = "Give the currency of the budget."
MSG_BUDGET_AMOUNT_WITHOUT_STATUS = "You gave an amount: choose “they named an amount”, or clear the amount."
MSG_TIMELINE_NO_DATE = "Give the date, or choose “no timeline” or “not known yet”."
MSG_TIMELINE_DATE_WITHOUT_STATUS = "You gave a date: choose “by a date”, or clear the date."
MSG_TIMELINE_BEFORE_CALL = "The timeline cannot be before the call."
MSG_NEXT_STEP_PAST = "The next step must be in the future."
MSG_NEXT_STEP_WITHOUT_TEXT = "Say what the next step is."

MSG_NO_RULES = "Use at least one rule."
MSG_DUPLICATE_KIND = "Each rule can be used once per version."
MSG_THRESHOLD_UNREACHABLE = "The weighted rules give at most {max}: the points needed cannot be more."
MSG_STALE_VERSION = "Version {current} was published since you opened this page: review it, then save again."
MSG_PUBLISH_CONFLICT = "Someone published a version at the same moment: reload the page and save again."
MSG_NOT_ALLOWED_CRITERIA = "Only admins can change the sales-ready criteria."

MSG_REASON_INACTIVE = "This reason is no longer in use; pick another."
MSG_REASON_NEEDS_TEXT = "Say why, in a few words."
MSG_NURTURE_PAST = "The recycle date must be in the future."
MSG_NURTURE_TOO_FAR = "Pick a recycle date within three years."
MSG_BODY_REQUIRED = "Write the reply before marking it sent."

NURTURE_MAX = timedelta(days=3 * 366)
PLACEHOLDER = re.compile(r"\{(first_name|name|company|rep)\}")


# --- Discovery calls ---------------------------------------------------------------------------


def _check_answers(
    *,
    lead: Lead,
    held_at: datetime,
    now: datetime,
    budget_status: str,
    budget_amount: Decimal | None,
    budget_currency: str,
    timeline_status: str,
    timeline_date: date | None,
    next_step: str,
    next_step_at: datetime | None,
) -> None:
    errors: dict[str, str] = {}
    if held_at > now + FUTURE_TOLERANCE:
        errors["held_at"] = MSG_HELD_IN_FUTURE
    elif held_at < lead.received_at:
        received = timezone.localtime(lead.received_at).strftime("%Y-%m-%d %H:%M")
        errors["held_at"] = MSG_HELD_BEFORE_RECEIVED.format(received=received)

    if budget_status == Budget.AMOUNT:
        if budget_amount is None:
            errors["budget_amount"] = MSG_BUDGET_NO_AMOUNT
        elif budget_amount < 0:
            errors["budget_amount"] = MSG_BUDGET_NEGATIVE
        elif budget_amount == 0:
            errors["budget_amount"] = MSG_BUDGET_ZERO
        if not budget_currency:
            errors["budget_currency"] = MSG_BUDGET_NO_CURRENCY
    elif budget_amount is not None:
        errors["budget_status"] = MSG_BUDGET_AMOUNT_WITHOUT_STATUS

    if timeline_status == Timeline.DATE:
        if timeline_date is None:
            errors["timeline_date"] = MSG_TIMELINE_NO_DATE
        elif timeline_date < timezone.localdate(held_at):
            errors["timeline_date"] = MSG_TIMELINE_BEFORE_CALL
    elif timeline_date is not None:
        errors["timeline_status"] = MSG_TIMELINE_DATE_WITHOUT_STATUS

    if next_step_at is not None:
        if next_step_at <= now:
            errors["next_step_at"] = MSG_NEXT_STEP_PAST
        if not next_step.strip():
            errors["next_step"] = MSG_NEXT_STEP_WITHOUT_TEXT
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def call_record(
    *,
    lead: Lead,
    by: User | None,
    held_at: datetime | None = None,
    duration_minutes: int | None = None,
    changes_since_last: str = "",
    problem: str = "",
    problem_confirmed: bool | None = None,
    budget_status: str = Budget.UNKNOWN,
    budget_amount: Decimal | None = None,
    budget_currency: str = "",
    diy_alternative: str = "",
    diy_cheaper: bool | None = None,
    decision_maker: str = "",
    decision_maker_spoken_to: bool | None = None,
    timeline_status: str = Timeline.UNKNOWN,
    timeline_date: date | None = None,
    next_step: str = "",
    next_step_at: datetime | None = None,
    notes: str = "",
) -> DiscoveryCall:
    """Record a discovery call on a lead.

    1. Check the answers: amount and currency go together and the amount is positive, a
       timeline date goes with "by a date", the call is not in the future nor before the lead
       arrived, and a next step date is in the future and names the step.
    2. Evaluate the call against the current criteria and keep the version and the verdict on
       the call (the record of what the rep saw; the gate re-evaluates at move time).
    3. Save the call and log a Call activity, which touches the lead (first contact, last touch).
    4. Hand the next step to the follow-ups (placeholder until that app is merged).
    """
    now = timezone.now()
    held_at = held_at or now
    budget_currency = (budget_currency or "").strip().upper()
    _check_answers(
        lead=lead,
        held_at=held_at,
        now=now,
        budget_status=budget_status,
        budget_amount=budget_amount,
        budget_currency=budget_currency,
        timeline_status=timeline_status,
        timeline_date=timeline_date,
        next_step=next_step,
        next_step_at=next_step_at,
    )
    call = DiscoveryCall(
        lead=lead,
        held_at=held_at,
        held_by=by,
        duration_minutes=duration_minutes,
        changes_since_last=(changes_since_last or "").strip(),
        problem=(problem or "").strip(),
        problem_confirmed=problem_confirmed,
        budget_status=budget_status,
        budget_amount=budget_amount,
        budget_currency=budget_currency,
        diy_alternative=(diy_alternative or "").strip(),
        diy_cheaper=diy_cheaper,
        decision_maker=(decision_maker or "").strip(),
        decision_maker_spoken_to=decision_maker_spoken_to,
        timeline_status=timeline_status,
        timeline_date=timeline_date,
        next_step=(next_step or "").strip(),
        next_step_at=next_step_at,
        notes=(notes or "").strip(),
    )
    criteria = criteria_current()
    if criteria is not None:
        call.criteria_version_id = criteria.id
        call.evaluation = evaluate(call, criteria).as_json()
    call.full_clean()
    call.save()

    outcome = "Discovery call"
    if duration_minutes:
        outcome += f" ({duration_minutes} min)"
    if call.next_step:
        outcome += f"; next step: {call.next_step}"
    activity_log(lead=lead, by=by, kind=Activity.Kind.CALL, outcome=outcome[:500], occurred_at=held_at)
    _schedule_next_step(call)
    return call


def _schedule_next_step(call: DiscoveryCall) -> None:
    """The date agreed with the lead on the call ("call me on the 12th") becomes a follow-up
    marked as agreed, for the lead's owner. Runs inside call_record's transaction, so the
    follow-up row is written atomically with the call."""
    if not call.next_step_at:
        return
    from followups.models import Kind
    from followups.services import followup_add

    followup_add(
        lead=call.lead,
        owner=call.lead.owner or call.held_by,
        due_at=call.next_step_at,
        kind=Kind.CALL,
        instruction=call.next_step or "Agreed next step",
        agreed_with_lead=True,
        by=call.held_by,
    )


# --- Criteria ------------------------------------------------------------------------------------


def points_text(n: int) -> str:
    return f"{n} point{'' if n == 1 else 's'}"


def _rule_key(rule: CriteriaRule) -> tuple:
    return (rule.kind, rule.required, rule.points, rule.min_amount, rule.currency or "", rule.max_days)


@transaction.atomic
def criteria_publish(
    *, by: User, threshold: int, rules: list[dict[str, Any]], note: str = "", based_on: int | None = None
) -> CriteriaVersion:
    """Publish a new version of the sales-ready criteria and make it the current one.

    1. Lock the current version, so two admins publishing at once are serialised; with
       `based_on` (the version number the editor started from), refuse when another version
       was published meanwhile instead of silently replacing it.
    2. Check every rule (CriteriaRule.clean: points only on weighted rules, the minimum budget
       and its currency, the days of the timeline), each kind once, and a reachable threshold.
    3. When nothing differs from the current version, return it: no empty new version.
    4. Otherwise write version N+1 with its rules, and move `is_current` to it. Older versions
       are kept untouched; decisions keep pointing at the version they were taken under.
    """
    if not by.has_perm("qualification.add_criteriaversion"):
        raise PermissionDenied(MSG_NOT_ALLOWED_CRITERIA)
    current = CriteriaVersion.objects.select_for_update().filter(is_current=True).first()
    if based_on is not None and based_on != (current.number if current else 0):
        raise ValidationError({"based_on": MSG_STALE_VERSION.format(current=current.number if current else "—")})

    candidates = [
        CriteriaRule(
            kind=r["kind"],
            required=bool(r.get("required", True)),
            points=r.get("points") or 0,
            min_amount=r.get("min_amount") if r["kind"] == Kind.BUDGET_MIN else None,
            currency=(r.get("currency") or "").upper() if r["kind"] == Kind.BUDGET_MIN else "",
            max_days=r.get("max_days") if r["kind"] == Kind.TIMELINE_WITHIN else None,
        )
        for r in rules
    ]
    if not candidates:
        raise ValidationError({"rules": MSG_NO_RULES})
    kinds = [r.kind for r in candidates]
    if len(set(kinds)) != len(kinds):
        raise ValidationError({"rules": MSG_DUPLICATE_KIND})
    order = {k: i for i, k in enumerate(Kind.values)}
    candidates.sort(key=lambda r: order.get(r.kind, len(order)))
    for position, rule in enumerate(candidates):
        rule.position = position
        try:
            rule.full_clean(exclude=["version"])
        except ValidationError as e:
            label = Kind(rule.kind).label if rule.kind in Kind.values else rule.kind
            raise ValidationError(
                {"rules": [f"{label}: {m}" for msgs in e.message_dict.values() for m in msgs]}
            ) from None
    max_score = sum(r.points for r in candidates if not r.required)
    if threshold < 0 or threshold > max_score:
        raise ValidationError({"threshold": MSG_THRESHOLD_UNREACHABLE.format(max=points_text(max_score))})

    if current is not None:
        existing = list(current.rules.all())
        if current.threshold == threshold and sorted(map(_rule_key, existing)) == sorted(map(_rule_key, candidates)):
            return current

    number = (CriteriaVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    try:
        with transaction.atomic():
            CriteriaVersion.objects.filter(is_current=True).update(is_current=False)
            version = CriteriaVersion.objects.create(
                number=number,
                threshold=threshold,
                note=(note or "").strip(),
                created_by=by,
                created_at=timezone.now(),
                is_current=True,
            )
    except IntegrityError:
        # Two first versions at once (nothing to lock yet): the unique number decides.
        raise ValidationError({"based_on": MSG_PUBLISH_CONFLICT}) from None
    for rule in candidates:
        rule.version = version
    CriteriaRule.objects.bulk_create(candidates)
    return version


# --- Disqualify, nurture, helpful closes -------------------------------------------------------


def render_helpful_close(template: str, *, lead: Lead, rep: User | None) -> str:
    """Fill a reason's template. Only the documented placeholders are replaced (no str.format:
    a template is admin text and must not reach attributes of the values)."""
    first_name = lead.name.split()[0] if lead.name.strip() else "there"
    values = {
        "first_name": first_name,
        "name": lead.name,
        "company": lead.company or "your team",
        "rep": (rep.get_full_name() or rep.username) if rep else "",
    }
    text = template or "Hi {first_name},\n\n\n\nAll the best,\n{rep}"
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text).strip()


@transaction.atomic
def lead_disqualify(
    *,
    lead: Lead,
    by: User | None,
    reason: DisqualificationReason,
    note: str = "",
    at: datetime | None = None,
) -> HelpfulClose | None:
    """Disqualify a lead with a reason from the list, and give its owner a helpful close to send.

    1. Check the reason is in use, and has its explanation when it asks for one ("other").
    2. Move the lead through lead_change_stage with the reason: the stage history row gets the
       reason (for reports) and its label plus the note as text, and lead_change_stage creates
       the helpful close (helpful_close_create_for). Returns it, or None for spam.
    """
    note = (note or "").strip()
    if not reason.is_active:
        raise ValidationError({"reason": MSG_REASON_INACTIVE})
    if reason.needs_text and not note:
        raise ValidationError({"note": MSG_REASON_NEEDS_TEXT})
    text = f"{reason.label}: {note}" if note else reason.label
    change = lead_change_stage(
        lead=lead, to_stage=Lead.Stage.DISQUALIFIED, by=by, reason=text[:2000], disqualification_reason=reason, at=at
    )
    return HelpfulClose.objects.filter(stage_change=change).first()


def helpful_close_create_for(*, change: StageChange, by: User | None) -> HelpfulClose | None:
    """The helpful close a disqualification creates for the lead's owner, pre-filled from the
    reason's template; none when the reason says a reply makes no sense (spam). Called by
    lead_change_stage inside its transaction."""
    reason = change.disqualification_reason
    if not reason.creates_helpful_close:
        return None
    locked: Lead = change.lead
    owner = locked.owner if locked.owner_id else by
    close = HelpfulClose(
        lead=locked,
        owner=owner,
        reason=reason,
        stage_change=change,
        body=render_helpful_close(reason.helpful_close_template, lead=locked, rep=owner),
        created_at=change.changed_at,
    )
    close.full_clean()
    close.save()
    return close


@transaction.atomic
def lead_nurture(
    *, lead: Lead, by: User | None, until: datetime, reason: str = "", at: datetime | None = None
) -> StageChange:
    """ "Not now": move the lead to nurture until a future date, when the follow-ups' recycle job
    returns it to its owner's queue as a lead."""
    now = timezone.now()
    if until <= now:
        raise ValidationError({"until": MSG_NURTURE_PAST})
    if until > now + NURTURE_MAX:
        raise ValidationError({"until": MSG_NURTURE_TOO_FAR})
    return lead_change_stage(lead=lead, to_stage=Lead.Stage.NURTURE, by=by, reason=reason, nurture_until=until, at=at)


@transaction.atomic
def helpful_close_mark_sent(*, close: HelpfulClose, by: User, body: str | None = None) -> HelpfulClose:
    """Mark a helpful close as sent (with the text that went out) and log it as an email.

    A conditional update, so a double click or two people at once record one sending; the
    second call changes nothing and returns the row as it is.
    """
    body = close.body if body is None else body.strip()
    if not body:
        raise ValidationError({"body": MSG_BODY_REQUIRED})
    now = timezone.now()
    updated = HelpfulClose.objects.filter(pk=close.pk, sent_at__isnull=True).update(
        sent_at=now, sent_by=by, body=body[:10_000]
    )
    close.refresh_from_db()
    if updated:
        activity_log(lead=close.lead, by=by, kind=Activity.Kind.EMAIL, outcome=f"Helpful reply sent ({close.reason})")
    return close


@transaction.atomic
def reason_save(*, reason: DisqualificationReason) -> DisqualificationReason:
    """Create or change a disqualification reason (admins). Past helpful closes keep their text."""
    reason.full_clean()
    reason.save()
    return reason
