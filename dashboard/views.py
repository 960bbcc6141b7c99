from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from leads.models import Lead

from . import csvexport, selectors, services, snapshots
from .forms import BulkReassignForm, DashboardFilterForm


def _require_dashboard(request: HttpRequest) -> None:
    # Reps get 403: the team dashboard compares people; a rep's own numbers are their queue.
    if not request.user.has_perm("dashboard.view_dashboard"):
        raise PermissionDenied


def _filters(request: HttpRequest):
    """The filter form (bound to the query string) and the filters it gives. Three queries."""
    user = request.user
    teams = list(selectors.dashboard_teams(user=user))
    reps = selectors.dashboard_reps(user=user)
    sources = list(selectors.dashboard_sources())
    form = DashboardFilterForm(
        request.GET or None,
        teams=teams,
        reps=reps,
        sources=sources,
        today=timezone.localdate(),
        all_teams=user.has_perm("leads.view_all_leads"),
    )
    return form, form.to_filters(), reps, teams


def _page(request: HttpRequest, *, reassign_form: BulkReassignForm | None = None, status: int = 200) -> HttpResponse:
    form, filters, reps, teams = _filters(request)
    dash, snapshot = snapshots.dashboard_for_page(user=request.user, filters=filters, teams=teams)
    ctx = {
        "form": form,
        "dash": dash,
        "snapshot": snapshot,
        "refresh_minutes": round(snapshots.snapshot_interval().total_seconds() / 60),
        "charts": dash.chart_data(),
        "dashboard_query": urlencode(filters.query_params()),
        "reassign_form": reassign_form
        or BulkReassignForm(lead_ids=[lead.pk for lead in dash.cooling_leads], reps=reps),
        "can_reassign": request.user.has_perm("leads.reassign_lead"),
    }
    return render(request, "dashboard/index.html", ctx, status=status)


@login_required
def index(request: HttpRequest) -> HttpResponse:
    _require_dashboard(request)
    return _page(request)


@login_required
@require_POST
def refresh(request: HttpRequest) -> HttpResponse:
    """Recompute the figures of the filters in the query string now, then show them."""
    _require_dashboard(request)
    _form, filters, _reps, teams = _filters(request)
    snapshots.dashboard_for_page(user=request.user, filters=filters, teams=teams, refresh=True)
    query = request.GET.urlencode()
    return redirect(f"{reverse('dashboard:index')}{'?' + query if query else ''}")


@login_required
def export_csv(request: HttpRequest, table: str) -> HttpResponse:
    _require_dashboard(request)
    if table not in csvexport.TABLES:
        raise Http404
    _form, filters, _reps, teams = _filters(request)
    limit = selectors.OVERRIDE_CSV_SIZE if table == "overrides" else selectors.OVERRIDE_LIST_SIZE
    dash = selectors.dashboard_build(user=request.user, filters=filters, teams=teams, override_limit=limit)
    return csvexport.response(dash, table)


@login_required
@require_POST
def bulk_reassign(request: HttpRequest) -> HttpResponse:
    """Reassign the ticked cooling leads. Filters ride in the query string, so we return to the same view."""
    _require_dashboard(request)
    if not request.user.has_perm("leads.reassign_lead"):
        raise PermissionDenied
    user = request.user
    # Leads the user may reassign: visible, and (unless admin) in a team they manage.
    allowed = Lead.objects.visible_to(user)
    if not user.has_perm("leads.view_all_leads"):
        allowed = allowed.filter(team__manager=user)
    ids = [v for v in request.POST.getlist("leads") if v.isdigit()][: BulkReassignForm.MAX_LEADS + 1]
    candidates = {lead.pk: lead for lead in allowed.filter(pk__in=ids).select_related("team")}
    reps = selectors.dashboard_reps(user=user)
    form = BulkReassignForm(request.POST, lead_ids=list(candidates), reps=reps)
    if form.is_valid():
        owner = next(u for u in reps if u.pk == form.cleaned_data["owner"])
        leads = [candidates[pk] for pk in form.cleaned_data["leads"]]
        try:
            changed = services.leads_bulk_reassign(
                leads=leads, to_owner=owner, by=user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as e:
            errors = e.error_dict if hasattr(e, "error_dict") else {None: e.error_list}
            for name, messages_ in errors.items():
                form.add_error(name if name in form.fields else None, messages_)
        else:
            messages.success(request, f"{changed} lead(s) now belong to {owner}.")
            query = request.GET.urlencode()
            return redirect(f"{reverse('dashboard:index')}{'?' + query if query else ''}#cooling")
    return _page(request, reassign_form=form, status=400)
