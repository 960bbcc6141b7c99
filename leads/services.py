"""Writes to leads. Views, admin, API, tasks and commands all call these; nothing else
assigns `Lead.stage` or `Lead.owner`."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import models, transaction
from django.db.models import Case, Count, F, OuterRef, Q, Subquery, Value, When
from django.db.models.base import ModelState
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Membership, Team, User
from audit.models import AuditEvent
from audit.services import audit_record
from leadflow.bulk import insert_objects, insert_rows
from leadflow.locks import xact_locks
from leadflow.queue import enqueue_on_commit

from . import selectors
from .models import (
    Activity,
    Assignment,
    Channel,
    DuplicatePolicy,
    Lead,
    LeadMerge,
    LeadSource,
    OwnerNotice,
    StageChange,
)
from .normalize import normalize_email, normalize_phone

if TYPE_CHECKING:
    from followups.services import FirstSchedule

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
# Owner notices: how long a sender holds one, and how often it is tried before it waits for a person.
NOTICE_LEASE = timedelta(minutes=5)
NOTICE_MAX_ATTEMPTS = 10


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
    assignment_reason: str = "created",
) -> Lead:
    """Save a new lead in stage `lead` with its first history row.

    1. Normalise email and phone (ValidationError on a phone that is not a number).
    2. Check the owner belongs to the team and the source is active.
    3. Save the lead, its creation StageChange and, when it has an owner, its first Assignment.
    """
    return _lead_save_new(
        check_owner=True,
        by=by,
        name=name,
        source=source,
        team=team,
        owner=owner,
        email=email,
        phone=phone,
        company=company,
        title=title,
        referred_by=referred_by,
        notes=notes,
        received_at=received_at,
        referred_by_lead=referred_by_lead,
        assignment_reason=assignment_reason,
    )


def _lead_save_new(
    *,
    check_owner: bool,
    by: User | None,
    name: str,
    source: LeadSource,
    team: Team,
    owner: User | None,
    email: str,
    phone: str,
    company: str,
    title: str,
    referred_by: str,
    notes: str,
    received_at: datetime | None,
    referred_by_lead: Lead | None,
    assignment_reason: str,
) -> Lead:
    """lead_create's work, inside the caller's transaction (lead_intake calls it directly: no
    savepoint of its own, and no membership query for an owner the team's rule just chose)."""
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
    if check_owner:
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
    # Source, team, owner and referrer are the caller's loaded instances (the owner checked
    # against the team above), and a new lead's one constraint (contacted after received)
    # holds trivially: re-checking them would cost five queries per lead.
    lead.full_clean(exclude=["source", "team", "owner", "referred_by_lead"], validate_constraints=False)
    from followups.services import followups_plan_new_leads  # here: followups imports leads

    schedules = followups_plan_new_leads(leads=[lead])
    lead.save()
    _leads_created_write_rows(leads=[lead], schedules=schedules, reasons=[assignment_reason], by=by, now=now)
    return lead


def _leads_created_write_rows(
    *, leads: list[Lead], schedules: list[FirstSchedule], reasons: list[str], by: User | None, now: datetime
) -> None:
    """What every new lead gets, written set-based for any number of saved leads (lead_create
    for one, lead_intake_many for an import batch): its creation StageChange, its first
    Assignment when it has an owner, its speed-to-lead clock and first follow-ups (planned by
    followups_plan_new_leads before the leads were saved)."""
    by_id = by.pk if by is not None else None
    insert_rows(
        StageChange,
        [
            {
                "lead_id": lead.pk,
                "from_stage": "",
                "to_stage": Stage.LEAD,
                "changed_by_id": by_id,
                "changed_at": lead.received_at,
            }
            for lead in leads
        ],
    )
    insert_rows(
        Assignment,
        [
            {
                "lead_id": lead.pk,
                "to_owner_id": lead.owner_id,
                "assigned_by_id": by_id,
                "assigned_at": now,
                "reason": reason[:500],
            }
            for lead, reason in zip(leads, reasons, strict=True)
            if lead.owner_id is not None
        ],
    )
    from followups.services import followups_on_leads_created  # here: followups imports leads

    followups_on_leads_created(leads=leads, schedules=schedules)


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


# ---------------------------------------------------------------------------------------------
# Intake: every way in (web form, import, API, typed) goes through lead_intake/lead_intake_many,
# which normalise, find duplicates, apply the channel's duplicate policy, assign and create.
# ---------------------------------------------------------------------------------------------

MSG_NAME_REQUIRED = "Give the person's name."
MSG_TEAM_REQUIRED = "Say which team the lead goes to."
MSG_NUL = "This text contains a NUL character; remove it."
MSG_TOO_LONG = "At most {max} characters (this has {n})."
MSG_BAD_EMAIL = "Enter a valid email address, e.g. ana@example.com."
MSG_MERGE_SAME = "A lead cannot be merged with itself."
MSG_MERGE_ALREADY = "“{lead}” was already merged into another lead."
MSG_MERGE_NOT_ALLOWED = "You cannot merge leads."
MSG_MERGE_BAD_CHOICE = "Choose the survivor's or the merged lead's value."
MSG_MERGE_CONTACT = "The merged lead would have neither email nor phone; keep one of them."

# The contact fields an intake carries; stage, owner and team are decided by the rules.
INTAKE_FIELDS = ("name", "email", "phone", "company", "title", "referred_by", "notes")
RAW_PHONE_MAX = 64


class IntakeOutcome(models.TextChoices):
    CREATED = "created", "New lead"
    ATTACHED = "attached", "New inquiry on an existing lead"
    FLAGGED = "flagged", "New lead, flagged as a possible duplicate"


@dataclass
class IntakeResult:
    lead: Lead
    outcome: str
    duplicate_of: Lead | None = None
    assignment_reason: str = ""


def intake_clean(data: dict) -> dict[str, str]:
    """Normalise and check one incoming lead's contact fields, reporting every bad field at once.

    Pure (no database), so an import checks a whole batch before writing anything. Unknown keys
    are ignored; missing ones are blank. Raises ValidationError({field: [messages]}).
    """
    errors: dict[str, list[str]] = {}
    clean: dict[str, str] = {}
    for field in INTAKE_FIELDS:
        value = data.get(field)
        value = "" if value is None else str(value)
        if "\x00" in value:
            errors.setdefault(field, []).append(MSG_NUL)
            continue
        value = value if field == "notes" else value.strip()
        # A phone is checked after normalising (“+1 (415) 555-0100” is longer than its E.164).
        max_length = RAW_PHONE_MAX if field == "phone" else Lead._meta.get_field(field).max_length
        if max_length and len(value) > max_length:
            errors.setdefault(field, []).append(MSG_TOO_LONG.format(max=max_length, n=len(value)))
            continue
        clean[field] = value
    if "name" in clean and not clean["name"]:
        errors["name"] = [MSG_NAME_REQUIRED]
    if "email" in clean:
        clean["email"] = normalize_email(clean["email"])
        if clean["email"]:
            try:
                validate_email(clean["email"])
            except ValidationError:
                errors["email"] = [MSG_BAD_EMAIL]
    if "phone" in clean:
        try:
            clean["phone"] = normalize_phone(clean["phone"])
        except ValidationError as e:
            errors["phone"] = e.messages
    if not errors and not clean["email"] and not clean["phone"]:
        errors["email"] = [MSG_CONTACT_REQUIRED]
    if errors:
        raise ValidationError(errors)
    return clean


def lead_contacts_lock(keys: Iterable[str]) -> None:
    """Serialise intakes of the same (normalised) email or phone until the transaction ends.

    Without it two posts of one person at the same instant both find no duplicate and both
    create a lead. lead_intake takes it for its row; a caller of lead_intake_many that runs
    beside other intakes (the web form's drain) takes it for the whole batch first. The keys
    are locked in sorted order, before any team row: one order everywhere, so no deadlock.
    """
    xact_locks(f"lead-contact:{key}" for key in keys if key)


def _intake_preamble(source: LeadSource, team: Team | None) -> None:
    if team is None:
        raise ValidationError({"team": MSG_TEAM_REQUIRED})
    if not source.is_active:
        raise ValidationError({"source": MSG_INACTIVE_SOURCE})


def _inquiry_text(*, channel: str, clean: dict[str, str], source: LeadSource, context: str) -> str:
    """The note an attached inquiry leaves on the existing lead: everything it said, so nothing is lost."""
    parts = [f"New inquiry via {Channel(channel).label.lower()}{f' ({context})' if context else ''}, source {source}"]
    details = [
        f"{field.replace('_', ' ')}: {clean[field]}" for field in INTAKE_FIELDS if field != "notes" and clean.get(field)
    ]
    if details:
        parts.append("; ".join(details))
    if clean.get("notes"):
        parts.append(f"message: {clean['notes']}")
    text = ". ".join(parts)
    return text if len(text) <= 500 else text[:499] + "…"


@transaction.atomic
def lead_intake(
    *,
    channel: str,
    data: dict,
    source: LeadSource,
    by: User | None,
    team: Team | None,
    owner: User | None = None,
    received_at: datetime | None = None,
    context: str = "",
    referred_by_lead: Lead | None = None,
) -> IntakeResult:
    """Take in one lead from any channel: normalise, dedupe, assign, create.

    1. Clean the fields (intake_clean) and check team and source.
    2. Lock the email and phone (PostgreSQL advisory locks) and look for a live lead with the
       same normalised email or phone.
    3. On a match, apply the channel's DuplicatePolicy: ATTACH logs the inquiry as a note on the
       existing lead and notifies its owner; FLAG goes on to create and marks the new lead.
    4. Owner: the one given (checked against the team), else the team's assignment rule
       (lead_assign_next), with the reason kept on the Assignment row.
    5. lead_create's writer (in this transaction, no savepoints of its own) writes the lead,
       its creation StageChange and Assignment; the owner is told after commit (unless they
       created it themselves).
    """
    clean = intake_clean(data)
    _intake_preamble(source, team)
    given_owner = owner is not None  # an owner the team's rule picks is a member: not checked again
    lead_contacts_lock([clean["email"], clean["phone"]])
    match = selectors.lead_find_match(email=clean["email"], phone=clean["phone"])
    if match is not None and selectors.duplicate_action(channel) == DuplicatePolicy.Action.ATTACH:
        activity_log(
            lead=match,
            by=by,
            kind=Activity.Kind.NOTE,
            outcome=_inquiry_text(channel=channel, clean=clean, source=source, context=context),
        )
        _notify_owner(lead=match, text=_inquiry_notice_text(channel=channel, name=clean["name"], lead=match))
        return IntakeResult(lead=match, outcome=IntakeOutcome.ATTACHED, duplicate_of=match)

    if owner is None:
        owner, reason = _assign_next(team=team, reason_context=context)
    else:
        reason = f"{Channel(channel).label.lower()}: owner chosen by {by}" if by and by != owner else "created"
    lead = _lead_save_new(
        check_owner=given_owner,
        by=by,
        source=source,
        team=team,
        owner=owner,
        received_at=received_at,
        assignment_reason=reason,
        referred_by_lead=referred_by_lead,
        **clean,
    )
    outcome = IntakeOutcome.CREATED
    if match is not None:
        Lead.objects.filter(pk=lead.pk).update(possible_duplicate_of=match)
        lead.possible_duplicate_of = match
        outcome = IntakeOutcome.FLAGGED
    if owner is not None and owner != by:
        _notify_owner(lead=lead, text=_new_lead_notice_text(channel=channel, lead=lead, reason=reason))
    return IntakeResult(lead=lead, outcome=outcome, duplicate_of=match, assignment_reason=reason)


def intake_clean_many(rows: list[dict]) -> list[dict[str, str] | ValidationError]:
    """intake_clean for each row: its clean fields, or the ValidationError that rejects it.

    Pure (no database), so the CSV import runs it on a thread for the next batch while the
    database writes the current one (lead_intake_many_cleaned then takes the result).
    """
    cleaned: list[dict[str, str] | ValidationError] = []
    for row in rows:
        try:
            cleaned.append(intake_clean(row))
        except ValidationError as e:
            # Kept without its traceback: the traceback's frame refers back to this list, a
            # reference cycle per bad row that only the cyclic collector would free.
            cleaned.append(e.with_traceback(None))
    return cleaned


def _new_lead_notice_text(*, channel: str, lead: Lead, reason: str) -> str:
    return f"New lead for you: {lead} ({Channel(channel).label.lower()}, {reason})."


def _inquiry_notice_text(*, channel: str, name: str, lead: Lead) -> str:
    return f"{name} got in touch again ({Channel(channel).label.lower()}) about lead “{lead.name}”."


def lead_intake_many(
    *,
    channel: str,
    rows: list[dict],
    source: LeadSource,
    team: Team | None,
    by: User | None,
    owner: User | None = None,
    context: str = "",
    received_times: Sequence[datetime] | None = None,
) -> list[IntakeResult | ValidationError]:
    """lead_intake for a batch of rows (CSV import, the web form's drain): the same rules, a
    fixed number of queries.

    Returns one item per row, in order: its IntakeResult, or the ValidationError that rejected
    it. Owners are NOT notified here (an import would send one email per row): the caller
    tells each owner once, with notify_owners_of_intake or notify_owners_of_batch.
    `received_times`, one per row, is when each lead came in (a web form's post, processed a
    moment later): its received_at, so its speed-to-lead clock and first follow-ups start
    there; without it every lead of the batch is received now. Unlike lead_intake it takes no
    contact locks (an import's batch would hold a thousand): a caller running beside other
    intakes takes lead_contacts_lock for the batch first. The steps: intake_clean_many, then
    lead_intake_many_cleaned (the transaction: cleaning needs none).
    """
    return lead_intake_many_cleaned(
        channel=channel,
        cleaned=intake_clean_many(rows),
        source=source,
        team=team,
        by=by,
        owner=owner,
        context=context,
        received_times=received_times,
    )


@transaction.atomic
def lead_intake_many_cleaned(
    *,
    channel: str,
    cleaned: list[dict[str, str] | ValidationError],
    source: LeadSource,
    team: Team | None,
    by: User | None,
    owner: User | None = None,
    context: str = "",
    received_times: Sequence[datetime] | None = None,
) -> list[IntakeResult | ValidationError]:
    """lead_intake_many for rows intake_clean_many already cleaned (one item per row, in order).

    1. A row rejected by cleaning keeps its error and the others go on.
    2. Find the existing matches of the whole batch in one query; a row matching an earlier row
       of the same batch is a duplicate of that row's new lead.
    3. Plan the owners of the new leads with the team's rule (one lock, one pointer write).
    4. Bulk-insert what lead_create writes for each lead (the lead, its creation StageChange,
       its first Assignment, its speed-to-lead clock and first follow-ups), then the duplicate flags and the inquiry notes of attached rows.
       Keep this step in line with lead_create: tests/leads/test_intake.py compares the rows
       both write for every reverse relation of Lead, so a new side effect of lead_create
       that is missing here fails that test.
    The batch is one transaction: on a database error the caller retries it row by row.
    """
    _intake_preamble(source, team)
    if owner is not None:
        _check_owner_in_team(owner, team)
    results: list[IntakeResult | ValidationError | None] = [
        item if isinstance(item, ValidationError) else None for item in cleaned
    ]
    good = [(i, item) for i, item in enumerate(cleaned) if not isinstance(item, ValidationError)]
    existing = selectors.lead_find_matches(
        emails={c["email"] for _, c in good if c["email"]}, phones={c["phone"] for _, c in good if c["phone"]}
    )
    attach = selectors.duplicate_action(channel) == DuplicatePolicy.Action.ATTACH
    now = timezone.now()
    planner = None if owner is not None else _AssignmentPlanner.load(team)

    make_lead = _new_lead_maker(source=source, team=team)
    new_leads: list[Lead] = []
    reasons: list[str] = []
    new_results: list[IntakeResult] = []
    new_index_by_key: dict[str, int] = {}  # email/phone → index in new_leads
    # (row, existing lead or new index, clean, received)
    inquiries: list[tuple[int, Lead | int, dict[str, str], datetime]] = []
    flags: list[tuple[int, int]] = []  # (new index, new index of the earlier row it duplicates)
    for i, clean in good:
        received = received_times[i] if received_times is not None else now
        keys = [k for k in (clean["email"], clean["phone"]) if k]
        match: Lead | int | None = next((existing[k] for k in keys if k in existing), None)
        if match is None:
            match = next((new_index_by_key[k] for k in keys if k in new_index_by_key), None)
        if match is not None and attach:
            inquiries.append((i, match, clean, received))
            continue
        if planner is not None:
            lead_owner, reason = planner.next()
            # As lead_intake's (_assign_next): the assignment says where the lead came from.
            reason = f"{context}: {reason}"[:500] if context else reason
        else:
            lead_owner, reason = owner, "created"
        # No clean_fields() here: intake_clean checked every value a row brings (lengths, email,
        # phone) and the rest is set from checked objects; it would double the batch's Python time.
        lead = make_lead(clean, lead_owner, match if isinstance(match, Lead) else None, received)
        index = len(new_leads)
        new_leads.append(lead)
        reasons.append(reason)
        result = IntakeResult(
            lead=lead,
            outcome=IntakeOutcome.CREATED if match is None else IntakeOutcome.FLAGGED,
            duplicate_of=match if isinstance(match, Lead) else None,
            assignment_reason=reason,
        )
        new_results.append(result)
        results[i] = result
        if isinstance(match, int):
            flags.append((index, match))
        for key in keys:
            new_index_by_key.setdefault(key, index)

    from followups.services import followups_plan_new_leads  # here: followups imports leads

    schedules = followups_plan_new_leads(leads=new_leads)
    insert_objects(new_leads)
    if planner is not None:
        planner.persist()
    _leads_created_write_rows(leads=new_leads, schedules=schedules, reasons=reasons, by=by, now=now)
    for index, earlier in flags:
        new_leads[index].possible_duplicate_of = new_leads[earlier]
        new_results[index].duplicate_of = new_leads[earlier]
    if flags:
        Lead.objects.bulk_update([new_leads[index] for index, _ in flags], ["possible_duplicate_of"])
    notes = []
    for i, match, clean, received in inquiries:
        target = match if isinstance(match, Lead) else new_leads[match]
        notes.append(
            Activity(
                lead=target,
                kind=Activity.Kind.NOTE,
                outcome=_inquiry_text(channel=channel, clean=clean, source=source, context=context),
                occurred_at=max(received, target.received_at),
                created_by=by,
            )
        )
        results[i] = IntakeResult(lead=target, outcome=IntakeOutcome.ATTACHED, duplicate_of=target)
    Activity.objects.bulk_create(notes)
    return results  # type: ignore[return-value]


def _new_lead_maker(*, source: LeadSource, team: Team):
    """make(clean, owner, possible_duplicate_of, received_at) -> a new unsaved Lead in stage
    `lead`, the same instance as Lead(source=…, team=…, stage_changed_at=received_at, …, **clean)
    gives.

    Copied from a template's attributes instead: Lead.__init__ sets each of its 24 fields through
    its descriptor (and sends pre/post_init, which nothing listens to for Lead), about a fifth of
    the import's main-thread Python time under cProfile. No field of Lead has a per-instance
    (callable) default, so the template's values are every lead's; each copy gets its own
    ModelState, with the related objects in its cache as __init__ leaves them.
    """
    # What makes the copy equal to __init__'s; a new field with a callable default, or a listener
    # on Lead's init signals, fails here (every import test) instead of being copied wrong.
    if any(f.has_default() and callable(f.default) for f in Lead._meta.concrete_fields) or any(
        signal.has_listeners(Lead) for signal in (models.signals.pre_init, models.signals.post_init)
    ):
        raise ImproperlyConfigured("Lead has a callable default or an init listener: build leads with Lead(...)")
    template = Lead(source=source, team=team, stage=Stage.LEAD).__dict__
    template.pop("_state")
    new = object.__new__

    def make(clean: dict[str, str], owner: User | None, duplicate_of: Lead | None, received_at: datetime) -> Lead:
        lead = new(Lead)
        values = lead.__dict__
        values.update(template)
        values.update(clean)
        values["owner_id"] = owner.pk if owner is not None else None
        values["possible_duplicate_of_id"] = duplicate_of.pk if duplicate_of is not None else None
        values["received_at"] = values["stage_changed_at"] = received_at
        values["_state"] = state = ModelState()
        state.fields_cache = {
            "source": source,
            "team": team,
            "owner": owner,
            "possible_duplicate_of": duplicate_of,
        }
        return lead

    return make


def notify_owners_of_intake(*, counts: dict[int, dict[str, int]], by: User | None, context: str) -> None:
    """One notice per owner for a whole import: {owner_id: {"created": n, "attached": m}}.

    Nobody is told about leads they brought in themselves.
    """
    users = User.objects.in_bulk([int(pk) for pk in counts])
    for pk, c in counts.items():
        user = users.get(int(pk))
        if user is None or (by is not None and user.pk == by.pk):
            continue
        parts = []
        if c.get("created"):
            parts.append(f"{c['created']} new lead{'s' if c['created'] != 1 else ''} assigned to you")
        if c.get("attached"):
            parts.append(f"{c['attached']} new inquir{'ies' if c['attached'] != 1 else 'y'} on your leads")
        if parts:
            _notify_user(
                user=user, lead=None, subject=f"LeadFlow: {context}", text=f"{' and '.join(parts)} ({context})."
            )


NOTICE_NAMES_LISTED = 10


def notify_owners_of_batch(
    *, channel: str, context: str, names: Sequence[str], results: Sequence[IntakeResult | ValidationError]
) -> None:
    """The owner notices lead_intake writes, for a batch lead_intake_many took in (the web
    form's drain): one notice per person told, per batch.

    Who is told is lead_intake's rule (a new lead's owner; an attached inquiry's lead owner;
    the team manager when that owner is inactive). Someone told of exactly one lead or inquiry
    gets lead_intake's very notice, linked to the lead; someone with several gets one notice
    naming them (a burst of posts must not become a burst of emails). `names[i]` is the
    person who wrote row i (an attached inquiry is about an existing lead of another name).
    """
    told: dict[int, tuple[User, list[tuple[IntakeResult, str]]]] = {}
    for name, result in zip(names, results, strict=True):
        if isinstance(result, ValidationError):
            continue
        recipient = _notice_recipient(result.lead)
        if recipient is not None:
            told.setdefault(recipient.pk, (recipient, []))[1].append((result, name))
    for recipient, items in told.values():
        if len(items) == 1:
            result, name = items[0]
            if result.outcome == IntakeOutcome.ATTACHED:
                text = _inquiry_notice_text(channel=channel, name=name, lead=result.lead)
            else:
                text = _new_lead_notice_text(channel=channel, lead=result.lead, reason=result.assignment_reason)
            _notify_user(user=recipient, lead=result.lead, subject=f"LeadFlow: {result.lead.name}", text=text)
            continue
        new = [str(r.lead) for r, _ in items if r.outcome != IntakeOutcome.ATTACHED]
        again = [f"{n} about “{r.lead.name}”" for r, n in items if r.outcome == IntakeOutcome.ATTACHED]
        counts, parts = [], []
        if new:
            counts.append(f"{len(new)} new lead{'s' if len(new) != 1 else ''}")
            parts.append(f"{counts[-1]} for you: {_listed(new)}")
        if again:
            counts.append(f"{len(again)} new inquir{'ies' if len(again) != 1 else 'y'}")
            parts.append(f"{counts[-1]} on your leads: {_listed(again)}")
        _notify_user(
            user=recipient,
            lead=None,
            subject=f"LeadFlow: {' and '.join(counts)}",
            text=f"{'; '.join(parts)} ({context or Channel(channel).label.lower()}).",
        )


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:NOTICE_NAMES_LISTED])
    return shown if len(names) <= NOTICE_NAMES_LISTED else f"{shown} and {len(names) - NOTICE_NAMES_LISTED} more"


