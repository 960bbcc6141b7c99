from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from leads.normalize import format_phone

register = template.Library()

STAGE_COLOURS = {
    "lead": "primary",
    "prospect": "info",
    "customer": "success",
    "nurture": "secondary",
    "disqualified": "dark",
    "lost": "danger",
}


@register.filter
def phone(value: str) -> str:
    return format_phone(value)


@register.simple_tag
def stage_badge(stage: str, label: str) -> str:
    # A simple tag, not an inclusion tag: lists show one per row, and rendering a template
    # for each cost ~10 % of the queue page's CPU.
    return format_html(
        '<span class="badge stage-badge text-bg-{}">{}</span>', STAGE_COLOURS.get(stage, "secondary"), label
    )


@register.filter
def short_age(value) -> str:
    """“3 min”, “2 h”, “5 d”: compact ages for lists that busy people scan."""
    if not value:
        return ""
    seconds = max(0, int((timezone.now() - value).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


@register.filter
def ago(value) -> str:
    """“3 hours ago”, and “just now” under a minute (Django's timesince alone says “0 minutes”)."""
    if not value:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value)} ago"


@register.filter
def short_ago(value) -> str:
    """The short form for lists: “3 min ago”, “2 h ago”, and “just now” under a minute."""
    if not value:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    return f"{short_age(value)} ago"


@register.filter
def overdue(value, short: bool = False) -> str:
    """“overdue 3 hours” (“overdue 3 h” with `short`), and “due now” in its first minute."""
    if not value:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return "due now"
    return f"overdue {short_age(value) if short else timesince(value)}"
