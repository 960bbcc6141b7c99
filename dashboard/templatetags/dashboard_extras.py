"""Every number on the dashboard is a link to its leads: these tags write those links.

The page shows ~250 of them, so they are written with f-strings and `html.escape` (what
format_html does for these plain values: ints, floats and the str URLs of Num) rather than
format_html, whose lazy-aware escaping per argument was a tenth of the page's CPU.
"""

from __future__ import annotations

from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def num(value, label: str = "") -> SafeString:
    """A count linking to the lead list of exactly those leads."""
    if value is None:
        return "—"
    title = f"Show these {value.n} leads" + (f": {label}" if label else "")
    return mark_safe(f'<a class="num" href="{escape(value.url)}" title="{escape(title)}">{escape(str(value.n))}</a>')


_NO_RATE = mark_safe('<span class="text-body-tertiary" title="no leads">—</span>')


@register.simple_tag
def rate(value, ci: bool = False, mark: bool = True) -> SafeString:
    """A share (k of n) linking to the k leads; with its 95% interval when `ci`, and a mark when n is small."""
    if value is None or value.pct is None:
        return _NO_RATE
    title = f"{value.k.n} of {value.n}"
    interval = value.interval
    if interval:
        title += f" · 95% interval {interval[0]:.0f}–{interval[1]:.0f}%"
    html = f'<a class="num" href="{escape(value.url)}" title="{escape(title)}">{value.pct:.0f}%</a>'
    if ci and interval:
        html += f' <span class="ci">{interval[0]:.0f}–{interval[1]:.0f}</span>'
    if mark and value.too_few:
        html += f' <abbr class="too-few" title="Fewer than {escape(str(value.min_sample))} leads: too few to judge">few</abbr>'
    return mark_safe(html)


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


_NO_SHARE = mark_safe('<span class="text-body-tertiary" title="none to judge">—</span>')


@register.simple_tag
def share(value) -> SafeString:
    """k of n follow-ups or calls as a percentage (no link: the lead counts beside it link)."""
    if value is None or value.pct is None:
        return _NO_SHARE
    k, n = escape(str(value.k)), escape(str(value.n))
    return mark_safe(
        f'<span class="share" title="{k} of {n}">{value.pct:.0f}%</span> <span class="small text-body-secondary">of {n}</span>'
    )
