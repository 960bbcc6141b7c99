"""Forms validate and convert only. Choices come from lists the view already loaded, so
rendering and validating the filters cost no extra query."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms

from accounts.models import Team, User
from leads.models import LeadSource

from .selectors import DATE_CHANGED, DATE_RECEIVED, DashboardFilters

MAX_SPAN_DAYS = 3 * 366
MSG_DATES_ORDER = "The start date must not be after the end date."
MSG_SPAN = "Choose at most three years."


def _person(user: User) -> str:
    return user.get_full_name() or user.username


class DashboardFilterForm(forms.Form):
    date_field = forms.ChoiceField(
        choices=[(DATE_RECEIVED, "Received in"), (DATE_CHANGED, "Stage changed in")],
        required=False,
        label="Leads",
    )
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    team = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    rep = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    source = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(
        self,
        *args,
        teams: list[Team],
        reps: list[User],
        sources: list[LeadSource],
        today: date,
        all_teams: bool,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.today = today
        default = DashboardFilters.default(today=today)
        self.fields["date_from"].initial = default.date_from
        self.fields["date_to"].initial = default.date_to
        self.fields["team"].choices = [("", "All teams" if all_teams else "All my teams")] + [
            (t.pk, t.name) for t in teams
        ]
        self.fields["rep"].choices = [("", "Everyone")] + [(u.pk, _person(u)) for u in reps]
        self.fields["source"].choices = [("", "All sources")] + [(s.pk, s.name) for s in sources]
        for f in self.fields.values():
            f.widget.attrs.setdefault("class", "form-select form-select-sm")
        for name in ("date_from", "date_to"):
            self.fields[name].widget.attrs["class"] = "form-control form-control-sm"

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        default = DashboardFilters.default(today=self.today)
        start = start or (end - timedelta(days=89) if end else default.date_from)
        end = end or max(start, default.date_to)
        if start > end:
            self.add_error("date_from", MSG_DATES_ORDER)
        elif (end - start).days > MAX_SPAN_DAYS:
            self.add_error("date_from", MSG_SPAN)
        data["date_from"], data["date_to"] = start, end
        return data

    def to_filters(self) -> DashboardFilters:
        """The filters asked for, or the defaults when the form is unbound or invalid."""
        if not self.is_bound or not self.is_valid():
            return DashboardFilters.default(today=self.today)
        data = self.cleaned_data
        return DashboardFilters(
            date_from=data["date_from"],
            date_to=data["date_to"],
            date_field=data["date_field"] or DATE_RECEIVED,
            team_id=data["team"],
            owner_id=data["rep"],
            source_id=data["source"],
        )


class BulkReassignForm(forms.Form):
    leads = forms.TypedMultipleChoiceField(coerce=int, label="Leads")
    owner = forms.TypedChoiceField(coerce=int, label="Give the selected leads to")
    reason = forms.CharField(required=False, max_length=500, label="Reason")

    MAX_LEADS = 200

    def __init__(self, *args, lead_ids: list[int], reps: list[User], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["leads"].choices = [(pk, pk) for pk in lead_ids]
        self.fields["owner"].choices = [("", "— choose —")] + [(u.pk, _person(u)) for u in reps]
        self.fields["owner"].widget.attrs["class"] = "form-select form-select-sm"
        self.fields["reason"].widget.attrs.update(
            {"class": "form-control form-control-sm", "placeholder": "e.g. Ana is away"}
        )

    def clean_leads(self):
        leads = self.cleaned_data["leads"]
        if len(leads) > self.MAX_LEADS:
            raise forms.ValidationError(f"Reassign at most {self.MAX_LEADS} leads at once.")
        return leads
