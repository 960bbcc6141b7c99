from __future__ import annotations

import math
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from leads.forms import add_service_errors
from qualification import selectors as qualification_selectors
from qualification.forms import DisqualifyForm, NurtureForm

from . import selectors, services
from .forms import CONTACT_FIELDS, ActivityForm, LeadFilterForm, LeadForm, MergeForm, ReassignForm, StageChangeForm
from .models import Channel, Lead

# Moves with their own form and service (a reason from the list, a recycle date).
MSG_CRITERIA_CHANGED = (
    "The sales-ready criteria changed since this page was loaded (now version {current}): "
    "check the checklist again, then confirm."
)

PAGE_SIZE = 25
LEAD_PAGE_RELATED = ("source", "owner", "team", "referred_by_lead", "possible_duplicate_of", "sla")


def _visible_leads(request: HttpRequest) -> QuerySet[Lead]:
    """The leads the user may see (and so edit). With its SLA clock, which the lead page shows
    (one join on a unique key instead of a query)."""
    return Lead.objects.visible_to(request.user).select_related(*LEAD_PAGE_RELATED)


def _get_lead_for_user(request: HttpRequest, pk: int) -> Lead:
    """The lead if the user may see it; 404 otherwise, so nothing leaks."""
    return get_object_or_404(_visible_leads(request), pk=pk)


def _get_lead_for_page(request: HttpRequest, pk: int) -> Lead:
    """The lead for its page (_get_lead_for_user), carrying two more columns so that the page
    needs no query of their own: the id of the criteria in force, the leads it referred."""
    lead = selectors.lead_visible(
        key="leads.page",
        user=request.user,
        pk=pk,
        related=LEAD_PAGE_RELATED,
        columns=lambda: {
            "current_criteria_id": qualification_selectors.criteria_current_id(),
            "referral_rows": selectors.lead_referrals_column(),
        },
    )
    if lead is None:
        raise Http404
    return lead


def _get_lead_for_reassign(request: HttpRequest, pk: int) -> Lead:
    lead = _get_lead_for_user(request, pk)
    user = request.user
    if not user.has_perm("leads.reassign_lead"):
        raise PermissionDenied
    if not user.has_perm("leads.view_all_leads") and lead.team.manager_id != user.pk:
        raise PermissionDenied
    return lead


def _detail_ctx(lead: Lead, *, activity_form=None, stage_form=None) -> dict:
    """The lead page's context (the lead from _get_lead_for_page); a refused action re-renders it
    with its bound form."""
    from followups.views import lead_panel_ctx

    return {
        **lead_panel_ctx(lead=lead),
        "lead": lead,
        "timeline": selectors.lead_timeline(lead=lead),
        "moves": [Lead.Stage(s) for s in services.allowed_moves(lead)],
        "reason_required": services.REASON_REQUIRED,
        "activity_form": activity_form or ActivityForm(),
        "stage_form": stage_form,
        # Qualification: the checklist, the calls, helpful closes, the disqualify / not-now forms.
        "qual": qualification_selectors.lead_qualification_panel(lead=lead, criteria_id=lead.current_criteria_id),
        "referrals": selectors.lead_referrals(lead.referral_rows),
        "disqualify_form": DisqualifyForm(reasons=qualification_selectors.reasons_active()),
        "nurture_form": NurtureForm(),
    }


