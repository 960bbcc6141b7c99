"""Forms validate and convert only; followups.services applies the rules."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from leads.models import Activity

from .models import FollowUp, FollowUpPolicy, Kind
from .worktime import next_working_moment

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
# The activity a completed follow-up most likely was.
ACTIVITY_FOR_KIND = {Kind.CALL: Activity.Kind.CALL, Kind.EMAIL: Activity.Kind.EMAIL, Kind.TASK: Activity.Kind.NOTE}


class FollowUpAddForm(forms.ModelForm):
    due_at = forms.DateTimeField(label="When", widget=DATETIME_WIDGET)

    class Meta:
        model = FollowUp
        fields = ["due_at", "kind", "instruction", "agreed_with_lead"]
        labels = {"instruction": "What to do", "agreed_with_lead": "Agreed with the lead (“call me on the 12th”)"}
        widgets = {"instruction": forms.TextInput(attrs={"placeholder": "e.g. Call back about the quote"})}


class FollowUpCompleteForm(forms.Form):
    activity_kind = forms.ChoiceField(label="It was a", choices=Activity.Kind.choices)
    outcome = forms.CharField(label="What happened", max_length=500)
    occurred_at = forms.DateTimeField(
        label="When", required=False, help_text="Leave empty for now.", widget=DATETIME_WIDGET
    )
    next_due_at = forms.DateTimeField(label="Next step on", required=False, widget=DATETIME_WIDGET)
    next_kind = forms.ChoiceField(label="Next step is a", choices=Kind.choices, initial=Kind.CALL)
    next_instruction = forms.CharField(label="Next step", max_length=200, required=False)

    def clean(self):
        data = super().clean()
        if data.get("next_due_at") and not (data.get("next_instruction") or "").strip():
            self.add_error("next_instruction", "Say what the next step is.")
        if (data.get("next_instruction") or "").strip() and not data.get("next_due_at"):
            self.add_error("next_due_at", "Say when the next step is.")
        return data


SNOOZE_PRESETS = [("1h", "1 hour"), ("tomorrow", "Next working morning"), ("week", "1 week")]


class FollowUpSnoozeForm(forms.Form):
    """A preset ("1h", "tomorrow", "week") or a time; presets are read in the user's zone."""

    preset = forms.ChoiceField(choices=SNOOZE_PRESETS, required=False, widget=forms.HiddenInput)
    until = forms.DateTimeField(label="Remind me again at", required=False, widget=DATETIME_WIDGET)

    def __init__(self, *args, policy: FollowUpPolicy, now: datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy
        self.now = now or timezone.now()

    def clean(self):
        data = super().clean()
        preset = data.get("preset")
        if preset == "1h":
            data["until"] = self.now + timedelta(hours=1)
        elif preset == "week":
            data["until"] = self.now + timedelta(days=7)
        elif preset == "tomorrow":
            tz = timezone.get_current_timezone()
            midnight = timezone.localtime(self.now, tz).replace(hour=0, minute=0, second=0, microsecond=0)
            data["until"] = next_working_moment(midnight + timedelta(days=1), tz, self.policy.working_hours)
        if not data.get("until") and not self.has_error("until"):
            raise ValidationError({"until": "Pick when to be reminded again."})
        return data


class FollowUpRescheduleForm(forms.ModelForm):
    due_at = forms.DateTimeField(label="New time", widget=DATETIME_WIDGET)

    class Meta:
        model = FollowUp
        fields = ["due_at", "kind", "instruction"]
        labels = {"instruction": "What to do"}
