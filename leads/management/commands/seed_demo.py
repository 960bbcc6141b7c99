"""Demo data for `make run`: one team, a manager, three reps, an admin and ~200 leads in every
stage with their history; the default cadences and follow-up policy; sales-ready criteria v1,
discovery calls (passing ones behind every prospect and customer, failing ones on some open
leads), disqualifications with helpful closes (a few still to send) and referrals from
disqualified leads. Safe to run twice: a second run adds no leads, only what is missing from an
older demo, and moves the demo follow-up to a minute from now, so its reminder shows in the bell
shortly after `make run` starts."""

from __future__ import annotations

import random
import unicodedata
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts import roles
from accounts.models import Membership, Team, User
from followups import services as followup_services
from followups.models import FollowUp, FollowUpPolicy, Kind
from leads import services
from leads.models import Activity, Lead, LeadSource
from qualification import services as qualification_services
from qualification.defaults import DEFAULT_REASONS, SUGGESTED_THRESHOLD, suggested_rules
from qualification.models import CriteriaVersion, DisqualificationReason, HelpfulClose

DEMO_PASSWORD = "leadflow-demo"  # noqa: S105 (demo only; printed to the console on purpose)
DEMO_TEAM = "Demo sales team"
# The lead whose follow-up falls due a minute after each `make run`.
DEMO_LEAD_EMAIL = "dana.demo@acme.example"
DEMO_FOLLOWUP = "Demo: call Dana back about the pilot (due a minute after start)"
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
# How fast each source's leads are first contacted (minutes), and how slow ones slow down: the
# "crappy" partner list gets slow follow-up, yet converts when worked fast (seeds/001).
FAST = [3, 4, 12, 45]
SLOW = [45, 180, 1500, 3000]
SLOW_SOURCES = {"Partner list", "Cold outreach"}
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


PROBLEMS = [
    "We retype every order from email into our system; it takes a day a week",
    "Patients no-show and we only find out when the slot is lost",
    "Quotes take three days because prices live in five spreadsheets",
    "Nobody knows which customer asked what, it is all in personal inboxes",
    "Our delivery routes are planned by hand every morning",
]
DIY = ["A shared spreadsheet", "An intern two days a month", "A free template", "Doing nothing for now"]
DECIDERS = ["Dana Weiss, CFO", "The owner", "Head of operations", "Their IT lead, Sam"]
NEXT_STEPS = ["Demo with their CFO", "Send the case study and call back", "Pilot proposal", "Call with IT lead"]
# Ways a call falls short of the suggested criteria.
FAILURES = [
    {"budget_status": "unknown", "budget_amount": None, "budget_currency": ""},
    {"budget_amount": Decimal("3000"), "timeline_status": "none", "timeline_date": None},
    {"budget_amount": Decimal("9000"), "budget_currency": "USD", "timeline_status": "none", "timeline_date": None},
    {"diy_cheaper": True},
    {"problem_confirmed": None},
]


