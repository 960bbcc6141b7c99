from functools import lru_cache
from html import escape as esc

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from followups.templatetags.followups_extras import context_policy, sla_badge, temperature_badge
from followups.worktime import day_and_time
from leadflow.formrender import crispy_field
from leadflow.timetext import since_text
from leads.models import Activity, Lead, lead_path_formatter
from leads.normalize import format_phone
from qualification.templatetags.qualification_extras import points

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
@lru_cache(maxsize=4096)
def phone(value: str) -> str:
    # Formatting parses the number against the numbering plan's metadata (~10 µs); a queue shows
    # the same leads' numbers again and again.
    return format_phone(value)


@register.filter
def as_field(bound_field) -> SafeString:
    """`{{ form.field|as_crispy_field }}` for the pages that show many fields (the lead page, the
    call page): the same HTML, written in Python rather than through crispy's nested templates
    (leadflow.formrender says why and what it covers; anything else goes to crispy)."""
    return crispy_field(bound_field)


@register.simple_tag
def stage_badge(stage: str, label: str) -> str:
    # A simple tag, not an inclusion tag: lists show one per row, and rendering a template
    # for each cost ~10 % of the queue page's CPU.
    return _stage_badge(stage, label)


@lru_cache(maxsize=64)
def _stage_badge(stage: str, label: str) -> str:
    return format_html(
        '<span class="badge stage-badge text-bg-{}">{}</span>', STAGE_COLOURS.get(stage, "secondary"), label
    )


@register.filter
def short_age(value) -> str:
    """“3 min”, “2 h”, “5 d”: compact ages for lists that busy people scan."""
    if not value:
        return ""
    return _age(timezone.now(), value)


