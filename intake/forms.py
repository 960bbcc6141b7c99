"""Forms validate and convert only; intake.services and leads.services apply the rules."""

from __future__ import annotations

from django import forms

from leads.models import LeadSource

from .models import WebForm
from .services import IMPORT_FIELDS, import_teams_for

HONEYPOT = "lf_hp"
TOKEN = "lf_t"


class PublicLeadForm(forms.Form):
    """The public form, built from a WebForm's settings (which fields are shown, which required)."""

    name = forms.CharField(max_length=200, label="Your name", widget=forms.TextInput(attrs={"autocomplete": "name"}))

    def __init__(self, *args, webform: WebForm, **kwargs):
        super().__init__(*args, **kwargs)
        self.webform = webform
        optional = {
            "email": forms.EmailField(
                max_length=254, label="Email", widget=forms.EmailInput(attrs={"autocomplete": "email"})
            ),
            "phone": forms.CharField(
                max_length=32,
                label="Phone",
                widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
                help_text="With the country code if you are abroad, e.g. +44 20 7946 0958.",
            ),
            "company": forms.CharField(
                max_length=200, label="Company", widget=forms.TextInput(attrs={"autocomplete": "organization"})
            ),
            "job_title": forms.CharField(
                max_length=200, label="Job title", widget=forms.TextInput(attrs={"autocomplete": "organization-title"})
            ),
            "message": forms.CharField(
                max_length=5000, label="How can we help?", widget=forms.Textarea(attrs={"rows": 4})
            ),
        }
        for name, field in optional.items():
            mode = webform.mode(name)
            if mode == WebForm.FieldMode.HIDDEN:
                continue
            field.required = mode == WebForm.FieldMode.REQUIRED
            self.fields[name] = field

    def clean(self):
        data = super().clean()
        if "email" in self.fields and "phone" in self.fields and not self.errors:
            if not data.get("email") and not data.get("phone"):
                raise forms.ValidationError("Give an email address or a phone number, so we can answer you.")
        return data

    def lead_data(self) -> dict[str, str]:
        """The cleaned values under the Lead field names lead_intake takes."""
        data = self.cleaned_data
        return {lead_field: data.get(field, "") or "" for field, lead_field in WebForm.FIELDS.items()} | {
            "name": data["name"]
        }


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 or Latin-1, comma or semicolon separated, first row = column names.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    source = forms.ModelChoiceField(queryset=LeadSource.objects.filter(is_active=True), label="Source of these leads")
    team = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        teams = import_teams_for(user)
        self.fields["team"].queryset = teams
        if len(teams) == 1:
            self.fields["team"].widget = forms.HiddenInput()
            self.fields["team"].initial = teams[0]


class ImportMappingForm(forms.Form):
    """One choice per column of the file: which lead field it fills (or none)."""

    def __init__(self, *args, headers: list[str], mapping: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "— ignore —"), *IMPORT_FIELDS.items()]
        for index, header in enumerate(headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                choices=choices,
                required=False,
                label=header or f"Column {index + 1}",
                initial=mapping.get(str(index), ""),
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )

    def mapping(self) -> dict[str, str]:
        return {name.removeprefix("col_"): value for name, value in self.cleaned_data.items() if value}
