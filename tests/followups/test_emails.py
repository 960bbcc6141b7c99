"""followups.emails: the cheap MIME form of LeadFlowEmail is byte for byte Django's own (but the boundary)."""

from __future__ import annotations

import random
import re
from email.errors import HeaderParseError
from email.header import Header

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives

from followups.emails import (
    SHORT_ASCII_HEADERS,
    LeadFlowEmail,
    LeadFlowTextEmail,
    SerialisedMessage,
    _subject_header,
    make_message,
)

BOUNDARY = re.compile(rb'boundary="([^"]+)"')


def serialised(cls, subject: str, *, to: str = "rita@example.com", html: str = "<p>Hi</p>") -> bytes:
    headers = {"Message-ID": "<abc@leadflow.local>", "Date": "Mon, 30 Nov 2026 10:00:00 -0000"}
    msg = cls(subject, "Hello,\n\nA follow-up is due.\n", to=[to], headers=headers)
    msg.attach_alternative(html, "text/html")
    data = msg.message().as_bytes(linesep="\r\n")
    (boundary,) = set(BOUNDARY.findall(data))
    # Python's own boundary is long enough to fold the Content-Type line; ours is not.
    return re.sub(rb";\r\n\s+boundary=", b"; boundary=", data).replace(boundary, b"BOUNDARY")


@pytest.mark.parametrize(
    "subject",
    [
        "Call Lena Lead: Call back",
        "Call  Lena\tLead:  two spaces, a tab ",
        "Call Lena Lead: " + "a long instruction that does not fit on one header line " * 3,
        "Appel Léna Lead — rappeler",
        "Call =?utf-8?q?looks_encoded?= Lead",
    ],
)
def test_a_leadflow_email_serialises_like_djangos(subject):
    ours = serialised(LeadFlowEmail, subject)
    assert ours == serialised(EmailMultiAlternatives, subject)
    assert b"\r\n\r\n" in ours and ours.count(b"--BOUNDARY") == 3


def test_a_boundary_found_in_a_body_is_left_to_the_generator(monkeypatch):
    monkeypatch.setattr("followups.emails.secrets.token_hex", lambda n: "0" * 2 * n)
    html = "<p>=_" + "0" * 24 + "</p>"
    data = serialised(LeadFlowEmail, "Hi", html=html)
    assert b"=_" + b"0" * 24 + b'"' not in data  # the generator chose another boundary
    assert html.encode() in data


def test_make_message_renders_the_three_templates(rep):
    ctx = {
        "kind_label": "Call",
        "instruction": "Call back",
        "agreed_with_lead": True,
        "lead_label": "Lena Lead",
        "lead_phone": "+1 555 0100",
        "lead_email": "lena@example.com",
        "path": "/leads/1/",
        "recipient": rep,
        "greeting_name": "Rita",
        "due_local": "Mon 30 Nov, 10:00",
    }
    msg = make_message("followup-reminder", rep.email, ctx, key="fu:1")
    assert msg.subject == "Call Lena Lead: Call back"
    assert "Hello Rita," in msg.body and "Mon 30 Nov, 10:00" in msg.body and "+1 555 0100" in msg.body
    assert "The lead agreed to this date." in msg.body and msg.alternatives[0].mimetype == "text/html"
    assert isinstance(msg, LeadFlowEmail)


DATE = "Mon, 30 Nov 2026 10:00:00 -0000"
# Text a template may produce: spaces, tabs, punctuation MIME cares about, non-ASCII, every line end.
ALPHABET = "abcdefghij ABC  \t.,;:-=?_()<>\"'@/é—ü中😀\n\r\n"


def both_forms(monkeypatch, subject: str, body: str, html: str, to: str) -> list:
    """Each class's message() written out with "\r\n" and "\n" (or the error it raised), same Date."""
    monkeypatch.setattr("followups.emails.formatdate", lambda localtime=False: DATE)
    monkeypatch.setattr("django.core.mail.message.formatdate", lambda localtime=False: DATE)
    forms = []
    for cls in (LeadFlowEmail, EmailMultiAlternatives):
        msg = cls(subject, body, to=[to], headers={"Message-ID": "<abc@leadflow.local>"})
        msg.attach_alternative(html, "text/html")
        try:
            mime = msg.message()
        except Exception as e:
            forms.append(type(e).__name__)
            continue
        datas = []
        for linesep in ("\r\n", "\n"):
            data = mime.as_bytes(linesep=linesep)
            (boundary,) = set(BOUNDARY.findall(data))
            datas.append(re.sub(rb";\r?\n\s+boundary=", b"; boundary=", data).replace(boundary, b"BOUNDARY"))
        forms.append((datas, type(mime)))
    return forms


