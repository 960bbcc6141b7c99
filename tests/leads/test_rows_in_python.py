"""leads_extras.timeline_items and stage_tab_items write the lead page's history items and the lead
list's stage tabs as the templates' loops did: compared here byte for byte with those loops (kept
below as they stood), for every kind of item."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.utils import timezone

from accounts.models import User
from leads.models import Activity, Assignment, StageChange
from leads.selectors import TimelineEntry
from leads.templatetags.leads_extras import stage_tab_items, timeline_items
from qualification.models import CriteriaVersion

# The loop of templates/leads/lead_detail.html before timeline_items.
TEMPLATE_LOOP = (
    "{% load leads_extras qualification_extras %}"
    """{% for entry in timeline %}
        <li class="tl-{{ entry.kind }}">
          <div class="small text-body-secondary"><time datetime="{{ entry.at|date:'c' }}">{{ entry.at|date:"D j M Y, H:i" }}</time></div>
          {% if entry.kind == "stage" %}
            {% with sc=entry.item %}
            <div>{% if sc.from_stage %}Moved from <strong>{{ sc.get_from_stage_display }}</strong> to <strong>{{ sc.get_to_stage_display }}</strong>{% else %}Received as a <strong>lead</strong>{% endif %}
              {% if sc.changed_by %}by {{ sc.changed_by }}{% endif %}
              {% if sc.is_override %}<span class="badge text-bg-warning">manager override</span>{% endif %}</div>
            {% if sc.reason %}<div class="small text-break">“{{ sc.reason }}”</div>{% endif %}
            {% if sc.criteria_version %}
              <div class="small text-body-secondary">Criteria v{{ sc.criteria_version.number }}: {% if sc.evaluation.passed %}passed ({{ sc.evaluation|points }}){% elif sc.evaluation %}not met ({{ sc.evaluation|points }}){% else %}no discovery call recorded{% endif %}</div>
              {% if sc.is_override and sc.evaluation %}<ul class="small text-body-secondary mb-0">{% for r in sc.evaluation.results %}{% if not r.passed %}<li>{{ r.reason }}</li>{% endif %}{% endfor %}</ul>{% endif %}
            {% endif %}
            {% endwith %}
          {% elif entry.kind == "activity" %}
            {% with a=entry.item %}
            <div><strong>{{ a.get_kind_display }}</strong>{% if a.created_by %} by {{ a.created_by }}{% endif %}: <span class="text-break">{{ a.outcome }}</span></div>
            {% endwith %}
          {% else %}
            {% with a=entry.item %}
            <div>Assigned to <strong>{{ a.to_owner|default:"nobody" }}</strong>{% if a.from_owner %} (was {{ a.from_owner }}){% endif %}{% if a.assigned_by %} by {{ a.assigned_by }}{% endif %}{% if a.reason %} — <span class="small">{{ a.reason }}</span>{% endif %}</div>
            {% endwith %}
          {% endif %}
        </li>
      {% empty %}
        <li>No history yet.</li>
      {% endfor %}"""
)

ANN = User(id=1, username="ann", first_name="Ann <&>", last_name="Lee")
BOB = User(id=2, username="bob")
AT = datetime(2026, 3, 1, 7, 5, 9, 123456, tzinfo=UTC)
FAILED = {
    "passed": False,
    "score": 1,
    "threshold": 3,
    "results": [{"passed": True, "reason": "ok"}, {"passed": False, "reason": "No <budget> & no date"}, {}],
}


def _stage(**kw):
    criteria = kw.pop("criteria", None)
    sc = StageChange(id=1, changed_at=AT, **{"from_stage": "", "to_stage": "lead", "reason": "", **kw})
    if criteria is not None:
        sc.criteria_version = CriteriaVersion(number=criteria)
    return sc


ITEMS = [
    ("stage", _stage(changed_by=None)),
    (
        "stage",
        _stage(
            from_stage="lead",
            to_stage="prospect",
            changed_by=ANN,
            reason="Said <yes> & more",
            criteria=4,
            evaluation={"passed": True, "score": 6, "threshold": 3},
        ),
    ),
    (
        "stage",
        _stage(from_stage="lead", to_stage="prospect", changed_by=BOB, is_override=True, criteria=2, evaluation=FAILED),
    ),
    ("stage", _stage(from_stage="lead", to_stage="prospect", is_override=True, criteria=2, evaluation=None)),
    ("stage", _stage(from_stage="prospect", to_stage="odd", is_override=True, criteria=1, evaluation={})),
    ("stage", _stage(from_stage="lead", to_stage="disqualified", criteria=5, evaluation={"score": 2})),
    ("activity", Activity(id=2, occurred_at=AT, kind="call", outcome="Spoke <b>", created_by=ANN)),
    ("activity", Activity(id=3, occurred_at=AT, kind="note", outcome="", created_by=None)),
    ("assignment", Assignment(id=4, assigned_at=AT, reason="", assigned_by=None, to_owner=None, from_owner=None)),
    (
        "assignment",
        Assignment(id=5, assigned_at=AT, reason="Holiday <cover>", assigned_by=BOB, to_owner=ANN, from_owner=BOB),
    ),
]


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize("count", [0, 1, len(ITEMS)])
def test_the_items_are_the_templates_loop_byte_for_byte(zone, count):
    timeline = [TimelineEntry(AT, kind, item) for kind, item in ITEMS[:count]]
    with timezone.override(zone):
        expected = Template(TEMPLATE_LOOP).render(Context({"timeline": timeline}))
        assert timeline_items(timeline) == expected


def test_the_comparison_covers_every_branch():
    timeline = [TimelineEntry(AT, kind, item) for kind, item in ITEMS]
    html = timeline_items(timeline)
    for shown in [
        "Received as a <strong>lead</strong>",
        "Criteria v4: passed (6 points, 3 needed)",
        "Criteria v2: not met (1 of the 3 points needed)",
        "<li>No &lt;budget&gt; &amp; no date</li><li></li>",
        "Criteria v2: no discovery call recorded",
        "manager override",
        "by Ann &lt;&amp;&gt; Lee",
        "Assigned to <strong>nobody</strong>",
        '(was bob) by bob — <span class="small">Holiday &lt;cover&gt;</span>',
        "<strong>Note</strong>: ",
        '<time datetime="2026-03-01T07:05:09.123456+00:00">Sun 1 Mar 2026, 07:05</time>',
    ]:
        assert shown in html


# The stage tabs' loop of templates/leads/queue.html before stage_tab_items.
TABS_LOOP = """{% for value, label, count in stage_tabs %}
  <li class="nav-item">
    <a class="nav-link{% if filters.stage == value %} active{% endif %}" {% if filters.stage == value %}aria-current="page"{% endif %}
       href="?{% if querystring %}{{ querystring }}&amp;{% endif %}stage={{ value }}">
      {{ label }} <span class="badge rounded-pill {% if filters.stage == value %}text-bg-light{% else %}text-bg-secondary{% endif %} count">{{ count }}</span>
    </a>
  </li>
  {% endfor %}"""
TABS = [("open", "Open", "1000+"), ("lead", "Lead", "12"), ("prospect", "<Prospect>", 0), ("all", "All", "1000+")]


@pytest.mark.parametrize("current", ["open", "prospect", "all", "none"])
@pytest.mark.parametrize("querystring", ["", "q=a%26b&source=3", "q=<x>"])
def test_the_stage_tabs_are_the_templates_loop_byte_for_byte(current, querystring):
    ctx = {"stage_tabs": TABS, "filters": {"stage": current}, "querystring": querystring}
    expected = Template(TABS_LOOP).render(Context(ctx))
    assert stage_tab_items(TABS, current, querystring) == expected
    assert ('aria-current="page"' in expected) == (current != "none")
