from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .currencies import CURRENCIES, CURRENCY_CODES, format_money

# A helpful reply not sent within this is overdue (the queue flags it for the owner and manager).
HELPFUL_CLOSE_DUE = timedelta(days=2)
MSG_VERSION_IMMUTABLE = "Criteria versions are never edited: publish a new version instead."


class DiscoveryCall(models.Model):
    """One conversation that qualifies a lead: the answers the sales-ready criteria look at.

    A lead may have several; the latest (by `held_at`) is the one the gate evaluates.
    """

    class Budget(models.TextChoices):
        AMOUNT = "amount", "They named an amount"
        NONE = "none", "No budget"
        UNKNOWN = "unknown", "Not known yet"

    class Timeline(models.TextChoices):
        DATE = "date", "By a date"
        NONE = "none", "No timeline"
        UNKNOWN = "unknown", "Not known yet"

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="discovery_calls")
    held_at = models.DateTimeField()
    held_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    duration_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(600)]
    )
    # The answer to "has anything changed since the last call?" (empty on a first call).
    changes_since_last = models.TextField(blank=True, max_length=5000)
    # The problem in the lead's own words. The yes/no answers below are None while not known.
    problem = models.TextField(blank=True, max_length=5000)
    problem_confirmed = models.BooleanField(null=True, blank=True)
    budget_status = models.CharField(max_length=10, choices=Budget, default=Budget.UNKNOWN)
    budget_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    budget_currency = models.CharField(max_length=3, blank=True, choices=CURRENCIES)
    diy_alternative = models.TextField(blank=True, max_length=5000)
    diy_cheaper = models.BooleanField(null=True, blank=True)
    decision_maker = models.CharField(max_length=200, blank=True)
    decision_maker_spoken_to = models.BooleanField(null=True, blank=True)
    timeline_status = models.CharField(max_length=10, choices=Timeline, default=Timeline.UNKNOWN)
    timeline_date = models.DateField(null=True, blank=True)
    next_step = models.CharField(max_length=300, blank=True)
    next_step_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=10_000)
    # The criteria in force when the call was recorded and what they said about it. The lead
    # page re-evaluates the latest call against the *current* criteria; this is the record.
    criteria_version = models.ForeignKey(
        "qualification.CriteriaVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    evaluation = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-held_at", "-id"]
        indexes = [
            # "The latest call of a lead": the gate, the lead page and the call page's recap.
            models.Index(fields=["lead", "-held_at", "-id"], name="call_lead_latest_idx"),
            # The dashboard's qualification panel: calls held in a date range.
            models.Index(fields=["held_at"], name="call_held_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(budget_status="amount", budget_amount__isnull=False, budget_amount__gt=0) & ~Q(budget_currency="")
                )
                | (~Q(budget_status="amount") & Q(budget_amount__isnull=True, budget_currency="")),
                name="call_budget_amount_iff_status_amount",
            ),
            models.CheckConstraint(
                condition=Q(timeline_status="date", timeline_date__isnull=False)
                | (~Q(timeline_status="date") & Q(timeline_date__isnull=True)),
                name="call_timeline_date_iff_status_date",
            ),
            models.CheckConstraint(
                condition=Q(next_step_at__isnull=True) | ~Q(next_step=""), name="call_next_step_date_has_step"
            ),
        ]

    def __str__(self) -> str:
        return f"Call with {self.lead_id} on {self.held_at:%Y-%m-%d}"

    def budget_display(self) -> str:
        if self.budget_status == self.Budget.AMOUNT and self.budget_amount is not None:
            return format_money(self.budget_amount, self.budget_currency)
        return self.get_budget_status_display()


class CriteriaVersion(models.Model):
    """One published version of what "sales-ready" means. Never edited once saved: changing the
    criteria publishes a new version (qualification.services.criteria_publish), so every past
    decision keeps pointing at the rules it was taken under."""

    number = models.PositiveIntegerField(unique=True)
    # Points the weighted rules must reach (at least), on top of every required rule passing.
    threshold = models.PositiveSmallIntegerField(default=0)
    note = models.CharField(max_length=500, blank=True, help_text="What changed and why.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    is_current = models.BooleanField(default=False)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=Q(is_current=True), name="criteriaversion_one_current"
            ),
        ]

    def __str__(self) -> str:
        return f"Criteria v{self.number}"

    def save(self, *args, **kwargs):
        # Only a new version may be saved; `is_current` moves with a queryset update in
        # criteria_publish, which is the one sanctioned change to an existing row.
        if not self._state.adding:
            raise ValueError(MSG_VERSION_IMMUTABLE)
        super().save(*args, **kwargs)


