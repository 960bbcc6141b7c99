from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (e.g. Europe/Berlin).")


class User(AbstractUser):
    """A person who logs in. Roles are Django groups (see accounts/roles.py)."""

    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])

    class Meta:
        ordering = ["first_name", "last_name", "username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Team(models.Model):
    """A sales team: one manager and its members (the reps). A manager may run several teams."""

    name = models.CharField(max_length=100, unique=True)
    manager = models.ForeignKey(User, on_delete=models.PROTECT, related_name="managed_teams")
    members = models.ManyToManyField(User, through="Membership", related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    # Used by lead assignment: relative share of new leads, and whether the rep takes any now.
    weight = models.PositiveSmallIntegerField(default=1)
    is_away = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"
