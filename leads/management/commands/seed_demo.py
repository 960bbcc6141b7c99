"""Demo data for `make run`: one team, a manager, three reps, an admin and ~200 leads in every
stage with their history. Safe to run twice: a second run only prints the logins."""

from __future__ import annotations

import random
import unicodedata
from datetime import timedelta

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import Membership, Team, User
from leads import services
from leads.models import Activity, Lead, LeadSource

DEMO_PASSWORD = "leadflow-demo"  # noqa: S105 (demo only; printed to the console on purpose)
DEMO_TEAM = "Demo sales team"
SOURCES = ["Website form", "Referral", "Trade show", "Partner list", "Webinar", "Cold outreach"]
PEOPLE = [
    ("admin", "Ada", "Admin", roles.ADMIN),
    ("maria", "Maria", "Manager", roles.MANAGER),
    ("ana", "Ana", "Alvarez", roles.REP),
    ("ben", "Ben", "Brooks", roles.REP),
    ("carla", "Carla", "Chen", roles.REP),
]
FIRST = [
    "Liam",
    "Olivia",
    "Noah",
    "Emma",
    "Ava",
    "Lucas",
    "Mia",
    "Elijah",
    "Zoe",
    "Hugo",
    "Ines",
    "Omar",
    "Priya",
    "Sven",
    "Yuki",
]
LAST = [
    "Garcia",
    "Smith",
    "Müller",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Novak",
    "Silva",
    "Tanaka",
    "Okafor",
    "Larsen",
    "Haddad",
]
COMPANIES = [
    "Acme Robotics",
    "Blue Fern Dental",
    "Northwind Bikes",
    "Kite & Co",
    "Orbit Logistics",
    "Pine Street Bakery",
    "Quanta Labs",
    "Riverbend Clinic",
    "Summit Legal",
    "Tidewater Farms",
]
TITLES = ["Owner", "Operations lead", "CEO", "Office manager", "Head of IT", "Founder"]
OUTCOMES = {
    Activity.Kind.CALL: [
        "Spoke for 10 min, keen to hear more",
        "Voicemail left",
        "No answer, will retry tomorrow",
        "Booked a discovery call",
    ],
    Activity.Kind.EMAIL: ["Sent intro email with case study", "Replied to their questions", "Sent recap of our call"],
    Activity.Kind.MEETING: ["Demo with the team", "Met at their office"],
}


class Command(BaseCommand):
    help = "Create demo users and ~200 leads with history (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=200)

    def handle(self, *args, leads: int, **options):
        if Team.objects.filter(name=DEMO_TEAM).exists():
            self.stdout.write("Demo data already present; nothing added.")
        else:
            with transaction.atomic():
                self._seed(leads)
            self.stdout.write(self.style.SUCCESS(f"Demo data created: {leads} leads."))
        self._print_logins()

    def _print_logins(self) -> None:
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for username, first, last, role in PEOPLE:
            self.stdout.write(f"  {username:<7} {role:<8} {first} {last}")

    def _seed(self, n_leads: int) -> None:
        rng = random.Random(20261122)
        users = {}
        for username, first, last, role in PEOPLE:
            user = User.objects.create_user(
                username=username,
                password=DEMO_PASSWORD,
                first_name=first,
                last_name=last,
                email=f"{username}@leadflow.example",
                time_zone="Europe/Berlin",
                is_staff=role == roles.ADMIN,
            )
            user.groups.add(Group.objects.get(name=role))
            users[username] = user
        team = Team.objects.create(name=DEMO_TEAM, manager=users["maria"])
        reps = [users["ana"], users["ben"], users["carla"]]
        for rep in reps:
            Membership.objects.create(team=team, user=rep)
        sources = [LeadSource.objects.get_or_create(name=name)[0] for name in SOURCES]
        manager = users["maria"]
        # The public web-to-lead form of the "Website form" source: /f/contact/.
        from intake.models import WebForm

        WebForm.objects.get_or_create(
            source=sources[0],
            defaults={
                "slug": "contact",
                "title": "Talk to our team",
                "intro": "Tell us what you need; we answer within one working day.",
                "team": team,
            },
        )

        now = timezone.now()
        # Every stage gets leads; a handful arrive "just now" and wait at the top of the queues.
        plan = (
            ["fresh"] * 12
            + ["lead"] * 60
            + ["prospect"] * 35
            + ["customer"] * 25
            + ["nurture"] * 20
            + ["disqualified"] * 30
            + ["lost"] * 18
        )
        for i in range(n_leads):
            kind = plan[i % len(plan)]
            owner = reps[i % len(reps)]
            first, last = rng.choice(FIRST), rng.choice(LAST)
            company = rng.choice(COMPANIES)
            received = (
                now - timedelta(minutes=rng.randint(2, 50))
                if kind == "fresh"
                else now - timedelta(days=rng.randint(1, 120), minutes=rng.randint(0, 600))
            )
            lead = services.lead_create(
                by=owner,
                name=f"{first} {last}",
                email=_ascii(f"{first}.{last}.{i}@{company.split()[0]}.example").lower(),
                phone=f"+1 415 555 {i % 10000:04d}",
                company=company,
                title=rng.choice(TITLES),
                source=rng.choice(sources),
                team=team,
                owner=owner,
                received_at=received,
            )
            if kind == "fresh":
                continue
            t = received + timedelta(minutes=rng.choice([3, 12, 45, 180, 1500]))
            for _ in range(rng.randint(1, 4)):
                if t >= now:
                    break
                activity_kind = rng.choice(list(OUTCOMES))
                services.activity_log(
                    lead=lead, by=owner, kind=activity_kind, outcome=rng.choice(OUTCOMES[activity_kind]), occurred_at=t
                )
                t += timedelta(hours=rng.randint(4, 96))
            t = min(t, now - timedelta(minutes=1))
            self._move(lead, kind, owner, manager, t)

    def _move(self, lead: Lead, kind: str, owner: User, manager: User, at) -> None:
        S = Lead.Stage
        steps = {
            "lead": [],
            "prospect": [(S.PROSPECT, manager, "Discovery call: budget and problem confirmed")],
            "customer": [
                (S.PROSPECT, manager, "Discovery call: budget and problem confirmed"),
                (S.CUSTOMER, owner, "Signed the annual plan"),
            ],
            "nurture": [(S.NURTURE, owner, "Not before next quarter")],
            "disqualified": [(S.DISQUALIFIED, owner, "No budget this year; pointed them to the free template kit")],
            "lost": [(S.PROSPECT, manager, "Qualified on call"), (S.LOST, owner, "Went with a cheaper competitor")],
        }[kind]
        for to_stage, by, reason in steps:
            services.lead_change_stage(lead=lead, to_stage=to_stage, by=by, reason=reason, at=at)
            at += timedelta(seconds=30)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
