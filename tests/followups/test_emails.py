"""followups.emails: the cheap MIME form of LeadFlowEmail is byte for byte Django's own (but the boundary)."""

from __future__ import annotations

import re

import pytest
from django.core.mail import EmailMultiAlternatives

from followups.emails import LeadFlowEmail, make_message

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
    monkeypatch.setattr("followups.emails.uuid.uuid4", lambda: type("U", (), {"hex": "0" * 32})())
    html = "<p>=_" + "0" * 24 + "</p>"
    data = serialised(LeadFlowEmail, "Hi", html=html)
    assert b"=_" + b"0" * 24 + b'"' not in data  # the generator chose another boundary
    assert html.encode() in data


def test_make_message_renders_the_three_templates(lead, rep):
    from followups.models import FollowUp

    followup = FollowUp(lead=lead, owner=rep, kind="call", instruction="Call back", due_at=lead.received_at)
    ctx = {"followup": followup, "lead": lead, "lead_label": "Lena Lead", "path": "/leads/1/", "recipient": rep}
    msg = make_message("followup-reminder", rep.email, {**ctx, "due_local": "Mon 30 Nov, 10:00"}, key="fu:1")
    assert msg.subject == "Call Lena Lead: Call back"
    assert "Mon 30 Nov, 10:00" in msg.body and msg.alternatives[0].mimetype == "text/html"
    assert isinstance(msg, LeadFlowEmail)
