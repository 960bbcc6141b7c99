"""Email: one helper renders every message from templates/emails/<name>-{subject,body}.txt and
-body.html (healthchecks' hc/lib/emails.py idea)."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def message_id_for(key: str) -> str:
    """A Message-ID derived from an idempotency key: a resent copy collapses in the reader's client."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = urlsplit(settings.SITE_URL).hostname or "leadflow.local"
    return f"<{digest}@{domain}>"


def make_message(name: str, to: str, ctx: dict, *, key: str | None = None, connection=None) -> EmailMultiAlternatives:
    """Render `emails/<name>-subject.txt`, `-body.txt` and `-body.html` into one message to `to`.

    With `key`, the Message-ID is derived from it, so two sends of the same notification are
    recognisably the same email.
    """
    ctx = {"site_url": settings.SITE_URL.rstrip("/"), **ctx}
    subject = " ".join(render_to_string(f"emails/{name}-subject.txt", ctx).split())
    text = render_to_string(f"emails/{name}-body.txt", ctx)
    html = render_to_string(f"emails/{name}-body.html", ctx)
    headers = {"Message-ID": message_id_for(key)} if key else {}
    msg = EmailMultiAlternatives(subject, text, to=[to], headers=headers, connection=connection)
    msg.attach_alternative(html, "text/html")
    return msg