# --- Assignment --------------------------------------------------------------------------------


@dataclass
class _Seat:
    membership_id: int
    user: User
    weight: int
    is_away: bool
    cap: int | None
    open_uncontacted: int
    credit: int
    credit_changed: bool = False

    def why_not(self) -> str | None:
        """Why this member cannot take a lead now, or None."""
        if not self.user.is_active:
            return "inactive"
        if self.is_away:
            return "away"
        if self.cap is not None and self.open_uncontacted >= self.cap:
            return f"at cap ({self.open_uncontacted} open uncontacted, cap {self.cap})"
        if self.weight == 0:
            return "weight 0"
        return None


class _AssignmentPlanner:
    """Decides the owners of the next new leads of a team, in memory, then saves the pointer.

    Round robin: the turn goes to the first member after the one who got the last lead (the
    pointer), in a fixed cycle, skipping members who are away, at their cap or inactive. Since
    the cycle has no head and a new team starts at a random place in it, nobody is favoured by
    seniority, and over any run of leads the counts differ by at most one.
    Weighted: smooth weighted round robin (nginx) over the available members; equal credits
    are broken by the same cycle order after the pointer.
    Nobody available: the team manager, so a lead is never left without an owner.
    """

    def __init__(self, team: Team, seats: list[_Seat]):
        self.team = team
        self.seats = seats
        self.pointer_id = team.rr_last_member_id
        self.changed = False

    @classmethod
    def load(cls, team: Team) -> _AssignmentPlanner:
        """Lock the team row (serialising concurrent assignments) and read its members with
        their open uncontacted leads. 2 queries (the manager is read only if nobody is available)."""
        team = Team.objects.select_for_update().get(pk=team.pk)
        open_uncontacted = (
            Lead.objects.filter(
                owner=OuterRef("user_id"),
                stage__in=Lead.OPEN_STAGES,
                first_contacted_at__isnull=True,
                merged_into__isnull=True,
            )
            .order_by()
            .values("owner")
            .annotate(n=Count("id"))
            .values("n")
        )
        # Counted only for a member with a cap (CASE runs the subquery only on that branch): the
        # count is what the cap is checked against, and it grows with every lead the member holds
        # (an import's batches would count its own earlier leads again and again).
        memberships = team.memberships.select_related("user").annotate(
            open_uncontacted=Case(
                When(max_open_uncontacted__isnull=True, then=Value(0)),
                default=Subquery(open_uncontacted),
                output_field=models.IntegerField(),
            )
        )
        seats = [
            _Seat(
                membership_id=m.pk,
                user=m.user,
                weight=m.weight,
                is_away=m.is_away,
                cap=m.max_open_uncontacted,
                open_uncontacted=m.open_uncontacted or 0,
                credit=m.rr_credit,
            )
            for m in memberships.order_by("id")
        ]
        return cls(team, seats)

    def _cycle(self) -> list[_Seat]:
        """Members in cycle order, starting just after the pointer (a random place if none)."""
        if not self.seats:
            return []
        if self.pointer_id is None:
            start = secrets.randbelow(len(self.seats))
        else:
            start = next((i for i, s in enumerate(self.seats) if s.membership_id > self.pointer_id), 0)
        return self.seats[start:] + self.seats[:start]

    def _pointer_name(self) -> str | None:
        return next((str(s.user) for s in self.seats if s.membership_id == self.pointer_id), None)

    def next(self) -> tuple[User, str]:
        cycle = self._cycle()
        after = self._pointer_name()
        if self.team.assignment_rule == Team.AssignmentRule.WEIGHTED:
            seat, reason = self._next_weighted(cycle)
        else:
            seat, reason = self._next_round_robin(cycle, after)
        if seat is None:
            return self.team.manager, reason
        seat.open_uncontacted += 1
        self.pointer_id = seat.membership_id
        self.changed = True
        return seat.user, reason

    def _unavailable(self, seats: list[_Seat]) -> list[str]:
        return [f"{s.user} {why}" for s in seats if (why := s.why_not())]

    def _nobody(self) -> tuple[None, str]:
        skipped = self._unavailable(self.seats)
        detail = f" ({'; '.join(skipped)})" if skipped else " (the team has no members)"
        return None, f"nobody available{detail}: given to the team manager {self.team.manager}"

    def _next_round_robin(self, cycle: list[_Seat], after: str | None) -> tuple[_Seat | None, str]:
        skipped = []
        for seat in cycle:
            why = seat.why_not()
            if why is None:
                head = f"round robin: next after {after}" if after else "round robin: first turn (random start)"
                return seat, "; ".join([head, *skipped])
            skipped.append(f"{seat.user} {why}")
        return self._nobody()

    def _next_weighted(self, cycle: list[_Seat]) -> tuple[_Seat | None, str]:
        available = [s for s in cycle if s.why_not() is None]
        if not available:
            return self._nobody()
        total = sum(s.weight for s in available)
        for s in available:
            s.credit += s.weight
            s.credit_changed = True
        best = max(s.credit for s in available)
        seat = next(s for s in available if s.credit == best)  # first in cycle order: no seniority
        seat.credit -= total
        weights = ", ".join(f"{s.user} {s.weight}" for s in available)
        return seat, "; ".join([f"weighted ({weights}): {seat.user}'s turn", *self._unavailable(cycle)])

    def persist(self) -> None:
        if self.changed:
            Team.objects.filter(pk=self.team.pk).update(rr_last_member_id=self.pointer_id)
            self.team.rr_last_member_id = self.pointer_id
        changed = [s for s in self.seats if s.credit_changed]
        if changed:
            Membership.objects.bulk_update(
                [Membership(pk=s.membership_id, rr_credit=s.credit) for s in changed], ["rr_credit"]
            )
            for s in changed:
                s.credit_changed = False


