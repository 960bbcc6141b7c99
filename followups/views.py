from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from leads.forms import add_service_errors
from leads.models import Activity, Lead

from . import selectors, services
from .forms import (
    ACTIVITY_FOR_KIND,
    SNOOZE_PRESETS,
    FollowUpAddForm,
    FollowUpCompleteForm,
    FollowUpRescheduleForm,
    FollowUpSnoozeForm,
)
from .models import FollowUp, FollowUpPolicy, Kind, Notification
from .worktime import day_and_time

PAGE_SIZE = 50


def _get_followup_for_user(request: HttpRequest, pk: int) -> FollowUp:
    """A follow-up of a lead the user may see (404 otherwise); 403 without the right to change it."""
    q = FollowUp.objects.visible_to(request.user).select_related("lead", "owner")
    followup = get_object_or_404(q, pk=pk)
    if not request.user.has_perm("followups.change_followup"):
        raise PermissionDenied
    return followup


def _form_page(request: HttpRequest, *, form, title: str, lead: Lead, followup: FollowUp | None = None, status=200):
    ctx = {"form": form, "title": title, "lead": lead, "followup": followup}
    return render(request, "followups/followup_form.html", ctx, status=status)


def lead_panel_ctx(*, lead: Lead) -> dict:
    """What the lead page's follow-ups panel needs (one query; the SLA clock comes with the lead
    from leads.views._get_lead_for_user, else one more). Called by leads.views."""
    panel = selectors.lead_followups(lead=lead)
    return {
        "followups": panel,
        # A reverse one-to-one: the missing clock raises RelatedObjectDoesNotExist, an AttributeError.
        "sla": getattr(lead, "sla", None),
        "followup_kinds": Kind.choices,
        "activity_kinds": Activity.Kind.choices,
        "followups_allowed": lead.stage in services.FOLLOWUP_STAGES,
        "snooze_presets": SNOOZE_PRESETS,
    }


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    can_see_team = request.user.has_perm("leads.view_team_leads")
    scope = selectors.SCOPE_TEAM if can_see_team and request.GET.get("scope") == "team" else selectors.SCOPE_MINE
    q = selectors.followup_list_pending(user=request.user, scope=scope)
    page = Paginator(q, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        "page": page,
        "followups": list(page.object_list),
        "scope": scope,
        "can_see_team": can_see_team,
        "now": timezone.now(),
    }
    return render(request, "followups/mine.html", ctx)


@login_required
def add(request: HttpRequest, lead_pk: int) -> HttpResponse:
    lead = get_object_or_404(Lead.objects.visible_to(request.user).select_related("owner", "team"), pk=lead_pk)
    if not request.user.has_perm("followups.add_followup"):
        raise PermissionDenied
    form = FollowUpAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.followup_add(
                lead=lead,
                owner=lead.owner or request.user,
                due_at=data["due_at"],
                kind=data["kind"],
                instruction=data["instruction"],
                agreed_with_lead=data["agreed_with_lead"],
                by=request.user,
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, "Follow-up added.")
            return redirect(lead)
    status = 400 if form.is_bound else 200
    return _form_page(request, form=form, title="Add a follow-up", lead=lead, status=status)


@login_required
def complete(request: HttpRequest, pk: int) -> HttpResponse:
    followup = _get_followup_for_user(request, pk)
    initial = {"activity_kind": ACTIVITY_FOR_KIND.get(followup.kind, Activity.Kind.CALL)}
    form = FollowUpCompleteForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.followup_complete(
                followup=followup,
                by=request.user,
                activity_kind=data["activity_kind"],
                outcome=data["outcome"],
                occurred_at=data["occurred_at"],
                next_due_at=data["next_due_at"],
                next_kind=data["next_kind"],
                next_instruction=data["next_instruction"],
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, "Follow-up done and logged.")
            return redirect(followup.lead)
    status = 400 if form.is_bound else 200
    return _form_page(
        request, form=form, title="Complete the follow-up", lead=followup.lead, followup=followup, status=status
    )


@login_required
def snooze(request: HttpRequest, pk: int) -> HttpResponse:
    followup = _get_followup_for_user(request, pk)
    form = FollowUpSnoozeForm(request.POST or None, policy=FollowUpPolicy.load())
    if request.method == "POST" and form.is_valid():
        try:
            services.followup_snooze(followup=followup, by=request.user, until=form.cleaned_data["until"])
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            until = day_and_time(form.cleaned_data["until"])
            messages.success(request, f"Snoozed until {until}.")
            return redirect(followup.lead)
    status = 400 if form.is_bound else 200
    return _form_page(
        request, form=form, title="Snooze the follow-up", lead=followup.lead, followup=followup, status=status
    )


@login_required
def reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    followup = _get_followup_for_user(request, pk)
    initial = {"due_at": timezone.localtime(followup.due_at)}
    form = FollowUpRescheduleForm(request.POST or None, instance=followup, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changed = {"kind": data["kind"], "instruction": data["instruction"]} if not followup.recycles_lead else {}
        try:
            services.followup_reschedule(followup=followup, by=request.user, due_at=data["due_at"], **changed)
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, "Follow-up rescheduled.")
            return redirect(followup.lead)
    if followup.recycles_lead:
        for name in ("kind", "instruction"):
            form.fields[name].disabled = True
    status = 400 if form.is_bound else 200
    return _form_page(
        request, form=form, title="Reschedule the follow-up", lead=followup.lead, followup=followup, status=status
    )


@login_required
@require_POST
def skip(request: HttpRequest, pk: int) -> HttpResponse:
    followup = _get_followup_for_user(request, pk)
    try:
        services.followup_skip(followup=followup, by=request.user)
    except ValidationError as e:
        messages.error(request, " ".join(e.messages))
    else:
        messages.success(request, "Follow-up skipped.")
    return redirect(followup.lead)


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.notification_list(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "followups/notifications.html", {"page": page, "items": list(page.object_list)})


@login_required
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark read, then go where the notification points (only ever a path on this site)."""
    try:
        notification = services.notification_mark_read(user=request.user, notification_id=pk)
    except Notification.DoesNotExist:
        raise Http404 from None
    if notification.url and url_has_allowed_host_and_scheme(notification.url, allowed_hosts={request.get_host()}):
        return redirect(notification.url)
    return redirect("followups:notifications")


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.notification_mark_read(user=request.user, notification_id=pk)
    except Notification.DoesNotExist:
        raise Http404 from None
    return redirect("followups:notifications")


@login_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    n = services.notifications_mark_all_read(user=request.user)
    messages.success(request, f"{n} notification{'s' if n != 1 else ''} marked read.")
    return redirect("followups:notifications")


@login_required
@require_GET
def unread_count(request: HttpRequest) -> JsonResponse:
    """The bell's count for static/js/notifications.js (polled; one query)."""
    return JsonResponse({"unread": selectors.notification_unread_count(user=request.user)})