def _int_or_404(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Http404 from None


class KnownCountPaginator(Paginator):
    """A paginator given its total, so the page costs no extra COUNT query."""

    count_is_exact = True

    def __init__(self, object_list, per_page, *, count: int):
        super().__init__(object_list, per_page)
        self.__dict__["count"] = count


class UncountedPaginator:
    """Previous/next pages of a list known only to hold more than `at_least` rows.

    Reads one row more than a page to know whether there is a next one; never counts. A page
    past the end is empty (we cannot know where the end is without counting).
    """

    count_is_exact = False

    def __init__(self, object_list, per_page: int, *, at_least: int):
        self.object_list = object_list
        self.per_page = per_page
        self.count = at_least
        self.num_pages = math.ceil((at_least + 1) / per_page)

    def get_page(self, number) -> UncountedPage:
        try:
            number = max(1, int(number))
        except (TypeError, ValueError):
            number = 1
        offset = (number - 1) * self.per_page
        rows = list(self.object_list[offset : offset + self.per_page + 1])
        has_next = len(rows) > self.per_page
        self.num_pages = max(self.num_pages, number + has_next)
        return UncountedPage(rows[: self.per_page], number, has_next, self)


@dataclass
class UncountedPage:
    object_list: list
    number: int
    _has_next: bool
    paginator: UncountedPaginator

    def has_next(self) -> bool:
        return self._has_next

    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_previous() or self.has_next()

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    form = LeadFilterForm(request.GET or None, user=request.user)
    filters = selectors.LeadFilters()
    if form.is_bound and form.is_valid():
        filters = form.to_filters()
    counts = selectors.lead_stage_counts(user=request.user, filters=filters)
    q = selectors.lead_list_needing_attention(user=request.user, filters=filters, counts=counts, plain=True)
    if counts.is_exact(filters.stage):
        paginator = KnownCountPaginator(q, PAGE_SIZE, count=counts[filters.stage])
    else:
        paginator = UncountedPaginator(q, PAGE_SIZE, at_least=counts[filters.stage])
    page = paginator.get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    ctx = {
        "form": form,
        "helpful_closes": qualification_selectors.helpful_close_list_unsent(user=request.user),
        "helpful_closes_limit": qualification_selectors.QUEUE_HELPFUL_CLOSES,
        "filters": filters,
        "counts": counts,
        "page": page,
        "leads": list(page.object_list),
        "querystring": params.urlencode(),
        "drill_summary": form.drill_summary(),
        # Drill-down filters ride along as hidden inputs when the search form is submitted.
        "drill_params": [(k, v) for k, v in params.items() if k in LeadFilterForm.DRILL_FIELDS],
        "stage_tabs": [
            (value, label, counts.display(value))
            for value, label in [
                (selectors.STAGE_FILTER_OPEN, "Open"),
                *Lead.Stage.choices,
                (selectors.STAGE_FILTER_ALL, "All"),
            ]
        ],
    }
    return render(request, "leads/queue.html", ctx)


@login_required
def create(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("leads.add_lead"):
        raise PermissionDenied
    form = LeadForm(request.POST if request.method == "POST" else None, user=request.user, creating=True)
    referrer = None
    if request.method == "GET" and request.GET.get("referred_by_lead"):
        # "Log a referral from this person": only from a lead the user can see.
        visible = Lead.objects.visible_to(request.user)
        referrer = get_object_or_404(visible, pk=_int_or_404(request.GET["referred_by_lead"]))
        form.initial.update({"referred_by_lead": referrer.pk, "referred_by": referrer.name})
    duplicates: list[Lead] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        referrer = data.get("referred_by_lead")
        duplicates = selectors.lead_find_duplicates(email=data["email"], phone=data["phone"])
        if duplicates and not data["confirm_duplicate"]:
            form.add_error(None, "A lead with this email or phone already exists. Open it, or confirm below.")
        else:
            try:
                result = services.lead_intake(
                    channel=Channel.MANUAL,
                    data={f: data[f] for f in CONTACT_FIELDS if f != "source"},
                    source=data["source"],
                    by=request.user,
                    team=data["team"],
                    owner=data.get("owner") or request.user,
                    referred_by_lead=data.get("referred_by_lead"),
                )
            except ValidationError as e:
                add_service_errors(form, e)
            else:
                lead = result.lead
                if result.outcome == services.IntakeOutcome.ATTACHED:
                    messages.info(
                        request, "This person is already a lead: what you typed was added to it as a new inquiry."
                    )
                    if not Lead.objects.visible_to(request.user).filter(pk=lead.pk).exists():
                        return redirect("leads:queue")
                else:
                    messages.success(request, f"Lead “{lead.name}” saved.")
                return redirect(lead)
    visible_ids = set(
        Lead.objects.visible_to(request.user).filter(pk__in=[d.pk for d in duplicates]).values_list("pk", flat=True)
    )
    ctx = {"form": form, "duplicates": duplicates, "visible_duplicate_ids": visible_ids, "referrer": referrer}
    return render(request, "leads/lead_form.html", ctx)


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _get_lead_for_page(request, pk)
    if lead.merged_into_id:
        messages.info(request, f"“{lead.name}” was merged into this lead.")
        return redirect("leads:detail", pk=lead.merged_into_id)
    return render(request, "leads/lead_detail.html", _detail_ctx(lead))


@login_required
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _get_lead_for_user(request, pk)
    form = LeadForm(
        request.POST if request.method == "POST" else None, instance=lead, user=request.user, creating=False
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_update(lead=lead, by=request.user, **{f: form.cleaned_data[f] for f in CONTACT_FIELDS})
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, "Lead updated.")
            return redirect(lead)
    return render(request, "leads/lead_form.html", {"form": form, "lead": lead})


@login_required
@require_POST
def change_stage(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _get_lead_for_page(request, pk)
    form = StageChangeForm(request.POST)
    if form.is_valid():
        to_stage = form.cleaned_data["to_stage"]
        seen_version = form.cleaned_data["criteria_version"]
        current = qualification_selectors.criteria_current() if seen_version is not None else None
        if seen_version is not None and seen_version != (current.number if current else None):
            form.add_error("criteria_version", MSG_CRITERIA_CHANGED.format(current=current.number if current else "—"))
        else:
            try:
                services.lead_change_stage(
                    lead=lead,
                    to_stage=to_stage,
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                    # The override only exists for the lead → prospect gate.
                    override=form.cleaned_data["override"] and to_stage == Lead.Stage.PROSPECT,
                )
            except ValidationError as e:
                add_service_errors(form, e)
            else:
                messages.success(request, f"Moved to {Lead.Stage(to_stage).label}.")
                return redirect(lead)
    return render(request, "leads/lead_detail.html", _detail_ctx(lead, stage_form=form), status=400)


@login_required
@require_POST
def log_activity(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _get_lead_for_page(request, pk)
    form = ActivityForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.activity_log(
                lead=lead, by=request.user, kind=data["kind"], outcome=data["outcome"], occurred_at=data["occurred_at"]
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, "Activity logged.")
            return redirect(lead)
    return render(request, "leads/lead_detail.html", _detail_ctx(lead, activity_form=form), status=400)


@login_required
def reassign(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _get_lead_for_reassign(request, pk)
    members = selectors.team_members_for_lead(lead=lead)
    form = ReassignForm(
        request.POST if request.method == "POST" else None, members=members, initial={"owner": lead.owner_id}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_reassign(
                lead=lead, to_owner=form.cleaned_data["owner"], by=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, f"{lead.name} now belongs to {form.cleaned_data['owner']}.")
            return redirect(lead)
    return render(request, "leads/reassign.html", {"form": form, "lead": lead})


def _get_lead_for_merge(request: HttpRequest, pk: int) -> Lead:
    if not request.user.has_perm("leads.merge_lead"):
        raise PermissionDenied
    lead = _get_lead_for_user(request, pk)
    if lead.merged_into_id:
        raise Http404
    return lead


@login_required
def merge_pick(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose the lead to merge into this one: the likely duplicates, or any lead by number."""
    lead = _get_lead_for_merge(request, pk)
    other = request.GET.get("other", "").strip().lstrip("#")
    if other.isdigit() and len(other) < 19 and int(other) != lead.pk:
        return redirect("leads:merge", pk=lead.pk, other_pk=int(other))
    candidates = selectors.lead_merge_candidates(lead=lead, user=request.user)
    return render(request, "leads/merge_pick.html", {"lead": lead, "candidates": candidates, "other": other})


@login_required
def merge(request: HttpRequest, pk: int, other_pk: int) -> HttpResponse:
    """Side by side: pick the surviving value of each field, then merge `other` into `lead`."""
    lead = _get_lead_for_merge(request, pk)
    other = _get_lead_for_merge(request, other_pk)
    if lead.pk == other.pk:
        raise Http404
    form = MergeForm(request.POST or None, survivor=lead, merged=other)
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_merge(survivor=lead, merged=other, field_choices=form.cleaned_data, by=request.user)
        except ValidationError as e:
            add_service_errors(form, e)
        else:
            messages.success(request, f"“{other.name}” was merged into this lead; its history is below.")
            return redirect(lead)
    ctx = {
        "lead": lead,
        "other": other,
        "form": form,
        "rows": form.rows(),
        "moving": selectors.lead_related_counts(lead=other),
    }
    return render(request, "leads/merge.html", ctx, status=400 if form.errors else 200)
