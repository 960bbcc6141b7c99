from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from followups.templatetags.followups_extras import context_policy, sla_badge, temperature_badge
from followups.worktime import day_and_time
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


def _within_a_minute(value) -> bool:
    return (timezone.now() - value).total_seconds() < 60


@register.filter
def ago(value) -> str:
    """“3 hours ago”, and “just now” under a minute (Django's timesince alone says “0 minutes”)."""
    if not value:
        return ""
    if _within_a_minute(value):
        return "just now"
    return f"{timesince(value)} ago"


@register.filter
def short_ago(value) -> str:
    """The short form for lists: “3 min ago”, “2 h ago”, and “just now” under a minute."""
    if not value:
        return ""
    if _within_a_minute(value):
        return "just now"
    return f"{short_age(value)} ago"


@register.filter
def overdue(value, short: bool = False) -> str:
    """“overdue 3 hours” (“overdue 3 h” with `short`), and “due now” in its first minute."""
    if not value:
        return ""
    if _within_a_minute(value):
        return "due now"
    return f"overdue {short_age(value) if short else timesince(value)}"


def _stamp(value) -> str:
    """A datetime as the lists' titles show it (the `date:'Y-m-d H:i'` filter, in the user's zone)."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


_NO_NEXT_STEP = mark_safe('<span class="badge text-bg-warning no-next-step">No next step</span>')


@register.simple_tag(takes_context=True)
def queue_rows(context, leads, show_owner: bool) -> SafeString:
    """The work queue's table rows, built in Python: a page of 25 rows through the template
    engine (an include and an inclusion tag per row, ~40 variable lookups and 5 date formats
    each) was about half of the queue page's CPU. The markup is the one the template had; the
    lead URL comes from one reverse() for the page, "now" is read once.
    """
    policy = context_policy(context)
    now = timezone.now()
    sentinel = 987654321
    url_head, url_tail = reverse("leads:detail", args=[sentinel]).split(str(sentinel))

    def row(lead) -> SafeString:
        company = ""
        if lead.company:
            company = format_html(
                '<div class="small text-body-secondary">{}{}</div>',
                lead.company,
                format_html(" · {}", lead.title) if lead.title else "",
            )
        owner = format_html('<td class="small text-nowrap">{}</td>', lead.owner or "—") if show_owner else ""
        if lead.first_contacted_at:
            waiting = format_html(
                '<span class="text-nowrap" title="Last touched {}">touched {}</span>',
                _stamp(lead.last_touched_at),
                short_ago(lead.last_touched_at),
            )
        else:
            # Two unbreakable halves: the cell may wrap between them, leaving room for names.
            waiting = format_html(
                '<span class="age-late" title="Received {}"><span class="text-nowrap">not contacted ·</span>'
                ' <span class="text-nowrap">received {}</span></span><div>{}</div>',
                _stamp(lead.received_at),
                short_ago(lead.received_at),
                # A reverse one-to-one: a missing clock raises RelatedObjectDoesNotExist (an AttributeError).
                sla_badge(lead, getattr(lead, "sla", None)),
            )
        due = lead.next_followup_at
        if due and due <= now:
            next_step = format_html('<span class="age-late" title="Due {}">{}</span>', _stamp(due), overdue(due, True))
        elif due:
            next_step = format_html('<span title="Due {}">{}</span>', _stamp(due), day_and_time(due))
        else:
            next_step = _NO_NEXT_STEP if lead.is_open else "—"
        return format_html(
            "<tr>\n"
            '<td><a class="lead-name text-decoration-none" href="{}{}{}">{}</a>{}</td>\n'
            "<td>{} {}</td>\n"
            '<td class="small text-nowrap">{}</td>\n'
            "{}"
            '<td class="small">{}</td>\n'
            '<td class="small text-nowrap">{}</td>\n'
            '<td class="small d-none d-xl-table-cell">{}{}{}</td>\n'
            "</tr>\n",
            url_head,
            lead.pk,
            url_tail,
            lead.name,
            company,
            stage_badge(lead.stage, lead.get_stage_display()),
            temperature_badge(lead, policy, now),
            lead.source.name if lead.source_id else "",
            owner,
            waiting,
            next_step,
            lead.email,
            mark_safe("<br>") if lead.email and lead.phone else "",
            format_phone(lead.phone),
        )

    return format_html_join("", "{}", ((row(lead),) for lead in leads))
