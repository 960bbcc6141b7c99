"""Forms validate and convert only; the services apply the rules."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.forms.models import ModelChoiceIterator
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from accounts.models import Team, User
from dashboard.drill import DRILL_CHOICES, NEEDS_GRACE, DrillWindow, drill_grace, drill_q
from leadflow import precompiled
from leadflow.formrender import fixed_choices, quick_field_copies

from .models import Activity, Lead, LeadSource
from .normalize import normalize_email, normalize_phone
from .selectors import (
    RESPONSE_CHOICES,
    STAGE_FILTER_ALL,
    STAGE_FILTER_OPEN,
    LeadFilters,
    day_end,
    day_start,
)

CONTACT_FIELDS = ["name", "email", "phone", "company", "title", "source", "referred_by", "notes"]


class LeadForm(forms.ModelForm):
    """New and edit lead. On create, managers and admins also pick the team and the owner."""

    confirm_duplicate = forms.BooleanField(
        required=False, label="Yes, create it anyway — this is a different person or a new inquiry"
    )

    class Meta:
        model = Lead
        fields = CONTACT_FIELDS
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 3}),
            "name": forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
            "email": forms.EmailInput(attrs={"autocomplete": "off"}),
            "phone": forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
        }
        help_texts = {"phone": "With country code if not local, e.g. +44 20 7946 0958."}

    def __init__(self, *args, user: User, creating: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        sources = LeadSource.objects.filter(is_active=True)
        if self.instance.pk:  # keep a retired source selectable on leads that already have it
            sources = LeadSource.objects.filter(Q(is_active=True) | Q(pk=self.instance.source_id))
        self.fields["source"].queryset = sources
        self.fields["email"].required = False
        if not creating:
            del self.fields["confirm_duplicate"]
            return
        teams = _teams_user_can_file_into(user)
        self.fields["team"] = forms.ModelChoiceField(queryset=teams, empty_label=None)
        if user.has_perm("leads.reassign_lead"):
            self.fields["owner"] = forms.ModelChoiceField(
                queryset=User.objects.filter(
                    Q(memberships__team__in=teams) | Q(managed_teams__in=teams), is_active=True
                ).distinct(),
                required=False,
                help_text="Leave empty to keep the lead yourself.",
            )
        # "Log a referral from this person": the referring lead, among those the user can see.
        self.fields["referred_by_lead"] = forms.ModelChoiceField(
            queryset=Lead.objects.visible_to(user), required=False, widget=forms.HiddenInput
        )
        self.order_fields(["name", "email", "phone", "company", "title", "source", "referred_by", "team", "owner"])
        if teams.count() == 1:
            self.fields["team"].widget = forms.HiddenInput()
            self.fields["team"].initial = teams.first()

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])

    def clean_phone(self) -> str:
        return normalize_phone(self.cleaned_data["phone"])

    def clean(self):
        data = super().clean()
        if (
            not data.get("email")
            and not data.get("phone")
            and not self.has_error("email")
            and not self.has_error("phone")
        ):
            raise ValidationError("Give an email or a phone number, so the lead can be reached.")
        return data


def _teams_user_can_file_into(user: User):
    if user.has_perm("leads.view_all_leads"):
        return Team.objects.all()
    return Team.objects.filter(Q(memberships__user=user) | Q(manager=user)).distinct()


class _ReadOnceIterator(ModelChoiceIterator):
    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.field.objects:
            yield self.choice(obj)

    def __len__(self) -> int:
        return len(self.field.objects) + (self.field.empty_label is not None)

    def __bool__(self) -> bool:
        return self.field.empty_label is not None or bool(self.field.objects)


class QuickSelect(forms.Select):
    """A <select> written in Python, with the markup of Django's widget templates: the list
    page's filter bar renders every source and person as an option on each view, and the
    templates render one template per option (~40 µs each). Option groups and multiple
    selection go to Django's own rendering."""

    def render(self, name, value, attrs=None, renderer=None):
        if self.allow_multiple_selected:
            return super().render(name, value, attrs, renderer)
        chosen = self.format_value(value)
        options, has_selected = [], False
        for option_value, label in self.choices:
            if isinstance(label, list | tuple):
                return super().render(name, value, attrs, renderer)
            option_value = "" if option_value is None else str(option_value)
            selected = not has_selected and option_value in chosen
            has_selected |= selected
            options.append(
                f'\n  <option value="{escape(option_value)}"{" selected" if selected else ""}>{escape(label)}</option>\n'
            )
        attrs = flatatt(self.build_attrs(self.attrs, attrs))
        return mark_safe(f'<select name="{escape(name)}"{attrs}>{"".join(options)}\n</select>')


