"""Seed the benchmark database with a realistic data set, fast, once.

What it writes (for N leads; 1,000,000 in the big run):
- 1 admin, 4 managers, 20 reps in 4 teams (sizes and rep volumes skewed), 10 lead sources
  (skewed: the website form brings 30 %, a directory listing 2 %);
- N leads received over two years, growing over time (the last month brings ~2.4x the first),
  mostly on weekdays in the team's office hours; ids follow arrival order, as in production;
- their history as the services would have written it: ~2.4 stage changes per lead (creation,
  then moves such as lead → prospect → customer, with reasons), ~4 activities (calls, emails,
  meetings, notes; `first_contacted_at` / `last_touched_at` agree with them) and ~1.1
  assignments (creation, 8 % reassigned by the manager). Recent leads are still being worked:
  a move or first contact that would fall after "now" has not happened yet.

How it stays fast (a million leads in a few minutes on 2 cores): rows are generated in Python from a
deterministic RNG and streamed with `COPY ... FROM STDIN (FREEZE)` into tables truncated in the
same transaction; secondary indexes are dropped first and rebuilt once at the end (with a large
`maintenance_work_mem`), and foreign-key triggers are skipped during the load when we are allowed to
(`session_replication_role = replica`, superuser only; otherwise they run immediately per row).
Nothing goes through the ORM's per-row save.

Idempotent: the table `bench_seed` records what was seeded (seeder, version, N, RNG seed, the data
set's "now", rows, seconds). A re-run with the same N reuses the data; another N reseeds everything;
a seeder that is new or whose `version` changed is run alone on top of the existing data set.

Adding a table (follow-ups, discovery calls, ...): fill in its hook function below (or add one to
`SEEDERS`), returning the number of rows written. Its table must exist (its app migrated); a hook
that returns None is skipped and picked up on a later run once it returns a number.

Run alone: `python -m bench.seed` (the same database and BENCH_LEADS as `make bench`).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import time
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlparse

import psycopg2

from bench import vocab

# Bump when the generated data changes shape: the next run reseeds everything.
SEED_VERSION = 3
RNG_SEED = 20261122
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/leadflow_bench"
DEFAULT_LEADS = 100_000
YEARS = 2
# Intake grows linearly over the two years: the density at the end is (1 + GROWTH) x the start.
GROWTH = 1.4
BENCH_PASSWORD = "leadflow-bench"  # noqa: S105 (benchmark users only)
MARKER_TABLE = "bench_seed"

NULL = r"\N"
DAY = 86_400
HOUR = 3_600

# People: ids are fixed so that seeders run later (hooks) can rebuild them without a query.
ADMIN_ID = 1
N_TEAMS = 4
REPS_PER_TEAM = 5
MANAGER_IDS = [2, 3, 4, 5]
REP_IDS = list(range(6, 6 + N_TEAMS * REPS_PER_TEAM))
TEAM_NAMES = ["Bench North", "Bench South", "Bench East", "Bench West"]
# Office time zone per team, with a fixed UTC offset used to place intake in office hours.
TEAM_ZONES = [("Europe/Berlin", 1), ("Europe/London", 0), ("America/New_York", -5), ("America/Los_Angeles", -8)]
TEAM_SHARE = [35, 25, 25, 15]
OWNERLESS_SHARE = 0.01
REASSIGNED_SHARE = 0.08

# Stage paths a lead takes, with their share among leads old enough to have finished theirs.
# Each move happens after a delay; a move that would fall after "now" has not happened yet.
PATHS: list[tuple[int, tuple[str, ...]]] = [
    (5, ()),  # still a lead (stale)
    (3, ("prospect",)),
    (12, ("prospect", "customer")),
    (17, ("prospect", "lost")),
    (25, ("disqualified",)),
    (8, ("prospect", "disqualified")),
    (15, ("nurture",)),
    (5, ("nurture", "lead")),  # recycled: back in the queue
    (10, ("prospect", "nurture")),
]
# Chance that a lead on this path was never contacted (spam disqualified unseen, neglected leads).
UNCONTACTED = {0: 0.35, 4: 0.25, 6: 0.05}
CLOSED_STAGES = {"customer", "lost", "disqualified", "nurture"}


# --------------------------------------------------------------------------------------------
# Formatting helpers for COPY's text format


_TOD = [f" {h:02d}:{m:02d}:{s:02d}+00" for h in range(24) for m in range(60) for s in range(60)]
_DAYS: dict[int, str] = {}
_EPOCH = dt.date(1970, 1, 1)


def ts(seconds: int) -> str:
    """A UTC timestamp in COPY text format, from epoch seconds (fast: two look-ups)."""
    d, s = divmod(seconds, DAY)
    day = _DAYS.get(d)
    if day is None:
        day = _DAYS[d] = (_EPOCH + dt.timedelta(days=d)).isoformat()
    return day + _TOD[s]


def ts_or_null(seconds: int) -> str:
    return ts(seconds) if seconds else NULL


def ascii_slug(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


class _LineStream:
    """A file-like object over an iterator of COPY lines; psycopg2's copy_expert reads it."""

    def __init__(self, lines: Iterator[str], batch: int = 4000):
        self._lines = lines
        self._batch = batch
        self.count = 0

    def read(self, size: int = -1) -> str:
        chunk = []
        for line in self._lines:
            chunk.append(line)
            if len(chunk) >= self._batch:
                break
        self.count += len(chunk)
        return "".join(chunk)

    readline = read


# --------------------------------------------------------------------------------------------
# The plan: per-lead facts every table's seeder agrees on