class CriteriaRule(models.Model):
    """One rule of a criteria version, over the answers of a discovery call.

    A *required* rule must pass; a *weighted* one adds its points when it passes. See
    qualification/evaluation.py for what each kind checks and the sentence it gives.
    """

    class Kind(models.TextChoices):
        PROBLEM_CONFIRMED = "problem_confirmed", "Problem confirmed"
        BUDGET_KNOWN = "budget_known", "Budget known"
        BUDGET_MIN = "budget_min", "Budget at least a minimum"
        NO_CHEAPER_DIY = "no_cheaper_diy", "No cheaper do-it-yourself alternative"
        DECISION_MAKER_IDENTIFIED = "decision_maker_identified", "Decision maker identified"
        DECISION_MAKER_SPOKEN_TO = "decision_maker_spoken_to", "Spoke to the decision maker"
        TIMELINE_WITHIN = "timeline_within", "Timeline within a number of days"

    version = models.ForeignKey(CriteriaVersion, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(max_length=40, choices=Kind)
    required = models.BooleanField(default=True)
    # Weighted rules only; a required rule gives no points (it is pass/fail on its own).
    points = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    # Parameters of some kinds: the minimum budget (and its currency), the longest timeline.
    min_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, choices=CURRENCIES)
    max_days = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(3650)])
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "kind"], name="criteriarule_one_per_kind"),
            models.CheckConstraint(
                condition=Q(required=True, points=0) | Q(required=False, points__gt=0),
                name="criteriarule_points_iff_weighted",
            ),
            models.CheckConstraint(
                condition=~Q(kind="budget_min") | (Q(min_amount__gt=0) & ~Q(currency="")),
                name="criteriarule_budget_min_params",
            ),
            models.CheckConstraint(
                condition=~Q(kind="timeline_within") | Q(max_days__gte=1), name="criteriarule_timeline_params"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({'required' if self.required else f'{self.points} pts'})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError(MSG_VERSION_IMMUTABLE)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """Single-row checks, shared by the settings page, Django admin and criteria_publish."""
        errors: dict[str, str] = {}
        if not self.required and not self.points:
            errors["points"] = "A weighted rule needs at least 1 point (or make it required)."
        if self.required and self.points:
            errors["points"] = "A required rule gives no points: leave points at 0 or make it weighted."
        if self.kind == self.Kind.BUDGET_MIN:
            if self.min_amount is None or self.min_amount <= 0:
                errors["min_amount"] = "Give the minimum budget, above 0."
            if not self.currency:
                errors["currency"] = "Give the currency of the minimum budget."
        if self.currency and self.currency not in CURRENCY_CODES:
            errors["currency"] = "Unknown currency."
        if self.kind == self.Kind.TIMELINE_WITHIN and not self.max_days:
            errors["max_days"] = "Give the number of days (1 or more)."
        if errors:
            raise ValidationError(errors)


class DisqualificationReason(models.Model):
    """Why a lead is disqualified (admin-managed), with the helpful reply that goes with it.

    `helpful_close_template` may use {first_name}, {name}, {company} and {rep}; the text is
    copied into the HelpfulClose when a lead is disqualified, so editing it changes only the
    replies written afterwards.
    """

    code = models.SlugField(max_length=40, unique=True, help_text="Stable key used by reports.")
    label = models.CharField(max_length=100)
    helpful_close_template = models.TextField(
        blank=True,
        max_length=5000,
        help_text="Pre-fills the helpful reply. Placeholders: {first_name}, {name}, {company}, {rep}.",
    )
    needs_text = models.BooleanField(default=False, help_text="Ask for a short explanation (e.g. “Other”).")
    creates_helpful_close = models.BooleanField(default=True, help_text="Off only where a reply makes no sense (spam).")
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return self.label


class HelpfulClose(models.Model):
    """The owner's task after a disqualification: reply with something useful (a DIY route, a
    referral). Unsent ones show in the owner's queue and to their manager."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="helpful_closes")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="helpful_closes"
    )
    reason = models.ForeignKey(DisqualificationReason, on_delete=models.PROTECT, related_name="helpful_closes")
    stage_change = models.OneToOneField(
        "leads.StageChange", on_delete=models.CASCADE, null=True, blank=True, related_name="helpful_close"
    )
    body = models.TextField(max_length=10_000)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The queue's "helpful replies to send" panel: unsent, oldest first.
            models.Index(fields=["created_at"], name="helpfulclose_unsent_idx", condition=Q(sent_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"Helpful close for {self.lead_id} ({'sent' if self.sent_at else 'to send'})"

    @property
    def is_sent(self) -> bool:
        return self.sent_at is not None

    @property
    def is_overdue(self) -> bool:
        """Unsent for longer than HELPFUL_CLOSE_DUE: flagged to the owner and their manager."""
        return self.sent_at is None and self.created_at < timezone.now() - HELPFUL_CLOSE_DUE