@transaction.atomic
def lead_assign_next(*, team: Team, reason_context: str = "") -> tuple[User, str]:
    """Pick the owner of the team's next new lead by its rule; return (owner, reason).

    Locks the team row until the caller's transaction ends, so two leads arriving together
    get consecutive turns. The reason reads like “round robin: next after Ana; Ben away”.
    """
    return _assign_next(team=team, reason_context=reason_context)


def _assign_next(*, team: Team, reason_context: str) -> tuple[User, str]:
    """lead_assign_next inside the caller's transaction (lead_intake's: no savepoint of its own)."""
    planner = _AssignmentPlanner.load(team)
    owner, reason = planner.next()
    planner.persist()
    if reason_context:
        reason = f"{reason_context}: {reason}"
    return owner, reason[:500]


# --- Owner notices -----------------------------------------------------------------------------


def _notify_user(*, user: User, lead: Lead | None, subject: str, text: str) -> OwnerNotice:
    notice = OwnerNotice.objects.create(
        lead=lead, recipient=user, subject=subject[:200], text=text[:5000], created_at=timezone.now()
    )
    from followups.models import Notification

    from .tasks import owner_notice_send_task

    # The bell too, in the same transaction (the email copy is the notice's own, sent after commit).
    Notification.objects.create(
        user=user,
        kind=Notification.Kind.LEAD_NEWS,
        text=text[:300],
        url=lead.get_absolute_url() if lead is not None else "",
        key=f"notice:{notice.pk}",
        created_at=notice.created_at,
    )
    enqueue_on_commit(owner_notice_send_task, notice.pk)
    return notice


