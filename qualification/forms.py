"""Forms validate and convert only; qualification.services applies the rules."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from leadflow.formrender import quick_field_copies

from .currencies import CURRENCIES
from .evaluation import Criteria
from .models import CriteriaRule, DiscoveryCall, DisqualificationReason

Kind = CriteriaRule.Kind

YES, NO, UNKNOWN = "yes", "no", ""
TRI_STATE = [(YES, "Yes"), (NO, "No"), (UNKNOWN, "Not known yet")]
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _to_bool(value: str) -> bool | None:
    return {YES: True, NO: False}.get(value)


def _from_bool(value: bool | None) -> str:
    return {True: YES, False: NO}.get(value, UNKNOWN)


def _plain(amount: Decimal | None) -> Decimal | None:
    """12000.00 → 12000, so a pre-filled amount reads like what was typed."""
    if amount is not None and amount == amount.to_integral_value():
        return amount.quantize(Decimal(1))
    return amount


class LocalDateTimeField(forms.DateTimeField):
    """A datetime-local input, read in the user's time zone and kept within sane years.

    Near year 1 or 9999 a local time crosses the calendar's edge once converted to UTC, or
    when shown to a user in another zone: SQLite overflows on save, PostgreSQL stores year
    10000 and then cannot read the row back (every page showing the lead would fail).
    """

    MIN_YEAR, MAX_YEAR = 1900, 2999
    default_error_messages = {"out_of_range": "Enter a date between the years 1900 and 2999."}

    def to_python(self, value):
        result = super().to_python(value)
        if result is not None and not self.MIN_YEAR <= result.year <= self.MAX_YEAR:
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        return result


def tri_state(label: str, help_text: str = "") -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        help_text=help_text,
        choices=TRI_STATE,
        coerce=_to_bool,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )


# Answers carried from the previous call into the next one, for the rep to confirm or change.
CARRIED_OVER = [
    "problem",
    "problem_confirmed",
    "budget_status",
    "budget_amount",
    "budget_currency",
    "diy_alternative",
    "diy_cheaper",
    "decision_maker",
    "decision_maker_spoken_to",
    "timeline_status",
    "timeline_date",
]
TRI_STATE_FIELDS = ("problem_confirmed", "diy_cheaper", "decision_maker_spoken_to")


@quick_field_copies
class DiscoveryCallForm(forms.ModelForm):
    """The questions, in the order the rep asks them. Labels are the questions; help texts the hints."""

    problem_confirmed = tri_state(
        "Do they confirm they have this problem?",
        "Confirmed: they describe it as theirs, and not solving it costs them something.",
    )
    diy_cheaper = tri_state(
        "Would doing it themselves be cheaper for them?",
        "If it really is, say so: that is the helpful answer, and it builds trust.",
    )
    decision_maker_spoken_to = tri_state("Have we spoken with the person who decides?")
    budget_status = forms.ChoiceField(
        label="Have they set aside a budget for this?",
        choices=DiscoveryCall.Budget.choices,
        initial=DiscoveryCall.Budget.UNKNOWN,
        widget=forms.RadioSelect(attrs={"data-toggles": "budget"}),
        help_text="Ask for a range if they hesitate. “We don't know” is an answer: choose “not known yet”, never 0.",
    )
    timeline_status = forms.ChoiceField(
        label="When do they need it solved?",
        choices=DiscoveryCall.Timeline.choices,
        initial=DiscoveryCall.Timeline.UNKNOWN,
        widget=forms.RadioSelect(attrs={"data-toggles": "timeline"}),
        help_text="A date they are working towards (an event, a season, a deadline), not one we suggest.",
    )
    held_at = LocalDateTimeField(
        required=False,
        label="Call held at",
        help_text="Leave empty for now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    next_step_at = LocalDateTimeField(
        required=False,
        label="When?",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )

    class Meta:
        model = DiscoveryCall
        fields = [
            "changes_since_last",
            "problem",
            "problem_confirmed",
            "budget_status",
            "budget_amount",
            "budget_currency",
            "diy_alternative",
            "diy_cheaper",
            "decision_maker",
            "decision_maker_spoken_to",
            "timeline_status",
            "timeline_date",
            "next_step",
            "next_step_at",
            "held_at",
            "duration_minutes",
            "notes",
        ]
        labels = {
            "changes_since_last": "Has anything changed since the last call?",
            "problem": "What problem are they trying to solve? In their words.",
            "budget_amount": "Amount",
            "budget_currency": "Currency",
            "diy_alternative": "How would they solve it without us?",
            "decision_maker": "Who decides?",
            "timeline_date": "By when?",
            "next_step": "What next step did you agree on?",
            "duration_minutes": "Duration (minutes)",
            "notes": "Notes",
        }
        help_texts = {
            "changes_since_last": "Ask this first. Then go through the answers below and change what moved.",
            "problem": "Write what they say, not our product's words. Ask: what happens if nothing changes?",
            "diy_alternative": "A spreadsheet, an intern, a free tool, doing nothing… and what it costs them.",
            "decision_maker": "Name and role. Ask who else signs off.",
            "next_step": "Something both sides agreed to, e.g. “demo with their CFO”.",
        }
        widgets = {
            "changes_since_last": forms.Textarea(attrs={"rows": 2, "autofocus": True}),
            "problem": forms.Textarea(attrs={"rows": 3}),
            "diy_alternative": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 3}),
            "budget_amount": forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
            "timeline_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def __init__(self, *args, previous: DiscoveryCall | None, criteria: Criteria | None = None, **kwargs):
        initial = kwargs.pop("initial", {}) or {}
        if previous is not None:
            for name in CARRIED_OVER:
                value = getattr(previous, name)
                initial[name] = _from_bool(value) if name in TRI_STATE_FIELDS else value
            initial["budget_amount"] = _plain(previous.budget_amount)
        elif criteria is not None:
            # First call: offer the criteria's currency, so the minimum-budget rule can compare.
            currency = next((r.currency for r in criteria.rules if r.currency), "")
            initial.setdefault("budget_currency", currency)
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["budget_currency"].choices = [("", "—"), *CURRENCIES]
        self.fields["budget_amount"].localize = False
        if previous is None:
            del self.fields["changes_since_last"]
        else:
            self.fields["problem"].widget.attrs.pop("autofocus", None)
        self.carried_over = previous is not None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # A currency pre-selected for convenience means nothing without an amount.
        if data.get("budget_status") != DiscoveryCall.Budget.AMOUNT and data.get("budget_amount") is None:
            data["budget_currency"] = ""
        return data

    def _post_clean(self) -> None:
        # The service validates the whole call (DiscoveryCall.full_clean and its own rules);
        # building the instance here would check it twice with less helpful messages.
        pass

    def service_kwargs(self) -> dict[str, Any]:
        """The cleaned answers as call_record's keyword arguments."""
        return {name: self.cleaned_data.get(name) for name in self.Meta.fields if name in self.fields}


