from __future__ import annotations

import logging
import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from leads import selectors as lead_selectors
from leads.forms import LeadFilterForm

from . import csvio, ratelimit, selectors, services
from .forms import HONEYPOT, TOKEN, ImportMappingForm, ImportUploadForm, PublicLeadForm
from .models import ImportJob, WebForm

logger = logging.getLogger(__name__)

MSG_RESEND = "Please check your details and press the button again."
ERRORS_SHOWN = 50


# --- Public web forms (no login) -------------------------------------------------------------------


def _get_webform(slug: str) -> WebForm:
    webform = selectors.webform_public(slug=slug)
    if webform is None:
        raise Http404
    return webform


def _render_public(request, webform, form, token: str, *, notice: str = "", status: int = 200) -> HttpResponse:
    ctx = {
        "webform": webform,
        "form": form,
        "token": token,
        "notice": notice,
        "honeypot": HONEYPOT,
        "token_name": TOKEN,
    }
    return render(request, "intake/public_form.html", ctx, status=status)


def _thanks(webform: WebForm) -> HttpResponse:
    return redirect("intake:public_thanks", slug=webform.slug)


@csrf_exempt  # posted from other sites; protected by honeypot, fill time, rate limit, size limit and token
@never_cache
@require_http_methods(["GET", "POST"])
def public_form(request: HttpRequest, slug: str) -> HttpResponse:
    webform = _get_webform(slug)
    if request.method == "GET":
        return _render_public(
            request, webform, PublicLeadForm(webform=webform), services.webform_token_issue(form=webform)
        )

    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = settings.WEBFORM_MAX_BYTES + 1
    if length > settings.WEBFORM_MAX_BYTES:
        return render(request, "intake/public_error.html", {"webform": webform, "too_big": True}, status=413)
    allowed, retry_after = ratelimit.hit(
        f"webform:{ratelimit.client_ip(request)}",
        limit=settings.WEBFORM_RATE_LIMIT,
        window=settings.WEBFORM_RATE_WINDOW,
    )
    if not allowed:
        response = render(request, "intake/public_error.html", {"webform": webform, "limited": True}, status=429)
        response["Retry-After"] = str(retry_after)
        return response

    # Bots: answered exactly like a person, so they learn nothing, and nothing is saved.
    if request.POST.get(HONEYPOT):
        logger.info("web form %s: honeypot filled, dropped", webform.slug)
        return _thanks(webform)
    form = PublicLeadForm(request.POST, webform=webform)
    token = services.webform_token_read(form=webform, token=request.POST.get(TOKEN, ""))
    if token is None:
        # No valid token: an embed whose script did not run, or a bot. Show our page with the
        # values filled in and a fresh token; a person sends it once more, nothing is lost.
        return _render_public(request, webform, form, services.webform_token_issue(form=webform), notice=MSG_RESEND)
    if time.time() - token.issued_at < settings.WEBFORM_MIN_FILL_SECONDS:
        logger.info("web form %s: sent too fast, dropped", webform.slug)
        return _thanks(webform)
    if form.is_valid():
        try:
            services.webform_submit(form=webform, data=form.lead_data(), token=token)
        except IntegrityError:
            # The same token committed by a concurrent request: that one made the lead.
            return _thanks(webform)
        except ValidationError as e:
            for field, errors in e.message_dict.items():
                form.add_error(_public_field(field, form), errors)
        else:
            return _thanks(webform)
    return _render_public(request, webform, form, request.POST.get(TOKEN, ""), status=400)


def _public_field(field: str, form: PublicLeadForm) -> str | None:
    field = {"title": "job_title", "notes": "message"}.get(field, field)
    return field if field in form.fields else None


@never_cache
@require_GET
def public_thanks(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "intake/public_thanks.html", {"webform": _get_webform(slug)})


@never_cache
@require_GET
def public_token(request: HttpRequest, slug: str) -> JsonResponse:
    """A fresh form token for the embed script on another site (readable cross-origin)."""
    response = JsonResponse({"token": services.webform_token_issue(form=_get_webform(slug))})
    response["Access-Control-Allow-Origin"] = "*"
    return response


# --- CSV import --------------------------------------------------------------------------------------


def _require_import(request: HttpRequest) -> None:
    if not request.user.has_perm("intake.add_importjob"):
        raise PermissionDenied


