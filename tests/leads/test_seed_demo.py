from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from django.db.models import Count, Q

from leads.models import Lead, StageChange
from qualification.models import CriteriaVersion, DiscoveryCall, HelpfulClose


def test_the_demo_goes_through_the_gate_and_is_safe_to_run_twice(db):
    call_command("seed_demo", stdout=StringIO())
    counts = (Lead.objects.count(), DiscoveryCall.objects.count(), HelpfulClose.objects.count())

    call_command("seed_demo", stdout=StringIO())

    assert (Lead.objects.count(), DiscoveryCall.objects.count(), HelpfulClose.objects.count()) == counts
    assert CriteriaVersion.objects.get().is_current
    # Every lead that became a prospect passed its call, or a manager overrode the gate.
    for change in StageChange.objects.filter(to_stage=Lead.Stage.PROSPECT):
        assert change.is_override or change.evaluation["passed"]
    assert StageChange.objects.filter(to_stage=Lead.Stage.PROSPECT, is_override=True).exists()
    # Failing calls on open leads, a few helpful replies still to send, referrals from the helped.
    assert DiscoveryCall.objects.filter(lead__stage=Lead.Stage.LEAD, evaluation__passed=False).exists()
    unsent = HelpfulClose.objects.filter(sent_at__isnull=True).values("owner").annotate(n=Count("id"))
    assert {row["n"] for row in unsent} == {2}
    assert Lead.objects.filter(referred_by_lead__stage=Lead.Stage.DISQUALIFIED).exists()
    assert not Lead.objects.filter(Q(stage=Lead.Stage.NURTURE) & Q(nurture_until__isnull=True)).exists()


def test_demo_data_covers_every_stage_and_prints_the_logins_every_time(db, capsys):
    from accounts.models import Team, User

    call_command("seed_demo")
    call_command("seed_demo")

    assert all(Lead.objects.filter(stage=stage).exists() for stage in Lead.Stage.values)
    assert Team.objects.count() == 1
    assert User.objects.filter(username__in=["admin", "maria", "ana", "ben", "carla"]).count() == 5
    out = capsys.readouterr().out
    assert out.count("maria") == 2  # the logins are printed on every run