class ReadOnceModelChoiceField(forms.ModelChoiceField):
    """A ModelChoiceField for short lists (sources, a team's people) that reads them once per
    form: rendering the options and validating the submitted one share that query, where
    ModelChoiceField runs one each. Lists pages pin their query counts."""

    iterator = _ReadOnceIterator
    _objects: list | None = None
    _shape: tuple | None = None  # (key, build, values): see read_from

    def _get_queryset(self):
        if self._queryset is None and self._shape is not None:
            key, build, values = self._shape
            self._queryset = build(*values)
        return self._queryset

    def _set_queryset(self, queryset):
        super()._set_queryset(queryset)
        self._objects = None
        self._shape = None

    queryset = property(_get_queryset, _set_queryset)

    def read_from(self, key: Hashable, build: Callable[..., QuerySet], *values) -> None:
        """Choices from `build(*values)`, read with SQL compiled once per `key`
        (leadflow.precompiled): building and compiling the filter bar's two lists was a tenth
        of the list page's CPU. The queryset itself is built only if something asks for it."""
        self._queryset, self._objects, self._shape = None, None, (key, build, values)

    @property
    def objects(self) -> list:
        if self._objects is None:
            if self._shape is not None and self._queryset is None:
                key, build, values = self._shape
                self._objects = precompiled.fetch(key, build, *values)
            else:
                self._objects = list(self.queryset)
        return self._objects

    def to_python(self, value):
        if value in self.empty_values:
            return None
        key = self.to_field_name or "pk"
        for obj in self.objects:
            if str(getattr(obj, key)) == str(value):
                return obj
        raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value})


# What an owner option shows: its value and User.__str__.
OWNER_CHOICE_COLUMNS = ("id", *User.NAME_FIELDS)


def _active_users() -> QuerySet[User]:
    return User.objects.filter(is_active=True).only(*OWNER_CHOICE_COLUMNS)


def _owners_of_teams_managed_by(user_id: int) -> QuerySet[User]:
    """The people a manager's list can be filtered by: their teams' members, and themselves."""
    return (
        User.objects.filter(Q(memberships__team__manager_id=user_id) | Q(pk=user_id), is_active=True)
        .only(*OWNER_CHOICE_COLUMNS)
        .distinct()
    )


@quick_field_copies
class LeadFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    # Fixed choices, given here rather than in __init__ (each assignment normalises them again),
    # as functions (fixed_choices: the list is not copied with the form's fields on every view).
    stage = forms.ChoiceField(
        required=False,
        choices=fixed_choices(
            [(STAGE_FILTER_OPEN, "Open (lead + prospect)"), *Lead.Stage.choices, (STAGE_FILTER_ALL, "All stages")]
        ),
    )
    source = ReadOnceModelChoiceField(
        queryset=LeadSource.objects.all(),
        required=False,
        empty_label="All sources",
        widget=QuickSelect(attrs={"class": "form-select"}),
    )
    owner = ReadOnceModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="Everyone",
        widget=QuickSelect(attrs={"class": "form-select"}),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].read_from("leads.filter_sources", LeadSource.objects.all)
        if user.has_perm("leads.view_all_leads"):
            self.fields["owner"].read_from("leads.filter_owners.all", _active_users)
        elif user.has_perm("leads.view_team_leads"):
            self.fields["owner"].read_from("leads.filter_owners.teams", _owners_of_teams_managed_by, user.pk)
        else:
            del self.fields["owner"]
        if user.has_perm("leads.view_all_leads"):
            self.fields["team"].queryset = Team.objects.all()
        elif user.has_perm("leads.view_team_leads"):
            self.fields["team"].queryset = Team.objects.filter(manager=user)
        else:
            del self.fields["team"]

    # Drill-down filters: the dashboard links to the list with these; the page shows them as a
    # summary line rather than as inputs.
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)
    unassigned = forms.BooleanField(required=False)
    received_from = forms.DateField(required=False)
    received_to = forms.DateField(required=False)
    changed_from = forms.DateField(required=False)
    changed_to = forms.DateField(required=False)
    reached = forms.ChoiceField(required=False, choices=fixed_choices([("", "—"), *Lead.Stage.choices]))
    contacted = forms.NullBooleanField(required=False)
    contacted_within = forms.IntegerField(
        required=False, min_value=0, max_value=525_600, label="Contacted within (min)"
    )
    response = forms.ChoiceField(required=False, choices=fixed_choices([("", "—"), *RESPONSE_CHOICES]))
    idle_days = forms.IntegerField(required=False, min_value=0, max_value=3650)
    # Compared as given with disqualification_reason_key() (the dashboard links with its value).
    dq_reason = forms.CharField(required=False, max_length=2000, strip=False, label="Disqualified for")
    # The follow-up discipline and qualification panels (dashboard.drill): a condition and its range.
    drill = forms.ChoiceField(required=False, choices=fixed_choices([("", "—"), *DRILL_CHOICES]), label="Which")
    drill_from = forms.DateField(required=False, label="From")
    drill_to = forms.DateField(required=False, label="To")

    DRILL_FIELDS = (
        "team",
        "unassigned",
        "received_from",
        "received_to",
        "changed_from",
        "changed_to",
        "reached",
        "contacted",
        "contacted_within",
        "response",
        "idle_days",
        "dq_reason",
        "drill",
        "drill_from",
        "drill_to",
    )

    def to_filters(self) -> LeadFilters:
        """The cleaned filters (call after is_valid()). Dates are whole days in the user's zone."""
        data = self.cleaned_data
        team = data.get("team")
        return LeadFilters(
            q=data["q"],
            stage=data["stage"] or STAGE_FILTER_OPEN,
            source_id=data["source"].pk if data["source"] else None,
            owner_id=data["owner"].pk if data.get("owner") else None,
            team_id=team.pk if team else None,
            unassigned=data["unassigned"],
            received_from=day_start(data["received_from"]) if data["received_from"] else None,
            received_to=day_end(data["received_to"]) if data["received_to"] else None,
            changed_from=day_start(data["changed_from"]) if data["changed_from"] else None,
            changed_to=day_end(data["changed_to"]) if data["changed_to"] else None,
            reached=data["reached"],
            contacted=data["contacted"],
            contacted_within=data["contacted_within"],
            response=data["response"],
            idle_days=data["idle_days"],
            dq_reason=data["dq_reason"],
            extra=self._drill_conditions(),
        )

    def _drill_conditions(self) -> tuple[Q, ...]:
        data = self.cleaned_data
        if not data.get("drill"):
            return ()
        code = data["drill"]
        window = DrillWindow(
            since=day_start(data["drill_from"]) if data.get("drill_from") else None,
            until=day_end(data["drill_to"]) if data.get("drill_to") else None,
            now=timezone.now(),
            grace=drill_grace() if code in NEEDS_GRACE else timedelta(0),
        )
        return (drill_q(code, window),)

    def drill_summary(self) -> list[tuple[str, str]]:
        """(label, value) of the drill-down filters in use, for the line above the list."""
        if not self.is_bound or not self.is_valid():
            return []
        out = []
        for name in self.DRILL_FIELDS:
            value = self.cleaned_data.get(name)
            if value is None or value == "" or (name == "unassigned" and not value):
                continue
            field = self.fields[name]
            if isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField):
                value = dict(field.choices).get(value, value)
            elif isinstance(value, bool):
                value = "yes" if value else "no"
            out.append((field.label or name.replace("_", " ").capitalize(), str(value)))
        return out


