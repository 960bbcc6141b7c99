from __future__ import annotations

from html import escape

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator, capfirst

from followups.forms import ACTIVITY_FOR_KIND
from followups.models import FollowUp, Kind
from followups.selectors import lead_temperature
from followups.worktime import day_and_time
from leadflow.timetext import since_text, until_text

register = template.Library()

TEMPERATURE_COLOURS = {"hot": "danger", "warm": "warning", "cooling": "info", "cold": "secondary"}
TEMPERATURE_HELP = {
    "hot": "Touched recently",
    "warm": "Not touched for a day or more",
    "cooling": "Not touched for days, or a follow-up is well overdue",
    "cold": "Not touched for weeks",
}


def temperature_badge(lead, policy, now) -> str:
    """The temperature badge of an open lead ("" otherwise). A function, not a template: lists
    show one per row (see leads_extras.queue_rows)."""
    if not lead.is_open:
        return ""
    return _TEMPERATURE_BADGES[lead_temperature(lead=lead, policy=policy, now=now)]


_TEMPERATURE_BADGES = {
    value: format_html(
        '<span class="badge temperature temperature-{} text-bg-{}" title="{}">{}</span>',
        value,
        colour,
        TEMPERATURE_HELP[value],
        capfirst(value),
    )
    for value, colour in TEMPERATURE_COLOURS.items()
}


def context_policy(context):
    """The follow-up policy the context processor loads once per page (a callable there)."""
    policy = context.get("followup_policy")
    return policy() if callable(policy) else policy


@register.simple_tag(takes_context=True)
def temperature(context, lead) -> str:
    """A temperature badge for an open lead; uses the policy the context processor loads once."""
    return temperature_badge(lead, context_policy(context), timezone.now())


@register.simple_tag
def sla_badge(lead, sla, *, now=None, tz=None) -> str:
    """The speed-to-lead state of an uncontacted lead: a live countdown (static/js/followups.js)
    or the breach; "" for a contacted lead or one past the lead stage. Written with f-strings
    and escape rather than format_html: lists show one per uncontacted row, and give the page's
    `now` and time zone (each looked up again per row was a fifth of the badge's time)."""
    if not sla or lead.first_contacted_at or lead.stage != "lead":
        return ""
    tz = tz or timezone.get_current_timezone()
    now = now or timezone.now()
    due = sla.owner_due_at.astimezone(tz)
    when, iso = escape(day_and_time(due, tz)), escape(due.isoformat())
    if due <= now:
        return mark_safe(
            f'<span class="badge text-bg-danger sla-breached" title="Speed-to-lead deadline was {when}">SLA breached'
            f' <span data-countdown="{iso}">{escape(since_text(due, now))}</span> ago</span>'
        )
    return mark_safe(
        f'<span class="badge text-bg-warning sla-running" title="Call before {when} (working time)">SLA'
        f' <span data-countdown="{iso}">{escape(until_text(due, now))}</span> left</span>'
    )


@register.filter
def until(value, now=None) -> str:
    """Django's `timeuntil` filter, its text read through leadflow.timetext ("" for no time)."""
    return until_text(value, now or timezone.now()) if value else ""


@register.filter
def is_past(value) -> bool:
    return bool(value) and value <= timezone.now()


@register.filter
def activity_kind_for(kind: str) -> str:
    """The activity a follow-up of this kind most likely was (pre-selected when completing it)."""
    return str(ACTIVITY_FOR_KIND.get(kind, ""))


_STATE_LABELS = dict(FollowUp.State.choices)
_KIND_LABELS = dict(Kind.choices)


@register.simple_tag
def recent_followup_items(recent) -> str:
    """The lead page's recently closed follow-ups (followups.selectors.lead_followups' recent),
    their <li> items built in Python like the history's (leads_extras.timeline_items): the
    same markup, whitespace included, each value escaped."""
    items = []
    for f in recent:
        when = escape(day_and_time(f.completed_at)) if f.completed_at else ""
        by = f" by {escape(str(f.completed_by))}" if f.completed_by else ""
        outcome = f" — “{escape(Truncator(f.activity.outcome).chars(60))}”" if f.activity else ""
        items.append(
            f'\n    <li class="text-body-secondary"><span class="badge text-bg-light border">'
            f"{escape(_STATE_LABELS.get(f.state, f.state))}</span> {escape(_KIND_LABELS.get(f.kind, f.kind))}: "
            f"{escape(f.instruction)} · {when}{by}{outcome}</li>\n    "
        )
    return mark_safe("".join(items))