class Command(BaseCommand):
    help = "Create demo users and ~200 leads with history (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=200)

    def handle(self, *args, leads: int, **options):
        if Team.objects.filter(name=DEMO_TEAM).exists():
            self.stdout.write("Demo data already present; nothing added.")
            with transaction.atomic():
                self._ensure_qualification(User.objects.filter(username="admin").first())
        else:
            with transaction.atomic():
                self._seed(leads)
            self.stdout.write(self.style.SUCCESS(f"Demo data created: {leads} leads."))
        due_at = self._refresh_demo_followup()
        self.stdout.write(f"Demo follow-up for ana due at {due_at:%H:%M:%S} UTC: watch the bell.")
        self._print_logins()

    @transaction.atomic
    def _refresh_demo_followup(self):
        """One pending demo follow-up, due a minute from now: moved if it exists, added if not."""
        ana = User.objects.get(username="ana")
        due_at = timezone.now() + timedelta(minutes=1)
        lead = Lead.objects.filter(email=DEMO_LEAD_EMAIL).first()
        if lead is None:
            lead = services.lead_create(
                by=ana,
                name="Dana Demo",
                email=DEMO_LEAD_EMAIL,
                phone="+1 415 555 0100",
                company="Acme Robotics",
                title="Operations lead",
                source=LeadSource.objects.get_or_create(name=SOURCES[0])[0],
                team=Team.objects.get(name=DEMO_TEAM),
                owner=ana,
                received_at=timezone.now() - timedelta(hours=2),
            )
            # Ana called at once (the cadence's "call now" step): Dana asked to be called back.
            for step in FollowUp.objects.pending().filter(lead=lead, due_at__lte=timezone.now()):
                followup_services.followup_complete(
                    followup=step, by=ana, activity_kind=Activity.Kind.CALL, outcome="Asked to be called back"
                )
        pending = FollowUp.objects.pending().filter(lead=lead, instruction=DEMO_FOLLOWUP).first()
        if pending is not None:
            followup_services.followup_reschedule(followup=pending, by=ana, due_at=due_at)
        else:
            followup_services.followup_add(
                lead=lead,
                owner=ana,
                due_at=due_at,
                kind=Kind.CALL,
                instruction=DEMO_FOLLOWUP,
                agreed_with_lead=True,
                by=ana,
            )
        return due_at

    def _print_logins(self) -> None:
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for username, first, last, role in PEOPLE:
            self.stdout.write(f"  {username:<7} {role:<8} {first} {last}")

    def _seed(self, n_leads: int) -> None:
        rng = random.Random(20261122)
        FollowUpPolicy.load().save()
        followup_services.cadences_ensure_defaults()
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
        self._ensure_qualification(users["admin"])
        self.rng = rng
        self.reasons = list(DisqualificationReason.objects.filter(is_active=True))
        self.n_calls = 0
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
            source = rng.choice(sources)
            lead = services.lead_create(
                by=owner,
                name=f"{first} {last}",
                email=_ascii(f"{first}.{last}.{i}@{company.split()[0]}.example").lower(),
                phone=f"+1 415 555 {i % 10000:04d}",
                company=company,
                title=rng.choice(TITLES),
                source=source,
                team=team,
                owner=owner,
                received_at=received,
            )
            if kind == "fresh":
                continue
            # Leads that went on to prospect were (mostly) called fast: conversion follows speed.
            worked_fast = kind in ("prospect", "customer", "lost") or rng.random() < 0.3
            if source.name in SLOW_SOURCES and rng.random() < 0.6:
                worked_fast = False
            t = received + timedelta(minutes=rng.choice(FAST if worked_fast else SLOW) * rng.uniform(0.6, 1.4))
            for _ in range(rng.randint(1, 4)):
                if t >= now:
                    break
                activity_kind = rng.choice(list(OUTCOMES))
                services.activity_log(
                    lead=lead, by=owner, kind=activity_kind, outcome=rng.choice(OUTCOMES[activity_kind]), occurred_at=t
                )
                t += timedelta(hours=rng.randint(4, 96))
            t = min(t, now - timedelta(minutes=5))
            self._move(lead, kind, owner, manager, t, i)
            if i % 17 == 5:  # a few leads changed hands
                other = reps[(i + 1) % len(reps)]
                services.lead_reassign(lead=lead, to_owner=other, by=manager, reason="Covering a holiday")
        # Disqualified leads we helped sent some people our way.
        referral = next(src for src in sources if src.name == "Referral")
        helped = Lead.objects.filter(team=team, stage=Lead.Stage.DISQUALIFIED).order_by("id")[:18:3]
        for n, referrer in enumerate(helped):
            received = referrer.stage_changed_at + (now - referrer.stage_changed_at) * rng.uniform(0.2, 0.9)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            services.lead_create(
                by=referrer.owner,
                name=f"{first} {last}",
                email=_ascii(f"{first}.{last}.ref{n}@referral.example").lower(),
                company=rng.choice(COMPANIES),
                source=referral,
                referred_by=referrer.name,
                referred_by_lead=referrer,
                team=team,
                owner=referrer.owner,
                received_at=received,
            )
        # A few helpful replies are still to send (two per rep): they top the reps' queues.
        kept: dict[int, int] = {}
        unsent = HelpfulClose.objects.filter(sent_at__isnull=True).order_by("-created_at")
        for close in unsent.select_related("lead", "owner", "reason"):
            kept[close.owner_id] = kept.get(close.owner_id, 0) + 1
            if kept[close.owner_id] > 2:
                qualification_services.helpful_close_mark_sent(close=close, by=close.owner)
        # The history's follow-ups: those due over a week ago were dealt with back then (skipped:
        # some leads are left with no next step, as in real life); those due this week are
        # overdue and were reminded when due. Either way the first `make run` does not send a few
        # hundred stale reminders at once.
        old = FollowUp.objects.pending().filter(due_at__lt=now - timedelta(days=7))
        old.update(state=FollowUp.State.SKIPPED, completed_at=F("due_at"))
        FollowUp.objects.pending().filter(due_at__lt=now).update(reminded_at=F("due_at"), escalated_at=F("due_at"))
        followup_services.followups_refresh_next(lead_ids=Lead.objects.values_list("pk", flat=True))

    def _ensure_qualification(self, admin: User | None) -> None:
        """The reason list (normally from the data migration) and criteria v1, if missing."""
        for position, (code, label, needs_text, creates_close, template) in enumerate(DEFAULT_REASONS):
            DisqualificationReason.objects.get_or_create(
                code=code,
                defaults={
                    "label": label,
                    "needs_text": needs_text,
                    "creates_helpful_close": creates_close,
                    "helpful_close_template": template,
                    "position": position * 10,
                },
            )
        if admin is not None and not CriteriaVersion.objects.exists():
            qualification_services.criteria_publish(
                by=admin,
                rules=suggested_rules(),
                threshold=SUGGESTED_THRESHOLD,
                note="Demo: the suggested first version",
            )

    def _call(self, lead: Lead, by: User, at: datetime, *, passing: bool, next_step: bool = False) -> None:
        rng = self.rng
        self.n_calls += 1
        answers = {
            "problem": rng.choice(PROBLEMS),
            "problem_confirmed": True,
            "budget_status": "amount",
            "budget_amount": Decimal(rng.choice([6000, 8000, 12000, 25000, 40000])),
            "budget_currency": "EUR",
            "diy_alternative": rng.choice(DIY),
            "diy_cheaper": False,
            "decision_maker": rng.choice(DECIDERS),
            "decision_maker_spoken_to": rng.random() < 0.6,
            "timeline_status": "date",
            "timeline_date": (at + timedelta(days=rng.randint(14, 80))).date(),
        }
        if not passing:
            answers |= rng.choice(FAILURES)
        if next_step:
            answers["next_step"] = rng.choice(NEXT_STEPS)
            answers["next_step_at"] = timezone.now() + timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 6))
        qualification_services.call_record(
            lead=lead, by=by, held_at=at, duration_minutes=rng.choice([15, 20, 25, 30, 45]), **answers
        )

    def _move(self, lead: Lead, kind: str, owner: User, manager: User, at, i: int) -> None:
        S = Lead.Stage
        rng = self.rng
        if kind == "lead":
            # Open leads: a third had a call lately that did not qualify yet, a few one that did.
            recent = max(at, timezone.now() - timedelta(days=rng.randint(1, 12), hours=rng.randint(0, 8)))
            if i % 3 == 0:
                self._call(lead, owner, recent, passing=False, next_step=True)
            elif i % 7 == 0:
                self._call(lead, owner, recent, passing=True, next_step=True)
            return
        if kind == "nurture":
            qualification_services.lead_nurture(
                lead=lead,
                by=owner,
                until=timezone.now() + timedelta(days=rng.randint(7, 120)),
                reason="Not before next quarter",
                at=at,
            )
            back = at + min(timedelta(days=rng.randint(2, 20)), (timezone.now() - at) / 2)
            if rng.random() < 0.4:  # some came back early: budget approved
                services.lead_change_stage(
                    lead=lead, to_stage=S.LEAD, by=owner, reason="Back from nurture: budget approved", at=back
                )
            return
        if kind == "disqualified":
            reason = self.reasons[i % len(self.reasons)]
            note = "Student project, not a business" if reason.needs_text else ""
            qualification_services.lead_disqualify(lead=lead, by=owner, reason=reason, note=note, at=at)
            return
        # Prospect, customer, lost: through the gate. Most with a passing call; one in eight
        # by a manager override (and in reports as such).
        if i % 8 == 0:
            services.lead_change_stage(
                lead=lead,
                to_stage=S.PROSPECT,
                by=manager,
                reason="Met the CEO at the fair: budget and problem clear",
                override=True,
                at=at,
            )
        else:
            self._call(lead, owner, at - timedelta(minutes=2), passing=True)
            services.lead_change_stage(lead=lead, to_stage=S.PROSPECT, by=owner, reason="Qualified on the call", at=at)
        # Days between moves, so time-in-stage means something; never in the future.
        at += min(timedelta(days=rng.randint(2, 20)), (timezone.now() - at) / 2)
        if kind == "customer":
            services.lead_change_stage(lead=lead, to_stage=S.CUSTOMER, by=owner, reason="Signed the annual plan", at=at)
        elif kind == "lost":
            services.lead_change_stage(
                lead=lead, to_stage=S.LOST, by=owner, reason="Went with a cheaper competitor", at=at
            )


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