class StageChangeForm(forms.Form):
    to_stage = forms.ChoiceField(choices=Lead.Stage.choices, widget=forms.HiddenInput)
    reason = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    # Lead → prospect: a manager passes the gate without a passing call (with a reason).
    override = forms.BooleanField(required=False)
    # The criteria version whose checklist the user saw; the view refuses the move if it changed.
    criteria_version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class ActivityForm(forms.ModelForm):
    # A call is what reps log most; no empty choice to trip over.
    kind = forms.ChoiceField(choices=Activity.Kind.choices, initial=Activity.Kind.CALL)
    occurred_at = forms.DateTimeField(
        required=False,
        label="When",
        help_text="Leave empty for now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    class Meta:
        model = Activity
        fields = ["kind", "outcome", "occurred_at"]
        labels = {"outcome": "What happened"}
        widgets = {"outcome": forms.TextInput(attrs={"placeholder": "e.g. Left a voicemail"})}


class ReassignForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=User.objects.none(), empty_label=None, label="New owner")
    reason = forms.CharField(required=False, max_length=500)

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = members


def add_service_errors(form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: on its field when the form has it."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


class MergeForm(forms.Form):
    """One choice per field: keep the survivor's value or take the merged lead's."""

    def __init__(self, *args, survivor: Lead, merged: Lead, **kwargs):
        super().__init__(*args, **kwargs)
        from .services import MERGE_FIELDS

        self.survivor, self.merged = survivor, merged
        for name in MERGE_FIELDS:
            mine, theirs = _display(survivor, name), _display(merged, name)
            self.fields[name] = forms.ChoiceField(
                choices=[("survivor", mine or "(empty)"), ("merged", theirs or "(empty)")],
                widget=forms.RadioSelect,
                initial="merged" if not mine and theirs else "survivor",
                label=Lead._meta.get_field(name).verbose_name.capitalize(),
            )

    def rows(self) -> list[tuple]:
        """(label, bound field, survivor value, merged value, same?) for the side-by-side table."""
        rows = []
        for name in self.fields:
            mine, theirs = _display(self.survivor, name), _display(self.merged, name)
            rows.append((self.fields[name].label, self[name], mine, theirs, mine == theirs))
        return rows


def _display(lead: Lead, name: str) -> str:
    value = getattr(lead, name)
    return "" if value is None else str(value)
