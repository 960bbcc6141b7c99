from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse

# The index order the work queue is read in: uncontacted leads first, then the least recently
# touched (oldest first). The queue's full order also depends on "now" (SLA breaches, overdue
# follow-ups: leads.selectors.queue_order); leads.selectors.LeadQueue reads it in segments along
# the indexes below that use this order, so a page of a million-lead queue is index range scans,
# not a sort: keep the two together.
# An uncontacted lead's key is its speed-to-lead deadline (Lead.sla_due_at), so the uncontacted
# part of the queue — breaches first, then the nearest deadline — is one index range too.
QUEUE_ORDER = (
    Case(When(first_contacted_at__isnull=True, then=Value(0)), default=Value(1), output_field=IntegerField()),
    Case(
        When(first_contacted_at__isnull=True, then=Coalesce("sla_due_at", "received_at")),
        default=Coalesce("last_touched_at", "received_at"),
    ),
    F("id"),
)


class LeadSource(models.Model):
    """Where leads come from (admin-managed): a web form, a referral partner, an event…"""

    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# Which leads a user sees (LeadQuerySet.visible_to): none, all, their own and their teams', their own.
ACCESS_NONE, ACCESS_ALL, ACCESS_TEAMS, ACCESS_OWN = "none", "all", "teams", "own"


def lead_access(user) -> str:
    if not user.is_authenticated or not user.is_active:
        return ACCESS_NONE
    if user.has_perm("leads.view_all_leads"):
        return ACCESS_ALL
    if user.has_perm("leads.view_team_leads"):
        return ACCESS_TEAMS
    return ACCESS_OWN


class LeadQuerySet(models.QuerySet):
    def visible_to(self, user) -> LeadQuerySet:
        """The one access rule for leads; every view, API and export starts here.

        Admins see every lead; a manager sees every lead of the teams they manage; anybody
        sees the leads they own. Costs the permission look-up (cached per request).
        """
        return self.visible_with(lead_access(user), user.pk)

    def visible_with(self, access: str, user_id: int | None) -> LeadQuerySet:
        """visible_to for a user given by their access (lead_access) and id: the same SQL, so a
        query built from these values can be compiled once per access (leadflow.precompiled)."""
        if access == ACCESS_ALL:
            return self.all()
        if access == ACCESS_TEAMS:
            return self.filter(Q(owner_id=user_id) | Q(team__manager_id=user_id))
        if access == ACCESS_OWN:
            return self.filter(owner_id=user_id)
        return self.none()

    def open(self) -> LeadQuerySet:
        return self.filter(stage__in=Lead.OPEN_STAGES)

    def owned_by(self, user) -> LeadQuerySet:
        return self.filter(owner=user)


