import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from leadflow.settings import envbool, envint


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("yes", True), ("0", False), ("off", False), ("", True)])
def test_envbool_reads_the_usual_spellings(monkeypatch, raw, value):
    monkeypatch.setenv("LF_TEST_FLAG", raw)
    assert envbool("LF_TEST_FLAG", True) is value


def test_envbool_fails_loudly_on_nonsense(monkeypatch):
    monkeypatch.setenv("LF_TEST_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured):
        envbool("LF_TEST_FLAG", False)


def test_envint_fails_loudly_on_nonsense(monkeypatch):
    monkeypatch.setenv("LF_TEST_INT", "12x")
    with pytest.raises(ImproperlyConfigured):
        envint("LF_TEST_INT", 3)


def test_the_web_form_rate_limit_is_read_from_the_environment():
    """Deployments behind one address (and the intake benchmark) raise it without a code change."""
    import subprocess
    import sys

    env = {**os.environ, "WEBFORM_RATE_LIMIT": "12345", "DJANGO_SETTINGS_MODULE": "leadflow.settings"}
    out = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.WEBFORM_RATE_LIMIT)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "12345"
