"""Follow-ups: cadences (admin data), the follow-ups they schedule, the speed-to-lead clock of each
new lead, the in-app notifications the dispatcher creates, and the admin policy.

FollowUp and SlaClock rows are the schedule *and* the outbox: they are written in the same
transaction as the lead or stage change, and the dispatcher (followups.services) claims the due
ones with a lease, sends, and marks them while it still holds the claim. Nothing about a reminder
lives in the broker.
"""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from leads.models import Lead

from .worktime import WorkingHours

Stage = Lead.Stage
# Stages a cadence can apply to: the open ones, and nurture's slow touches.
CADENCE_STAGES = [(s.value, s.label) for s in (Stage.LEAD, Stage.PROSPECT, Stage.NURTURE)]


class Kind(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    TASK = "task", "Task"


def validate_working_days(value: str) -> None:
    try:
        days = {int(part) for part in value.split(",") if part.strip()}
    except ValueError:
        days = set()
    if not days or not days <= set(range(1, 8)):
        raise ValidationError("List ISO weekdays separated by commas, Monday = 1 … Sunday = 7 (e.g. 1,2,3,4,5).")


class FollowUpPolicy(models.Model):
    """The admin's settings for follow-ups, alerts and the queue: one row (pk 1)."""

    SINGLETON_PK = 1

    sla_minutes = models.PositiveIntegerField(
        "speed-to-lead SLA (working minutes)",
        default=15,
        validators=[MinValueValidator(1)],
        help_text="A new lead not contacted within this much working time alerts its owner.",
    )
    sla_manager_minutes = models.PositiveIntegerField(
        "manager alert after (working minutes)",
        default=60,
        validators=[MinValueValidator(1)],
        help_text="Still not contacted after this much working time: the team's manager is alerted.",
    )
    sla_return_to_pool = models.BooleanField(
        "return to the team pool at the manager alert",
        default=False,
        help_text="Take the lead from its owner (it goes back to the team, unassigned) when the manager is alerted.",
    )
    escalation_hours = models.PositiveIntegerField(
        "escalate overdue follow-ups after (hours)",
        default=24,
        validators=[MinValueValidator(1)],
        help_text="A follow-up still pending this long after its due time notifies the team's manager, once.",
    )
    workday_start = models.TimeField(default=time(9, 0))
    workday_end = models.TimeField(default=time(17, 0))
    working_days = models.CharField(
        max_length=20,
        default="1,2,3,4,5",
        validators=[validate_working_days],
        help_text="ISO weekdays (Monday = 1 … Sunday = 7). Hours and days are read in each user's own time zone.",
    )
    hot_hours = models.PositiveIntegerField(
        "hot while touched within (hours)", default=24, validators=[MinValueValidator(1)]
    )
    cooling_days = models.PositiveIntegerField(
        "cooling after (days without a touch)", default=3, validators=[MinValueValidator(1)]
    )
    cold_days = models.PositiveIntegerField(
        "cold after (days without a touch)", default=14, validators=[MinValueValidator(1)]
    )
    nurture_days = models.PositiveIntegerField(
        "nurture period (days)",
        default=90,
        validators=[MinValueValidator(1)],
        help_text="A lead moved to nurture comes back to its owner's queue after this long.",
    )
    batch_size = models.PositiveIntegerField(
        "dispatcher batch size",
        # 200: each batch costs about ten queries whatever its size (claim, lock, insert, mark), so
        # 50 spent a fifth of the dispatcher's database time on them; a batch of 200 is still
        # sent in well under the lease and holds a few hundred kB.
        default=200,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Rows one dispatcher claims at a time. Smaller batches share work between more workers.",
    )
    max_attempts = models.PositiveIntegerField(
        "attempts before a reminder is marked failed", default=5, validators=[MinValueValidator(1)]
    )

    class Meta:
        verbose_name = "follow-up policy"
        verbose_name_plural = "follow-up policy"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="followuppolicy_singleton")]

    def __str__(self) -> str:
        return "Follow-up policy"

    def save(self, *args, **kwargs):
        self.pk = self.SINGLETON_PK
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors = {}
        if self.workday_start and self.workday_end and not self.workday_start < self.workday_end:
            errors["workday_end"] = "The working day must end after it starts."
        if self.sla_minutes and self.sla_manager_minutes and self.sla_manager_minutes <= self.sla_minutes:
            errors["sla_manager_minutes"] = "The manager alert must come after the owner's."
        if self.hot_hours and self.cooling_days and self.cooling_days * 24 <= self.hot_hours:
            errors["cooling_days"] = "Cooling must start after a lead stops being hot."
        if self.cooling_days and self.cold_days and self.cold_days <= self.cooling_days:
            errors["cold_days"] = "Cold must start after cooling."
        if errors:
            raise ValidationError(errors)

    @classmethod
    def load(cls) -> FollowUpPolicy:
        """The policy row, or the defaults when the admin has not saved one yet. One query."""
        return cls.objects.filter(pk=cls.SINGLETON_PK).first() or cls(pk=cls.SINGLETON_PK)

    @property
    def working_hours(self) -> WorkingHours:
        days = frozenset(int(part) for part in self.working_days.split(",") if part.strip())
        return WorkingHours(start=self.workday_start, end=self.workday_end, days=days)


