"""Starting points an admin then edits: the disqualification reasons with their helpful-close
templates (created by a data migration, so a new install can disqualify helpfully at once) and a
suggested first version of the sales-ready criteria (offered on the settings page and used by
the demo data; never published on its own)."""

from __future__ import annotations

from decimal import Decimal

SIGNATURE = "\n\nAll the best,\n{rep}"

# (code, label, needs_text, creates_helpful_close, template)
DEFAULT_REASONS: list[tuple[str, str, bool, bool, str]] = [
    (
        "no_budget",
        "No budget",
        False,
        True,
        "Hi {first_name},\n\nThank you for the time on the phone. As there is no budget for this right now, here is "
        "what I would do in your place: [the free route — our free guide / template kit, link]. It covers most of "
        "what we talked about, and you can start today.\n\nIf things change, I am glad to pick this up again."
        + SIGNATURE,
    ),
    (
        "cheaper_diy",
        "Cheaper to do it themselves",
        False,
        True,
        "Hi {first_name},\n\nHaving heard how you work, I think doing it yourselves really is the better deal for "
        "{company} at the moment. A few things that will save you time: [two or three practical tips, a checklist "
        "or a link].\n\nShould it outgrow the do-it-yourself route, you know where to find me." + SIGNATURE,
    ),
    (
        "no_problem",
        "No problem we solve",
        False,
        True,
        "Hi {first_name},\n\nThanks for talking it through with me. From what you described, what we do is not "
        "what you need. People in your situation are usually well served by [who or what would help — a "
        "specialist, a tool, a community], and I am happy to introduce you." + SIGNATURE,
    ),
    (
        "not_decision_maker",
        "Not the decision maker",
        False,
        True,
        "Hi {first_name},\n\nThank you for the conversation. Since the decision sits with someone else, here is a "
        "one-page summary you can pass on: [summary or link]. If it helps, I can answer their questions directly "
        "— just forward this email." + SIGNATURE,
    ),
    (
        "bad_timing",
        "Bad timing",
        False,
        True,
        "Hi {first_name},\n\nUnderstood that now is not the right moment. In the meantime, this might be useful: "
        "[a resource that helps them prepare]. I will not chase you; reply whenever the timing is better." + SIGNATURE,
    ),
    ("spam", "Spam or not a real inquiry", False, False, ""),
    (
        "other",
        "Other (say why)",
        True,
        True,
        "Hi {first_name},\n\nThank you for reaching out. [Why we are not the right fit, in one sentence.] What I "
        "would suggest instead: [a useful pointer or referral]." + SIGNATURE,
    ),
]


def install_default_reasons(apps) -> None:
    """Create the default disqualification reasons if missing (by code). Idempotent; used by the
    data migration and by tests that flush the database."""
    Reason = apps.get_model("qualification", "DisqualificationReason")
    for position, (code, label, needs_text, creates_close, template) in enumerate(DEFAULT_REASONS):
        Reason.objects.get_or_create(
            code=code,
            defaults={
                "label": label,
                "needs_text": needs_text,
                "creates_helpful_close": creates_close,
                "helpful_close_template": template,
                "position": position * 10,
            },
        )


def suggested_rules() -> list[dict]:
    """A sensible first version: the problem and a known budget are musts, the rest scores.

    Threshold 3 of 6: e.g. the minimum budget (2) plus a decision maker we spoke to (1), or a
    near timeline (2) plus an identified decision maker (1).
    """
    return [
        {"kind": "problem_confirmed", "required": True, "points": 0},
        {"kind": "budget_known", "required": True, "points": 0},
        {"kind": "budget_min", "required": False, "points": 2, "min_amount": Decimal("5000"), "currency": "EUR"},
        {"kind": "no_cheaper_diy", "required": True, "points": 0},
        {"kind": "decision_maker_identified", "required": False, "points": 1},
        {"kind": "decision_maker_spoken_to", "required": False, "points": 1},
        {"kind": "timeline_within", "required": False, "points": 2, "max_days": 90},
    ]


SUGGESTED_THRESHOLD = 3