@dataclass
class LeadPlan:
    """Compact per-lead facts (index i is lead id i + 1), shared by the seeders so that, e.g.,
    a lead's `last_touched_at` is the time of its last contact activity."""

    received: array = field(default_factory=lambda: array("q"))
    team: array = field(default_factory=lambda: array("b"))  # index into TEAM_NAMES
    owner: array = field(default_factory=lambda: array("l"))  # user id, 0 = nobody
    prev_owner: array = field(default_factory=lambda: array("l"))  # reassigned from, 0 = not reassigned
    reassigned_at: array = field(default_factory=lambda: array("q"))
    source: array = field(default_factory=lambda: array("b"))  # index into vocab.SOURCES
    path: array = field(default_factory=lambda: array("b"))  # index into PATHS
    moves_done: array = field(default_factory=lambda: array("b"))
    move1: array = field(default_factory=lambda: array("q"))
    move2: array = field(default_factory=lambda: array("q"))
    first_contact: array = field(default_factory=lambda: array("q"))  # 0 = never
    last_touch: array = field(default_factory=lambda: array("q"))
    n_contacts: array = field(default_factory=lambda: array("b"))
    n_notes: array = field(default_factory=lambda: array("b"))
    touch_end: array = field(default_factory=lambda: array("q"))  # latest time anything happened

    def __len__(self) -> int:
        return len(self.received)

    def stage(self, i: int) -> str:
        done = self.moves_done[i]
        return PATHS[self.path[i]][1][done - 1] if done else "lead"

    def stage_changed_at(self, i: int) -> int:
        done = self.moves_done[i]
        return self.received[i] if done == 0 else (self.move1[i] if done == 1 else self.move2[i])


@dataclass
class SeedContext:
    conn: psycopg2.extensions.connection
    n_leads: int
    anchor: int  # the data set's "now", epoch seconds (an hour boundary at seeding time)
    freeze: bool = True

    @property
    def start(self) -> int:
        return self.anchor - YEARS * 365 * DAY

    def rng(self, part: str) -> random.Random:
        """One deterministic RNG per seeder, so adding a seeder never changes another's data."""
        return random.Random(f"{RNG_SEED}:{self.n_leads}:{part}")

    @cached_property
    def team_reps(self) -> list[list[int]]:
        return [REP_IDS[t * REPS_PER_TEAM : (t + 1) * REPS_PER_TEAM] for t in range(N_TEAMS)]

    @cached_property
    def rep_weights(self) -> list[list[float]]:
        rng = self.rng("rep-weights")
        return [[rng.uniform(0.5, 1.5) for _ in reps] for reps in self.team_reps]

    @cached_property
    def plan(self) -> LeadPlan:
        return build_plan(self)

    @cached_property
    def called(self) -> tuple[frozenset[int], frozenset[int]]:
        """(leads with discovery calls, those among them that reached prospect through the gate)."""
        return plan_calls(self)

    def copy(self, table: str, columns: Iterable[str], lines: Iterator[str]) -> int:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        if self.freeze:
            sql += " WITH (FREEZE)"
        stream = _LineStream(lines)
        with self.conn.cursor() as cur:
            cur.copy_expert(sql, stream, size=1 << 16)
        return stream.count


