"""Page-shaped reads for qualification. Each returns data already carrying what its template
needs, so pages run a fixed number of queries however many calls, rules or versions exist."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet, Subquery

from accounts.models import User
from leadflow import precompiled
from leads.models import Lead, lead_access

from .evaluation import Criteria, Evaluation, criteria_snapshot, evaluate
from .models import CriteriaRule, CriteriaVersion, DiscoveryCall, DisqualificationReason, HelpfulClose

# How many unsent helpful closes the queue lists before "and more".
QUEUE_HELPFUL_CLOSES = 10


def criteria_current() -> Criteria | None:
    """The criteria in force, as a plain snapshot (rules loaded). One query; None if none yet.

    Publishing requires at least one rule, so the current version is found through its rules.
    """
    rules = list(CriteriaRule.objects.filter(version__is_current=True).select_related("version"))
    if not rules:
        return None
    return criteria_snapshot(rules[0].version, rules)


# Versions and their rules are never edited once saved (CriteriaVersion.save and
# CriteriaRule.save refuse), so a version's snapshot, once read, holds for the life of the
# process: a page that knows the current version's id reads no rules. Keyed by version id.
_snapshots: dict[int, Criteria] = {}


def criteria_current_id() -> Subquery:
    """The id of the version in force (None if none yet), as a column of another query: the
    page's lead query carries it, and criteria_of_version turns it into the criteria."""
    # Unordered: at most one version is current (criteriaversion_one_current), read from that index.
    return Subquery(CriteriaVersion.objects.filter(is_current=True).order_by().values("pk")[:1])


def criteria_of_version(version_id: int | None) -> Criteria | None:
    """A version's criteria, rules loaded. One query the first time a process asks for a
    version, none after (see _snapshots)."""
    if version_id is None:
        return None
    criteria = _snapshots.get(version_id)
    if criteria is None:
        rules = list(CriteriaRule.objects.filter(version_id=version_id).select_related("version"))
        if not rules:  # as criteria_current: a version without rules is no criteria
            return None
        criteria = _snapshots[version_id] = criteria_snapshot(rules[0].version, rules)
    return criteria


def criteria_versions() -> list[CriteriaVersion]:
    """Every version, newest first, with its rules and author. Two queries."""
    return list(CriteriaVersion.objects.select_related("created_by").prefetch_related("rules"))


def _calls(lead_id: int) -> QuerySet[DiscoveryCall]:
    return DiscoveryCall.objects.filter(lead_id=lead_id).select_related("held_by").order_by("-held_at", "-id")


def _latest_call(lead_id: int) -> QuerySet[DiscoveryCall]:
    return _calls(lead_id)[:1]


def call_latest(*, lead: Lead) -> DiscoveryCall | None:
    """The call the gate evaluates: the most recently held. One query, compiled once
    (leadflow.precompiled): the call page runs it on every view."""
    rows = precompiled.fetch("qualification.call_latest", _latest_call, lead.pk)
    return rows[0] if rows else None


def call_list(*, lead: Lead) -> list[DiscoveryCall]:
    """A lead's calls, newest first, with who held them. One query, compiled once (the lead page)."""
    return precompiled.fetch("qualification.call_list", _calls, lead.pk)


@dataclass(frozen=True)
class GateCheck:
    """What the lead → prospect gate sees: the current criteria, the latest call, the verdict."""

    criteria: Criteria | None
    call: DiscoveryCall | None
    evaluation: Evaluation | None

    @property
    def passed(self) -> bool:
        return self.evaluation is not None and self.evaluation.passed

    def refusal_messages(self) -> list[str]:
        if self.criteria is None:
            return ["No sales-ready criteria are set up yet: an admin publishes them on the criteria settings page."]
        if self.call is None:
            return ["No discovery call is recorded yet: hold one and record the answers first."]
        assert self.evaluation is not None
        return self.evaluation.refusal_messages()


