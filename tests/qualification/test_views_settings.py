"""Settings pages (criteria, disqualification reasons) and Django admin: admins only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from qualification.models import CriteriaRule, CriteriaVersion, DisqualificationReason
from qualification.selectors import criteria_current
from tests.factories import make_criteria

CRITERIA_URL = reverse("qualification:criteria")
KINDS = CriteriaRule.Kind.values


def criteria_post(based_on=0, threshold="3", **rows) -> dict:
    """The criteria editor as the browser posts it; rows[kind] overrides a rule's row."""
    data = {
        "threshold": threshold,
        "note": "Tuned after Q3",
        "based_on": str(based_on),
        "rules-TOTAL_FORMS": str(len(KINDS)),
        "rules-INITIAL_FORMS": str(len(KINDS)),
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
    }
    defaults = {
        "problem_confirmed": {"use": "on", "mode": "required"},
        "budget_min": {"use": "on", "mode": "weighted", "points": "2", "min_amount": "5000", "currency": "EUR"},
        "decision_maker_identified": {"use": "on", "mode": "weighted", "points": "1"},
        "timeline_within": {"use": "on", "mode": "weighted", "points": "1", "max_days": "90"},
    }
    for i, kind in enumerate(KINDS):
        row = {"mode": "required", **defaults.get(kind, {}), **rows.get(kind, {})}
        data[f"rules-{i}-kind"] = row.pop("kind", kind)
        for name, value in row.items():
            data[f"rules-{i}-{name}"] = value
    return data


@pytest.mark.parametrize("persona", ["rep", "manager"])
@pytest.mark.parametrize(
    "url",
    [
        CRITERIA_URL,
        reverse("qualification:reasons"),
        reverse("qualification:reason_new"),
        reverse("qualification:reason_edit", args=[1]),
    ],
)
def test_only_admins_reach_the_settings_pages(db, client, request, persona, url):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url).status_code == 403
    assert client.post(url, criteria_post()).status_code == 403
    assert not CriteriaVersion.objects.exists()


def test_anonymous_is_sent_to_log_in(client):
    assert client.get(CRITERIA_URL)["Location"].startswith(reverse("login"))


