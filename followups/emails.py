"""Email: one helper renders every message from templates/emails/<name>-{subject,body}.txt and
-body.html (healthchecks' hc/lib/emails.py idea)."""

from __future__ import annotations

import hashlib
import uuid
from email._policybase import Compat32
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


class _Compat32ShortAscii(Compat32):
    """Python's default (compat32) header policy, minus the cost of folding a header that needs none.

    compat32 runs every header through email.header.Header, even "To: rep@example.com"; that was
    a third of the dispatcher's time. A printable ASCII header that fits on one line comes out of
    Header unchanged, so it is written as is; anything else (long, non-ASCII, already a Header) takes
    the usual path. tests/followups/test_emails.py checks both give the same bytes.
    """

    def fold_binary(self, name, value):
        if (
            type(value) is str
            and value.isascii()
            and value.isprintable()
            and self.max_line_length
            and len(name) + 2 + len(value) <= self.max_line_length
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


SHORT_ASCII_HEADERS = _Compat32ShortAscii()


class LeadFlowEmail(EmailMultiAlternatives):
    """A text + HTML email whose MIME form is cheap to serialise (the dispatcher sends thousands a second).

    The same bytes as Django's but for the MIME boundary: a random one chosen here instead of the
    generator's, which searches both bodies with a freshly compiled regex per message.
    """

    def message(self):
        msg = super().message()
        msg.policy = SHORT_ASCII_HEADERS
        if msg.is_multipart():
            # 96 random bits; short enough that the Content-Type header still fits on one line.
            boundary = f"=_{uuid.uuid4().hex[:24]}"
            if not any(boundary in text for text in (self.body, *(a.content for a in self.alternatives))):
                msg.set_boundary(boundary)
        return msg


def message_id_for(key: str) -> str:
    """A Message-ID derived from an idempotency key: a resent copy collapses in the reader's client."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = urlsplit(settings.SITE_URL).hostname or "leadflow.local"
    return f"<{digest}@{domain}>"


def make_message(name: str, to: str, ctx: dict, *, key: str | None = None, connection=None) -> LeadFlowEmail:
    """Render `emails/<name>-subject.txt`, `-body.txt` and `-body.html` into one message to `to`.

    With `key`, the Message-ID is derived from it, so two sends of the same notification are
    recognisably the same email.
    """
    ctx = {"site_url": settings.SITE_URL.rstrip("/"), **ctx}
    subject = " ".join(render_to_string(f"emails/{name}-subject.txt", ctx).split())
    text = render_to_string(f"emails/{name}-body.txt", ctx)
    html = render_to_string(f"emails/{name}-body.html", ctx)
    headers = {"Message-ID": message_id_for(key)} if key else {}
    msg = LeadFlowEmail(subject, text, to=[to], headers=headers, connection=connection)
    msg.attach_alternative(html, "text/html")
    return msg
