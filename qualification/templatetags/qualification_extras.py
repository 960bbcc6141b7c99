from __future__ import annotations

from django import template

from qualification.currencies import format_money
from qualification.evaluation import points_phrase

register = template.Library()


@register.filter
def money(amount, currency: str = "") -> str:
    """{{ rule.min_amount|money:rule.currency }} → “5,000 EUR”."""
    if amount is None or amount == "":
        return ""
    return format_money(amount, currency)


@register.filter
def tri(value) -> str:
    """A yes / no / not-known answer in words."""
    return {True: "Yes", False: "No"}.get(value, "Not known yet")


@register.inclusion_tag("qualification/_checklist.html")
def checklist(evaluation, criteria=None, compact: bool = False):
    return {"evaluation": evaluation, "criteria": criteria, "compact": compact}


@register.filter
def points(evaluation) -> str:
    """A recorded evaluation's score against its threshold, as the checklist words it."""
    return points_phrase(evaluation.get("score") or 0, evaluation.get("threshold") or 0)