def test_before_any_version_the_editor_offers_the_suggested_rules(client, admin_user):
    client.force_login(admin_user)

    response = client.get(CRITERIA_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "none published yet" in html
    assert "Publish as version 1" in html
    assert response.context["formset"].forms[0]["use"].value() is True


def test_an_admin_publishes_a_version_from_the_page(client, admin_user):
    client.force_login(admin_user)

    response = client.post(CRITERIA_URL, criteria_post())

    assert response.status_code == 302
    current = criteria_current()
    assert (current.number, current.threshold) == (1, 3)
    assert [r.kind for r in current.rules] == [
        "problem_confirmed",
        "budget_min",
        "decision_maker_identified",
        "timeline_within",
    ]
    assert CriteriaVersion.objects.get().note == "Tuned after Q3"


def test_the_page_shows_the_current_version_and_keeps_older_ones(client, admin_user):
    make_criteria(by=admin_user)
    client.force_login(admin_user)
    client.post(CRITERIA_URL, criteria_post(based_on=1, threshold="2"))

    html = client.get(CRITERIA_URL).content.decode()

    assert "version 2 in force" in html
    assert "<strong>v1</strong>" in html and "<strong>v2</strong>" in html
    assert "Publish as version 3" in html


def test_saving_without_changes_publishes_nothing(client, admin_user):
    make_criteria(by=admin_user)
    client.force_login(admin_user)

    response = client.post(CRITERIA_URL, criteria_post(based_on=1), follow=True)

    assert "Nothing changed" in response.content.decode()
    assert CriteriaVersion.objects.count() == 1


@pytest.mark.parametrize("based_on", ["0", "7", "-1", "abc", ""])
def test_a_forged_or_stale_version_in_the_post_is_refused(client, admin_user, based_on):
    make_criteria(by=admin_user)
    client.force_login(admin_user)
    data = criteria_post(threshold="2")
    data["based_on"] = based_on

    response = client.post(CRITERIA_URL, data)

    assert response.status_code == 400
    assert response.context["form"].errors["based_on"]
    assert "Not published." in response.content.decode()
    assert CriteriaVersion.objects.count() == 1


@pytest.mark.parametrize(
    ("rows", "threshold", "message"),
    [
        ({"decision_maker_identified": {"points": ""}}, "3", "at least 1 point"),
        ({"budget_min": {"currency": ""}}, "3", "Give the currency of the minimum budget."),
        ({"budget_min": {"min_amount": "-10"}}, "3", "above 0"),
        ({"timeline_within": {"max_days": "0"}}, "3", "greater than or equal to 1"),
        ({}, "9", "at most 4 points"),
        ({"budget_min": {"kind": "problem_confirmed"}}, "3", "not understood"),
        ({"budget_min": {"kind": "bogus"}}, "3", "Select a valid choice"),
        ({k: {"use": ""} for k in KINDS}, "0", "at least one rule"),
    ],
)
def test_bad_criteria_are_shown_and_nothing_is_published(client, admin_user, rows, threshold, message):
    client.force_login(admin_user)

    response = client.post(CRITERIA_URL, criteria_post(threshold=threshold, **rows))

    assert response.status_code == 400
    assert message in response.content.decode().replace("&quot;", '"')
    assert not CriteriaVersion.objects.exists()


def test_an_admin_edits_a_helpful_close_template(client, admin_user):
    reason = DisqualificationReason.objects.get(code="no_budget")
    client.force_login(admin_user)

    response = client.post(
        reverse("qualification:reason_edit", args=[reason.pk]),
        {
            "label": "No budget (yet)",
            "code": "renamed",
            "helpful_close_template": "Hi {first_name}, try this free guide.",
            "needs_text": "",
            "creates_helpful_close": "on",
            "is_active": "on",
            "position": "5",
        },
    )

    assert response.status_code == 302
    reason.refresh_from_db()
    assert reason.label == "No budget (yet)"
    assert reason.code == "no_budget"  # set once
    assert reason.helpful_close_template == "Hi {first_name}, try this free guide."


def test_an_admin_adds_a_reason(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("qualification:reason_new"),
        {
            "label": "Competitor",
            "code": "competitor",
            "helpful_close_template": "",
            "is_active": "on",
            "position": "90",
        },
    )
    assert response.status_code == 302
    assert DisqualificationReason.objects.filter(code="competitor", label="Competitor").exists()


def test_a_reason_with_a_taken_code_is_a_field_error(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("qualification:reason_new"), {"label": "Dup", "code": "spam", "position": "1"})
    assert response.status_code == 400
    assert response.context["form"].errors["code"]


# --- Django admin ----------------------------------------------------------------------------


def admin_add_post(rows: list[dict], threshold: str = "1") -> dict:
    data = {
        "threshold": threshold,
        "note": "from admin",
        "rules-TOTAL_FORMS": str(len(rows)),
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": str(len(KINDS)),
    }
    for i, row in enumerate(rows):
        for name, value in row.items():
            data[f"rules-{i}-{name}"] = value
    return data


def test_an_admin_publishes_a_version_in_django_admin(client, admin_user):
    make_criteria(by=admin_user)
    client.force_login(admin_user)
    add_url = reverse("admin:qualification_criteriaversion_add")
    assert client.get(add_url).status_code == 200

    response = client.post(
        add_url,
        admin_add_post(
            [
                {"kind": "problem_confirmed", "required": "on", "points": "0"},
                {"kind": "decision_maker_identified", "points": "1"},
            ]
        ),
    )

    assert response.status_code == 302, response.context["errors"] if response.context else ""
    current = criteria_current()
    assert (current.number, current.threshold) == (2, 1)
    assert [r.kind for r in current.rules] == ["problem_confirmed", "decision_maker_identified"]
    assert CriteriaVersion.objects.get(number=1).rules.count() == 4


def test_django_admin_refuses_an_unreachable_threshold_and_saves_nothing(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:qualification_criteriaversion_add"),
        admin_add_post([{"kind": "decision_maker_identified", "points": "1"}], threshold="5"),
    )

    assert response.status_code == 200
    assert "at most 1 point:" in response.content.decode()
    assert not CriteriaVersion.objects.exists()


def test_versions_are_read_only_in_django_admin(client, admin_user):
    version = make_criteria(by=admin_user)
    client.force_login(admin_user)
    change_url = reverse("admin:qualification_criteriaversion_change", args=[version.pk])

    response = client.post(change_url, {"threshold": "0", "note": "sneaky"})

    assert response.status_code == 403
    version.refresh_from_db()
    assert version.threshold == 3
    assert client.get(change_url).status_code == 200  # view only


def test_staff_without_the_admin_role_cannot_publish_in_django_admin(client, manager):
    manager.is_staff = True
    manager.save()
    client.force_login(manager)
    assert client.get(reverse("admin:qualification_criteriaversion_add")).status_code == 403