class CadenceQuerySet(models.QuerySet):
    def active_for(self, stage: str) -> CadenceQuerySet:
        return self.filter(stage=stage, is_active=True)


class Cadence(models.Model):
    """The agreed rhythm of touches for leads in one stage (e.g. day 0, 1, 3, 7, 14, 30)."""

    name = models.CharField(max_length=100, unique=True)
    stage = models.CharField(max_length=20, choices=CADENCE_STAGES)
    is_active = models.BooleanField(default=True, help_text="One active cadence per stage is scheduled.")

    objects = CadenceQuerySet.as_manager()

    class Meta:
        ordering = ["stage", "name"]
        constraints = [
            models.UniqueConstraint(fields=["stage"], condition=Q(is_active=True), name="cadence_one_active_per_stage"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_stage_display()})"


class CadenceStep(models.Model):
    class Unit(models.TextChoices):
        HOURS = "hours", "hours"
        DAYS = "days", "days (same local time)"
        WORKING_DAYS = "working_days", "working days (same local time, in working hours)"

    cadence = models.ForeignKey(Cadence, on_delete=models.CASCADE, related_name="steps")
    offset = models.PositiveIntegerField(help_text="From the moment the lead entered the stage.")
    unit = models.CharField(max_length=20, choices=Unit, default=Unit.DAYS)
    kind = models.CharField(max_length=10, choices=Kind, default=Kind.CALL)
    instruction = models.CharField(max_length=200)

    class Meta:
        ordering = ["cadence", "unit", "offset", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cadence", "offset", "unit"], name="cadencestep_unique_offset"),
        ]

    def __str__(self) -> str:
        return f"+{self.offset} {self.get_unit_display()}: {self.get_kind_display()}"


class FollowUpQuerySet(models.QuerySet):
    def pending(self) -> FollowUpQuerySet:
        return self.filter(state=FollowUp.State.PENDING)

    def visible_to(self, user) -> FollowUpQuerySet:
        """Follow-ups of the leads the user may see (the leads' one access rule)."""
        return self.filter(lead__in=Lead.objects.visible_to(user))


