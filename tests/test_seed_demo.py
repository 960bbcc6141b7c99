from django.core.management import call_command

from accounts.models import Team, User
from leads.models import Lead, StageChange


def test_demo_data_covers_every_stage_and_a_second_run_adds_nothing(db, capsys):
    call_command("seed_demo")
    counts = {stage: Lead.objects.filter(stage=stage).count() for stage in Lead.Stage.values}
    total_history = StageChange.objects.count()

    call_command("seed_demo")

    assert all(n > 0 for n in counts.values()), counts
    assert Lead.objects.count() == 200
    assert StageChange.objects.count() == total_history
    assert Team.objects.count() == 1
    assert User.objects.filter(username__in=["admin", "maria", "ana", "ben", "carla"]).count() == 5
    assert "maria" in capsys.readouterr().out  # the logins are printed every time
