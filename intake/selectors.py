"""Reads of the intake app."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.templatetags.static import static

from accounts.models import User

from .models import ImportJob, ImportRowError, WebForm


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
