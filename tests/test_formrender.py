"""leadflow.formrender writes the very HTML of crispy's bootstrap5 field template and of Django's
widget templates: compared here byte for byte with the templates themselves, field by field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field
from django import forms
from django.forms.renderers import DjangoTemplates
from django.template import Context, Template
from django.utils.safestring import mark_safe

from leadflow.formrender import WidgetRenderer, _is_ours, crispy_field, fixed_choices
from leads.forms import ActivityForm
from qualification.forms import DiscoveryCallForm, DisqualifyForm, NurtureForm
from qualification.models import DisqualificationReason
from tests.factories import make_call


class Everything(forms.Form):
    """Widgets and states our own forms do not all have: groups, numbers, safe values, no label."""

    required_css_class = "req"
    error_css_class = "err"

    title = forms.CharField(max_length=20, help_text="<em>Safe</em> help", initial=mark_safe("<b>already safe</b>"))
    email = forms.EmailField(
        required=False, label="E-mail & co", widget=forms.EmailInput(attrs={"placeholder": '"quoted"'})
    )
    count = forms.IntegerField(min_value=0, initial=12000, localize=True)
    ratio = forms.DecimalField(required=False, initial="1.50")
    grouped = forms.ChoiceField(
        choices=[("", "—"), ("Europe", [("fr", "France"), ("de", "Germany")]), ("us", "USA <&>")], required=False
    )
    numbers = forms.TypedChoiceField(choices=[(1, "One"), (2, "Two")], coerce=int, initial=2)
    several = forms.MultipleChoiceField(choices=[("a", "A"), ("b", "B")], initial=["b"], required=False)
    when = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date", "disabled": True}))
    radios = forms.ChoiceField(
        choices=[("x", "X"), ("Group", [("y", "Y"), ("z", "Z")])], widget=forms.RadioSelect, required=False
    )
    unlabelled = forms.CharField(label="", required=False, widget=forms.Textarea(attrs={"rows": 2, "autofocus": True}))
    secret = forms.CharField(widget=forms.PasswordInput(render_value=True), initial="s3cret", required=False)
    # Not ours: crispy draws them (and our filter hands them over).
    agree = forms.BooleanField(required=False)
    hidden = forms.CharField(widget=forms.HiddenInput, initial="h")
    upload = forms.FileField(required=False)
    ticks = forms.MultipleChoiceField(choices=[("a", "A")], widget=forms.CheckboxSelectMultiple, required=False)
    split = forms.SplitDateTimeField(required=False)


BAD_EVERYTHING = {
    "title": "x" * 30,
    "email": "not <an> email",
    "count": "-4",
    "ratio": "abc",
    "grouped": "zz",
    "numbers": "3",
    "several": ["c"],
    "radios": "q",
    "agree": "on",
    "split_0": "bad",
}


def _forms(db_reasons=None):
    """(name, factory) pairs: each factory gives a fresh form, so both renderings start equal."""

    def bound(cls, data, **kw):
        def make():
            form = cls(data, **kw)
            form.is_valid()
            return form

        return make

    out = [
        ("everything", lambda: Everything()),
        ("everything, errors", bound(Everything, BAD_EVERYTHING)),
        ("everything, no ids", lambda: Everything(auto_id=False)),
        ("call, first", lambda: DiscoveryCallForm(previous=None)),
        (
            "call, errors",
            bound(
                DiscoveryCallForm,
                {
                    "budget_status": "bogus",
                    "problem_confirmed": "maybe",
                    "held_at": "x",
                    "problem": "a<b>&'\"",
                    "budget_currency": "XXX",
                    "duration_minutes": "-3",
                    "next_step": "x" * 600,
                },
                previous=None,
            ),
        ),
        ("activity", lambda: ActivityForm()),
        ("activity, errors", bound(ActivityForm, {"kind": "zzz", "outcome": "", "occurred_at": "2020-01-01T10:00"})),
        ("nurture", lambda: NurtureForm()),
        ("nurture, errors", bound(NurtureForm, {"until": "nope", "reason": "<b>"})),
    ]
    if db_reasons is not None:
        out += [
            ("disqualify", lambda: DisqualifyForm(reasons=db_reasons)),
            ("disqualify, errors", bound(DisqualifyForm, {"disqualify-reason": "999999"}, reasons=db_reasons)),
        ]
    return out


def _assert_crispy_same(name, make):
    crispy_form, our_form = make(), make()
    for field in crispy_form.fields:
        expected = str(as_crispy_field(crispy_form[field]))
        got = str(crispy_field(our_form[field]))
        assert got == expected, f"{name}: field {field!r} differs"


@pytest.mark.parametrize(("name", "make"), _forms())
def test_a_field_is_drawn_as_crispy_draws_it(name, make):
    _assert_crispy_same(name, make)


@pytest.mark.django_db
def test_the_disqualify_form_and_a_call_carried_over_are_drawn_as_crispy_draws_them(lead, rep):
    reasons = DisqualificationReason.objects.all()
    for name, make in _forms(reasons)[-2:]:
        _assert_crispy_same(name, make)
    previous = make_call(
        lead=lead,
        by=rep,
        problem="Sticky <notes>",
        budget_status="amount",
        budget_amount=Decimal("1200.00"),
        budget_currency="EUR",
    )
    _assert_crispy_same("call, carried over", lambda: DiscoveryCallForm(previous=previous))


def test_it_draws_itself_only_what_it_knows():
    form = Everything()
    ours = {name for name in form.fields if _is_ours(form[name])}
    assert ours == {
        "title",
        "email",
        "count",
        "ratio",
        "grouped",
        "numbers",
        "several",
        "when",
        "radios",
        "unlabelled",
        "secret",
    }


@pytest.mark.parametrize(("name", "make"), _forms())
def test_every_widget_is_written_as_its_template_writes_it(name, make):
    templates, python = make(), make()
    templates.renderer, python.renderer = DjangoTemplates(), WidgetRenderer()
    for field in templates.fields:
        assert str(python[field]) == str(templates[field]), f"{name}: widget of {field!r} differs"


def test_it_is_the_renderer_of_every_form(settings):
    assert settings.FORM_RENDERER == "leadflow.formrender.WidgetRenderer"
    assert isinstance(Everything().renderer, WidgetRenderer)


def test_the_filter_is_the_templates_way_in():
    html = Template("{% load leads_extras %}{{ form.title|as_field }}").render(Context({"form": Everything()}))
    assert html == str(as_crispy_field(Everything()["title"]))


def test_fixed_choices_validate_and_draw_as_the_list_does_without_being_copied_per_form():
    choices = [("", "—"), ("Europe", [("fr", "France"), ("de", "Germany")]), ("us", "USA <&>")]

    def form_class(given):
        class Pick(forms.Form):
            plain = forms.ChoiceField(choices=given, required=False)
            radios = forms.TypedChoiceField(choices=given, coerce=str, widget=forms.RadioSelect, required=False)

        return Pick

    listed, fixed = form_class(choices), form_class(fixed_choices(choices))
    for data in [None, {"plain": "fr", "radios": "us"}, {"plain": "xx", "radios": "Europe"}]:
        a, b = listed(data), fixed(data)
        if data is not None:
            assert a.is_valid() == b.is_valid() and a.errors == b.errors
        for name in ["plain", "radios"]:
            assert str(b[name]) == str(a[name])
            assert crispy_field(b[name]) == crispy_field(a[name])
    # Each form's copy of the field shares the one function: nothing was copied or normalised.
    assert fixed().fields["plain"].choices.func is fixed.base_fields["plain"].choices.func


# --- quick_field_copies: the same copies as copy.deepcopy -----------------------------------------


def _project_forms() -> list[type[forms.BaseForm]]:
    import importlib

    for module in (
        "accounts.forms",
        "dashboard.forms",
        "followups.forms",
        "intake.forms",
        "leads.forms",
        "qualification.forms",
    ):
        importlib.import_module(module)
    found, todo = [], [forms.BaseForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.split(".")[0] in {
                "accounts",
                "dashboard",
                "followups",
                "intake",
                "leads",
                "qualification",
            }:
                found.append(sub)
    return found


def _same_copy(original, deep, quick, where: str) -> None:
    """`quick` copies what `deep` copies and shares what `deep` shares, with equal values."""
    assert type(quick) is type(deep), where
    assert quick is not original, where
    assert set(vars(quick)) == set(vars(deep)), where
    for name, value in vars(deep).items():
        mine, theirs = vars(quick)[name], vars(original)[name]
        here = f"{where}.{name}"
        assert (mine is theirs) == (value is theirs), f"{here}: copied by one and shared by the other"
        if name == "widget":
            _same_copy(theirs, value, mine, here)
        elif hasattr(value, "query"):  # a model choice field's queryset
            assert mine.model is value.model and mine.query is not value.query, here
            assert mine.query.is_empty() == value.query.is_empty(), here
            assert mine.query.is_empty() or str(mine.query) == str(value.query), here
        elif isinstance(value, (list, tuple, dict, str, int, float, bool, type(None))):
            assert mine == value, here
        else:  # a function (fixed choices), a choice iterator (compared without reading it)
            assert type(mine) is type(value), here
            assert vars(mine).keys() == vars(value).keys() if hasattr(value, "__dict__") else mine is value, here


def test_quick_field_copies_copy_every_field_as_deepcopy_does():
    import copy

    from leadflow.formrender import _field_copy

    checked = 0
    for form_class in _project_forms():
        for name, field in form_class.base_fields.items():
            _same_copy(field, copy.deepcopy(field), _field_copy(field), f"{form_class.__name__}.{name}")
            checked += 1
    assert checked > 50


@pytest.mark.django_db
def test_quick_field_copies_are_used_by_the_busy_forms_and_independent():
    from leads.forms import LeadFilterForm

    for form_class in (LeadFilterForm, DiscoveryCallForm):
        assert type(form_class.base_fields).__name__ == "_QuickCopyFields"
    admin = _admin()
    a, b = LeadFilterForm(user=admin), LeadFilterForm(user=admin)
    a.fields["q"].widget.attrs["placeholder"] = "changed on one form only"
    a.fields["stage"].error_messages["invalid_choice"] = "changed"
    assert "placeholder" not in b.fields["q"].widget.attrs
    assert "placeholder" not in LeadFilterForm.base_fields["q"].widget.attrs
    assert b.fields["stage"].error_messages["invalid_choice"] != "changed"
    assert a.fields["q"] is not b.fields["q"] is not LeadFilterForm.base_fields["q"]


def _admin():
    from accounts import roles
    from tests.factories import make_user

    return make_user(role=roles.ADMIN)
