"""The security baseline: production settings pass Django's deploy checks, every page carries
the security headers, logins are throttled, sensitive actions are audited."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from leads import services

ROOT = Path(__file__).resolve().parents[1]


def test_production_settings_pass_the_deploy_checks():
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for themselves; a deployment never does.
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "LEADFLOW_PRODUCTION": "1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "leadflow.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://leadflow.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {**os.environ, "LEADFLOW_PRODUCTION": "1", "SECRET_KEY": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("url", ["/accounts/login/", "/leads/"])
def test_pages_send_the_security_headers(client, rep, url):
    client.force_login(rep)
    response = client.get(url)
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_no_template_has_inline_script_or_style():
    # What makes the strict policy possible: scripts and styles live in static files.
    # (E-mails and the web-form snippet pasted into other sites are not under our CSP and have
    # no stylesheet of ours, so they may use inline styles; scripts stay banned everywhere.)
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        inline_script = "<script>" in text or "<script " in text.replace("<script src=", "")
        inline_style = "<style" in text or " style=" in text
        if inline_script or (inline_style and path.parent.name not in ("emails", "embed")):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_logins_are_throttled_after_repeated_failures_for_that_user_only(client, rep, teammate):
    url = reverse("login")
    for _ in range(4):
        assert client.post(url, {"username": rep.username, "password": "wrong"}).status_code == 200
    # The fifth failure locks the pair out; then even the right password is refused.
    assert client.post(url, {"username": rep.username, "password": "wrong"}).status_code == 429
    locked = client.post(url, {"username": rep.username, "password": "pw-for-tests-only"})
    assert locked.status_code == 429
    assert b"Too many failed log-ins" in locked.content
    # Someone else from the same address can still log in.
    ok = client.post(url, {"username": teammate.username, "password": "pw-for-tests-only"})
    assert ok.status_code == 302


def test_a_good_login_works_and_logout_needs_post(client, rep):
    response = client.post(reverse("login"), {"username": rep.username, "password": "pw-for-tests-only"})
    assert response.status_code == 302 and response.url == reverse("leads:queue")
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302


def test_weak_passwords_are_refused_on_change(client, rep):
    client.force_login(rep)
    response = client.post(
        reverse("password_change"),
        {"old_password": "pw-for-tests-only", "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert response.status_code == 200
    assert "new_password2" in response.context["form"].errors


def test_reassign_and_gate_override_are_audited(lead, teammate, manager):
    services.lead_reassign(lead=lead, to_owner=teammate, by=manager, reason="holiday")
    services.lead_change_stage(lead=lead, to_stage="prospect", by=manager, reason="CEO call went well", override=True)

    actions = list(AuditEvent.objects.filter(lead=lead).values_list("action", "actor"))
    assert sorted(actions) == sorted([("reassign", manager.pk), ("gate_override", manager.pk)])


def test_the_audit_log_is_readable_by_admins_only(client, admin_user, manager):
    client.force_login(manager)
    assert client.get("/admin/audit/auditevent/").status_code == 302  # not staff
    client.force_login(admin_user)
    assert client.get("/admin/audit/auditevent/").status_code == 200


def test_an_absurdly_long_username_is_a_field_error_not_a_500(client, db):
    response = client.post(reverse("login"), {"username": "a" * 5000, "password": "x"})
    assert response.status_code == 200
    assert "username" in response.context["form"].errors
