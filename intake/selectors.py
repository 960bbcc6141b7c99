"""Reads of the intake app."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Case, Q, QuerySet, Value, When
from django.template.loader import render_to_string
from django.templatetags.static import static

from accounts.models import User
from leadflow import precompiled

from .models import ImportJob, ImportRowError, WebForm, WebFormSubmission

# The public form's two reads run on every post: compiled once (leadflow.precompiled), since
# building and compiling them was a good part of a post's CPU once the lead moved to the drain.


def _webform_public(slug: str) -> QuerySet:
    # Its source only (a post checks it is still in use), and no ORDER BY (the slug is unique):
    # the public pages show nothing of the team, and the drain reads each form with its team.
    return WebForm.objects.select_related("source").filter(slug=slug, is_active=True).order_by()[:1]


def webform_public(*, slug: str) -> WebForm | None:
    """The active form at /f/<slug>/ with its source, or None. One query."""
    rows = precompiled.fetch("intake.webform_public", _webform_public, slug)
    return rows[0] if rows else None


def _webform_submission_earlier(form_id: int, nonce: str, fingerprint: str, since: datetime) -> QuerySet:
    # Both checks in one query (each term has its index): the token's own post first, else the
    # latest post of the same content in the window.
    return (
        WebFormSubmission.objects.filter(form_id=form_id)
        .filter(Q(token=nonce) | Q(fingerprint=fingerprint, submitted_at__gte=since))
        .order_by(Case(When(token=nonce, then=Value(0)), default=Value(1)), "-submitted_at")[:1]
    )


def webform_submission_earlier(
    *, form: WebForm, nonce: str, fingerprint: str, since: datetime
) -> WebFormSubmission | None:
    """The submission a post repeats: the one with its token, else the latest of the same
    content since `since`. One query."""
    rows = precompiled.fetch(
        "intake.webform_submission_earlier", _webform_submission_earlier, form.pk, nonce, fingerprint, since
    )
    return rows[0] if rows else None


def webform_embed_snippet(*, webform: WebForm) -> str:
    """The HTML another site pastes to show this form; it posts to our public URL.

    Its small script (served by us) fetches a fresh token when the page loads: the token's
    time proves the form was not filled in by a bot in a split second, and its nonce makes a
    double click one lead. Without the script the post still arrives and the person confirms it
    once on our page.
    """
    script_url = settings.SITE_URL.rstrip("/") + static("js/leadflow-embed.js")
    ctx = {"webform": webform, "fields": public_fields(webform), "script_url": script_url}
    return render_to_string("intake/embed/snippet.html", ctx)


def public_fields(webform: WebForm) -> list[tuple[str, str, bool]]:
    """(name, label, required) of the fields the form shows, in display order."""
    labels = {"email": "Email", "phone": "Phone", "company": "Company", "job_title": "Job title", "message": "Message"}
    fields = [("name", "Your name", True)]
    for name, label in labels.items():
        mode = webform.mode(name)
        if mode != WebForm.FieldMode.HIDDEN:
            fields.append((name, label, mode == WebForm.FieldMode.REQUIRED))
    return fields


def import_jobs_for(*, user: User) -> QuerySet[ImportJob]:
    """Import jobs a user may see: their own; every job for an admin."""
    q = ImportJob.objects.select_related("team", "source", "created_by")
    if user.has_perm("leads.view_all_leads"):
        return q
    return q.filter(created_by=user)


def import_row_errors(*, job: ImportJob) -> QuerySet[ImportRowError]:
    return ImportRowError.objects.filter(job=job).order_by("row_number")