def gate_check(*, lead: Lead) -> GateCheck:
    """Evaluate the lead's latest call against the current criteria. Two queries."""
    criteria = criteria_current()
    call = call_latest(lead=lead)
    evaluation = evaluate(call, criteria) if criteria is not None and call is not None else None
    return GateCheck(criteria=criteria, call=call, evaluation=evaluation)


@dataclass(frozen=True)
class QualificationPanel:
    """The lead page's qualification panel: the checklist, the calls, the helpful closes."""

    gate: GateCheck
    calls: list[DiscoveryCall]
    helpful_closes: list[HelpfulClose]


def lead_qualification_panel(*, lead: Lead, criteria_id: int | None) -> QualificationPanel:
    """The panel judged against the criteria version `criteria_id` (the current one, read with
    the lead: criteria_current_id). Two queries whatever the number of calls, rules or closes
    (and the rules once per process and version)."""
    calls = call_list(lead=lead)
    criteria = criteria_of_version(criteria_id)
    latest = calls[0] if calls else None
    evaluation = evaluate(latest, criteria) if criteria is not None and latest is not None else None
    closes = precompiled.fetch("qualification.lead_helpful_closes", _helpful_closes, lead.pk)
    return QualificationPanel(
        gate=GateCheck(criteria=criteria, call=latest, evaluation=evaluation),
        calls=calls,
        helpful_closes=closes,
    )


def _helpful_closes(lead_id: int) -> QuerySet[HelpfulClose]:
    return HelpfulClose.objects.filter(lead_id=lead_id).select_related("reason", "owner", "sent_by")


def reasons_active() -> QuerySet[DisqualificationReason]:
    return DisqualificationReason.objects.filter(is_active=True)


# What the lead list shows of an unsent helpful close (templates/leads/queue.html): its lead's
# name, its reason, its owner, how long it has waited (HelpfulClose.is_overdue).
HELPFUL_CLOSE_LISTED = (
    "created_at",
    "sent_at",
    "lead__name",
    "reason__label",
    *(f"owner__{name}" for name in User.NAME_FIELDS),
)


def helpful_close_list_unsent(*, user: User, limit: int = QUEUE_HELPFUL_CLOSES) -> list[HelpfulClose]:
    """Unsent helpful replies the user should see: their own, and for a manager their teams'
    (for an admin, everyone's). Oldest first; `limit + 1` rows so the page can say "more".
    One query, compiled once per kind of access and limit (leadflow.precompiled): every view
    of the lead list runs it, and building it cost more CPU than the database took. It reads
    what the list shows (HELPFUL_CLOSE_LISTED), not the replies, the leads' notes or the
    owners' password hashes."""
    access = lead_access(user)

    def build(user_id: int) -> QuerySet[HelpfulClose]:
        visible = Lead.objects.visible_with(access, user_id)
        return (
            HelpfulClose.objects.filter(sent_at__isnull=True)
            .filter(Q(owner_id=user_id) | Q(lead__in=visible.values("pk")))
            .select_related("lead", "reason", "owner")
            .only(*HELPFUL_CLOSE_LISTED)
            .order_by("created_at", "id")[: limit + 1]
        )

    return precompiled.fetch(("qualification.helpful_close_list_unsent", access, limit), build, user.pk)


def helpful_close_for_user(*, user: User, pk: int) -> HelpfulClose | None:
    """A helpful close whose lead the user can see (or that the user owns)."""
    visible = Lead.objects.visible_to(user)
    return (
        HelpfulClose.objects.filter(pk=pk)
        .filter(Q(owner=user) | Q(lead__in=visible.values("pk")))
        .select_related("lead", "reason", "owner", "sent_by", "lead__owner")
        .first()
    )


def referrals_from_disqualified(*, leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """Leads referred by a lead we disqualified (the payback of helpful closes), for reports."""
    return leads.filter(referred_by_lead__stage=Lead.Stage.DISQUALIFIED)