def _age(now, value) -> str:
    seconds = max(0, int((now - value).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def _within_a_minute(value, now) -> bool:
    return (now - value).total_seconds() < 60


@register.filter
def ago(value) -> str:
    """“3 hours ago”, and “just now” under a minute (Django's timesince alone says “0 minutes”)."""
    if not value:
        return ""
    now = timezone.now()
    return "just now" if _within_a_minute(value, now) else f"{since_text(value, now)} ago"


@register.filter
def short_ago(value) -> str:
    """The short form for lists: “3 min ago”, “2 h ago”, and “just now” under a minute."""
    return _short_ago(value, timezone.now())


def _short_ago(value, now) -> str:
    # short_ago against a given "now" (queue_rows reads it once for the page).
    if not value:
        return ""
    return "just now" if _within_a_minute(value, now) else f"{_age(now, value)} ago"


@register.filter
def overdue(value, short: bool = False) -> str:
    """“overdue 3 hours” (“overdue 3 h” with `short`), and “due now” in its first minute."""
    if not value:
        return ""
    now = timezone.now()
    if short:
        return _overdue_short(value, now)
    return "due now" if _within_a_minute(value, now) else f"overdue {since_text(value, now)}"


def _overdue_short(value, now) -> str:
    return "due now" if _within_a_minute(value, now) else f"overdue {_age(now, value)}"


def _stamp(value, tz=None) -> str:
    """A datetime as the lists' titles show it (the `date:'Y-m-d H:i'` filter, in `tz` or the
    user's zone)."""
    return timezone.localtime(value, tz).strftime("%Y-%m-%d %H:%M") if value else ""


_STAGE_LABELS = dict(Lead.Stage.choices)
_NO_NEXT_STEP = '<span class="badge text-bg-warning no-next-step">No next step</span>'


@register.simple_tag(takes_context=True)
def queue_rows(context, leads, show_owner: bool) -> SafeString:
    """The work queue's table rows, built in Python: a page of 25 rows through the template
    engine (an include and an inclusion tag per row, ~40 variable lookups and 5 date formats
    each) was about half of the queue page's CPU, and format_html per cell still a third of
    what was left. The markup is the one the template had: the lead's own text is escaped
    here (html.escape: what Django's escape does, without its lazy-string check, which was a
    fifth of the rows' time), the badges come as safe HTML. The lead URLs come from
    lead_path_formatter (reverse() once for the page); "now" and the user's time zone are read
    once, and the stage labels looked up in a dict (get_stage_display rebuilds its choices on
    every call).
    """
    policy = context_policy(context)
    now = timezone.now()
    tz = timezone.get_current_timezone()
    lead_path = lead_path_formatter()

    def row(lead) -> str:
        company = ""
        if lead.company:
            title = f" · {esc(lead.title)}" if lead.title else ""
            company = f'<div class="small text-body-secondary">{esc(lead.company)}{title}</div>'
        owner = f'<td class="small text-nowrap">{esc(str(lead.owner or "—"))}</td>' if show_owner else ""
        if lead.first_contacted_at:
            waiting = (
                f'<span class="text-nowrap" title="Last touched {_stamp(lead.last_touched_at, tz)}">'
                f"touched {esc(_short_ago(lead.last_touched_at, now))}</span>"
            )
        else:
            # Two unbreakable halves: the cell may wrap between them, leaving room for names.
            # A reverse one-to-one: a missing clock raises RelatedObjectDoesNotExist (an AttributeError).
            waiting = (
                f'<span class="age-late" title="Received {_stamp(lead.received_at, tz)}"><span class="text-nowrap">'
                f'not contacted ·</span> <span class="text-nowrap">received {esc(_short_ago(lead.received_at, now))}'
                f"</span></span><div>{sla_badge(lead, getattr(lead, 'sla', None), now=now, tz=tz)}</div>"
            )
        due = lead.next_followup_at
        if due and due <= now:
            next_step = f'<span class="age-late" title="Due {_stamp(due, tz)}">{esc(_overdue_short(due, now))}</span>'
        elif due:
            next_step = f'<span title="Due {_stamp(due, tz)}">{esc(day_and_time(due, tz))}</span>'
        else:
            next_step = _NO_NEXT_STEP if lead.is_open else "—"
        br = "<br>" if lead.email and lead.phone else ""
        source = esc(lead.source.name) if lead.source_id else ""
        stage = lead.stage
        return (
            "<tr>\n"
            f'<td><a class="lead-name text-decoration-none" href="{lead_path(lead.pk)}">{esc(lead.name)}</a>'
            f"{company}</td>\n"
            f"<td>{_stage_badge(stage, _STAGE_LABELS.get(stage, stage))} {temperature_badge(lead, policy, now)}</td>\n"
            f'<td class="small text-nowrap">{source}</td>\n'
            f"{owner}"
            f'<td class="small">{waiting}</td>\n'
            f'<td class="small text-nowrap">{next_step}</td>\n'
            f'<td class="small d-none d-xl-table-cell">{esc(lead.email)}{br}{esc(phone(lead.phone))}</td>\n'
            "</tr>\n"
        )

    return mark_safe("".join(row(lead) for lead in leads))


_ACTIVITY_LABELS = dict(Activity.Kind.choices)
_OVERRIDE_BADGE = '<span class="badge text-bg-warning">manager override</span>'


@register.simple_tag
def timeline_items(timeline) -> SafeString:
    """The lead page's history (leads.selectors.lead_timeline), its <li> items built in Python:
    through the template engine each item (two date formats, a dozen lookups and conditions)
    was a tenth of the page's CPU. The markup, whitespace included, is the one the template's
    loop had; every value is escaped with html.escape (see queue_rows), the user's zone and
    the stage and kind labels read once."""
    tz = timezone.get_current_timezone()
    items = []
    for entry in timeline:
        at = entry.at.astimezone(tz)
        item, kind = entry.item, entry.kind
        if kind == "stage":
            items.append(_stage_change_item(item))
        elif kind == "activity":
            by = f" by {esc(str(item.created_by))}" if item.created_by else ""
            label = _ACTIVITY_LABELS.get(item.kind, item.kind)
            items.append(
                "\n            \n            "
                f'<div><strong>{esc(label)}</strong>{by}: <span class="text-break">{esc(item.outcome)}</span></div>'
                "\n            \n          "
            )
        else:
            was = f" (was {esc(str(item.from_owner))})" if item.from_owner else ""
            by = f" by {esc(str(item.assigned_by))}" if item.assigned_by else ""
            reason = f' — <span class="small">{esc(item.reason)}</span>' if item.reason else ""
            items.append(
                "\n            \n            "
                f"<div>Assigned to <strong>{esc(str(item.to_owner or 'nobody'))}</strong>{was}{by}{reason}</div>"
                "\n            \n          "
            )
        items[-1] = (
            f'\n        <li class="tl-{esc(kind)}">\n          <div class="small text-body-secondary">'
            f'<time datetime="{at.isoformat()}">{esc(day_and_time(at, tz, year=True))}</time></div>\n          '
            f"{items[-1]}\n        </li>\n      "
        )
    return mark_safe("".join(items) if items else "\n        <li>No history yet.</li>\n      ")


def _stage_change_item(sc) -> str:
    """A stage change's part of its timeline item (see timeline_items). Its evaluation is the
    JSON the move recorded, read as the template read it: a missing key is an empty value."""
    if sc.from_stage:
        moved = (
            f"Moved from <strong>{esc(_STAGE_LABELS.get(sc.from_stage, sc.from_stage))}</strong>"
            f" to <strong>{esc(_STAGE_LABELS.get(sc.to_stage, sc.to_stage))}</strong>"
        )
    else:
        moved = "Received as a <strong>lead</strong>"
    by = f"by {esc(str(sc.changed_by))}" if sc.changed_by else ""
    reason = f'<div class="small text-break">“{esc(sc.reason)}”</div>' if sc.reason else ""
    criteria = ""
    if sc.criteria_version:
        evaluation = sc.evaluation if isinstance(sc.evaluation, dict) else {}
        if evaluation.get("passed"):
            verdict = f"passed ({esc(points(evaluation))})"
        elif sc.evaluation:
            verdict = f"not met ({esc(points(evaluation))})"
        else:
            verdict = "no discovery call recorded"
        missing = ""
        if sc.is_override and sc.evaluation:
            lines = "".join(
                f"<li>{esc(str(r.get('reason', '')))}</li>"
                for r in evaluation.get("results") or ()
                if not r.get("passed")
            )
            missing = f'<ul class="small text-body-secondary mb-0">{lines}</ul>'
        criteria = (
            f'\n              <div class="small text-body-secondary">Criteria v{sc.criteria_version.number}: {verdict}</div>'
            f"\n              {missing}\n            "
        )
    return (
        f"\n            \n            <div>{moved}\n              {by}\n              "
        f"{_OVERRIDE_BADGE if sc.is_override else ''}</div>\n            {reason}\n            {criteria}"
        "\n            \n          "
    )


@register.simple_tag
def stage_tab_items(stage_tabs, current: str, querystring: str) -> SafeString:
    """The lead list's stage tabs (the view's stage_tabs: value, label, count), their <li>
    items built in Python like the queue's rows: eight tabs through the template engine (three
    comparisons and five lookups each) cost as much as a fifth of the rows. The markup,
    whitespace included, is the one the template's loop had."""
    query = f"{esc(querystring)}&amp;" if querystring else ""
    items = []
    for value, label, count in stage_tabs:
        here = value == current
        active, current_page = (" active", 'aria-current="page"') if here else ("", "")
        badge = "text-bg-light" if here else "text-bg-secondary"
        items.append(
            f'\n  <li class="nav-item">\n    <a class="nav-link{active}" {current_page}\n'
            f'       href="?{query}stage={esc(value)}">\n      {esc(label)} <span class="badge rounded-pill {badge} count">'
            f"{esc(str(count))}</span>\n    </a>\n  </li>\n  "
        )
    return mark_safe("".join(items))