class Lead(models.Model):
    class Stage(models.TextChoices):
        LEAD = "lead", "Lead"
        PROSPECT = "prospect", "Prospect"
        CUSTOMER = "customer", "Customer"
        NURTURE = "nurture", "Nurture"
        DISQUALIFIED = "disqualified", "Disqualified"
        LOST = "lost", "Lost"

    # Stages a rep still works on; the others are outcomes.
    OPEN_STAGES = (Stage.LEAD, Stage.PROSPECT)

    name = models.CharField(max_length=200)
    # Stored normalised (lower-case email, E.164 phone) so duplicates are found by equality.
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    company = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    source = models.ForeignKey(LeadSource, on_delete=models.PROTECT, related_name="leads")
    referred_by = models.CharField(max_length=200, blank=True, help_text="Who sent this lead to us, in words.")
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="leads")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_leads", null=True, blank=True
    )
    # Written only by leads.services.lead_change_stage, which also records a StageChange.
    stage = models.CharField(max_length=20, choices=Stage, default=Stage.LEAD)
    stage_changed_at = models.DateTimeField()
    received_at = models.DateTimeField()
    first_contacted_at = models.DateTimeField(null=True, blank=True)
    last_touched_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=10_000)
    # A lead that came through someone we already know (often a disqualified lead we helped).
    referred_by_lead = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="referrals", db_index=False
    )
    # Nurture: when the lead comes back to its owner's queue as a lead.
    nurture_until = models.DateTimeField(null=True, blank=True)
    # Denormalised: the speed-to-lead deadline of the lead's owner (its SlaClock.owner_due_at),
    # written once when the lead is created (followups.services.followups_plan_new_leads), so
    # the work queue orders uncontacted leads along an index instead of joining every clock.
    sla_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Denormalised: due time of the lead's earliest pending follow-up, kept by followups.services
    # so queues sort and flag "no next step" without a join.
    next_followup_at = models.DateTimeField(null=True, blank=True)
    # Duplicates (leads.services.lead_intake / lead_merge): a lead created although it matched
    # another one points at it until someone merges or clears it; a merged-away lead points at
    # the survivor, and its page redirects there.
    possible_duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="possible_duplicates", db_index=False
    )
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_leads", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LeadQuerySet.as_manager()

    class Meta:
        permissions = [
            ("view_all_leads", "Can see and edit every lead (admin)"),
            ("view_team_leads", "Can see and edit the leads of the teams one manages"),
            ("reassign_lead", "Can give a lead to another member of its team"),
            ("override_gate", "Can move a lead to prospect without a passing call, with a reason"),
            ("merge_lead", "Can merge two leads one can see"),
        ]
        indexes = [
            # Counting a rep's / a team's leads per stage (the queue's filter bar), from the index
            # alone. Partial like the lists (merged leads are never listed): without the
            # condition the planner must visit the table to drop merged leads, prices that above
            # a sequential scan for "the first 1,001 rows", and then reads half the table when a
            # stage's rows are clustered (1 s at a million leads).
            models.Index(
                fields=["owner", "stage", "first_contacted_at", "last_touched_at"],
                name="lead_queue_idx",
                condition=Q(merged_into__isnull=True),
            ),
            models.Index(fields=["team", "stage"], name="lead_team_stage_idx", condition=Q(merged_into__isnull=True)),
            # The queue in QUEUE_ORDER for each scope a list page filters on: a rep's leads (or
            # the owner filter), a manager's team, a source, everything (admins). The "open" and
            # "all" tabs read these, checking the stage on the way.
            models.Index(F("owner"), *QUEUE_ORDER, name="lead_owner_order_idx"),
            models.Index(F("team"), *QUEUE_ORDER, name="lead_team_order_idx"),
            models.Index(F("source"), *QUEUE_ORDER, name="lead_source_order_idx"),
            models.Index(*QUEUE_ORDER, name="lead_order_idx"),
            # One stage's tab: QUEUE_ORDER starts with every uncontacted lead, and some stages
            # have none (customers), so reading the indexes above for one stage would first skip
            # all of those (89,000 rows for an admin at a million leads). A rep's leads are few
            # enough to skip. Their (scope, stage) prefix also counts a stage for admins.
            models.Index(F("team"), F("stage"), *QUEUE_ORDER, name="lead_team_stage_order_idx"),
            models.Index(F("source"), F("stage"), *QUEUE_ORDER, name="lead_source_stage_order_idx"),
            models.Index(F("stage"), *QUEUE_ORDER, name="lead_stage_order_idx"),
            # Counting per stage under a source filter (team and owner are in the key so a
            # manager's or a rep's counts are read from the index alone).
            models.Index(
                fields=["source", "stage", "team", "owner"],
                name="lead_source_stage_idx",
                condition=Q(merged_into__isnull=True),
            ),
            # The queue's overdue follow-ups segment (leads.selectors.LeadQueue): contacted leads
            # by next_followup_at, per scope as above; and per scope and stage for a list of one
            # stage: few customers or lost leads have an overdue follow-up, so read along the
            # scope's index the segment would filter out every other overdue lead (60 ms for one
            # source's customers at a million leads).
            *[
                models.Index(
                    *scope,
                    *stage,
                    F("next_followup_at"),
                    F("id"),
                    name=f"lead_{name}{'stage_' if stage else ''}next_fu_idx",
                    condition=Q(first_contacted_at__isnull=False, next_followup_at__isnull=False),
                )
                for name, scope in [
                    ("owner_", [F("owner")]),
                    ("team_", [F("team")]),
                    ("source_", [F("source")]),
                    ("", []),
                ]
                for stage in ([], [F("stage")])
            ],
            # The dashboard's going-cold panel (dashboard.selectors.dashboard_cooling): open leads
            # by how long they have waited (never touched: since arrival), for admins and per
            # team; the longest waits are read first and counted from the index alone.
            *[
                models.Index(
                    *scope,
                    Coalesce(F("last_touched_at"), F("received_at")),
                    F("id"),
                    name=f"lead_{name}open_waiting_idx",
                    condition=Q(stage__in=["lead", "prospect"]),  # Lead.OPEN_STAGES
                )
                for name, scope in [("team_", [F("team")]), ("owner_", [F("owner")]), ("", [])]
            ],
            # Search (name, email, company contain a term) uses trigram GIN indexes on
            # PostgreSQL, created by migration 0005 outside the model state (SQLite has none).
            # The dashboard's cohort (leads received in the range) is read from this index alone:
            # it carries every column the cohort's counts, percentiles and scope filters read, so
            # the aggregates never visit the table (a 90-day cohort at a million leads: ~170,000
            # rows spread over 7,000 table pages).
            models.Index(
                fields=["received_at"],
                name="lead_received_idx",
                include=["source", "team", "owner", "stage", "first_contacted_at", "id"],
            ),
            # The dashboard's scope without dates (team / rep / source filters): the follow-up
            # discipline, qualification and override panels join their rows to these leads, read
            # from the index alone (a source's leads are spread over the whole table).
            models.Index(fields=["source", "team", "owner"], name="lead_dashboard_scope_idx", include=["id", "stage"]),
            # Duplicate look-ups on create (normalised values, so plain equality).
            models.Index(fields=["email"], name="lead_email_idx", condition=~Q(email="")),
            models.Index(fields=["phone"], name="lead_phone_idx", condition=~Q(phone="")),
            # The links between leads (referrals, duplicates, merges) are set on few leads: their
            # indexes hold only the set ones (the look-ups and SET_NULL updates are by value), so
            # a new lead, which has none, writes none of them (CSV import: ~9 rows per line).
            *[
                models.Index(fields=[link], name=f"lead_{link}_idx", condition=Q(**{f"{link}__isnull": False}))
                for link in ("referred_by_lead", "possible_duplicate_of", "merged_into")
            ],
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(first_contacted_at__isnull=True) | Q(first_contacted_at__gte=models.F("received_at")),
                name="lead_contacted_after_received",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.company})" if self.company else self.name

    def get_absolute_url(self) -> str:
        return reverse("leads:detail", args=[self.pk])  # lead_path_formatter: the same for many

    @property
    def is_open(self) -> bool:
        return self.stage in self.OPEN_STAGES

    def is_uncontacted(self) -> bool:
        return self.first_contacted_at is None

    def waiting_since(self) -> datetime:
        """When the lead last heard from us (or arrived, if never)."""
        return self.last_touched_at or self.received_at


