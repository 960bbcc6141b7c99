"""followups_extras.recent_followup_items writes the lead page's recently closed follow-ups as the
panel's loop did: compared here byte for byte with that loop (kept below as it stood)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.utils import timezone

from accounts.models import User
from followups.models import FollowUp
from followups.templatetags.followups_extras import recent_followup_items
from leads.models import Activity

# The loop of templates/followups/_panel.html before recent_followup_items.
RECENT_LOOP = """{% for f in followups.recent %}
    <li class="text-body-secondary"><span class="badge text-bg-light border">{{ f.get_state_display }}</span> {{ f.get_kind_display }}: {{ f.instruction }} · {{ f.completed_at|date:"D j M, H:i" }}{% if f.completed_by %} by {{ f.completed_by }}{% endif %}{% if f.activity %} — “{{ f.activity.outcome|truncatechars:60 }}”{% endif %}</li>
    {% endfor %}"""

AT = datetime(2026, 3, 1, 23, 5, tzinfo=UTC)
ANN = User(id=1, username="ann", first_name="Ann <&>", last_name="Lee")
LONG = "Spoke with <the> CFO & agreed on a demo next week, then a pilot in the spring, then more"
RECENT = [
    FollowUp(
        id=1,
        state="done",
        kind="call",
        instruction="Call <back>",
        completed_at=AT,
        completed_by=ANN,
        activity=Activity(outcome=LONG),
    ),
    FollowUp(id=2, state="skipped", kind="email", instruction="", completed_at=AT, completed_by=None, activity=None),
    FollowUp(
        id=3,
        state="cancelled",
        kind="task",
        instruction="Send & file",
        completed_at=None,
        activity=Activity(outcome="Short"),
    ),
    FollowUp(id=4, state="odd", kind="odd", instruction="x", completed_at=AT, activity=Activity(outcome="")),
]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo"])
@pytest.mark.parametrize("count", [0, 1, len(RECENT)])
def test_the_items_are_the_panels_loop_byte_for_byte(zone, count):
    recent = RECENT[:count]
    with timezone.override(zone):
        expected = Template(RECENT_LOOP).render(Context({"followups": {"recent": recent}}))
        assert recent_followup_items(recent) == expected
    if count:
        assert "Done</span> Call: Call &lt;back&gt;" in expected