def test_a_reminder_shaped_email_is_written_straight_to_bytes_and_they_are_djangos(monkeypatch):
    """The dispatcher's emails skip email.message objects: one recipient, a text and an HTML body.
    Thousands of random subjects, bodies and recipients give Django's bytes (or Django's error)."""
    rng = random.Random(7)

    def text(n: int) -> str:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, n)))

    written_straight = 0
    for _ in range(3000):
        subject = text(rng.choice([10, 60, 120]))
        if rng.random() < 0.9:
            subject = subject.replace("\n", " ").replace("\r", " ")
        body = text(rng.choice([5, 200, 2000])) if rng.random() < 0.97 else "x" * 1200  # QP: Django's path
        to = rng.choice(["rita@example.com", "Rita Rep <rita@example.com>", "rité@example.com"])
        ours, djangos = both_forms(monkeypatch, subject, body, text(300), to)
        if isinstance(djangos, str):
            assert ours == djangos, (subject, body, to)  # the same refusal, e.g. a newline in the subject
            continue
        assert ours[0] == djangos[0], (subject, body, to)
        written_straight += ours[1] is SerialisedMessage
    assert written_straight > 2000


def test_a_message_written_straight_still_reads_like_a_message(monkeypatch):
    ((data, cls), _) = both_forms(monkeypatch, "Call Lena Lead: Call back", "Hello,\n", "<p>Hello</p>", "r@example.com")
    msg = LeadFlowEmail("Call Lena Lead: Call back", "Hello,\n", to=["r@example.com"])
    msg.attach_alternative("<p>Hello</p>", "text/html")
    mime = msg.message()
    assert cls is SerialisedMessage and isinstance(mime, SerialisedMessage)
    assert mime["Subject"] == "Call Lena Lead: Call back" and mime.get_charset() is None
    assert [part.get_content_type() for part in mime.walk()][1:] == ["text/plain", "text/html"]
    assert "Hello," in mime.as_string()


def test_a_long_ascii_subject_is_folded_as_email_header_folds_it():
    """A subject written straight to bytes is folded as Django folds it once
    (Header(subject).encode()) and the generator again after "Subject: "."""
    rng = random.Random(1)
    words = ["Call", "Lena", "(Eagle", "Water", "Ltd):", "case", "study;", "asked,", "a,b", ";", ",", " ", "Re:"]
    words += ["x" * 50, "y" * 90, "=?utf-8?q?x?=", ""]
    for _ in range(20_000):
        subject = " ".join(rng.choice(words) for _ in range(rng.randint(0, 25)))
        subject = rng.choice(["", " "]) + subject + rng.choice(["", " "])
        try:
            expected = SHORT_ASCII_HEADERS.clone(linesep="\n").fold_binary("Subject", Header(subject).encode())
        except HeaderParseError:
            continue
        assert _subject_header(subject) == expected, subject


def text_forms(monkeypatch, subject: str, body: str, to: str, headers: dict) -> list:
    """LeadFlowTextEmail's and Django's EmailMessage's bytes ("\r\n" and "\n"), or the error raised."""
    monkeypatch.setattr("followups.emails.formatdate", lambda localtime=False: DATE)
    monkeypatch.setattr("django.core.mail.message.formatdate", lambda localtime=False: DATE)
    forms = []
    for cls in (LeadFlowTextEmail, EmailMessage):
        try:
            mime = cls(subject, body, to=[to], headers=headers).message()
        except Exception as e:
            forms.append(type(e).__name__)
            continue
        forms.append(([mime.as_bytes(linesep=linesep) for linesep in ("\r\n", "\n")], type(mime)))
    return forms


def test_a_confirmation_shaped_text_email_is_written_straight_to_bytes_and_they_are_djangos(monkeypatch):
    """The web form's confirmations: one recipient, one text body. Random subjects, bodies and
    recipients give Django's bytes (or Django's error); other shapes take Django's path."""
    rng = random.Random(11)

    def text(n: int) -> str:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, n)))

    written_straight = 0
    for _ in range(3000):
        subject = text(rng.choice([10, 60, 120]))
        if rng.random() < 0.9:
            subject = subject.replace("\n", " ").replace("\r", " ")
        body = text(rng.choice([5, 200, 2000])) if rng.random() < 0.97 else "x" * 1200  # QP: Django's path
        to = rng.choice(["ana@example.com", "Ana Pérez <ana@example.com>", "anà@example.com"])
        headers = rng.choice([{"Message-ID": "<webform-confirmation-1@leadflow>"}, {}, {"Reply-To": "x@example.com"}])
        ours, djangos = text_forms(monkeypatch, subject, body, to, headers)
        if isinstance(djangos, str):
            assert ours == djangos, (subject, body, to)
            continue
        if "Message-ID" not in headers:  # a random one each: compare the rest
            ours = ([re.sub(rb"Message-ID: <[^>]+>", b"", d) for d in ours[0]], ours[1])
            djangos = ([re.sub(rb"Message-ID: <[^>]+>", b"", d) for d in djangos[0]], djangos[1])
        assert ours[0] == djangos[0], (subject, body, to, headers)
        written_straight += ours[1] is SerialisedMessage
    assert written_straight > 1500


def test_a_text_email_written_straight_still_reads_like_a_message():
    mime = LeadFlowTextEmail("Thanks, Ana", "Hi Ana,\n", to=["ana@example.com"]).message()
    assert isinstance(mime, SerialisedMessage) and not mime.is_multipart() and mime.get_charset() is None
    assert mime["Subject"] == "Thanks, Ana" and mime.get_content_type() == "text/plain"
    assert mime.get_payload() == "Hi Ana,\n"
