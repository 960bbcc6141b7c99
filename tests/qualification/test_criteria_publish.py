from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from qualification.defaults import SUGGESTED_THRESHOLD, suggested_rules
from qualification.models import CriteriaRule, CriteriaVersion
from qualification.selectors import criteria_current
from qualification.services import criteria_publish
from tests.factories import BASIC_RULES, BASIC_THRESHOLD


def publish(by, rules=BASIC_RULES, threshold=BASIC_THRESHOLD, **kw):
    return criteria_publish(by=by, rules=rules, threshold=threshold, **kw)


def test_the_first_version_is_number_one_and_current(admin_user):
    version = publish(admin_user, note="First go")

    assert (version.number, version.is_current, version.created_by, version.note) == (1, True, admin_user, "First go")
    assert [r.kind for r in version.rules.all()] == [r["kind"] for r in BASIC_RULES]
    assert criteria_current().number == 1


def test_publishing_again_adds_a_version_and_keeps_the_old_one_untouched(admin_user):
    v1 = publish(admin_user)
    v1_rules = list(v1.rules.values_list("kind", "required", "points", "min_amount", "currency", "max_days"))

    v2 = publish(admin_user, threshold=2)

    v1.refresh_from_db()
    assert (v2.number, v2.is_current, v1.is_current) == (2, True, False)
    assert v1.threshold == BASIC_THRESHOLD
    assert list(v1.rules.values_list("kind", "required", "points", "min_amount", "currency", "max_days")) == v1_rules
    assert CriteriaVersion.objects.filter(is_current=True).get() == v2


def test_saving_the_same_rules_does_not_make_an_empty_version(admin_user):
    v1 = publish(admin_user)
    assert publish(admin_user, note="no change") == v1
    assert CriteriaVersion.objects.count() == 1


def test_the_suggested_first_version_is_valid(admin_user):
    version = publish(admin_user, rules=suggested_rules(), threshold=SUGGESTED_THRESHOLD)
    assert version.rules.count() == 7


def test_versions_are_never_edited_in_place(admin_user):
    version = publish(admin_user)
    version.threshold = 0
    with pytest.raises(ValueError, match="never edited"):
        version.save()
    rule = version.rules.first()
    rule.points = 9
    with pytest.raises(ValueError, match="never edited"):
        rule.save()


BAD_CRITERIA = [
    ([], 0, "rules", "at least one rule"),
    ([{"kind": "problem_confirmed"}, {"kind": "problem_confirmed"}], 0, "rules", "once per version"),
    ([{"kind": "decision_maker_identified", "required": False, "points": 0}], 0, "rules", "at least 1 point"),
    ([{"kind": "budget_min", "required": True, "min_amount": Decimal("5000")}], 0, "rules", "currency"),
    ([{"kind": "budget_min", "required": True, "currency": "EUR"}], 0, "rules", "minimum budget"),
    (
        [{"kind": "budget_min", "required": True, "min_amount": Decimal("-1"), "currency": "EUR"}],
        0,
        "rules",
        "above 0",
    ),
    ([{"kind": "timeline_within", "required": True}], 0, "rules", "number of days"),
    ([{"kind": "problem_confirmed", "required": False, "points": 2}], 3, "threshold", "at most 2 points"),
    ([{"kind": "nonsense"}], 0, "rules", "not a valid choice"),
]


@pytest.mark.parametrize(("rules", "threshold", "field", "message"), BAD_CRITERIA)
def test_bad_criteria_are_refused_and_nothing_is_published(admin_user, rules, threshold, field, message):
    with pytest.raises(ValidationError) as exc:
        publish(admin_user, rules=rules, threshold=threshold)

    assert message in " ".join(exc.value.message_dict[field])
    assert not CriteriaVersion.objects.exists()
    assert not CriteriaRule.objects.exists()


def test_it_refuses_to_publish_over_a_version_the_editor_did_not_see(admin_user):
    publish(admin_user)
    publish(admin_user, threshold=2)

    with pytest.raises(ValidationError) as exc:
        publish(admin_user, threshold=1, based_on=1)

    assert "Version 2 was published" in exc.value.message_dict["based_on"][0]
    assert CriteriaVersion.objects.count() == 2


def test_it_accepts_the_version_the_editor_saw(admin_user):
    publish(admin_user)
    assert publish(admin_user, threshold=2, based_on=1).number == 2


@pytest.mark.parametrize("persona", ["rep", "manager"])
def test_only_admins_publish_criteria(db, request, persona):
    with pytest.raises(PermissionDenied):
        publish(request.getfixturevalue(persona))
    assert not CriteriaVersion.objects.exists()