def _intake_time(rng: random.Random, start: int, team: int) -> int:
    """When a lead arrives: linear growth over the period, weekdays, mostly office hours."""
    days = YEARS * 365
    while True:
        u = rng.random()
        # Inverse CDF of the density 1 + GROWTH * x on [0, 1].
        x = (-1 + math.sqrt(1 + 2 * GROWTH * u * (1 + GROWTH / 2))) / GROWTH
        day = min(days - 1, int(x * days))
        weekday = (start // DAY + day + 3) % 7  # 1970-01-01 was a Thursday (3)
        if weekday < 5 or rng.random() < 0.25:
            break
    if rng.random() < 0.85:
        local = rng.randint(8 * HOUR, 18 * HOUR - 1)
    else:
        local = rng.randint(0, DAY - 1)
    return start - start % DAY + day * DAY + local - TEAM_ZONES[team][1] * HOUR


def _weighted(rng: random.Random, cum: list[float]) -> int:
    x = rng.random() * cum[-1]
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _cumulative(weights: Iterable[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def build_plan(ctx: SeedContext) -> LeadPlan:
    """Every lead's arrival, team, owner, source, stage path and contact times. Deterministic."""
    rng = ctx.rng("plan")
    rnd, lognorm, randint = rng.random, rng.lognormvariate, rng.randint
    anchor, start, n = ctx.anchor, ctx.start, ctx.n_leads

    team_cum = _cumulative(TEAM_SHARE)
    arrivals = []
    for _ in range(n):
        team = _weighted(rng, team_cum)
        arrivals.append((min(_intake_time(rng, start, team), anchor - 60), team))
    arrivals.sort()

    rep_cum = [_cumulative(w) for w in ctx.rep_weights]
    source_cum = _cumulative(share for _, share in vocab.SOURCES)
    path_cum = _cumulative(weight for weight, _ in PATHS)
    plan = LeadPlan()
    mu_contact, mu_move1, mu_move2, mu_touch = (
        math.log(2 * HOUR),
        math.log(5 * DAY),
        math.log(20 * DAY),
        math.log(15 * DAY),
    )

    for received, team in arrivals:
        reps = ctx.team_reps[team]
        owner = 0 if rnd() < OWNERLESS_SHARE else reps[_weighted(rng, rep_cum[team])]
        prev_owner, reassigned_at = 0, 0
        if owner and rnd() < REASSIGNED_SHARE:
            others = [r for r in reps if r != owner]
            prev_owner = others[randint(0, len(others) - 1)]
            reassigned_at = received + int(rnd() * min(30 * DAY, anchor - received))
        path = _weighted(rng, path_cum)
        moves = PATHS[path][1]

        first_contact = 0
        if rnd() >= UNCONTACTED.get(path, 0.0):
            first_contact = received + 60 + int(lognorm(mu_contact, 1.6))
        move1 = move2 = 0
        if moves:
            move1 = received + int(lognorm(mu_move1, 1.0))
            if moves[0] == "prospect":
                # Qualifying someone means having spoken to them first.
                first_contact = first_contact or received + 60 + int(lognorm(mu_contact, 1.6))
                move1 = max(move1, first_contact + HOUR)
            elif first_contact:
                move1 = max(move1, first_contact + 60)
        if len(moves) > 1:
            gap = randint(30 * DAY, 120 * DAY) if moves[1] == "lead" else int(lognorm(mu_move2, 0.8))
            move2 = move1 + gap
        if first_contact > anchor:
            first_contact = 0
        done = 0
        if move1 and move1 <= anchor:
            done = 1
            if move2 and move2 <= anchor:
                done = 2
        else:
            move1 = 0
        if done < 2:
            move2 = 0
        stage = moves[done - 1] if done else "lead"

        if stage in CLOSED_STAGES:
            end = move2 if done == 2 else move1
        else:
            end = anchor
        n_contacts, last_touch = 0, 0
        if first_contact:
            if stage not in CLOSED_STAGES:
                end = min(anchor, first_contact + int(lognorm(mu_touch, 1.2)))
            end = max(end, first_contact)
            n_contacts = 1 + min(14, int(rng.expovariate(1 / 3.4)))
            last_touch = first_contact
            if n_contacts > 1:
                last_touch = first_contact + int((end - first_contact) * (0.5 + 0.5 * rnd()))
        x = rnd()
        n_notes = 0 if x < 0.5 else (1 if x < 0.85 else 2)

        plan.received.append(received)
        plan.team.append(team)
        plan.owner.append(owner)
        plan.prev_owner.append(prev_owner)
        plan.reassigned_at.append(reassigned_at)
        plan.source.append(_weighted(rng, source_cum))
        plan.path.append(path)
        plan.moves_done.append(done)
        plan.move1.append(move1)
        plan.move2.append(move2)
        plan.first_contact.append(first_contact)
        plan.last_touch.append(last_touch)
        plan.n_contacts.append(n_contacts)
        plan.n_notes.append(n_notes)
        plan.touch_end.append(max(end, received))
    return plan


# --------------------------------------------------------------------------------------------
# One function per table. Each returns the number of rows it wrote.


def seed_users(ctx: SeedContext) -> int:
    """The admin, 4 managers and 20 reps (usernames `bench-*`), with their role groups."""
    from django.contrib.auth.hashers import make_password

    password = make_password(BENCH_PASSWORD, salt="leadflowbench")
    people = [(ADMIN_ID, "bench-admin", "Ada", "Bench", "admin", True, "UTC")]
    for t, manager_id in enumerate(MANAGER_IDS):
        people.append((manager_id, f"bench-manager-{t + 1}", "Manager", str(t + 1), "manager", False, TEAM_ZONES[t][0]))
    rng = ctx.rng("users")
    for t, reps in enumerate(ctx.team_reps):
        for rep_id in reps:
            first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
            people.append(
                (rep_id, f"bench-rep-{rep_id - REP_IDS[0] + 1:02d}", first, last, "rep", False, TEAM_ZONES[t][0])
            )
    joined = ts(ctx.start - 30 * DAY)

    def lines():
        for uid, username, first, last, _, staff, zone in people:
            # Never a superuser: the admin is an admin by role (group), like real ones, so its
            # pages ask for permissions as theirs do (is_staff only opens Django admin).
            yield (
                f"{uid}\t{password}\t\\N\tf\t{username}\t{first}\t{last}\t"
                f"{username}@bench.example\t{'t' if staff else 'f'}\tt\t{joined}\t{zone}\n"
            )

    columns = [
        "id",
        "password",
        "last_login",
        "is_superuser",
        "username",
        "first_name",
        "last_name",
        "email",
        "is_staff",
        "is_active",
        "date_joined",
        "time_zone",
    ]
    n = ctx.copy("accounts_user", columns, lines())
    with ctx.conn.cursor() as cur:
        cur.execute("SELECT name, id FROM auth_group")
        groups = dict(cur.fetchall())
    missing = {role for *_, role, _, _ in people} - set(groups)
    if missing:
        raise RuntimeError(f"role groups {sorted(missing)} are missing: run `manage.py migrate` first")
    memberships = (f"{i + 1}\t{p[0]}\t{groups[p[4]]}\n" for i, p in enumerate(people))
    n += ctx.copy("accounts_user_groups", ["id", "user_id", "group_id"], memberships)
    return n


def seed_teams(ctx: SeedContext) -> int:
    lines = (f"{t + 1}\t{name}\t{MANAGER_IDS[t]}\tround_robin\n" for t, name in enumerate(TEAM_NAMES))
    return ctx.copy("accounts_team", ["id", "name", "manager_id", "assignment_rule"], lines)


def seed_memberships(ctx: SeedContext) -> int:
    def lines():
        i = 0
        for t, reps in enumerate(ctx.team_reps):
            for rep_id in reps:
                i += 1
                yield f"{i}\t{t + 1}\t{rep_id}\t1\tf\t0\n"

    return ctx.copy("accounts_membership", ["id", "team_id", "user_id", "weight", "is_away", "rr_credit"], lines())


def seed_sources(ctx: SeedContext) -> int:
    lines = (f"{i + 1}\t{name}\tt\n" for i, (name, _) in enumerate(vocab.SOURCES))
    return ctx.copy("leads_leadsource", ["id", "name", "is_active"], lines)


def seed_leads(ctx: SeedContext) -> int:
    """The leads: contact data from the word lists (surnames mildly skewed, like real ones)."""
    plan, rng = ctx.plan, ctx.rng("leads")
    rnd, randint = rng.random, rng.randint
    firsts = vocab.FIRST_NAMES
    lasts = vocab.LAST_NAMES
    last_cum = _cumulative(1 / (rank + 1) ** 0.3 for rank in range(len(lasts)))
    first_slugs = [ascii_slug(n) for n in firsts]
    last_slugs = [ascii_slug(n) for n in lasts]
    words, trades, suffixes = vocab.COMPANY_WORDS, vocab.COMPANY_TRADES, vocab.COMPANY_SUFFIXES
    titles, free_mail, notes = vocab.TITLES, vocab.FREE_MAIL, vocab.LEAD_NOTES
    referral = next(i for i, (name, _) in enumerate(vocab.SOURCES) if name == "Referral")

    def lines():
        for i in range(len(plan)):
            f = randint(0, len(firsts) - 1)
            la = _weighted(rng, last_cum)
            name = f"{firsts[f]} {lasts[la]}"
            company = ""
            if rnd() < 0.85:
                w1, w2 = words[randint(0, len(words) - 1)], trades[randint(0, len(trades) - 1)]
                suffix = suffixes[randint(0, len(suffixes) - 1)]
                company = f"{w1} {w2} {suffix}".rstrip()
            email = ""
            if rnd() < 0.95:
                if company and rnd() < 0.6:
                    domain = ascii_slug(company.rsplit(" ", 1)[0] if suffix else company).replace("&", "") + ".com"
                else:
                    domain = free_mail[randint(0, len(free_mail) - 1)]
                email = f"{first_slugs[f]}.{last_slugs[la]}{i + 1}@{domain}"
            phone = f"+1{randint(201, 989)}{randint(2000000, 9999999)}" if (not email or rnd() < 0.7) else ""
            source = plan.source[i]
            referred_by = ""
            if source == referral and rnd() < 0.6:
                referred_by = f"{firsts[randint(0, len(firsts) - 1)]} {lasts[randint(0, len(lasts) - 1)]}"
            stage = plan.stage(i)
            received = plan.received[i]
            changed = plan.stage_changed_at(i)
            owner = plan.owner[i]
            nurture_until = ts(changed + randint(30, 180) * DAY) if stage == "nurture" else NULL
            note = notes[randint(0, len(notes) - 1)] if rnd() < 0.1 else ""
            updated = ts(max(changed, plan.last_touch[i], received))
            yield (
                f"{i + 1}\t{name}\t{email}\t{phone}\t{company}\t{titles[randint(0, len(titles) - 1)]}\t"
                f"{source + 1}\t{referred_by}\t{plan.team[i] + 1}\t{owner or NULL}\t{stage}\t{ts(changed)}\t"
                f"{ts(received)}\t{ts_or_null(plan.first_contact[i])}\t{ts_or_null(plan.last_touch[i])}\t"
                f"{note}\t{NULL}\t{nurture_until}\t{NULL}\t{ts(received)}\t{updated}\t"
                f"{ts(received + SLA_MINUTES * 60)}\n"  # sla_due_at: its clock's owner_due_at
            )

    columns = [
        "id",
        "name",
        "email",
        "phone",
        "company",
        "title",
        "source_id",
        "referred_by",
        "team_id",
        "owner_id",
        "stage",
        "stage_changed_at",
        "received_at",
        "first_contacted_at",
        "last_touched_at",
        "notes",
        "referred_by_lead_id",
        "nurture_until",
        "next_followup_at",
        "created_at",
        "updated_at",
        "sla_due_at",
    ]
    return ctx.copy("leads_lead", columns, lines())


def seed_stage_changes(ctx: SeedContext) -> int:
    """The creation row, then each move that has happened, by the owner; lead → prospect passes
    the gate for leads with a passing call (SeedContext.called), and is a manager override with
    a reason for the others."""
    plan, rng = ctx.plan, ctx.rng("stage_changes")
    randint = rng.randint
    reasons = {
        "disqualified": vocab.DISQUALIFY_REASONS,
        "lost": vocab.LOST_REASONS,
        "nurture": vocab.NURTURE_REASONS,
        "customer": ["Signed the annual plan."],
        "lead": ["Back from nurture."],
    }
    override_reason = "Qualified in a meeting with the buyer; no discovery call was logged (manager override)."
    gated = ctx.called[1]

    def lines():
        sid = 0
        for i in range(len(plan)):
            lead_id = i + 1
            owner = plan.owner[i]
            by = str(owner) if owner else NULL
            sid += 1
            yield f"{sid}\t{lead_id}\t\tlead\t{by}\t{ts(plan.received[i])}\t\tf\n"
            done = plan.moves_done[i]
            if not done:
                continue
            moves = PATHS[plan.path[i]][1]
            from_stage = "lead"
            for k in range(done):
                to = moves[k]
                at = plan.move1[i] if k == 0 else plan.move2[i]
                sid += 1
                if from_stage == "lead" and to == "prospect" and i in gated:
                    # Through the gate: the latest call passed the criteria (seed_discovery_calls).
                    yield f"{sid}\t{lead_id}\t{from_stage}\t{to}\t{by}\t{ts(at)}\t\tf\n"
                elif from_stage == "lead" and to == "prospect":
                    manager = MANAGER_IDS[plan.team[i]]
                    yield f"{sid}\t{lead_id}\t{from_stage}\t{to}\t{manager}\t{ts(at)}\t{override_reason}\tt\n"
                else:
                    options = reasons[to]
                    yield f"{sid}\t{lead_id}\t{from_stage}\t{to}\t{by}\t{ts(at)}\t{options[randint(0, len(options) - 1)]}\tf\n"
                from_stage = to

    columns = ["id", "lead_id", "from_stage", "to_stage", "changed_by_id", "changed_at", "reason", "is_override"]
    return ctx.copy("leads_stagechange", columns, lines())


def seed_activities(ctx: SeedContext) -> int:
    """Contacts at `first_contacted_at` and `last_touched_at` and in between; notes anywhere."""
    plan, rng = ctx.plan, ctx.rng("activities")
    rnd, randint = rng.random, rng.randint
    outcomes = {
        "call": vocab.CALL_OUTCOMES,
        "email": vocab.EMAIL_OUTCOMES,
        "meeting": vocab.MEETING_OUTCOMES,
        "note": vocab.NOTE_OUTCOMES,
    }

    def kind() -> str:
        x = rnd()
        return "call" if x < 0.5 else ("email" if x < 0.88 else "meeting")

    def lines():
        aid = 0
        for i in range(len(plan)):
            lead_id = i + 1
            owner = plan.owner[i]
            by = str(owner) if owner else NULL
            first, last = plan.first_contact[i], plan.last_touch[i]
            times = []
            n = plan.n_contacts[i]
            if n:
                times.append(first)
                if n > 1:
                    times.append(last)
                    times.extend(first + int((last - first) * rnd()) for _ in range(n - 2))
            for at in times:
                k = kind()
                choices = outcomes[k]
                aid += 1
                stamp = ts(at)
                yield f"{aid}\t{lead_id}\t{k}\t{choices[randint(0, len(choices) - 1)]}\t{stamp}\t{by}\t{stamp}\n"
            received, end = plan.received[i], plan.touch_end[i]
            for _ in range(plan.n_notes[i]):
                stamp = ts(received + int((end - received) * rnd()))
                aid += 1
                note = outcomes["note"][randint(0, 3)]
                yield f"{aid}\t{lead_id}\tnote\t{note}\t{stamp}\t{by}\t{stamp}\n"

    columns = ["id", "lead_id", "kind", "outcome", "occurred_at", "created_by_id", "created_at"]
    return ctx.copy("leads_activity", columns, lines())


def seed_assignments(ctx: SeedContext) -> int:
    """The first assignment of every owned lead, then the manager's reassignments."""
    plan = ctx.plan

    def lines():
        aid = 0
        for i in range(len(plan)):
            owner = plan.owner[i]
            if not owner:
                continue
            prev = plan.prev_owner[i]
            aid += 1
            first_owner = prev or owner
            yield f"{aid}\t{i + 1}\t\\N\t{first_owner}\t{first_owner}\t{ts(plan.received[i])}\tcreated\n"
            if prev:
                aid += 1
                manager = MANAGER_IDS[plan.team[i]]
                yield f"{aid}\t{i + 1}\t{prev}\t{owner}\t{manager}\t{ts(plan.reassigned_at[i])}\tworkload\n"

    columns = ["id", "lead_id", "from_owner_id", "to_owner_id", "assigned_by_id", "assigned_at", "reason"]
    return ctx.copy("leads_assignment", columns, lines())


# --- HOOK POINTS: other issues fill these in --------------------------------------------------

# Follow-ups: day offsets of a new lead's cadence (the product's "day 0, 1, 3, 7, 14, 30"), then
# monthly; the seeder gives each lead 3 to 7 of them (5 on average).
FOLLOWUP_DAYS = [0, 1, 3, 7, 14, 30, 60]
FOLLOWUP_KINDS = ["call", "call", "email", "email", "task"]
FOLLOWUP_INSTRUCTIONS = [
    "Call to introduce yourself and book a discovery call.",
    "Send the case study they asked about.",
    "Check in: did the proposal reach the decision maker?",
    "Follow up on the trial: anything blocking?",
    "Ask whether the timeline still holds.",
]
OPEN_FOLLOWUP_STAGES = {"lead", "prospect", "nurture"}
# Share of all follow-ups that are pending; of those, the share already overdue (the rest due
# within the next month).
PENDING_SHARE = 0.20
OVERDUE_SHARE = 0.15
SLA_MINUTES, SLA_MANAGER_MINUTES = 15, 60


def seed_followups(ctx: SeedContext) -> int | None:
    """`followups_followup`, ~5 per lead, 20 % pending, and every lead's speed-to-lead clock.

    Closed rows (done 75 %, skipped 15 %, cancelled 10 %) are due between arrival and the lead's
    last activity; pending ones belong to open leads (lead, prospect, nurture), 15 % of them
    overdue (reminded, and escalated after a day), the rest due within 30 days. Then
    `leads_lead.next_followup_at` is set as followups_refresh_next keeps it (MIN of pending).
    The clocks: due 15 (owner) and 60 (manager) minutes after arrival, stopped at the first
    contact or when the lead left stage "lead", alerted when the deadline passed before that.
    """
    plan, rng = ctx.plan, ctx.rng("followups")
    rnd, randint = rng.random, rng.randint
    anchor = ctx.anchor
    open_leads = sum(1 for i in range(len(plan)) if plan.stage(i) in OPEN_FOLLOWUP_STAGES)
    # Pending rows per open lead so that PENDING_SHARE of ~5 rows per lead are pending.
    pending_per_open = PENDING_SHARE * 5 * len(plan) / max(1, open_leads)

    def lines():
        fid = 0
        for i in range(len(plan)):
            lead_id = i + 1
            owner = plan.owner[i]
            by = str(owner) if owner else NULL
            received, end = plan.received[i], plan.touch_end[i]
            n = randint(3, 7)
            n_pending = 0
            if plan.stage(i) in OPEN_FOLLOWUP_STAGES:
                whole = int(pending_per_open)
                n_pending = min(n, whole + (rnd() < pending_per_open - whole))
            for k in range(n - n_pending):
                at = received + FOLLOWUP_DAYS[min(k, len(FOLLOWUP_DAYS) - 1)] * DAY + randint(0, 4 * HOUR)
                at = min(at, max(end, received + 60))
                x = rnd()
                state = "done" if x < 0.75 else ("skipped" if x < 0.9 else "cancelled")
                done_at = min(anchor, at + randint(60, 6 * HOUR))
                reminded = ts(at) if state != "cancelled" else NULL
                fid += 1
                yield (
                    f"{fid}\t{lead_id}\t{by}\t{ts(at)}\t{FOLLOWUP_KINDS[k % 5]}\t{FOLLOWUP_INSTRUCTIONS[k % 5]}\t"
                    f"{state}\tf\tf\t{NULL}\t{by}\t{ts(received)}\t{reminded}\t{NULL}\t{ts(done_at)}\t{by}\t"
                    f"{NULL}\t{NULL}\t{NULL}\t0\t\t{NULL}\n"
                )
            for k in range(n_pending):
                if rnd() < OVERDUE_SHARE:
                    at = anchor - randint(10 * 60, 14 * DAY)
                    reminded = ts(at + 60)
                    escalated = ts(at + DAY) if at + DAY < anchor else NULL
                else:
                    at = anchor + randint(10 * 60, 30 * DAY)
                    reminded = escalated = NULL
                fid += 1
                yield (
                    f"{fid}\t{lead_id}\t{by}\t{ts(at)}\t{FOLLOWUP_KINDS[k % 5]}\t{FOLLOWUP_INSTRUCTIONS[k % 5]}\t"
                    f"pending\tf\tf\t{NULL}\t{by}\t{ts(received)}\t{reminded}\t{escalated}\t{NULL}\t{NULL}\t"
                    f"{NULL}\t{NULL}\t{NULL}\t0\t\t{NULL}\n"
                )

    columns = [
        "id",
        "lead_id",
        "owner_id",
        "due_at",
        "kind",
        "instruction",
        "state",
        "agreed_with_lead",
        "recycles_lead",
        "step_id",
        "created_by_id",
        "created_at",
        "reminded_at",
        "escalated_at",
        "completed_at",
        "completed_by_id",
        "activity_id",
        "lease_until",
        "claim_token",
        "attempts",
        "last_error",
        "failed_at",
    ]
    rows = ctx.copy("followups_followup", columns, lines())

    def clocks():
        for i in range(len(plan)):
            received = plan.received[i]
            owner_due, manager_due = received + SLA_MINUTES * 60, received + SLA_MANAGER_MINUTES * 60
            first = plan.first_contact[i]
            stopped = first or (plan.move1[i] if plan.moves_done[i] else 0)
            stopped = stopped if stopped and stopped <= anchor else 0
            live_until = stopped or anchor
            owner_alerted = ts(owner_due) if owner_due <= live_until else NULL
            manager_alerted = ts(manager_due) if manager_due <= live_until else NULL
            next_alert = NULL
            if not stopped:
                next_alert = (
                    ts(owner_due) if owner_due > anchor else (ts(manager_due) if manager_due > anchor else NULL)
                )
            yield (
                f"{i + 1}\t{i + 1}\t{ts(received)}\t{ts(owner_due)}\t{ts(manager_due)}\t{next_alert}\t"
                f"{owner_alerted}\t{manager_alerted}\t{NULL}\t{ts_or_null(stopped)}\t{NULL}\t{NULL}\t0\t\t{NULL}\n"
            )

    clock_columns = [
        "id",
        "lead_id",
        "started_at",
        "owner_due_at",
        "manager_due_at",
        "next_alert_at",
        "owner_alerted_at",
        "manager_alerted_at",
        "returned_to_pool_at",
        "stopped_at",
        "lease_until",
        "claim_token",
        "attempts",
        "last_error",
        "failed_at",
    ]
    ctx.copy("followups_slaclock", clock_columns, clocks())
    with ctx.conn.cursor() as cur:
        cur.execute(
            "UPDATE leads_lead SET next_followup_at = NULL WHERE next_followup_at IS NOT NULL;"
            "UPDATE leads_lead l SET next_followup_at = f.due FROM ("
            " SELECT lead_id, MIN(due_at) AS due FROM followups_followup WHERE state = 'pending' GROUP BY lead_id"
            ") f WHERE l.id = f.lead_id"
        )
    return rows


# The answers of a call that passes the default sales-ready criteria, and of one that does not.
CALL_PROBLEMS = [
    "Leads pile up in a shared inbox and nobody knows who answered whom.",
    "Follow-ups depend on sticky notes; two big deals went cold last quarter.",
    "The team cannot tell which lead source is worth paying for.",
    "New enquiries wait a day for a first call.",
]
CALL_NEXT_STEPS = [
    "Demo with the decision maker",
    "Send a proposal",
    "Trial for two weeks",
    "Call back after budget review",
]
CALLS_SHARE = 1 / 3


def seed_discovery_calls(ctx: SeedContext) -> int | None:
    """`qualification_discoverycall` on a third of the leads.

    Which leads: plan_calls. A lead that went through the gate to prospect has one (15 % two: a
    follow-up call "has anything changed?") held between the first contact and the move, with
    answers that pass the sales-ready criteria; the other called leads (contacted, never
    prospects) have answers that mostly do not (no budget, a cheaper DIY route, no timeline).
    """
    plan, rng = ctx.plan, ctx.rng("discovery_calls")
    rnd, randint = rng.random, rng.randint
    called, prospect_set = ctx.called
    chosen = sorted(called)

    def lines():
        cid = 0
        for i in chosen:
            lead_id = i + 1
            owner = plan.owner[i]
            by = str(owner) if owner else NULL
            first = plan.first_contact[i]
            passes = i in prospect_set
            until = plan.move1[i] if passes else max(plan.touch_end[i], first + HOUR)
            n_calls = 2 if rnd() < 0.15 else 1
            for k in range(n_calls):
                held = first + int((until - first) * (k + rnd()) / n_calls)
                held = min(held, until - 60) if passes else held
                problem = CALL_PROBLEMS[randint(0, len(CALL_PROBLEMS) - 1)]
                if passes or rnd() < 0.3:
                    budget = f"amount\t{randint(60, 400) * 100}.00\tEUR"
                    diy, diy_cheaper = "Spreadsheets and reminders in the calendar.", "f"
                    timeline = f"date\t{_date(held + randint(14, 80) * DAY)}"
                    confirmed, dm, dm_spoken = "t", "Head of sales", "t"
                else:
                    budget = "none\t\\N\t" if rnd() < 0.5 else "unknown\t\\N\t"
                    diy, diy_cheaper = "A free CRM plan would do for now.", "t"
                    timeline = "none\t\\N" if rnd() < 0.5 else "unknown\t\\N"
                    confirmed, dm, dm_spoken = ("t" if rnd() < 0.5 else "f"), "", NULL
                step = CALL_NEXT_STEPS[randint(0, len(CALL_NEXT_STEPS) - 1)]
                changes = "Budget approved since the last call." if k else ""
                cid += 1
                yield (
                    f"{cid}\t{lead_id}\t{ts(held)}\t{by}\t{randint(15, 60)}\t{changes}\t{problem}\t{confirmed}\t"
                    f"{budget}\t{diy}\t{diy_cheaper}\t{dm}\t{dm_spoken}\t{timeline}\t{step}\t{NULL}\t\t"
                    f"{NULL}\t{NULL}\t{ts(held)}\n"
                )

    columns = [
        "id",
        "lead_id",
        "held_at",
        "held_by_id",
        "duration_minutes",
        "changes_since_last",
        "problem",
        "problem_confirmed",
        "budget_status",
        "budget_amount",
        "budget_currency",
        "diy_alternative",
        "diy_cheaper",
        "decision_maker",
        "decision_maker_spoken_to",
        "timeline_status",
        "timeline_date",
        "next_step",
        "next_step_at",
        "notes",
        "criteria_version_id",
        "evaluation",
        "created_at",
    ]
    return ctx.copy("qualification_discoverycall", columns, lines())


def plan_calls(ctx: SeedContext) -> tuple[frozenset[int], frozenset[int]]:
    """A third of the leads have discovery calls: leads that reached prospect first (the gate
    needs a passing call; beyond a third, the rest were manager overrides), then other contacted
    leads to make up the third. Returns (called, gated), as lead indexes."""
    plan, rng = ctx.plan, ctx.rng("call-plan")
    target = int(CALLS_SHARE * len(plan))
    prospects = [i for i in range(len(plan)) if plan.moves_done[i] and PATHS[plan.path[i]][1][0] == "prospect"]
    gated = set(rng.sample(prospects, min(len(prospects), target)))
    reached = set(prospects)
    others = [i for i in range(len(plan)) if plan.first_contact[i] and i not in reached]
    extra = rng.sample(others, min(len(others), max(0, target - len(gated))))
    return frozenset(gated | set(extra)), frozenset(gated)


def _date(seconds: int) -> str:
    return (_EPOCH + dt.timedelta(days=seconds // DAY)).isoformat()


@dataclass(frozen=True)
class Seeder:
    name: str
    tables: tuple[str, ...]
    fn: Callable[[SeedContext], int | None]
    version: int = 1
    # Core seeders make the data set: changing one reseeds everything. Others (hooks) are
    # seeded on top of an existing data set, alone.
    core: bool = True


SEEDERS: list[Seeder] = [
    Seeder("users", ("accounts_user", "accounts_user_groups"), seed_users),
    Seeder("teams", ("accounts_team",), seed_teams),
    Seeder("memberships", ("accounts_membership",), seed_memberships),
    Seeder("sources", ("leads_leadsource",), seed_sources),
    Seeder("leads", ("leads_lead",), seed_leads),
    Seeder("stage_changes", ("leads_stagechange",), seed_stage_changes),
    Seeder("activities", ("leads_activity",), seed_activities),
    Seeder("assignments", ("leads_assignment",), seed_assignments),
    Seeder("followups", ("followups_followup", "followups_slaclock"), seed_followups, core=False),
    Seeder("discovery_calls", ("qualification_discoverycall",), seed_discovery_calls, core=False),
]


# --------------------------------------------------------------------------------------------
# Orchestration


def database_name(db_url: str) -> str:
    return urlparse(db_url).path.lstrip("/")


def connect(db_url: str) -> psycopg2.extensions.connection:
    return psycopg2.connect(db_url)


def _existing_tables(cur, tables: Iterable[str]) -> set[str]:
    cur.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename = ANY(%s)", [list(tables)]
    )
    return {row[0] for row in cur.fetchall()}


def _secondary_indexes(cur, table: str) -> list[tuple[str, str]]:
    """Indexes that back no constraint (those we may drop and rebuild), with their definition."""
    cur.execute(
        """
        SELECT c.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = %s::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
        ORDER BY c.relname
        """,
        [table],
    )
    return cur.fetchall()


def _markers(cur) -> dict[str, dict]:
    cur.execute(
        f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} ("
        " seeder text PRIMARY KEY, version int NOT NULL, seed_version int NOT NULL, n_leads bigint NOT NULL,"
        " rng_seed bigint NOT NULL, anchor timestamptz NOT NULL, rows bigint NOT NULL,"
        " seconds double precision NOT NULL, seeded_at timestamptz NOT NULL DEFAULT now())"
    )
    cur.execute(f"SELECT seeder, version, seed_version, n_leads, rng_seed, anchor, rows, seconds FROM {MARKER_TABLE}")
    keys = ["version", "seed_version", "n_leads", "rng_seed", "anchor", "rows", "seconds"]
    return {row[0]: dict(zip(keys, row[1:], strict=True)) for row in cur.fetchall()}


def _marker_ok(marker: dict | None, seeder: Seeder, n_leads: int) -> bool:
    return bool(
        marker
        and marker["version"] == seeder.version
        and marker["seed_version"] == SEED_VERSION
        and marker["n_leads"] == n_leads
        and marker["rng_seed"] == RNG_SEED
    )


def _run_seeders(ctx: SeedContext, seeders: list[Seeder], log: Callable[[str], None]) -> dict[str, dict]:
    """Truncate, drop secondary indexes, COPY, rebuild indexes, fix sequences, analyze, mark.
    One transaction: a failure leaves the database as it was."""
    conn = ctx.conn
    results: dict[str, dict] = {}
    with conn.cursor() as cur:
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        superuser = cur.fetchone()[0]
        cur.execute("SET LOCAL synchronous_commit = off")
        cur.execute("SET LOCAL maintenance_work_mem = '1GB'")
        cur.execute("SET LOCAL max_parallel_maintenance_workers = 2")
        if superuser:
            # Skip foreign-key triggers during the load: the generator only writes valid ids.
            cur.execute("SET LOCAL session_replication_role = replica")
        else:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        tables = [t for s in seeders for t in s.tables]
        cur.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        cur.execute(f"DELETE FROM {MARKER_TABLE} WHERE seeder = ANY(%s)", [[s.name for s in seeders]])
        dropped: list[tuple[str, str]] = []
        for table in tables:
            for name, definition in _secondary_indexes(cur, table):
                cur.execute(f'DROP INDEX "{name}"')
                dropped.append((name, definition))

    for seeder in seeders:
        t0 = time.perf_counter()
        rows = seeder.fn(ctx)
        seconds = time.perf_counter() - t0
        if rows is None:
            log(f"  {seeder.name}: hook not implemented yet, skipped")
            results[seeder.name] = {"rows": 0, "seconds": 0.0, "skipped": "hook not implemented yet"}
            continue
        log(f"  {seeder.name}: {rows:,} rows in {seconds:.1f} s")
        results[seeder.name] = {"rows": rows, "seconds": round(seconds, 2)}

    with conn.cursor() as cur:
        t0 = time.perf_counter()
        for _name, definition in dropped:
            cur.execute(definition)
        index_seconds = time.perf_counter() - t0
        log(f"  rebuilt {len(dropped)} indexes in {index_seconds:.1f} s")
        for table in tables:
            cur.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), GREATEST(COALESCE(MAX(id), 0), 1), MAX(id) IS NOT NULL)"
                f" FROM {table}",
                [table],
            )
            cur.execute(f"ANALYZE {table}")
        anchor = dt.datetime.fromtimestamp(ctx.anchor, tz=dt.UTC)
        for seeder in seeders:
            result = results[seeder.name]
            if "skipped" in result:
                continue
            cur.execute(
                f"INSERT INTO {MARKER_TABLE} (seeder, version, seed_version, n_leads, rng_seed, anchor, rows, seconds)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    seeder.name,
                    seeder.version,
                    SEED_VERSION,
                    ctx.n_leads,
                    RNG_SEED,
                    anchor,
                    result["rows"],
                    result["seconds"],
                ],
            )
    results["_indexes"] = {"rows": len(dropped), "seconds": round(index_seconds, 2)}
    conn.commit()
    return results


