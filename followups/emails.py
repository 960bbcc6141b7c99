"""Email: one helper renders every message from templates/emails/<name>-{subject,body}.txt and
-body.html (healthchecks' hc/lib/emails.py idea)."""

from __future__ import annotations

import email
import hashlib
import re
import secrets
from dataclasses import dataclass
from email._policybase import Compat32
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT, forbid_multi_line_headers
from django.core.mail.utils import DNS_NAME
from django.template.backends.django import Template
from django.template.loader import get_template


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
_HEADERS_NL = SHORT_ASCII_HEADERS.clone(linesep="\n")
# What email.generator takes for a line end in a body (and writes back as `linesep`).
_NEWLINES = re.compile(r"\r\n|\r|\n")


class SerialisedMessage:
    """A message already in its wire form: what Django's mail backends ask of `message()`
    (as_bytes, get_charset) without building email.message objects. Anything else (reading a
    header, walking the parts) is answered by the message parsed back from these bytes."""

    def __init__(self, data: bytes, *, multipart: bool = True):
        self._data = data  # "\n" line ends
        self._multipart = multipart
        self._parsed = None

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        if unixfrom:
            return self._message().as_bytes(unixfrom=True, linesep=linesep)
        return self._data if linesep == "\n" else self._data.replace(b"\n", linesep.encode("ascii"))

    def get_charset(self):
        # A multipart message has no charset of its own (as Django's); a text one is UTF-8, which
        # is what the backends read when there is none.
        return None

    def is_multipart(self) -> bool:
        return self._multipart

    def __getitem__(self, name: str):
        return self._message()[name]

    def __getattr__(self, name: str):
        return getattr(self._message(), name)

    def _message(self) -> email.message.Message:
        if self._parsed is None:
            self._parsed = email.message_from_bytes(self._data)
        return self._parsed


class LeadFlowEmail(EmailMultiAlternatives):
    """A text + HTML email whose MIME form is cheap to serialise (the dispatcher sends thousands a second).

    The same bytes as Django's but for the MIME boundary: a random one chosen here instead of the
    generator's, which searches both bodies with a freshly compiled regex per message. A reminder
    (one recipient, short ASCII headers, a text and an HTML body without overlong lines) is written
    straight to bytes; any other shape goes through Django's email.message objects.
    """

    def message(self):
        boundary = f"=_{secrets.token_hex(12)}"  # 96 random bits; the header still fits on one line
        data = self._plain_form(boundary)
        if data is not None:
            return SerialisedMessage(data)
        msg = super().message()
        msg.policy = SHORT_ASCII_HEADERS
        if msg.is_multipart() and not self._has(boundary):
            msg.set_boundary(boundary)
        return msg

    def _has(self, text: str) -> bool:
        return any(text in body for body in (self.body, *(a.content for a in self.alternatives)))

    def _plain_form(self, boundary: str) -> bytes | None:
        """This message as email.generator.BytesGenerator writes Django's message() (compat32,
        "\n" line ends), or None when it is not the simple shape written here."""
        if (
            not _simple_shape(self)
            or self.alternative_subtype != "alternative"
            or len(self.alternatives) != 1
            or self.alternatives[0].mimetype != "text/html"
            or not isinstance(self.alternatives[0].content, str)
            or self._has(boundary)
        ):
            return None
        parts = [_text_part(self.body, "plain"), _text_part(self.alternatives[0].content, "html")]
        if None in parts:
            return None
        head = [
            f'Content-Type: multipart/alternative; boundary="{boundary}"\nMIME-Version: 1.0\n'.encode("ascii"),
            *_headers(self),
        ]
        sep = f"\n--{boundary}\n".encode("ascii")
        return b"".join((*head, b"\n", sep[1:], sep.join(parts), f"\n--{boundary}--\n".encode("ascii")))


class LeadFlowTextEmail(EmailMessage):
    """A plain-text email (the web form's confirmations) whose MIME form is cheap to serialise:
    the same bytes as Django's EmailMessage. One recipient, short headers and a body without
    overlong lines are written straight to bytes (as LeadFlowEmail does); any other shape goes
    through Django's email.message objects. Django's own took ~80 % of a confirmation's CPU."""

    def message(self):
        data = self._plain_form()
        if data is not None:
            return SerialisedMessage(data, multipart=False)
        msg = super().message()
        msg.policy = SHORT_ASCII_HEADERS
        return msg

    def _plain_form(self) -> bytes | None:
        part = _text_part(self.body, "plain") if _simple_shape(self) else None
        if part is None:
            return None
        content_headers, body = part.split(b"\n\n", 1)
        return b"".join((content_headers, b"\n", *_headers(self), b"\n", body))


