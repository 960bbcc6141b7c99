from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from intake import csvio
from leads import services
from leads.models import Lead
from tests.factories import make_lead, make_source, stage_extras


def _export(client, query: str = "") -> list[list[str]]:
    response = client.get(reverse("intake:lead_export") + query)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel opens UTF-8 correctly
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "|", "%"])
def test_cells_a_spreadsheet_would_run_are_neutralised(start):
    assert csvio.safe_cell(f'{start}HYPERLINK("http://evil")') == f'\'{start}HYPERLINK("http://evil")'
    assert csvio.unneutralise(csvio.safe_cell(f"{start}1+1")) == f"{start}1+1"


def test_plain_cells_are_unchanged():
    for value in ["Ana", "ana@example.com", "1+1", "", "'quoted"]:
        assert csvio.safe_cell(value) == value
    assert csvio.safe_cell(None) == "" and csvio.safe_cell(12) == "12"


def test_the_export_is_formula_safe_end_to_end(client, rep, team, source):
    make_lead(
        owner=rep,
        team=team,
        source=source,
        name='=HYPERLINK("http://evil.example","click")',
        company="@SUM(A1)",
        notes="-2+3",
        phone="+1 415 555 0100",
        email="",
    )
    client.force_login(rep)
    rows = _export(client)
    header, row = rows[0], rows[1]
    record = dict(zip(header, row, strict=True))
    assert record["name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert record["company"] == "'@SUM(A1)"
    assert record["notes"] == "'-2+3"
    assert record["phone"] == "'+14155550100"
    for cell in row:
        assert not cell.startswith(csvio.FORMULA_START)


def test_the_export_honours_the_queue_filters_and_the_access_rule(client, rep, teammate, manager, team, source):
    other_source = make_source("Fair")
    mine = make_lead(owner=rep, team=team, source=source, name="Mine open")
    make_lead(owner=rep, team=team, source=other_source, name="Mine fair")
    won = make_lead(owner=rep, team=team, source=source, name="Mine lost")
    services.lead_change_stage(
        lead=won, to_stage=Lead.Stage.DISQUALIFIED, by=rep, reason="No budget", **stage_extras("disqualified")
    )
    make_lead(owner=teammate, team=team, source=source, name="Tom's")

    client.force_login(rep)
    assert {r[1] for r in _export(client)[1:]} == {"Mine open", "Mine fair"}
    assert {r[1] for r in _export(client, f"?source={source.pk}")[1:]} == {"Mine open"}
    assert {r[1] for r in _export(client, "?stage=all")[1:]} == {"Mine open", "Mine fair", "Mine lost"}
    assert {r[1] for r in _export(client, "?q=fair")[1:]} == {"Mine fair"}

    client.force_login(manager)
    assert {r[1] for r in _export(client)[1:]} == {"Mine open", "Mine fair", "Tom's"}
    assert {r[1] for r in _export(client, f"?owner={teammate.pk}")[1:]} == {"Tom's"}
    assert mine.pk in {int(r[0]) for r in _export(client)[1:]}


def test_the_export_needs_login_and_the_permission(client, rep):
    assert client.get(reverse("intake:lead_export")).status_code == 302
    from django.contrib.auth.models import Permission

    rep.groups.first().permissions.remove(Permission.objects.get(codename="export_leads"))
    client.force_login(rep)
    assert client.get(reverse("intake:lead_export")).status_code == 403


@pytest.mark.parametrize("n", [5, 60])
def test_the_export_runs_a_fixed_number_of_queries(client, rep, team, source, n, django_assert_num_queries):
    for _ in range(n):
        make_lead(owner=rep, team=team, source=source)
    client.force_login(rep)
    with django_assert_num_queries(EXPORT_QUERIES):
        rows = _export(client)
    assert len(rows) == n + 1


EXPORT_QUERIES = 4


def test_an_export_re_imports_unchanged(rep, team, source, client, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from intake import services as intake_services

    settings.MEDIA_ROOT = tmp_path
    make_lead(owner=rep, team=team, source=source, name="-Dash", email="dash@example.com", phone="+1 415 555 0100")
    client.force_login(rep)
    content = b"".join(client.get(reverse("intake:lead_export")).streaming_content)
    Lead.objects.all().delete()
    job = intake_services.import_job_create(
        user=rep, upload=SimpleUploadedFile("e.csv", content), team=team, source=source
    )
    intake_services.import_job_start(job=job, mapping=job.mapping)
    intake_services.import_job_run(job_id=job.pk)
    lead = Lead.objects.get()
    assert (lead.name, lead.phone, lead.email) == ("-Dash", "+14155550100", "dash@example.com")
