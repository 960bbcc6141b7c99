"""Each dashboard table as a CSV download (the same numbers as on the page, without links)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable

from django.http import HttpResponse

from .selectors import Dashboard, Rate

# Cells a spreadsheet would read as a formula or a command (ENGINEERING.md's list).
_DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r", "\0", "|", "%")


def safe_cell(value):
    """Numbers pass through; text that a spreadsheet could run gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(_DANGEROUS_START) else text


def _pct(rate: Rate) -> float | str:
    return "" if rate.pct is None else round(rate.pct, 1)


def _ci(rate: Rate) -> tuple[float | str, float | str]:
    interval = rate.interval
    return ("", "") if interval is None else (round(interval[0], 1), round(interval[1], 1))


def _funnel(d: Dashboard) -> Iterable[list]:
    yield ["stage", "leads", "conversion_to_next_pct", "drop_off_pct", "median_days_in_stage"]
    for s in d.funnel:
        conv = s.get("conversion")
        yield [s["label"], s["reached"].n, _pct(conv) if conv else "", _round1(s.get("drop_pct")), s["median_days"]]
    for e in d.exits:
        yield [f"exit: {e['label']}", e["count"].n, "", "", e["median_days"]]
    for o in d.open_now:
        yield [o["label"], o["count"].n, "", "", ""]


def _sources(d: Dashboard) -> Iterable[list]:
    yield [
        "source",
        "leads",
        "contacted_pct",
        "median_speed_to_lead_min",
        "within_sla_pct",
        "prospects",
        "lead_to_prospect_pct",
        "lead_to_prospect_ci_low",
        "lead_to_prospect_ci_high",
        "customers",
        "prospect_to_customer_pct",
        "prospect_to_customer_ci_low",
        "prospect_to_customer_ci_high",
        "disqualified",
        "lost",
        "nurture",
        "too_few_to_judge",
        "top_disqualification_reasons",
    ]
    for s in d.sources:
        lp, pc = s.lead_to_prospect, s.prospect_to_customer
        yield [
            s.label,
            s.leads.n,
            _pct(s.contacted),
            s.median_min,
            _pct(s.within_sla),
            lp.k.n,
            _pct(lp),
            *_ci(lp),
            pc.k.n,
            _pct(pc),
            *_ci(pc),
            s.disqualified.n,
            s.lost.n,
            s.nurture.n,
            "yes" if s.too_few else "no",
            "; ".join(f"{reason} ({num.n})" for reason, num in s.reasons),
        ]


def _speed(rows_of: Callable[[Dashboard], list]) -> Callable[[Dashboard], Iterable[list]]:
    def table(d: Dashboard) -> Iterable[list]:
        yield ["who", "leads", "contacted", "median_min", "p90_min", "within_sla", "within_sla_pct"]
        for r in rows_of(d):
            yield [r.label, r.leads.n, r.contacted.k.n, r.median_min, r.p90_min, r.within_sla.k.n, _pct(r.within_sla)]

    return table


def _speed_sources(d: Dashboard) -> list:
    from .selectors import SpeedRow

    return [
        SpeedRow(s.label, s.leads, s.contacted, s.within_sla, s.median_min, s.p90_min, key=s.source_id)
        for s in d.sources
    ]


def _buckets(d: Dashboard) -> Iterable[list]:
    yield ["first_contact", "leads", "prospects", "lead_to_prospect_pct", "customers", "prospect_to_customer_pct"]
    for b in d.buckets:
        lp, pc = b["lead_to_prospect"], b["prospect_to_customer"]
        yield [b["label"], b["leads"].n, lp.k.n, _pct(lp), pc.k.n, _pct(pc)]


def _source_buckets(d: Dashboard) -> Iterable[list]:
    yield ["source", "first_contact", "leads", "prospects", "lead_to_prospect_pct"]
    for s in d.sources:
        for label, cell in zip(d.bucket_labels, s.bucket_list, strict=True):
            if cell:
                yield [s.label, label, cell["leads"].n, cell["lead_to_prospect"].k.n, _pct(cell["lead_to_prospect"])]


def _reasons(d: Dashboard) -> Iterable[list]:
    yield ["reason", "leads"]
    for reason, num in d.reasons:
        yield [reason, num.n]


def _trend(d: Dashboard) -> Iterable[list]:
    yield ["week_from", "week_to", "received", "to_prospect", "to_customer"]
    for w in d.trend:
        yield [w["first"].isoformat(), w["last"].isoformat(), w["received"].n, w["prospect"].n, w["customer"].n]


def _cooling(d: Dashboard) -> Iterable[list]:
    yield ["lead", "company", "stage", "owner", "source", "received_at", "last_touched_at"]
    for lead in d.cooling_leads:
        yield [
            lead.name,
            lead.company,
            lead.stage,
            str(lead.owner) if lead.owner else "",
            lead.source.name,
            lead.received_at.isoformat(),
            lead.last_touched_at.isoformat() if lead.last_touched_at else "",
        ]


def _share_pct(share) -> float | str:
    return "" if share.pct is None else round(share.pct, 1)


def _discipline(d: Dashboard) -> Iterable[list]:
    yield [
        "rep",
        "open_leads",
        "leads_with_overdue_followups",
        "open_leads_without_next_step",
        "followups_judged",
        "followups_on_time",
        "on_time_pct",
        "leads_with_late_followups",
        "agreed_dates",
        "agreed_dates_kept",
        "agreed_kept_pct",
        "leads_with_agreed_date_not_kept",
        "leads_with_helpful_close_unsent",
    ]
    rows = [*d.discipline, d.discipline_total] if d.discipline_total else d.discipline
    for r in rows:
        yield [
            r.label,
            r.open.n,
            r.overdue.n,
            r.no_next_step.n,
            r.on_time.n,
            r.on_time.k,
            _share_pct(r.on_time),
            r.late.n,
            r.agreed.n,
            r.agreed.k,
            _share_pct(r.agreed),
            r.broken.n,
            r.unsent.n,
        ]


def _rules(d: Dashboard) -> Iterable[list]:
    q = d.qualification
    yield ["rule", "failing_calls", "leads", "calls_in_range", "calls_passing", "calls_passing_pct"]
    for r in q.rules if q else []:
        yield [r.label, r.calls, r.leads.n, q.calls, q.passed.k, _share_pct(q.passed)]


def _overrides(d: Dashboard) -> Iterable[list]:
    q = d.qualification
    yield ["lead", "company", "by", "reason", "changed_at"]
    for sc in q.override_list if q else []:
        yield [sc.lead.name, sc.lead.company, str(sc.changed_by or ""), sc.reason, sc.changed_at.isoformat()]


TABLES: dict[str, Callable[[Dashboard], Iterable[list]]] = {
    "funnel": _funnel,
    "sources": _sources,
    "speed-reps": _speed(lambda d: [d.speed_total, *d.speed_by_rep]),
    "speed-sources": _speed(lambda d: [d.speed_total, *_speed_sources(d)]),
    "buckets": _buckets,
    "source-buckets": _source_buckets,
    "reasons": _reasons,
    "trend": _trend,
    "cooling": _cooling,
    "discipline": _discipline,
    "rules": _rules,
    "overrides": _overrides,
}


def response(dash: Dashboard, table: str) -> HttpResponse:
    f = dash.filters
    name = f"leadflow-{table}-{f.date_from.isoformat()}-{f.date_to.isoformat()}.csv"
    resp = HttpResponse(content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(resp)
    for row in TABLES[table](dash):
        writer.writerow([safe_cell(v) for v in row])
    return resp


def _round1(value: float | None) -> float | str:
    return "" if value is None else round(value, 1)