def _notice_recipient(lead: Lead) -> User | None:
    """Who is told about a lead: its owner, or without an active owner the team's manager."""
    return lead.owner if lead.owner is not None and lead.owner.is_active else lead.team.manager


def _notify_owner(*, lead: Lead, text: str) -> OwnerNotice | None:
    """Tell the lead's owner (or, without an active owner, the team's manager) after commit.

    The one place the "notify the owner" side effect lives: an OwnerNotice row emailed after
    commit (leads.tasks) and a notification in the bell. Costs a query for the owner and team
    when they are not loaded.
    """
    recipient = _notice_recipient(lead)
    if recipient is None:
        return None
    return _notify_user(user=recipient, lead=lead, subject=f"LeadFlow: {lead.name}", text=text)


def owner_notice_send(*, notice_id: int, now: datetime | None = None) -> bool:
    """Email one notice at most once as seen by the user: claim → send → mark.

    1. Claim with a conditional UPDATE (unsent and not claimed by a live sender); go on only
       if it changed one row, so the task and the catch-up never both send it.
    2. Send, with a Message-ID derived from the row so a resend after a crash collapses.
    3. Mark it sent. A failed send leaves the claim to expire and the catch-up retries.
    Returns True when this call sent it.
    """
    now = now or timezone.now()
    claimed = (
        OwnerNotice.objects.filter(pk=notice_id, sent_at__isnull=True)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + NOTICE_LEASE, attempts=F("attempts") + 1)
    )
    if claimed != 1:
        return False
    notice = OwnerNotice.objects.select_related("recipient", "lead").get(pk=notice_id)
    if notice.recipient.email:
        url = f"{settings.SITE_URL}{notice.lead.get_absolute_url()}" if notice.lead_id else settings.SITE_URL
        body = render_to_string("emails/owner-notice-body.txt", {"notice": notice, "url": url})
        EmailMessage(
            subject=notice.subject,
            body=body,
            to=[notice.recipient.email],
            headers={"Message-ID": f"<owner-notice-{notice.pk}@leadflow>"},
        ).send()
    OwnerNotice.objects.filter(pk=notice_id).update(sent_at=timezone.now())
    return True


