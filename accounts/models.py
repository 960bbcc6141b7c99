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

    # What __str__ reads: a list showing people's names loads these (QuerySet.only), not the
    # password hash and the rest.
    NAME_FIELDS = ("username", "first_name", "last_name")

    class Meta:
        ordering = ["first_name", "last_name", "username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def role_names(self) -> list[str]:
        """The user's roles (group names), sorted. Read together with the permissions
        (accounts.backends.load_access): no query of its own on a page that checked one."""
        if not hasattr(self, "_role_names"):
            from .backends import load_access

            load_access(self)
        return self._role_names


class Team(models.Model):
    """A sales team: one manager and its members (the reps). A manager may run several teams."""

    class AssignmentRule(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Round robin (equal turns)"
        WEIGHTED = "weighted", "Weighted (turns in proportion to each member's weight)"

    name = models.CharField(max_length=100, unique=True)
    manager = models.ForeignKey(User, on_delete=models.PROTECT, related_name="managed_teams")
    members = models.ManyToManyField(User, through="Membership", related_name="teams")
    # How new leads are shared out (leads.services.lead_assign_next).
    assignment_rule = models.CharField(max_length=20, choices=AssignmentRule, default=AssignmentRule.ROUND_ROBIN)
    # The round-robin pointer: the member who got the last lead; the next turn starts after them.
    rr_last_member = models.ForeignKey(
        "Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    # Used by lead assignment: relative share of new leads, and whether the rep takes any now.
    weight = models.PositiveSmallIntegerField(
        default=1, help_text="Share of new leads under the weighted rule; 0 takes none."
    )
    is_away = models.BooleanField(default=False, help_text="Away members are skipped by assignment.")
    # Per-rep cap: no new lead while the rep has this many open leads not yet contacted (empty: no cap).
    max_open_uncontacted = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Skip this member while they have this many open, uncontacted leads."
    )
    # Smooth weighted round robin state (nginx's algorithm): grows by the weight each turn,
    # drops by the total when the member is picked. Written only by lead assignment.
    rr_credit = models.IntegerField(default=0, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"
