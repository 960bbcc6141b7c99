"""Writes to leads. Views, admin, API, tasks and commands all call these; nothing else
assigns `Lead.stage` or `Lead.owner`."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Team, User
from audit.models import AuditEvent
from audit.services import audit_record

from .models import Activity, Assignment, Lead, LeadSource, StageChange
from .normalize import normalize_email, normalize_phone

Stage = Lead.Stage

# The moves PRODUCT.md draws, and nothing else. Customer, disqualified and lost are outcomes.
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    Stage.LEAD: frozenset({Stage.PROSPECT, Stage.DISQUALIFIED, Stage.NURTURE}),
    Stage.PROSPECT: frozenset({Stage.CUSTOMER, Stage.LOST, Stage.DISQUALIFIED, Stage.NURTURE}),
    Stage.NURTURE: frozenset({Stage.LEAD}),
    Stage.CUSTOMER: frozenset(),
    Stage.DISQUALIFIED: frozenset(),
    Stage.LOST: frozenset(),
}
# Moves that must say why: a disqualified or lost lead is a lesson for the reports.
REASON_REQUIRED = frozenset({Stage.DISQUALIFIED, Stage.LOST})

MSG_ILLEGAL_MOVE = "A lead in stage “{from_}” cannot move to “{to}”. Allowed: {allowed}."
MSG_REASON_REQUIRED = "Say why the lead is {to}: the reason is kept in its history and in the reports."
MSG_GATE_REFUSED = "Not sales-ready yet under criteria v{version}; what is missing:"
MSG_GATE_REFUSED_NO_CRITERIA = "Not sales-ready yet:"
MSG_DISQUALIFY_REASON = "Pick why the lead is disqualified from the list (it also prepares the helpful reply)."
MSG_NURTURE_UNTIL = "The date the lead comes back to the queue must be in the future."
MSG_OVERRIDE_REASON = "A manager override needs a written reason."
MSG_OVERRIDE_NOT_ALLOWED = "Only a manager can override the sales-ready gate."
MSG_OWNER_NOT_IN_TEAM = "{owner} is not a member of team {team}."
MSG_NOT_ALLOWED_REASSIGN = "You cannot reassign leads."
MSG_INACTIVE_SOURCE = "This source is no longer in use; pick another."
MSG_FUTURE_ACTIVITY = "An activity cannot be in the future."
MSG_ACTIVITY_BEFORE_RECEIVED = "The lead arrived at {received}; an activity cannot be earlier."
MSG_CONTACT_REQUIRED = "Give an email or a phone number, so the lead can be reached."

# Clock skew between the browser and the server we accept for "now" activities.
FUTURE_TOLERANCE = timedelta(minutes=5)


def allowed_moves(lead: Lead) -> list[str]:
    """The stages this lead may move to next, in display order."""
    return [s for s in Stage.values if s in ALLOWED_MOVES[lead.stage]]


def _check_owner_in_team(owner: User | None, team: Team) -> None:
    if owner is None:
        return
    if owner.pk == team.manager_id or team.memberships.filter(user=owner).exists():
        return
    raise ValidationError({"owner": MSG_OWNER_NOT_IN_TEAM.format(owner=owner, team=team)})


@transaction.atomic
def lead_create(
    *,
    by: User | None,
    name: str,
    source: LeadSource,
    team: Team,
    owner: User | None,
    email: str = "",
    phone: str = "",
    company: str = "",
    title: str = "",
    referred_by: str = "",
    notes: str = "",
    received_at: datetime | None = None,
    referred_by_lead: Lead | None = None,
) -> Lead:
    """Save a new lead in stage `lead` with its first history row.

    1. Normalise email and phone (ValidationError on a phone that is not a number).
    2. Check the owner belongs to the team and the source is active.
    3. Save the lead, its creation StageChange and, when it has an owner, its first Assignment.
    """
    now = timezone.now()
    received_at = received_at or now
    try:
        phone = normalize_phone(phone)
    except ValidationError as e:
        raise ValidationError({"phone": e.messages}) from None
    email = normalize_email(email)
    if not email and not phone:
        raise ValidationError({"email": MSG_CONTACT_REQUIRED})
    if not source.is_active:
        raise ValidationError({"source": MSG_INACTIVE_SOURCE})
    _check_owner_in_team(owner, team)

    lead = Lead(
        name=name.strip(),
        email=email,
        phone=phone,
        company=company.strip(),
        title=title.strip(),
        source=source,
        referred_by=referred_by.strip(),
        referred_by_lead=referred_by_lead,
        team=team,
        owner=owner,
        stage=Stage.LEAD,
        stage_changed_at=received_at,
        received_at=received_at,
        notes=notes,
    )
    lead.full_clean()
    lead.save()
    StageChange.objects.create(lead=lead, from_stage="", to_stage=Stage.LEAD, changed_by=by, changed_at=received_at)
    if owner is not None:
        Assignment.objects.create(
            lead=lead, from_owner=None, to_owner=owner, assigned_by=by, assigned_at=now, reason="created"
        )
    from followups.services import followups_on_stage_change  # here: followups imports leads

    followups_on_stage_change(lead=lead, from_stage="", to_stage=Stage.LEAD, at=received_at)
    return lead


@transaction.atomic
def lead_update(*, lead: Lead, by: User, **fields: str) -> Lead:
    """Change contact data. Stage and owner have their own services and are refused here."""
    editable = {"name", "email", "phone", "company", "title", "source", "referred_by", "notes"}
    unknown = set(fields) - editable
    if unknown:
        raise ValueError(f"lead_update cannot change {sorted(unknown)}")
    if "phone" in fields:
        try:
            fields["phone"] = normalize_phone(fields["phone"])
        except ValidationError as e:
            raise ValidationError({"phone": e.messages}) from None
    if "email" in fields:
        fields["email"] = normalize_email(fields["email"])
    source = fields.get("source")
    if source is not None and source.pk != lead.source_id and not source.is_active:
        raise ValidationError({"source": MSG_INACTIVE_SOURCE})
    for name, value in fields.items():
        setattr(lead, name, value.strip() if isinstance(value, str) and name != "notes" else value)
    if not lead.email and not lead.phone:
        raise ValidationError({"email": MSG_CONTACT_REQUIRED})
    lead.full_clean()
    lead.save()
    return lead


@transaction.atomic
def lead_change_stage(
    *,
    lead: Lead,
    to_stage: str,
    by: User | None,
    reason: str = "",
    override: bool = False,
    disqualification_reason=None,
    nurture_until: datetime | None = None,
    at: datetime | None = None,
) -> StageChange:
    """Move a lead to another stage: the only code that writes `Lead.stage`.

    Page code usually calls the wrappers `qualification.services.lead_disqualify` and
    `lead_nurture`, which add their own checks; every way in ends here, so the rules below hold
    for the API and imports as well.

    1. Lock the lead row, so two people moving it at once are serialised and the second
       sees the first's result (and is refused if its move is no longer legal).
    2. Refuse moves outside ALLOWED_MOVES and moves that need a reason and have none.
    3. Apply the prospect gate: the lead's latest discovery call must pass the current
       sales-ready criteria. If it does not, a user with `leads.override_gate` (a manager) may
       pass it with `override=True` and a written reason, recorded as an override; anybody
       else is refused with the failing rules' sentences. Either way the move records the
       criteria version and the evaluation as they were, so later criteria never rewrite it.
    4. → disqualified needs a `DisqualificationReason` from the admin list; → nurture takes the
       date the lead comes back to its owner's queue (`nurture_until`, in the future; without
       one the follow-up policy's nurture period applies).
    5. Write the stage and a StageChange row (who, when, from, to, reason) in one transaction,
       with the side effects of the move: a helpful close for a disqualified lead, and the
       follow-ups of the new stage (the old stage's pending ones cancelled).
    """
    at = at or timezone.now()
    reason = (reason or "").strip()
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    from_stage = locked.stage

    if to_stage not in ALLOWED_MOVES.get(from_stage, ()):
        allowed = ", ".join(Stage(s).label for s in allowed_moves(locked)) or "none (this is an outcome)"
        raise ValidationError(
            {"to_stage": MSG_ILLEGAL_MOVE.format(from_=Stage(from_stage).label, to=to_stage, allowed=allowed)},
            code="illegal_move",
        )
    if to_stage in REASON_REQUIRED and not reason:
        raise ValidationError({"reason": MSG_REASON_REQUIRED.format(to=Stage(to_stage).label.lower())})

    if to_stage == Stage.DISQUALIFIED and disqualification_reason is None:
        raise ValidationError({"reason": MSG_DISQUALIFY_REASON})
    if to_stage == Stage.NURTURE and nurture_until is not None and nurture_until <= timezone.now():
        raise ValidationError({"nurture_until": MSG_NURTURE_UNTIL})

    is_override = False
    criteria_version_id = None
    evaluation = None
    if from_stage == Stage.LEAD and to_stage == Stage.PROSPECT:
        # Imported here: qualification builds on leads, not the other way round.
        from qualification.selectors import gate_check

        gate = gate_check(lead=locked)
        criteria_version_id = gate.criteria.id if gate.criteria else None
        evaluation = gate.evaluation.as_json() if gate.evaluation else None
        if not gate.passed:
            if not override or by is None or not by.has_perm("leads.override_gate"):
                # One message per failing rule, so pages and APIs can list them.
                messages = [
                    MSG_GATE_REFUSED.format(version=gate.criteria.number)
                    if gate.criteria
                    else MSG_GATE_REFUSED_NO_CRITERIA,
                    *gate.refusal_messages(),
                ]
                if override:
                    messages.insert(0, MSG_OVERRIDE_NOT_ALLOWED)
                raise ValidationError({"to_stage": messages}, code="gate")
            if not reason:
                raise ValidationError({"reason": MSG_OVERRIDE_REASON})
            is_override = True
    elif override:
        raise ValueError("override only applies to the lead → prospect gate")

    nurture_until = nurture_until if to_stage == Stage.NURTURE else None
    Lead.objects.filter(pk=locked.pk).update(stage=to_stage, stage_changed_at=at, nurture_until=nurture_until)
    change = StageChange.objects.create(
        lead=locked,
        from_stage=from_stage,
        to_stage=to_stage,
        changed_by=by,
        changed_at=at,
        reason=reason,
        is_override=is_override,
        criteria_version_id=criteria_version_id,
        evaluation=evaluation,
        disqualification_reason=disqualification_reason,
    )
    if to_stage == Stage.DISQUALIFIED:
        from qualification.services import helpful_close_create_for

        helpful_close_create_for(change=change, by=by)
    if is_override:
        audit_record(
            actor=by,
            action=AuditEvent.Action.GATE_OVERRIDE,
            lead=locked,
            summary=f"{locked.name}: {from_stage} → {to_stage} — {reason}",
        )
    lead.stage, lead.stage_changed_at, lead.nurture_until = to_stage, at, nurture_until
    from followups.services import followups_on_stage_change  # here: followups imports leads

    locked.stage, locked.nurture_until = to_stage, nurture_until
    followups_on_stage_change(lead=locked, from_stage=from_stage, to_stage=to_stage, at=at)
    return change


@transaction.atomic
def lead_reassign(*, lead: Lead, to_owner: User, by: User, reason: str = "") -> Assignment | None:
    """Give a lead to another member of its team. Returns None when nothing changed."""
    if not by.has_perm("leads.reassign_lead"):
        raise ValidationError({"owner": MSG_NOT_ALLOWED_REASSIGN})
    locked = Lead.objects.select_for_update().select_related("team").get(pk=lead.pk)
    if locked.owner_id == to_owner.pk:
        return None
    _check_owner_in_team(to_owner, locked.team)
    from_owner_id = locked.owner_id
    Lead.objects.filter(pk=locked.pk).update(owner=to_owner)
    lead.owner = to_owner
    from followups.services import followups_on_reassign  # here: followups imports leads

    followups_on_reassign(lead=locked, to_owner=to_owner)
    assignment = Assignment.objects.create(
        lead=locked,
        from_owner_id=from_owner_id,
        to_owner=to_owner,
        assigned_by=by,
        assigned_at=timezone.now(),
        reason=(reason or "").strip() or "reassigned",
    )
    audit_record(
        actor=by,
        action=AuditEvent.Action.REASSIGN,
        lead=locked,
        summary=f"{locked.name}: → {to_owner} ({assignment.reason})",
        data={"from_owner": from_owner_id, "to_owner": to_owner.pk},
    )
    return assignment


@transaction.atomic
def lead_return_to_pool(*, lead: Lead, by: User | None, reason: str) -> Assignment | None:
    """Take a lead from its owner: it stays with its team, unassigned (e.g. a missed speed-to-lead
    SLA). Returns None when it had no owner."""
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    if locked.owner_id is None:
        return None
    Lead.objects.filter(pk=locked.pk).update(owner=None)
    lead.owner = None
    from followups.services import followups_on_reassign  # here: followups imports leads

    followups_on_reassign(lead=locked, to_owner=None)
    return Assignment.objects.create(
        lead=locked,
        from_owner_id=locked.owner_id,
        to_owner=None,
        assigned_by=by,
        assigned_at=timezone.now(),
        reason=reason.strip() or "returned to the team pool",
    )


@transaction.atomic
def activity_log(
    *, lead: Lead, by: User | None, kind: str, outcome: str, occurred_at: datetime | None = None
) -> Activity:
    """Record a call, email, meeting or note on a lead.

    A contact (not a note) sets `first_contacted_at` if it was empty and moves `last_touched_at`
    forward. Both are conditional single-statement updates, so a back-dated activity never
    moves the clock backwards and two at once cannot lose each other's touch.
    """
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + FUTURE_TOLERANCE:
        raise ValidationError({"occurred_at": MSG_FUTURE_ACTIVITY})
    if occurred_at < lead.received_at:
        received = timezone.localtime(lead.received_at).strftime("%Y-%m-%d %H:%M")
        raise ValidationError({"occurred_at": MSG_ACTIVITY_BEFORE_RECEIVED.format(received=received)})

    activity = Activity(lead=lead, kind=kind, outcome=(outcome or "").strip(), occurred_at=occurred_at, created_by=by)
    activity.full_clean()
    activity.save()

    if activity.is_contact:
        Lead.objects.filter(pk=lead.pk, first_contacted_at__isnull=True).update(first_contacted_at=occurred_at)
        Lead.objects.filter(pk=lead.pk).filter(
            Q(last_touched_at__isnull=True) | Q(last_touched_at__lt=occurred_at)
        ).update(last_touched_at=occurred_at)
        lead.refresh_from_db(fields=["first_contacted_at", "last_touched_at"])
        from followups.services import sla_stop  # here: followups imports leads

        sla_stop(lead=lead, at=lead.first_contacted_at)
    return activity
