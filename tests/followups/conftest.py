from __future__ import annotations

import pytest

from followups import services
from followups.models import Cadence, CadenceStep, FollowUpPolicy


@pytest.fixture
def policy(db):
    """The admin's policy row with its defaults (15 min SLA, 9–17 Mon–Fri, 24 h escalation…)."""
    policy = FollowUpPolicy()
    policy.save()
    return policy


@pytest.fixture
def cadences(db):
    """The default cadences: new lead (0 h, 1 wd, 3 wd, 7 d, 14 d, 30 d), prospect, slow nurture."""
    services.cadences_ensure_defaults()
    return {c.stage: c for c in Cadence.objects.filter(is_active=True)}


def make_cadence(stage: str, steps: list[tuple[int, str, str]], name: str | None = None) -> Cadence:
    """A cadence with (offset, unit, kind) steps; replaces the stage's active one."""
    Cadence.objects.filter(stage=stage, is_active=True).update(is_active=False)
    cadence = Cadence.objects.create(name=name or f"Test {stage} {Cadence.objects.count()}", stage=stage)
    for offset, unit, kind in steps:
        CadenceStep.objects.create(
            cadence=cadence, offset=offset, unit=unit, kind=kind, instruction=f"{kind} +{offset} {unit}"
        )
    return cadence