class FollowUp(models.Model):
    """One scheduled touch of a lead, owned by a person, reminded once when due."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    # Indexed by followup_lead_due_idx, which starts with it.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="followups", db_index=False)
    # Null while the lead sits in the team pool; reminders then go to the team's manager.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="followups"
    )
    due_at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=Kind, default=Kind.CALL)
    instruction = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=State, default=State.PENDING)
    # "Call me on the 12th": a date the lead agreed to, not one our cadence picked.
    agreed_with_lead = models.BooleanField(default=False)
    # The end of the nurture period: when it is dispatched the lead returns to stage "lead".
    recycles_lead = models.BooleanField(default=False)
    step = models.ForeignKey(CadenceStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # created_by, completed_by and activity are None on every scheduled row (most of them):
    # their indexes hold only the set ones (followup_*_set_idx).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # When it left "pending": done, skipped or cancelled.
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    activity = models.ForeignKey(
        "leads.Activity",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="completed_followups",
        db_index=False,
    )
    # The dispatcher's claim (see followups.services.followup_dispatch_batch). A row is claimed
    # while lease_until is set; claim_token says by whom. With the token cleared but a lease set,
    # the row is backing off after a failed send until lease_until.
    lease_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    objects = FollowUpQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # followup_dispatch_batch, reminders: pending, not yet reminded, unclaimed rows with
            # due_at <= now, ORDER BY due_at, id LIMIT batch FOR UPDATE SKIP LOCKED. Rows not due
            # are never read: the scan stops at `now`.
            models.Index(
                fields=["due_at", "id"],
                name="followup_due_idx",
                condition=Q(
                    state="pending",
                    reminded_at__isnull=True,
                    lease_until__isnull=True,
                    failed_at__isnull=True,
                ),
            ),
            # followup_dispatch_batch, escalations: reminded but still pending, not escalated,
            # unclaimed, with due_at <= now - escalation hours.
            models.Index(
                fields=["due_at", "id"],
                name="followup_escalation_idx",
                condition=Q(
                    state="pending",
                    reminded_at__isnull=False,
                    escalated_at__isnull=True,
                    lease_until__isnull=True,
                    failed_at__isnull=True,
                ),
            ),
            # followup_dispatch_batch, retries: claimed or backing-off rows whose lease_until <= now
            # (a worker died holding them, or a failed send's back-off is over).
            models.Index(
                fields=["lease_until", "id"], name="followup_lease_idx", condition=Q(lease_until__isnull=False)
            ),
            # A lead's follow-ups by due time: followups_refresh_next (MIN(due_at) of the pending
            # ones), the lead page's panel, the cascade when a lead is deleted. One index for all,
            # not a pending one beside the foreign key's: a lead has a handful of rows, and each
            # new follow-up (six per imported lead) writes one index entry less.
            models.Index(fields=["lead", "due_at"], name="followup_lead_due_idx"),
            # "My follow-ups": a person's pending rows by due time.
            models.Index(fields=["owner", "due_at"], name="followup_owner_pending_idx", condition=Q(state="pending")),
            # The dashboard's follow-up discipline: a rep's follow-ups due in a date range
            # (dashboard.drill.judged_q; cancelled rows and nurture recycles never count), with
            # every column its counts read, so they come from the index alone.
            models.Index(
                fields=["due_at"],
                name="followup_worked_due_idx",
                condition=Q(state__in=["pending", "done", "skipped"], recycles_lead=False),
                include=["lead", "state", "completed_at", "agreed_with_lead"],
            ),
            # The dashboard's overdue / no-next-step counts: the pending follow-ups of the leads in
            # view (dashboard.drill.pending_q), from the index alone (a fifth of the rows).
            models.Index(
                fields=["lead", "due_at"],
                name="followup_lead_pending_idx",
                condition=Q(state="pending", recycles_lead=False),
            ),
            *[
                models.Index(fields=[fk], name=f"followup_{fk}_set_idx", condition=Q(**{f"{fk}__isnull": False}))
                for fk in ("created_by", "completed_by", "activity")
            ],
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state="pending") | Q(completed_at__isnull=False),
                name="followup_closed_has_completed_at",
            ),
            models.CheckConstraint(
                condition=Q(claim_token__isnull=True) | Q(lease_until__isnull=False),
                name="followup_claim_has_lease",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.lead_id} @ {self.due_at:%Y-%m-%d %H:%M}"


class SlaClock(models.Model):
    """The speed-to-lead clock of one new lead: when its owner, then its manager, must be alerted.

    The deadlines are instants computed when the lead arrives (working minutes in the owner's
    zone), so the dispatcher compares times and never does calendar work. The clock stops at the
    first contact or when the lead leaves stage "lead".
    """

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, related_name="sla")
    started_at = models.DateTimeField()
    owner_due_at = models.DateTimeField()
    manager_due_at = models.DateTimeField()
    # The next alert's time; null once both went out, the clock stopped, or it failed.
    next_alert_at = models.DateTimeField(null=True, blank=True)
    owner_alerted_at = models.DateTimeField(null=True, blank=True)
    manager_alerted_at = models.DateTimeField(null=True, blank=True)
    returned_to_pool_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # The dispatcher's claim, as on FollowUp.
    lease_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "speed-to-lead clock"
        indexes = [
            # sla_dispatch_batch: unclaimed clocks with next_alert_at <= now, oldest first.
            models.Index(
                fields=["next_alert_at", "id"],
                name="slaclock_due_idx",
                condition=Q(next_alert_at__isnull=False, lease_until__isnull=True),
            ),
            # sla_dispatch_batch, retries: claimed or backing-off clocks whose lease_until <= now.
            models.Index(
                fields=["lease_until", "id"], name="slaclock_lease_idx", condition=Q(lease_until__isnull=False)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(manager_due_at__gte=models.F("owner_due_at")), name="slaclock_manager_after_owner"
            ),
            models.CheckConstraint(
                condition=Q(claim_token__isnull=True) | Q(lease_until__isnull=False),
                name="slaclock_claim_has_lease",
            ),
        ]

    def __str__(self) -> str:
        return f"SLA of lead {self.lead_id}"


class Notification(models.Model):
    """An in-app notification (the bell). Created exactly once per `key`; emailed at least once."""

    class Kind(models.TextChoices):
        REMINDER = "reminder", "Follow-up due"
        ESCALATION = "escalation", "Overdue follow-up"
        SLA_OWNER = "sla_owner", "Speed-to-lead"
        SLA_MANAGER = "sla_manager", "Speed-to-lead (manager)"
        NURTURE = "nurture", "Back from nurture"
        LEAD_NEWS = "lead_news", "New lead or inquiry"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind)
    text = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    # Derived from what caused it (e.g. "fu:42:reminder:1767254400"): the same cause can only ever
    # create one row, however many workers try. Also the email's Message-ID.
    key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    # Where the email copy goes ("" for none) and when it went.
    email_to = models.EmailField(blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The bell: COUNT of a user's unread rows, on every page.
            models.Index(fields=["user"], name="notification_unread_idx", condition=Q(read_at__isnull=True)),
            # The notifications page: a user's rows, newest first.
            models.Index(fields=["user", "-created_at"], name="notification_user_idx"),
        ]

    def __str__(self) -> str:
        return self.text


def zone_of(user) -> ZoneInfo:
    """A user's zone (UTC for nobody or an unknown name): where cadences and hours are read."""
    try:
        return ZoneInfo(user.time_zone) if user is not None else ZoneInfo("UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")