def owner_notices_catch_up(*, now: datetime | None = None, limit: int = 500) -> int:
    """Send notices whose task was lost (broker down) or failed; returns how many were sent."""
    now = now or timezone.now()
    ids = list(
        OwnerNotice.objects.filter(sent_at__isnull=True, attempts__lt=NOTICE_MAX_ATTEMPTS)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(owner_notice_send(notice_id=pk, now=now) for pk in ids)


# --- Merge -------------------------------------------------------------------------------------

# Fields the merge page offers: the value of the survivor or of the merged lead.
MERGE_FIELDS = ("name", "email", "phone", "company", "title", "source", "referred_by", "notes")
# Reverse relations of Lead that record merges themselves and so stay where they are. Every
# other reverse relation, from any app, is moved to the survivor (see lead_merge_relations).
MERGE_KEEPS = frozenset({"leads.LeadMerge.survivor", "leads.LeadMerge.merged"})


def _relation_label(rel) -> str:
    return f"{rel.related_model._meta.label}.{rel.field.name}"


def relation_title(rel, n: int) -> str:
    """“3 activities”, “1 stage change”, “2 leads (referred by lead)”: a relation for people."""
    meta = rel.related_model._meta
    title = f"{n} {meta.verbose_name if n == 1 else meta.verbose_name_plural}"
    return f"{title} ({rel.field.verbose_name})" if rel.related_model is Lead else title


def lead_merge_relations() -> list:
    """Every reverse relation of Lead, from every installed app: what lead_merge walks."""
    return [rel for rel in Lead._meta.related_objects if _relation_label(rel) not in MERGE_KEEPS]


def _snapshot(lead: Lead) -> dict:
    values = {}
    for field in Lead._meta.concrete_fields:
        value = getattr(lead, field.attname)
        values[field.attname] = value.isoformat() if isinstance(value, datetime) else value
    return values


def _min(*values):
    present = [v for v in values if v is not None]
    return min(present) if present else None


@transaction.atomic
def lead_merge(*, survivor: Lead, merged: Lead, field_choices: dict[str, str], by: User) -> LeadMerge:
    """Merge `merged` into `survivor` in one transaction: all or nothing.

    1. Check the permission, lock both rows (in id order, so two merges cannot deadlock) and
       refuse a lead merged with itself or already merged.
    2. Put the chosen values on the survivor and validate it before anything moves.
    3. Re-point every row of every reverse relation of Lead (activities, stage history,
       assignments, calls, follow-ups, web submissions, notices, referrals… whatever apps
       add) from the merged lead to the survivor; a one-to-one row moves only if the survivor
       has none.
    4. The survivor keeps the earliest arrival and first contact and the latest touch; the
       merged lead points at the survivor (its page redirects there).
    5. Record a LeadMerge (choices, the merged lead's values, counts moved) and a note in the
       survivor's history.
    """
    if not by.has_perm("leads.merge_lead"):
        raise ValidationError({"__all__": MSG_MERGE_NOT_ALLOWED})
    if survivor.pk == merged.pk:
        raise ValidationError({"__all__": MSG_MERGE_SAME})
    locked = {
        lead.pk: lead
        for lead in Lead.objects.select_for_update().filter(pk__in=[survivor.pk, merged.pk]).order_by("pk")
    }
    keep, gone = locked[survivor.pk], locked[merged.pk]
    for lead in (keep, gone):
        if lead.merged_into_id is not None:
            raise ValidationError({"__all__": MSG_MERGE_ALREADY.format(lead=lead.name)})

    errors = {}
    for field, choice in field_choices.items():
        if field not in MERGE_FIELDS or choice not in ("survivor", "merged"):
            errors[field if field in MERGE_FIELDS else "__all__"] = MSG_MERGE_BAD_CHOICE
    if errors:
        raise ValidationError(errors)
    for field, choice in field_choices.items():
        if choice == "merged":
            attname = Lead._meta.get_field(field).attname
            setattr(keep, attname, getattr(gone, attname))
    if not keep.email and not keep.phone:
        raise ValidationError({"email": MSG_MERGE_CONTACT})
    keep.received_at = min(keep.received_at, gone.received_at)
    keep.first_contacted_at = _min(keep.first_contacted_at, gone.first_contacted_at)
    keep.last_touched_at = max(filter(None, [keep.last_touched_at, gone.last_touched_at]), default=None)
    keep.next_followup_at = _min(keep.next_followup_at, gone.next_followup_at)
    # Pointers from the survivor at the merged lead would point at itself: clear them.
    if keep.possible_duplicate_of_id == gone.pk:
        keep.possible_duplicate_of = None
    if keep.referred_by_lead_id == gone.pk:
        referrer = gone.referred_by_lead_id
        keep.referred_by_lead_id = referrer if referrer != keep.pk else None
    keep.full_clean()

    merged_values = _snapshot(gone)
    moved: dict[str, int] = {}
    for rel in lead_merge_relations():
        label = _relation_label(rel)
        model, fk = rel.related_model, rel.field.name
        if rel.many_to_many:
            accessor = rel.get_accessor_name()
            others = list(getattr(gone, accessor).all())
            getattr(keep, accessor).add(*others)
            getattr(gone, accessor).clear()
            moved[label] = len(others)
        elif rel.one_to_one:
            if model._base_manager.filter(**{fk: keep}).exists():
                moved[label] = 0
            else:
                moved[label] = model._base_manager.filter(**{fk: gone}).update(**{fk: keep})
        else:
            q = model._base_manager.filter(**{fk: gone})
            if model is Lead:
                q = q.exclude(pk=keep.pk)  # the survivor's own pointer at the merged lead is handled above
            moved[label] = q.update(**{fk: keep})
    keep.save()
    Lead.objects.filter(pk=gone.pk).update(merged_into=keep, possible_duplicate_of=None)
    gone.merged_into, gone.possible_duplicate_of = keep, None

    record = LeadMerge.objects.create(
        survivor=keep,
        merged=gone,
        merged_by=by,
        merged_at=timezone.now(),
        field_choices=dict(field_choices),
        merged_values=merged_values,
        moved=moved,
    )
    titles = {_relation_label(rel): rel for rel in lead_merge_relations()}
    summary = ", ".join(relation_title(titles[label], n) for label, n in moved.items() if n)
    activity_log(
        lead=keep,
        by=by,
        kind=Activity.Kind.NOTE,
        outcome=f"Merged “{gone.name}” (#{gone.pk}) into this lead. Moved: {summary or 'nothing'}."[:500],
    )
    survivor.refresh_from_db()
    merged.refresh_from_db()
    return record