def seed(db_url: str, n_leads: int, *, log: Callable[[str], None] = print, vacuum: bool = True) -> dict:
    """Make sure the database holds the data set for `n_leads`; seed what is missing.

    Returns {"reused": bool, "seconds": float, "seeders": {name: {rows, seconds[, skipped]}},
    "anchor": iso time}. The database must be migrated.
    """
    name = database_name(db_url)
    if "bench" not in name and os.environ.get("BENCH_FORCE") != "1":
        raise SystemExit(f"refusing to seed {name!r}: the benchmark truncates tables; use a *bench* database")
    t0 = time.perf_counter()
    conn = connect(db_url)
    try:
        with conn.cursor() as cur:
            markers = _markers(cur)
            existing = _existing_tables(cur, [t for s in SEEDERS for t in s.tables])
            cur.execute("SELECT EXISTS (SELECT 1 FROM leads_lead WHERE id = %s)", [n_leads])
            lead_n_exists = cur.fetchone()[0]
        conn.commit()
        core = [s for s in SEEDERS if s.core]
        core_ok = lead_n_exists and all(_marker_ok(markers.get(s.name), s, n_leads) for s in core)
        held = markers.get("leads", {}).get("n_leads")
        if not core_ok and held not in (None, n_leads) and os.environ.get("BENCH_RESEED") != "1":
            # A run with the wrong BENCH_LEADS would otherwise truncate a data set that took
            # minutes to seed (it happened: a 1M database reseeded with the default 100k).
            raise SystemExit(
                f"{name!r} holds the data set of {held:,} leads, not {n_leads:,}: run with"
                f" BENCH_LEADS={held} to reuse it, or BENCH_RESEED=1 to replace it"
            )
        # Hooks run when their table exists and they are not seeded at this version yet.
        extras = [
            s
            for s in SEEDERS
            if not s.core and set(s.tables) <= existing and not _marker_ok(markers.get(s.name), s, n_leads)
        ]
        if core_ok:
            anchor = int(markers["leads"]["anchor"].timestamp())
            todo = extras
            reused = True
        else:
            anchor = int(time.time()) // HOUR * HOUR
            todo = core + [s for s in SEEDERS if not s.core and set(s.tables) <= existing]
            reused = False
            log(f"seeding {n_leads:,} leads into {name} ...")
        results: dict[str, dict] = {}
        if todo:
            ctx = SeedContext(conn=conn, n_leads=n_leads, anchor=anchor)
            results = _run_seeders(ctx, todo, log)
            if vacuum:
                conn.autocommit = True
                with conn.cursor() as cur:
                    t1 = time.perf_counter()
                    for table in [t for s in todo for t in s.tables]:
                        cur.execute(f"VACUUM (ANALYZE) {table}")
                    results["_vacuum"] = {"rows": 0, "seconds": round(time.perf_counter() - t1, 2)}
                    log(f"  vacuumed in {results['_vacuum']['seconds']:.1f} s")
                conn.autocommit = False
            if not reused:
                # The whole seeding (COPY, index rebuild, vacuum), for the report's "seeded in".
                total = round(time.perf_counter() - t0, 2)
                rows = sum(r["rows"] for k, r in results.items() if not k.startswith("_"))
                with conn.cursor() as cur:
                    cur.execute(
                        f"INSERT INTO {MARKER_TABLE} (seeder, version, seed_version, n_leads, rng_seed, anchor, rows, seconds)"
                        " VALUES ('_total', 0, %s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT (seeder) DO UPDATE SET rows = EXCLUDED.rows, seconds = EXCLUDED.seconds,"
                        " n_leads = EXCLUDED.n_leads, anchor = EXCLUDED.anchor, seeded_at = now()",
                        [SEED_VERSION, n_leads, RNG_SEED, dt.datetime.fromtimestamp(anchor, tz=dt.UTC), rows, total],
                    )
                conn.commit()
        else:
            log(f"reusing the data set of {n_leads:,} leads in {name} (seeded before)")
        with conn.cursor() as cur:
            cur.execute(f"SELECT seeder, rows, seconds, seeded_at FROM {MARKER_TABLE} ORDER BY seeded_at, seeder")
            recorded = {r[0]: {"rows": r[1], "seconds": r[2], "seeded_at": r[3].isoformat()} for r in cur.fetchall()}
        conn.commit()
    finally:
        conn.close()
    _ensure_criteria()
    seconds = time.perf_counter() - t0
    if todo:
        log(f"seeded in {seconds:.1f} s")
    return {
        "reused": reused and not todo,
        "seconds": round(seconds, 2),
        "this_run": results,
        "seeders": recorded,
        "anchor": dt.datetime.fromtimestamp(anchor, tz=dt.UTC).isoformat(),
    }


def _ensure_criteria() -> None:
    """The suggested sales-ready criteria (as `seed_demo` publishes them), if none exist: the
    call page and the lead page evaluate calls against them. Through the service, once."""
    from accounts.models import User
    from qualification import services
    from qualification.defaults import SUGGESTED_THRESHOLD, suggested_rules
    from qualification.models import CriteriaVersion

    if CriteriaVersion.objects.exists():
        return
    admin = User.objects.get(username="bench-admin")
    services.criteria_publish(
        by=admin, rules=suggested_rules(), threshold=SUGGESTED_THRESHOLD, note="Benchmark: the suggested criteria"
    )


def main() -> None:
    from bench.run import bench_database_url, ensure_database, setup_django

    db_url = bench_database_url()
    ensure_database(db_url)
    n_leads = int(os.environ.get("BENCH_LEADS", DEFAULT_LEADS))
    setup_django(db_url, migrate=True)
    seed(db_url, n_leads)


if __name__ == "__main__":
    main()
