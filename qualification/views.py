from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.formats import date_format

from leads.forms import add_service_errors
from leads.models import Lead
from leads.selectors import lead_visible

from . import selectors, services
from .defaults import SUGGESTED_THRESHOLD, suggested_rules
from .evaluation import criteria_snapshot, evaluate
from .forms import (
    CriteriaForm,
    DiscoveryCallForm,
    DisqualifyForm,
    HelpfulCloseForm,
    NurtureForm,
    ReasonForm,
    RuleFormSet,
    rule_initial,
)
from .models import DisqualificationReason

# What these pages show of a lead besides itself.
LEAD_RELATED = ("source", "owner", "team")


def _get_lead_for_user(request: HttpRequest, pk: int) -> Lead:
    """The lead if the user may see (and so work on) it; 404 otherwise, so nothing leaks."""
    return get_object_or_404(Lead.objects.visible_to(request.user).select_related(*LEAD_RELATED), pk=pk)


def _require_perm(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _bound(request: HttpRequest):
    return request.POST if request.method == "POST" else None


# --- Discovery calls ---------------------------------------------------------------------------


@login_required
def call_new(request: HttpRequest, pk: int) -> HttpResponse:
    _require_perm(request, "qualification.add_discoverycall")
    # The id of the criteria in force comes with the lead; their rules from the process's copy.
    lead = lead_visible(
        key="qualification.call",
        user=request.user,
        pk=pk,
        related=LEAD_RELATED,
        columns=lambda: {"current_criteria_id": selectors.criteria_current_id()},
    )
    if lead is None:
        raise Http404
    previous = selectors.call_latest(lead=lead)
    criteria = selectors.criteria_of_version(lead.current_criteria_id)
    form = DiscoveryCallForm(_bound(request), previous=previous, criteria=criteria)
    if request.method == "POST" and form.is_valid():
        try:
            call = services.call_record(lead=lead, by=request.user, **form.service_kwargs())
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            verdict = ""
            if criteria is not None:
                verdict = " " + evaluate(call, criteria).summary()
            messages.success(request, f"Discovery call saved.{verdict}")
            return redirect(lead)
    ctx = {
        "lead": lead,
        "form": form,
        "previous": previous,
        "criteria": criteria,
        # What is still missing, judged on the last call: the rep's agenda for this one.
        "previous_evaluation": evaluate(previous, criteria) if previous and criteria else None,
    }
    return render(request, "qualification/call_form.html", ctx, status=400 if form.is_bound else 200)


# --- Disqualify and nurture ----------------------------------------------------------------------


@login_required
def disqualify(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _get_lead_for_user(request, pk)
    form = DisqualifyForm(_bound(request), reasons=selectors.reasons_active())
    if request.method == "POST" and form.is_valid():
        try:
            close = services.lead_disqualify(
                lead=lead, by=request.user, reason=form.cleaned_data["reason"], note=form.cleaned_data["note"]
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            if close is None:
                messages.success(request, f"{lead.name} is disqualified.")
                return redirect(lead)
            messages.success(request, f"{lead.name} is disqualified. Now send them something useful:")
            return redirect("qualification:helpful_close", pk=close.pk)
    reasons = list(form.fields["reason"].queryset)
    ctx = {"lead": lead, "form": form, "reasons": reasons}
    return render(request, "qualification/disqualify.html", ctx, status=400 if form.is_bound else 200)


@login_required
def nurture(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _get_lead_for_user(request, pk)
    form = NurtureForm(_bound(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_nurture(
                lead=lead, by=request.user, until=form.cleaned_data["until"], reason=form.cleaned_data["reason"]
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            day = date_format(form.cleaned_data["until"].date(), "D j M Y")
            messages.success(request, f"{lead.name} is in nurture until {day}.")
            return redirect(lead)
    return render(
        request, "qualification/nurture.html", {"lead": lead, "form": form}, status=400 if form.is_bound else 200
    )


# --- Helpful closes --------------------------------------------------------------------------------


@login_required
def helpful_close(request: HttpRequest, pk: int) -> HttpResponse:
    close = selectors.helpful_close_for_user(user=request.user, pk=pk)
    if close is None:
        raise Http404
    form = HelpfulCloseForm(_bound(request), initial={"body": close.body})
    if request.method == "POST":
        _require_perm(request, "qualification.change_helpfulclose")
        if form.is_valid():
            try:
                services.helpful_close_mark_sent(close=close, by=request.user, body=form.cleaned_data["body"])
            except ValidationError as e:
                add_service_errors(form, e)
            else:
                messages.success(request, f"Helpful reply to {close.lead.name} marked as sent. Thank you.")
                return redirect(close.lead)
    return render(
        request,
        "qualification/helpful_close.html",
        {"close": close, "lead": close.lead, "form": form},
        status=400 if form.is_bound else 200,
    )


# --- Settings (admins) -----------------------------------------------------------------------------


@login_required
def criteria_settings(request: HttpRequest) -> HttpResponse:
    _require_perm(request, "qualification.add_criteriaversion")
    versions = selectors.criteria_versions()
    current = next((v for v in versions if v.is_current), None)
    current_criteria = criteria_snapshot(current, current.rules.all()) if current else None
    initial_rules = rule_initial(current_criteria, suggested_rules())
    if request.method == "POST":
        form = CriteriaForm(request.POST)
        formset = RuleFormSet(request.POST, prefix="rules")
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            try:
                version = services.criteria_publish(
                    by=request.user,
                    threshold=data["threshold"],
                    rules=[rule for f in formset.forms if (rule := f.as_rule())],
                    note=data["note"],
                    based_on=data["based_on"],
                )
            except ValidationError as e:
                add_service_errors(form, e)
            else:
                if current is not None and version.pk == current.pk:
                    messages.info(request, f"Nothing changed: version {version.number} stays in force.")
                else:
                    messages.success(request, f"Version {version.number} published; it applies from now on.")
                return redirect("qualification:criteria")
        status = 400
    else:
        form = CriteriaForm(
            initial={
                "threshold": current.threshold if current else SUGGESTED_THRESHOLD,
                "based_on": current.number if current else 0,
            }
        )
        formset = RuleFormSet(initial=initial_rules, prefix="rules")
        status = 200
    ctx = {
        "form": form,
        "formset": formset,
        "current": current,
        "versions": [(v, criteria_snapshot(v, v.rules.all())) for v in versions],
    }
    return render(request, "qualification/criteria_settings.html", ctx, status=status)


@login_required
def reason_list(request: HttpRequest) -> HttpResponse:
    _require_perm(request, "qualification.change_disqualificationreason")
    ctx = {"reasons": list(DisqualificationReason.objects.all())}
    return render(request, "qualification/reason_list.html", ctx)


@login_required
def reason_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if pk is None:
        _require_perm(request, "qualification.add_disqualificationreason")
        reason = DisqualificationReason()
    else:
        _require_perm(request, "qualification.change_disqualificationreason")
        reason = get_object_or_404(DisqualificationReason, pk=pk)
    form = ReasonForm(_bound(request), instance=reason)
    if request.method == "POST" and form.is_valid():
        try:
            services.reason_save(reason=form.save(commit=False))
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, f"Reason “{reason.label}” saved.")
            return redirect("qualification:reasons")
    return render(
        request,
        "qualification/reason_form.html",
        {"form": form, "reason": reason},
        status=400 if form.is_bound else 200,
    )
