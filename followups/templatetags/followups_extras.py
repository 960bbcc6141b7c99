from __future__ import annotations

from django import template
from django.utils import timezone

from followups.forms import ACTIVITY_FOR_KIND
from followups.selectors import lead_temperature

register = template.Library()

TEMPERATURE_COLOURS = {"hot": "danger", "warm": "warning", "cooling": "info", "cold": "secondary"}
TEMPERATURE_HELP = {
    "hot": "Touched recently",
    "warm": "Not touched for a day or more",
    "cooling": "Not touched for days, or a follow-up is well overdue",
    "cold": "Not touched for weeks",
}


@register.inclusion_tag("followups/_temperature.html", takes_context=True)
def temperature(context, lead):
    """A temperature badge for an open lead; uses the policy the context processor loads once."""
    if not lead.is_open:
        return {"temperature": ""}
    policy = context.get("followup_policy")
    policy = policy() if callable(policy) else policy
    value = lead_temperature(lead=lead, policy=policy, now=timezone.now())
    return {"temperature": value, "colour": TEMPERATURE_COLOURS[value], "help": TEMPERATURE_HELP[value]}


@register.filter
def is_past(value) -> bool:
    return bool(value) and value <= timezone.now()


@register.filter
def activity_kind_for(kind: str) -> str:
    """The activity a follow-up of this kind most likely was (pre-selected when completing it)."""
    return str(ACTIVITY_FOR_KIND.get(kind, ""))
