"""Does a discovery call make a lead sales-ready? A pure function: no database access.

`evaluate(call, criteria)` reads attributes only. `call` is a DiscoveryCall or a CallAnswers
(same attribute names); `criteria` is a Criteria snapshot (see `criteria_snapshot`), whose rules
are plain values. So the gate, the lead page and the tests all run the same code, and a table
of cases runs in milliseconds.

Rules of the game:
- every *required* rule must pass, and the points of the passing *weighted* rules must reach
  the threshold (a score equal to the threshold passes);
- a missing answer never passes: an unknown budget is not "0", it is "not known yet";
- money is never converted: a budget in another currency than the minimum's fails the
  minimum-budget rule with a sentence saying so (ask for the figure in that currency);
- the timeline is counted in days from the day of the call (UTC), so a recorded evaluation and
  a later re-evaluation of the same call agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from .currencies import format_money
from .models import CriteriaRule, DiscoveryCall

Kind = CriteriaRule.Kind
Budget = DiscoveryCall.Budget
Timeline = DiscoveryCall.Timeline


class CallLike(Protocol):
    held_at: datetime
    problem_confirmed: bool | None
    budget_status: str
    budget_amount: Decimal | None
    budget_currency: str
    diy_cheaper: bool | None
    decision_maker: str
    decision_maker_spoken_to: bool | None
    timeline_status: str
    timeline_date: date | None


@dataclass(frozen=True)
class CallAnswers:
    """The answers `evaluate` reads, as plain values (tests, previews)."""

    held_at: datetime
    problem_confirmed: bool | None = None
    budget_status: str = Budget.UNKNOWN
    budget_amount: Decimal | None = None
    budget_currency: str = ""
    diy_cheaper: bool | None = None
    decision_maker: str = ""
    decision_maker_spoken_to: bool | None = None
    timeline_status: str = Timeline.UNKNOWN
    timeline_date: date | None = None


@dataclass(frozen=True)
class Rule:
    kind: str
    required: bool = True
    points: int = 0
    min_amount: Decimal | None = None
    currency: str = ""
    max_days: int | None = None
    id: int | None = None

    @property
    def label(self) -> str:
        return Kind(self.kind).label

    def describe(self) -> str:
        """The rule in words, for checklists and the settings page."""
        if self.kind == Kind.BUDGET_MIN and self.min_amount is not None:
            return f"Budget of at least {format_money(self.min_amount, self.currency)}"
        if self.kind == Kind.TIMELINE_WITHIN and self.max_days:
            return f"Timeline within {self.max_days} days"
        return self.label


@dataclass(frozen=True)
class Criteria:
    threshold: int
    rules: tuple[Rule, ...]
    number: int | None = None
    id: int | None = None

    @property
    def max_score(self) -> int:
        return sum(r.points for r in self.rules if not r.required)


def criteria_snapshot(version: Any, rules: Iterable[Any]) -> Criteria:
    """A Criteria from a CriteriaVersion and its (already loaded) rules: attribute reads only."""
    return Criteria(
        threshold=version.threshold,
        number=version.number,
        id=version.pk,
        rules=tuple(
            Rule(
                kind=r.kind,
                required=r.required,
                points=r.points,
                min_amount=r.min_amount,
                currency=r.currency,
                max_days=r.max_days,
                id=r.pk,
            )
            for r in rules
        ),
    )


def points_phrase(score: int, threshold: int) -> str:
    """“1 of the 3 points needed” while short; “6 points, 3 needed” once there (never “6 of the 3”)."""
    if score < threshold:
        return f"{score} of the {threshold} points needed"
    return f"{score} point{'s' if score != 1 else ''}, {threshold} needed"


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    passed: bool
    reason: str

    @property
    def earned(self) -> int:
        return self.rule.points if self.passed and not self.rule.required else 0


@dataclass(frozen=True)
class Evaluation:
    passed: bool
    score: int
    threshold: int
    results: list[RuleResult] = field(default_factory=list)
    criteria_number: int | None = None

    @property
    def failing(self) -> list[RuleResult]:
        return [r for r in self.results if not r.passed]

    @property
    def max_score(self) -> int:
        return sum(r.rule.points for r in self.results if not r.rule.required)

    def summary(self) -> str:
        """One sentence for the top of the checklist and for refusals."""
        required_failing = sum(1 for r in self.failing if r.rule.required)
        points = points_phrase(self.score, self.threshold) if self.threshold else ""
        if self.passed:
            return "Sales-ready: every required rule passes" + (f", {points}." if points else ".")
        parts = []
        if required_failing:
            parts.append(f"{required_failing} required rule{'s' if required_failing != 1 else ''} not met")
        if self.score < self.threshold:
            parts.append(points)
        return "Not sales-ready yet: " + "; ".join(parts) + "."

    def refusal_messages(self) -> list[str]:
        """What blocks the move, one sentence each: failing required rules, then the score."""
        messages = [r.reason for r in self.results if not r.passed and r.rule.required]
        if self.score < self.threshold:
            missing = [r.reason for r in self.results if not r.passed and not r.rule.required]
            messages.append(f"Score {self.score} is below the {self.threshold} points needed.")
            messages += missing
        return messages

    def as_json(self) -> dict[str, Any]:
        """What a StageChange or a DiscoveryCall records: enough to show the decision later
        without the (immutable, but maybe unloaded) criteria rows."""
        return {
            "passed": self.passed,
            "score": self.score,
            "threshold": self.threshold,
            "criteria_number": self.criteria_number,
            "results": [
                {
                    **{k: _jsonable(v) for k, v in asdict(r.rule).items()},
                    "label": r.rule.describe(),
                    "passed": r.passed,
                    "reason": r.reason,
                }
                for r in self.results
            ],
        }


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def evaluate(call: CallLike, criteria: Criteria) -> Evaluation:
    """Evaluate a call's answers against criteria. Pure: reads attributes, no queries."""
    results = [_check(rule, call) for rule in criteria.rules]
    score = sum(r.earned for r in results)
    passed = all(r.passed for r in results if r.rule.required) and score >= criteria.threshold
    return Evaluation(
        passed=passed, score=score, threshold=criteria.threshold, results=results, criteria_number=criteria.number
    )