RULE_HELP = {
    Kind.PROBLEM_CONFIRMED: "They describe the problem as theirs.",
    Kind.BUDGET_KNOWN: "They named an amount (“no budget” and “not known yet” do not pass).",
    Kind.BUDGET_MIN: "A budget in this currency of at least this amount. Other currencies do not pass: "
    "we never convert, the rep asks for the figure in this currency.",
    Kind.NO_CHEAPER_DIY: "Doing it themselves would not be cheaper for them.",
    Kind.DECISION_MAKER_IDENTIFIED: "We know who decides.",
    Kind.DECISION_MAKER_SPOKEN_TO: "We have spoken with the person who decides.",
    Kind.TIMELINE_WITHIN: "They need it solved within this many days of the call.",
}
SMALL_INPUT = {"class": "form-control form-control-sm"}
SMALL_SELECT = {"class": "form-select form-select-sm"}


class RuleForm(forms.Form):
    """One row of the criteria editor: one rule kind, used or not."""

    REQUIRED, WEIGHTED = "required", "weighted"

    kind = forms.ChoiceField(choices=Kind.choices, widget=forms.HiddenInput)
    use = forms.BooleanField(required=False, label="Use", widget=forms.CheckboxInput({"class": "form-check-input"}))
    mode = forms.ChoiceField(
        choices=[(REQUIRED, "Required"), (WEIGHTED, "Weighted")],
        initial=REQUIRED,
        label="Counts as",
        widget=forms.Select(SMALL_SELECT),
    )
    points = forms.IntegerField(
        required=False, min_value=0, max_value=100, label="Points", widget=forms.NumberInput(SMALL_INPUT)
    )
    min_amount = forms.DecimalField(
        required=False,
        max_digits=12,
        decimal_places=2,
        label="Minimum",
        localize=False,
        widget=forms.NumberInput(SMALL_INPUT | {"step": "0.01"}),
    )
    currency = forms.ChoiceField(
        required=False, choices=[("", "—"), *CURRENCIES], label="Currency", widget=forms.Select(SMALL_SELECT)
    )
    max_days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, label="Days", widget=forms.NumberInput(SMALL_INPUT)
    )

    def clean(self) -> dict[str, Any]:
        # The rule's own checks (CriteriaRule.clean), here too so the row that is wrong is marked.
        data = super().clean()
        rule = self.as_rule() if not self.errors else None
        if rule is not None:
            try:
                CriteriaRule(**rule).clean()
            except forms.ValidationError as e:
                for field, messages in e.message_dict.items():
                    self.add_error(field if field in self.fields else None, messages)
        return data

    def kind_value(self) -> str:
        return str(self["kind"].value() or "")

    def kind_label(self) -> str:
        value = self.kind_value()
        return Kind(value).label if value in Kind.values else value

    def kind_help(self) -> str:
        return RULE_HELP.get(self.kind_value(), "")

    def as_rule(self) -> dict[str, Any] | None:
        data = self.cleaned_data
        if not data.get("use"):
            return None
        required = data["mode"] == self.REQUIRED
        return {
            "kind": data["kind"],
            "required": required,
            # Points belong to weighted rules; a required rule's stray points are dropped.
            "points": 0 if required else (data.get("points") or 0),
            "min_amount": data.get("min_amount"),
            "currency": data.get("currency") or "",
            "max_days": data.get("max_days"),
        }


class BaseRuleFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        kinds = [f.cleaned_data.get("kind") for f in self.forms]
        if sorted(kinds) != sorted(Kind.values):
            raise forms.ValidationError("The rule list was not understood; reload the page.")


RuleFormSet = forms.formset_factory(RuleForm, formset=BaseRuleFormSet, extra=0, max_num=len(Kind.values))


def rule_initial(criteria: Criteria | None, suggested: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per kind, filled from the current criteria (or the suggested ones if none)."""
    if criteria is not None:
        used = {
            r.kind: {
                "kind": r.kind,
                "required": r.required,
                "points": r.points,
                "min_amount": r.min_amount,
                "currency": r.currency,
                "max_days": r.max_days,
            }
            for r in criteria.rules
        }
    else:
        used = {r["kind"]: r for r in suggested}
    rows = []
    for kind in Kind.values:
        rule = used.get(kind)
        row = {"kind": kind, "use": rule is not None, "mode": RuleForm.REQUIRED, "points": None}
        if rule is not None:
            row |= {
                "mode": RuleForm.REQUIRED if rule["required"] else RuleForm.WEIGHTED,
                "points": rule.get("points") or None,
                "min_amount": _plain(rule.get("min_amount")),
                "currency": rule.get("currency") or "",
                "max_days": rule.get("max_days"),
            }
        rows.append(row)
    return rows


class CriteriaForm(forms.Form):
    threshold = forms.IntegerField(
        min_value=0,
        max_value=1000,
        label="Points needed",
        help_text="The passing weighted rules must add up to at least this. 0: only the required rules count.",
    )
    note = forms.CharField(required=False, max_length=500, label="What changed and why")
    # The version the editor started from: publishing over a newer one is refused.
    based_on = forms.IntegerField(min_value=0, widget=forms.HiddenInput)


class DisqualifyForm(forms.Form):
    prefix = "disqualify"  # shares the lead page with other forms that have a "reason"
    reason = forms.ModelChoiceField(
        queryset=DisqualificationReason.objects.none(), empty_label="Choose a reason…", label="Reason"
    )
    note = forms.CharField(
        required=False,
        max_length=1000,
        label="In a few words",
        help_text="Required for “other”. Kept in the history.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, reasons, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].queryset = reasons


class NurtureForm(forms.Form):
    prefix = "nurture"
    until = forms.DateField(
        label="Back in the queue on",
        help_text="The lead returns to its owner as a lead on the morning of this day.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    reason = forms.CharField(
        required=False, max_length=2000, label="Why not now", widget=forms.Textarea(attrs={"rows": 2})
    )

    # The hour, in the user's time zone, at which a recycled lead comes back.
    RECYCLE_HOUR = time(8, 0)

    def clean_until(self):
        day = self.cleaned_data["until"]
        if day <= timezone.localdate():
            raise forms.ValidationError("Pick a day after today.")
        return datetime.combine(day, self.RECYCLE_HOUR, tzinfo=timezone.get_current_timezone())


class HelpfulCloseForm(forms.Form):
    body = forms.CharField(
        max_length=10_000,
        label="Your reply",
        help_text="Edit it so it helps this person, send it from your mailbox, then mark it sent here.",
        widget=forms.Textarea(attrs={"rows": 12}),
    )


class ReasonForm(forms.ModelForm):
    class Meta:
        model = DisqualificationReason
        fields = [
            "label",
            "code",
            "helpful_close_template",
            "needs_text",
            "creates_helpful_close",
            "is_active",
            "position",
        ]
        widgets = {"helpful_close_template": forms.Textarea(attrs={"rows": 10})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Reports group by the code: it stays what it was.
            self.fields["code"].disabled = True
