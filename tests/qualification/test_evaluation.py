"""The evaluation function on a table of cases. No database: any query would fail these tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from qualification.evaluation import CallAnswers, Criteria, Rule, evaluate, points_phrase
from qualification.models import DiscoveryCall

HELD = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)
MIN_5000_EUR = {"min_amount": Decimal("5000"), "currency": "EUR"}


def answers(**kw) -> CallAnswers:
    return CallAnswers(held_at=HELD, **kw)


def only(rule: Rule) -> Criteria:
    return Criteria(threshold=0, rules=(rule,))


ONE_RULE_CASES = [
    # (rule, answers, passes, the sentence says)
    (Rule("problem_confirmed"), answers(problem_confirmed=True), True, "confirmed the problem"),
    (Rule("problem_confirmed"), answers(problem_confirmed=False), False, "did not confirm"),
    (Rule("problem_confirmed"), answers(), False, "Not known yet whether they have the problem"),
    (
        Rule("budget_known"),
        answers(budget_status="amount", budget_amount=Decimal("4000"), budget_currency="EUR"),
        True,
        "Budget known: 4,000 EUR.",
    ),
    (Rule("budget_known"), answers(budget_status="none"), False, "no budget"),
    (Rule("budget_known"), answers(budget_status="unknown"), False, "Budget not known yet"),
    (
        Rule("budget_min", **MIN_5000_EUR),
        answers(budget_status="amount", budget_amount=Decimal("4000"), budget_currency="EUR"),
        False,
        "Budget 4,000 EUR is below the 5,000 EUR minimum.",
    ),
    (
        Rule("budget_min", **MIN_5000_EUR),
        answers(budget_status="amount", budget_amount=Decimal("5000"), budget_currency="EUR"),
        True,
        "Budget 5,000 EUR meets the 5,000 EUR minimum.",
    ),
    (
        Rule("budget_min", **MIN_5000_EUR),
        answers(budget_status="amount", budget_amount=Decimal("4999.99"), budget_currency="EUR"),
        False,
        "Budget 4,999.99 EUR is below",
    ),
    (
        Rule("budget_min", **MIN_5000_EUR),
        answers(budget_status="amount", budget_amount=Decimal("90000"), budget_currency="USD"),
        False,
        "Budget 90,000 USD cannot be compared with the 5,000 EUR minimum: we do not convert currencies, ask for the "
        "budget in EUR.",
    ),
    (Rule("budget_min", **MIN_5000_EUR), answers(budget_status="none"), False, "They have no budget"),
    (Rule("no_cheaper_diy"), answers(diy_cheaper=False), True, "would not be cheaper"),
    (Rule("no_cheaper_diy"), answers(diy_cheaper=True), False, "Doing it themselves is cheaper"),
    (Rule("no_cheaper_diy"), answers(), False, "Not known yet whether doing it themselves"),
    (Rule("decision_maker_identified"), answers(decision_maker="Dana, CFO"), True, "identified: Dana, CFO."),
    (Rule("decision_maker_identified"), answers(decision_maker="   "), False, "Not known yet who decides"),
    (Rule("decision_maker_spoken_to"), answers(decision_maker_spoken_to=True), True, "We spoke to"),
    (
        Rule("decision_maker_spoken_to"),
        answers(decision_maker="Dana", decision_maker_spoken_to=False),
        False,
        "We have not spoken to the decision maker (Dana) yet.",
    ),
    (Rule("decision_maker_spoken_to"), answers(), False, "Not known yet whether we spoke"),
    (
        Rule("timeline_within", max_days=90),
        answers(timeline_status="date", timeline_date=HELD.date() + timedelta(days=90)),
        True,
        "is 90 days after the call, within 90 days",
    ),
    (
        Rule("timeline_within", max_days=90),
        answers(timeline_status="date", timeline_date=HELD.date() + timedelta(days=91)),
        False,
        "is 91 days after the call, beyond the 90-day limit",
    ),
    (Rule("timeline_within", max_days=90), answers(timeline_status="none"), False, "no timeline"),
    (Rule("timeline_within", max_days=90), answers(), False, "Timeline not known yet"),
]


@pytest.mark.parametrize(("rule", "call", "passes", "sentence"), ONE_RULE_CASES)
def test_each_rule_alone_passes_or_fails_with_a_sentence_why(rule, call, passes, sentence):
    result = evaluate(call, only(rule))

    assert result.passed is passes
    (rule_result,) = result.results
    assert rule_result.passed is passes
    assert sentence in rule_result.reason


def test_an_unknown_budget_is_missing_not_zero():
    rule = Rule("budget_min", **MIN_5000_EUR)

    (result,) = evaluate(answers(budget_status="unknown"), only(rule)).results

    assert not result.passed
    assert "not known yet" in result.reason
    assert "below" not in result.reason
    assert "Budget 0" not in result.reason


def test_a_budget_in_another_currency_fails_even_when_bigger():
    rule = Rule("budget_min", min_amount=Decimal("5000"), currency="EUR")
    call = answers(budget_status="amount", budget_amount=Decimal("1000000"), budget_currency="GBP")

    (result,) = evaluate(call, only(rule)).results

    assert not result.passed
    assert "we do not convert currencies" in result.reason


WEIGHTED = (
    Rule("problem_confirmed", required=True),
    Rule("budget_min", required=False, points=2, **MIN_5000_EUR),
    Rule("decision_maker_identified", required=False, points=1),
    Rule("timeline_within", required=False, points=1, max_days=30),
)
RICH = dict(budget_status="amount", budget_amount=Decimal("6000"), budget_currency="EUR")


@pytest.mark.parametrize(
    ("threshold", "call", "passes", "score"),
    [
        # budget (2) + decision maker (1) = 3 points
        (3, answers(problem_confirmed=True, decision_maker="Dana", **RICH), True, 3),  # score == threshold
        (4, answers(problem_confirmed=True, decision_maker="Dana", **RICH), False, 3),  # one short
        (2, answers(problem_confirmed=True, **RICH), True, 2),
        (0, answers(problem_confirmed=True), True, 0),  # threshold 0: the required rules decide
        # every weighted rule passes, the required one does not: no amount of points makes up for it
        (
            0,
            answers(
                problem_confirmed=False,
                decision_maker="Dana",
                timeline_status="date",
                timeline_date=HELD.date(),
                **RICH,
            ),
            False,
            4,
        ),
    ],
)
def test_required_rules_must_pass_and_weighted_points_must_reach_the_threshold(threshold, call, passes, score):
    result = evaluate(call, Criteria(threshold=threshold, rules=WEIGHTED))

    assert (result.passed, result.score) == (passes, score)


def test_a_failing_weighted_rule_does_not_block_when_the_score_is_reached():
    call = answers(problem_confirmed=True, decision_maker="Dana", **RICH)  # timeline unknown

    result = evaluate(call, Criteria(threshold=3, rules=WEIGHTED))

    assert result.passed
    assert [r.rule.kind for r in result.failing] == ["timeline_within"]
    assert result.refusal_messages() == []


def test_refusal_lists_failing_required_rules_then_the_missing_points():
    call = answers(problem_confirmed=None, **RICH)

    result = evaluate(call, Criteria(threshold=4, rules=WEIGHTED))

    assert not result.passed
    messages = result.refusal_messages()
    assert messages[0].startswith("Not known yet whether they have the problem")
    assert "Score 2 is below the 4 points needed." in messages
    assert "Not known yet who decides." in messages
    assert result.summary() == "Not sales-ready yet: 1 required rule not met; 2 of the 4 points needed."


def test_a_score_above_the_threshold_reads_as_points_and_what_was_needed():
    call = answers(problem_confirmed=True, decision_maker="Dana", **RICH)

    result = evaluate(call, Criteria(threshold=1, rules=WEIGHTED))

    assert result.passed and result.score > 1
    assert result.summary() == f"Sales-ready: every required rule passes, {result.score} points, 1 needed."
    assert "of the 1" not in result.summary()


@pytest.mark.parametrize(
    ("score", "threshold", "phrase"),
    [
        (1, 3, "1 of the 3 points needed"),
        (3, 3, "3 points, 3 needed"),
        (6, 3, "6 points, 3 needed"),
        (1, 1, "1 point, 1 needed"),
    ],
)
def test_points_phrase(score, threshold, phrase):
    assert points_phrase(score, threshold) == phrase


def test_no_rules_means_nothing_to_fail():
    assert evaluate(answers(), Criteria(threshold=0, rules=())).passed


def test_it_reads_an_unsaved_discovery_call_without_the_database():
    call = DiscoveryCall(
        held_at=HELD,
        problem_confirmed=True,
        budget_status="amount",
        budget_amount=Decimal("7000"),
        budget_currency="EUR",
        timeline_status="date",
        timeline_date=date(2026, 12, 1),
    )

    result = evaluate(call, Criteria(threshold=3, rules=WEIGHTED))

    assert result.passed
    assert result.score == 3


def test_the_record_keeps_the_sentences_and_amounts_as_text():
    result = evaluate(answers(**RICH), Criteria(threshold=2, rules=WEIGHTED, number=7))

    data = result.as_json()

    assert data["criteria_number"] == 7
    assert data["passed"] is False
    budget = next(r for r in data["results"] if r["kind"] == "budget_min")
    assert budget["min_amount"] == "5000"
    assert budget["label"] == "Budget of at least 5,000 EUR"
    assert budget["reason"] == "Budget 6,000 EUR meets the 5,000 EUR minimum."