def _simple_shape(msg: EmailMessage) -> bool:
    """What both emails written straight to bytes have: UTF-8, one recipient, no copy, reply-to
    or attachment, a text body, and no extra header but a Message-ID (so From is from_email)."""
    return (
        (msg.encoding or settings.DEFAULT_CHARSET) == "utf-8"
        and len(msg.to) == 1
        and not msg.cc
        and not msg.reply_to
        and not msg.attachments
        and msg.content_subtype == "plain"
        and bool(msg.body)
        and not {name.lower() for name in msg.extra_headers} - {"message-id"}
    )


def _headers(msg: EmailMessage) -> list[bytes]:
    """The message's own header lines, in Django's order (a Message-ID made when none is given)."""
    headers = [
        ("Subject", str(msg.subject)),
        ("From", msg.from_email),
        ("To", str(msg.to[0])),
        ("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)),
        *msg.extra_headers.items(),
    ]
    if not msg.extra_headers:
        headers.append(("Message-ID", make_msgid(domain=DNS_NAME)))
    return [_header(name, value) for name, value in headers]


def _header(name: str, value: str) -> bytes:
    """A header line as Django's message() and the generator write it: Django's checks and
    encoding of the value (it refuses a newline; Header(value).encode()), then compat32's fold.

    A printable ASCII value that fits on the line with its name comes out of both unchanged
    (Django encodes only a subject that way, and Header folds nothing under 76 characters), so
    it is written as is: Header's encode was a tenth of the dispatcher's CPU per reminder.
    tests/followups/test_emails.py compares both ways on random subjects."""
    if (
        type(value) is str
        and value.isascii()
        and value.isprintable()
        and len(name) + 2 + len(value) <= _HEADERS_NL.max_line_length
    ):
        return f"{name}: {value}\n".encode("ascii")
    return _HEADERS_NL.fold_binary(name, forbid_multi_line_headers(name, value, "utf-8")[1])


def _subject_header(subject: str) -> bytes:
    return _header("Subject", subject)


def _text_part(text: str, subtype: str) -> bytes | None:
    """A SafeMIMEText(text, subtype, "utf-8") part as the generator writes it, or None where Django
    would quote-print it (a line over 998 bytes) or could not encode it."""
    if any(len(line.encode(errors="surrogateescape")) > RFC5322_EMAIL_LINE_LENGTH_LIMIT for line in text.splitlines()):
        return None
    try:
        payload = _NEWLINES.sub("\n", text).encode("utf-8")
    except UnicodeEncodeError:
        return None
    cte = "7bit" if text.isascii() else "8bit"
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\nMIME-Version: 1.0\nContent-Transfer-Encoding: {cte}\n\n'
    ).encode("ascii") + payload


def message_id_for(key: str) -> str:
    """A Message-ID derived from an idempotency key: a resent copy collapses in the reader's client."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = urlsplit(settings.SITE_URL).hostname or "leadflow.local"
    return f"<{digest}@{domain}>"


@dataclass(frozen=True)
class EmailTemplates:
    """One email's templates, `emails/<name>-subject.txt`, `-body.txt` and `-body.html`, loaded.

    A sender of many emails of a kind (the dispatcher's batch) loads them once: finding three
    templates by name for each email was a tenth of rendering it."""

    subject: Template
    text: Template
    html: Template

    @classmethod
    def load(cls, name: str) -> EmailTemplates:
        return cls(*(get_template(f"emails/{name}-{part}") for part in ("subject.txt", "body.txt", "body.html")))

    def message(self, to: str, ctx: dict, *, key: str | None = None, connection=None) -> LeadFlowEmail:
        """The rendered message to `to`. With `key`, the Message-ID is derived from it, so two
        sends of the same notification are recognisably the same email."""
        ctx = {"site_url": settings.SITE_URL.rstrip("/"), **ctx}
        subject = " ".join(self.subject.render(ctx).split())
        headers = {"Message-ID": message_id_for(key)} if key else {}
        msg = LeadFlowEmail(subject, self.text.render(ctx), to=[to], headers=headers, connection=connection)
        msg.attach_alternative(self.html.render(ctx), "text/html")
        return msg


def make_message(name: str, to: str, ctx: dict, *, key: str | None = None, connection=None) -> LeadFlowEmail:
    """Render `emails/<name>-subject.txt`, `-body.txt` and `-body.html` into one message to `to`
    (see EmailTemplates.message)."""
    return EmailTemplates.load(name).message(to, ctx, key=key, connection=connection)