def _get_job_for_user(request: HttpRequest, pk: int) -> ImportJob:
    _require_import(request)
    return get_object_or_404(selectors.import_jobs_for(user=request.user), pk=pk)


@login_required
def import_start(request: HttpRequest) -> HttpResponse:
    _require_import(request)
    form = ImportUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = services.import_job_create(
                user=request.user, upload=data["file"], team=data["team"], source=data["source"]
            )
        except ValidationError as e:
            for field, errors in e.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("intake:import_mapping", pk=job.pk)
    ctx = {"form": form, "jobs": list(selectors.import_jobs_for(user=request.user)[:10])}
    return render(request, "intake/import_start.html", ctx, status=400 if form.errors else 200)


@login_required
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job_for_user(request, pk)
    if job.status != ImportJob.Status.MAPPING:
        return redirect(job)
    form = ImportMappingForm(request.POST or None, headers=job.headers, mapping=job.mapping)
    mapping = job.mapping
    preview = []
    error = ""
    if request.method == "POST" and form.is_valid():
        mapping = form.mapping()
        try:
            services.import_mapping_clean(headers=job.headers, mapping=mapping)
        except ValidationError as e:
            error = " ".join(e.messages)
        else:
            if "start" in request.POST:
                services.import_job_start(job=job, mapping=mapping)
                return redirect("intake:import_detail", pk=job.pk)
    if not error:
        preview = services.import_preview(job=job, mapping=mapping)
    ctx = {
        "job": job,
        "form": form,
        "preview": preview,
        "preview_fields": _preview_fields(mapping),
        "field_labels": services.IMPORT_FIELDS,
        "error": error,
    }
    return render(request, "intake/import_mapping.html", ctx, status=400 if error else 200)


def _preview_fields(mapping: dict[str, str]) -> list[str]:
    """The lead fields the preview shows, in form order; first and last name show as the name."""
    chosen = set(mapping.values())
    if {"first_name", "last_name"} & chosen:
        chosen.add("name")
    return [f for f in services.IMPORT_FIELDS if f in chosen and f not in ("first_name", "last_name")]


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job_for_user(request, pk)
    if job.status == ImportJob.Status.MAPPING:
        return redirect(job)
    errors = list(selectors.import_row_errors(job=job)[:ERRORS_SHOWN]) if job.is_finished else []
    return render(request, "intake/import_detail.html", {"job": job, "errors": errors, "errors_shown": ERRORS_SHOWN})


@login_required
@require_GET
def import_status(request: HttpRequest, pk: int) -> JsonResponse:
    job = _get_job_for_user(request, pk)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "percent": job.percent,
            "processed": job.rows_processed,
            "total": job.rows_total,
            "created": job.rows_created,
            "attached": job.rows_attached,
            "flagged": job.rows_flagged,
            "rejected": job.rows_rejected,
            "finished": job.is_finished,
        }
    )


@login_required
@require_GET
def import_errors_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The rejected rows as a CSV in the file's own columns plus “error”: fix and upload again."""
    job = _get_job_for_user(request, pk)
    q = selectors.import_row_errors(job=job).values_list("values", "reason")
    rows = (list(values) + [""] * (len(job.headers) - len(values)) + [reason] for values, reason in q.iterator(2000))
    response = StreamingHttpResponse(
        csvio.stream_csv([*job.headers, "error"], rows), content_type="text/csv; charset=utf-8"
    )
    name = job.original_name.rsplit(".", 1)[0][:80] or "import"
    response["Content-Disposition"] = f'attachment; filename="{_ascii_filename(name)}-rejected.csv"'
    return response


def _ascii_filename(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_ ") else "_" for c in name) or "import"


# --- CSV export --------------------------------------------------------------------------------------


@login_required
@require_GET
def lead_export(request: HttpRequest) -> StreamingHttpResponse:
    """The queue's lead list under the same filters and access rule, as a formula-safe CSV."""
    if not request.user.has_perm("intake.export_leads"):
        raise PermissionDenied
    form = LeadFilterForm(request.GET or None, user=request.user)
    filters = form.to_filters() if form.is_bound and form.is_valid() else lead_selectors.LeadFilters()
    q = lead_selectors.lead_list_filtered(user=request.user, filters=filters)
    header, rows = services.lead_export_rows(q)
    response = StreamingHttpResponse(csvio.stream_csv(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="leads.csv"'
    return response
