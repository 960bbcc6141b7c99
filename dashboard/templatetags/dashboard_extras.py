"""Every number on the dashboard is a link to its leads: these tags write those links."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def num(value, label: str = "") -> str:
    """A count linking to the lead list of exactly those leads."""
    if value is None:
        return "—"
    title = f"Show these {value.n} leads" + (f": {label}" if label else "")
    return format_html('<a class="num" href="{}" title="{}">{}</a>', value.url, title, value.n)


@register.simple_tag
def rate(value, ci: bool = False, mark: bool = True) -> str:
    """A share (k of n) linking to the k leads; with its 95% interval when `ci`, and a mark when n is small."""
    if value is None or value.pct is None:
        return format_html('<span class="text-body-tertiary" title="{}">—</span>', "no leads")
    title = f"{value.k.n} of {value.n}"
    interval = value.interval
    if interval:
        title += f" · 95% interval {interval[0]:.0f}–{interval[1]:.0f}%"
    html = format_html('<a class="num" href="{}" title="{}">{}%</a>', value.url, title, f"{value.pct:.0f}")
    if ci and interval:
        html += format_html(' <span class="ci">{}–{}</span>', f"{interval[0]:.0f}", f"{interval[1]:.0f}")
    if mark and value.too_few:
        html += format_html(
            ' <abbr class="too-few" title="Fewer than {} leads: too few to judge">few</abbr>', value.min_sample
        )
    return html


@register.filter
def duration_min(minutes) -> str:
    """12 min, 3.5 h, 2.1 d."""
    if minutes is None:
        return "—"
    if minutes < 60:
        return f"{minutes:.0f} min"
    if minutes < 24 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} d"


@register.filter
def days(value) -> str:
    return "—" if value is None else f"{value:.1f} d"


@register.simple_tag
def share(value) -> str:
    """k of n follow-ups or calls as a percentage (no link: the lead counts beside it link)."""
    if value is None or value.pct is None:
        return format_html('<span class="text-body-tertiary" title="{}">—</span>', "none to judge")
    return format_html(
        '<span class="share" title="{} of {}">{}%</span> <span class="small text-body-secondary">of {}</span>',
        value.k,
        value.n,
        f"{value.pct:.0f}",
        value.n,
    )