class StageChange(models.Model):
    """One move of a lead between stages: the history reports are built from."""

    # Indexed by stagechange_lead_idx, which starts with it.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_changes", db_index=False)
    from_stage = models.CharField(max_length=20, choices=Lead.Stage, blank=True)  # blank: the lead was created
    to_stage = models.CharField(max_length=20, choices=Lead.Stage)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField()
    reason = models.TextField(blank=True, max_length=2000)
    # A manager moved the lead past a gate it did not pass; `reason` says why.
    is_override = models.BooleanField(default=False)
    # lead → prospect: the criteria version the gate applied and its verdict on the latest call
    # (qualification.evaluation.Evaluation.as_json), kept as they were at the time of the move.
    criteria_version = models.ForeignKey(
        "qualification.CriteriaVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    evaluation = models.JSONField(null=True, blank=True)
    # → disqualified: the reason from the admin-managed list (qualification.services.lead_disqualify).
    disqualification_reason = models.ForeignKey(
        "qualification.DisqualificationReason",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [
            # With the stage, id and reason, the dashboard's reach counts, time-in-stage window and
            # disqualification reasons read a cohort's history from the index alone.
            models.Index(
                fields=["lead", "-changed_at"],
                name="stagechange_lead_idx",
                include=["to_stage", "id", "disqualification_reason"],
            ),
            # With the lead, the dashboard's weekly moves are read from the index alone.
            models.Index(fields=["to_stage", "changed_at"], name="stagechange_report_idx", include=["lead"]),
            # The dashboard's manager overrides in a date range (dashboard.drill.overrides_in):
            # their counts from the index alone, their latest rows in order.
            models.Index(
                fields=["changed_at"],
                name="stagechange_override_idx",
                condition=Q(is_override=True, to_stage="prospect"),
                include=["lead", "id"],
            ),
            # Set on a few moves only (to prospect, to disqualified): the PROTECT checks look up
            # set values, so creation rows (every new lead has one) stay out of these indexes.
            *[
                models.Index(fields=[fk], name=f"stagechange_{short}_idx", condition=Q(**{f"{fk}__isnull": False}))
                for fk, short in (("criteria_version", "version"), ("disqualification_reason", "dq_reason"))
            ],
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(from_stage=models.F("to_stage")), name="stagechange_moves"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage or '∅'} → {self.to_stage}"


class Activity(models.Model):
    """Something done with a lead: a call, an email, a meeting, or an internal note."""

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MEETING = "meeting", "Meeting"
        NOTE = "note", "Note"

    # Kinds that reach the person. A note is internal: it neither contacts nor touches the lead,
    # so writing one cannot stop the speed-to-lead clock or hide a cooling lead.
    CONTACT_KINDS = (Kind.CALL, Kind.EMAIL, Kind.MEETING)

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=10, choices=Kind)
    outcome = models.CharField(max_length=500)
    occurred_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [models.Index(fields=["lead", "-occurred_at"], name="activity_lead_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.outcome[:40]}"

    @property
    def is_contact(self) -> bool:
        return self.kind in self.CONTACT_KINDS


class Assignment(models.Model):
    """Who a lead was given to, by whom and why: every change of owner is one row."""

    # Indexed by assignment_lead_idx, which starts with it.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    # None on a lead's first assignment (most rows): indexed only where set (assignment_from_owner_idx).
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-assigned_at", "-id"]
        indexes = [
            models.Index(fields=["lead", "-assigned_at"], name="assignment_lead_idx"),
            models.Index(
                fields=["from_owner"], name="assignment_from_owner_idx", condition=Q(from_owner__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: → {self.to_owner_id}"


class Channel(models.TextChoices):
    """The ways a lead comes in; each has its own duplicate policy."""

    WEB = "web", "Web form"
    IMPORT = "import", "CSV import"
    API = "api", "REST API"
    MANUAL = "manual", "Typed in the app"


class DuplicatePolicy(models.Model):
    """What to do when a lead arriving through a channel matches an existing one (admin setting).

    A channel without a row uses DEFAULT_ACTIONS: a web form or API post becomes a new inquiry
    on the lead we know (the person asked again), an import or a typed lead is created and
    flagged, because a person chose to add it.
    """

    class Action(models.TextChoices):
        ATTACH = "attach", "Attach as a new inquiry on the existing lead (and notify its owner)"
        FLAG = "flag", "Create the lead and flag it as a possible duplicate"

    DEFAULT_ACTIONS = {
        Channel.WEB: Action.ATTACH,
        Channel.API: Action.ATTACH,
        Channel.IMPORT: Action.FLAG,
        Channel.MANUAL: Action.FLAG,
    }

    channel = models.CharField(max_length=10, choices=Channel, unique=True)
    action = models.CharField(max_length=10, choices=Action)

    class Meta:
        ordering = ["channel"]
        verbose_name_plural = "duplicate policies"

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.action}"


class LeadMerge(models.Model):
    """The record of one merge: what was merged into what, by whom, which values won, what moved.

    `merged_values` keeps every field of the merged-away lead as it was, so nothing is lost even
    for fields whose survivor value was kept.
    """

    survivor = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="merges_received")
    merged = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="merges_away")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    merged_at = models.DateTimeField()
    # {field: "survivor" | "merged"} as chosen on the merge page.
    field_choices = models.JSONField(default=dict)
    merged_values = models.JSONField(default=dict)
    # {"leads.Activity.lead": 3, ...}: how many rows of each relation moved to the survivor.
    moved = models.JSONField(default=dict)

    class Meta:
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"{self.merged_id} → {self.survivor_id}"


class OwnerNotice(models.Model):
    """An outbox row: tell a lead's owner something (a new lead, a new inquiry).

    Written in the same transaction as the change it reports, sent by leads.tasks after commit,
    and caught up by a periodic task when the broker was down, so no notice is lost. The
    in-app notification system (another issue) takes these over at merge time.
    """

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="owner_notices", null=True, blank=True)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=200)
    text = models.TextField(max_length=5000)
    created_at = models.DateTimeField()
    # Claim → send → mark: a sender holds the row until `claimed_until`, then sets `sent_at`.
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # leads.tasks.owner_notices_catch_up: unsent notices, oldest first.
            models.Index(fields=["created_at"], name="ownernotice_unsent_idx", condition=Q(sent_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"to {self.recipient_id}: {self.subject}"


def lead_path_formatter() -> Callable[[int], str]:
    """`Lead.get_absolute_url` by id, for many leads at once (a dispatcher batch, the queue's
    rows): reverse() cost ~20 µs a lead, a twentieth of a reminder. Two stand-in ids are reversed; where the
    paths are the same around the id (the pattern takes any digits and the script prefix does
    not change meanwhile), the others are formatted around it; otherwise each is reversed."""
    a, b = 1_234_567, 7_654_321
    path_a = reverse("leads:detail", args=[a])
    head, _, tail = path_a.partition(str(a))
    if path_a.count(str(a)) == 1 and reverse("leads:detail", args=[b]) == f"{head}{b}{tail}":
        return lambda pk: f"{head}{pk:d}{tail}"
    return lambda pk: reverse("leads:detail", args=[pk])