def _check(rule: Rule, call: CallLike) -> RuleResult:
    passed, reason = _CHECKS[rule.kind](rule, call)
    return RuleResult(rule=rule, passed=passed, reason=reason)


def _problem_confirmed(rule: Rule, call: CallLike) -> tuple[bool, str]:
    if call.problem_confirmed is True:
        return True, "They confirmed the problem in their own words."
    if call.problem_confirmed is False:
        return False, "They did not confirm they have the problem."
    return False, "Not known yet whether they have the problem: ask them to describe it."


def _budget_known(rule: Rule, call: CallLike) -> tuple[bool, str]:
    if call.budget_status == Budget.AMOUNT and call.budget_amount is not None:
        return True, f"Budget known: {format_money(call.budget_amount, call.budget_currency)}."
    if call.budget_status == Budget.NONE:
        return False, "They said there is no budget for this."
    return False, "Budget not known yet: ask what they have set aside."


def _budget_min(rule: Rule, call: CallLike) -> tuple[bool, str]:
    minimum = format_money(rule.min_amount or Decimal(0), rule.currency)
    if call.budget_status == Budget.NONE:
        return False, f"They have no budget (the minimum is {minimum})."
    if call.budget_status != Budget.AMOUNT or call.budget_amount is None:
        # Unknown is not zero: say it is missing, not that it is too small.
        return False, f"Budget not known yet, so it cannot be compared with the {minimum} minimum."
    budget = format_money(call.budget_amount, call.budget_currency)
    if call.budget_currency != rule.currency:
        return False, (
            f"Budget {budget} cannot be compared with the {minimum} minimum: "
            f"we do not convert currencies, ask for the budget in {rule.currency}."
        )
    if call.budget_amount < (rule.min_amount or 0):
        return False, f"Budget {budget} is below the {minimum} minimum."
    return True, f"Budget {budget} meets the {minimum} minimum."


def _no_cheaper_diy(rule: Rule, call: CallLike) -> tuple[bool, str]:
    if call.diy_cheaper is False:
        return True, "Doing it themselves would not be cheaper for them."
    if call.diy_cheaper is True:
        return False, "Doing it themselves is cheaper for them: point them to that route."
    return False, "Not known yet whether doing it themselves would be cheaper."


def _decision_maker_identified(rule: Rule, call: CallLike) -> tuple[bool, str]:
    who = (call.decision_maker or "").strip()
    if who:
        return True, f"Decision maker identified: {who}."
    return False, "Not known yet who decides."


def _decision_maker_spoken_to(rule: Rule, call: CallLike) -> tuple[bool, str]:
    who = (call.decision_maker or "").strip()
    if call.decision_maker_spoken_to is True:
        return True, f"We spoke to the decision maker{f' ({who})' if who else ''}."
    if call.decision_maker_spoken_to is False:
        return False, f"We have not spoken to the decision maker{f' ({who})' if who else ''} yet."
    return False, "Not known yet whether we spoke to the decision maker."


def _timeline_within(rule: Rule, call: CallLike) -> tuple[bool, str]:
    limit = rule.max_days or 0
    if call.timeline_status == Timeline.NONE:
        return False, f"They have no timeline (the limit is {limit} days)."
    if call.timeline_status != Timeline.DATE or call.timeline_date is None:
        return False, f"Timeline not known yet (the limit is {limit} days)."
    days = (call.timeline_date - _utc_date(call.held_at)).days
    when = call.timeline_date.isoformat()
    if days > limit:
        return False, f"Timeline {when} is {days} days after the call, beyond the {limit}-day limit."
    return True, f"Timeline {when} is {max(days, 0)} days after the call, within {limit} days."


def _utc_date(at: datetime) -> date:
    return at.astimezone(UTC).date() if at.tzinfo else at.date()


_CHECKS = {
    Kind.PROBLEM_CONFIRMED: _problem_confirmed,
    Kind.BUDGET_KNOWN: _budget_known,
    Kind.BUDGET_MIN: _budget_min,
    Kind.NO_CHEAPER_DIY: _no_cheaper_diy,
    Kind.DECISION_MAKER_IDENTIFIED: _decision_maker_identified,
    Kind.DECISION_MAKER_SPOKEN_TO: _decision_maker_spoken_to,
    Kind.TIMELINE_WITHIN: _timeline_within,
}
