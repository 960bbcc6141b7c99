"""leadflow.precompiled: a queryset's SQL compiled once per shape gives what the queryset gives,
with each call's values; a shape it cannot prove is built and compiled every time."""

from datetime import timedelta

import pytest
from django.db.models import Q
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from leadflow import precompiled
from leads.models import Lead
from tests.factories import make_lead, make_source


@pytest.fixture(autouse=True)
def _fresh_cache():
    precompiled._cache.clear()
    yield
    precompiled._cache.clear()


@pytest.fixture
def compiles(monkeypatch):
    """How many queries Django compiles (top-level as_sql calls)."""
    calls = []
    original = SQLCompiler.as_sql

    def as_sql(self, *args, **kwargs):
        calls.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", as_sql)
    return calls


def _leads(rep, team, source, other_source):
    now = timezone.now()
    return [
        make_lead(owner=rep, team=team, source=s, name=f"Lead {i}", received_at=now - timedelta(hours=i))
        for i, s in enumerate([source, other_source, source, other_source, source])
    ]


def _recent(owner_id, source_id, since):
    return (
        Lead.objects.filter(Q(owner_id=owner_id) | Q(source_id=source_id), received_at__gte=since)
        .select_related("source", "owner")
        .order_by("-received_at")
    )


def _named(owner_id, source_id, name):
    return Lead.objects.filter(Q(owner_id=owner_id) | Q(source_id=source_id), name__gte=name).order_by("name")


def test_it_runs_the_sql_of_one_shape_with_ints_and_strings(rep, teammate, team, source, compiles):
    other_source = make_source()
    _leads(rep, team, source, other_source)
    precompiled.fetch("named", _named, rep.pk, source.pk, "A")  # compiles it (twice: the comparison)
    for values in [(teammate.pk, other_source.pk, "Lead 2"), (rep.pk, source.pk, ""), (teammate.pk, source.pk, "Z")]:
        compiles.clear()
        got = precompiled.fetch("named", _named, *values)
        assert [x.pk for x in got] == [x.pk for x in _named(*values)]
        assert len(compiles) == 1, "only the comparison queryset was compiled"


@pytest.mark.postgres
def test_it_runs_the_sql_of_one_shape_with_each_calls_values(rep, teammate, team, source, compiles):
    other_source = make_source()
    leads = _leads(rep, team, source, other_source)
    now = timezone.now()
    cases = [
        (teammate.pk, other_source.pk, now - timedelta(hours=10)),
        (rep.pk, source.pk, now - timedelta(hours=10)),
        (teammate.pk, source.pk, now - timedelta(hours=2, minutes=30)),
        (teammate.pk, other_source.pk, now + timedelta(hours=1)),
    ]
    precompiled.fetch("recent", _recent, rep.pk, source.pk, now)
    for values in cases:
        compiles.clear()
        got = precompiled.fetch("recent", _recent, *values)
        expected = list(_recent(*values))
        assert [(x.pk, x.source.name, x.owner.username) for x in got] == [
            (x.pk, x.source.name, x.owner.username) for x in expected
        ]
        assert len(compiles) == 1, "only the comparison queryset was compiled"
    assert {x.pk for x in precompiled.fetch("recent", _recent, rep.pk, source.pk, now - timedelta(days=1))} == {
        x.pk for x in leads
    }


@pytest.mark.postgres
def test_the_rows_come_without_more_queries(rep, team, source, django_assert_num_queries):
    other_source = make_source()
    _leads(rep, team, source, other_source)
    since = timezone.now() - timedelta(days=1)
    precompiled.fetch("recent", _recent, rep.pk, source.pk, since)
    with django_assert_num_queries(1):
        rows = precompiled.fetch("recent", _recent, rep.pk, source.pk, since)
        assert {x.source.name for x in rows} == {source.name, other_source.name}
        assert {x.owner.pk for x in rows} == {rep.pk}


@pytest.mark.postgres
def test_sql_with_params_puts_the_values_where_the_queryset_has_them(rep, source):
    now = timezone.now()
    precompiled.sql_with_params("recent", _recent, rep.pk, source.pk, now)
    sql, params = precompiled.sql_with_params("recent", _recent, rep.pk + 1, source.pk + 2, now - timedelta(days=3))
    assert (sql, params) == _recent(rep.pk + 1, source.pk + 2, now - timedelta(days=3)).query.sql_with_params()


def _changed_on_the_way(owner_id, since):
    # A value the builder changes before the SQL sees it: the SQL holds `since - 1 day`.
    return Lead.objects.filter(owner_id=owner_id, received_at__gte=since - timedelta(days=1))


def _unused(owner_id, since):
    return Lead.objects.filter(owner_id=owner_id)


@pytest.mark.parametrize("build", [_changed_on_the_way, _unused])
def test_a_shape_it_cannot_prove_is_compiled_every_time(rep, team, source, build):
    make_lead(owner=rep, team=team, source=source, received_at=timezone.now() - timedelta(hours=30))
    now = timezone.now()
    for since in [now, now - timedelta(hours=12), now - timedelta(days=3)]:
        assert [x.pk for x in precompiled.fetch("shape", build, rep.pk, since)] == [x.pk for x in build(rep.pk, since)]
    assert precompiled._cache["shape"] is precompiled._UNPROVEN


@pytest.mark.parametrize("value", [True, 1.5, None, timezone.now().replace(tzinfo=None)])
def test_values_are_ints_strings_or_aware_datetimes(value):
    with pytest.raises(TypeError):
        precompiled.fetch("bad", lambda v: Lead.objects.filter(name=v), value)


def test_fetch_columns_gives_each_rows_columns_and_where_they_are(rep, team, source):
    other_source = make_source()
    leads = _leads(rep, team, source, other_source)
    Lead.objects.filter(pk=leads[0].pk).update(owner=None)
    since = timezone.now() - timedelta(days=1)
    expected = [
        (lead.pk, lead.name, lead.source.name, lead.owner.username if lead.owner else None)
        for lead in _recent(rep.pk, source.pk, since)
    ]
    for _ in range(2):  # compiled, then reused
        rows, columns = precompiled.fetch_columns("recent", _recent, rep.pk, source.pk, since)
        where = [columns[c] for c in [("", "id"), ("", "name"), ("source", "name"), ("owner", "username")]]
        assert [tuple(row[i] for i in where) for row in rows] == expected


def test_each_run_converts_its_columns_as_django_does(webform_submissions):
    """The converters (a JSON column's, the backend's datetimes on SQLite) are worked out once per
    shape and connection, and applied to every later run's rows."""
    from intake.models import WebFormSubmission

    def build(form_id):
        return WebFormSubmission.objects.filter(form_id=form_id).select_related("form").order_by("id")

    form_id = webform_submissions[0].form_id
    for _ in range(3):
        rows = precompiled.fetch("submissions", build, form_id)
        expected = list(build(form_id))
        assert [(r.data, r.submitted_at, r.form.created_at) for r in rows] == [
            (e.data, e.submitted_at, e.form.created_at) for e in expected
        ]
        assert all(isinstance(r.data, dict) for r in rows)


@pytest.fixture
def webform_submissions(team, source):
    from intake.models import WebForm, WebFormSubmission

    form = WebForm.objects.create(source=source, team=team, slug="precompiled", title="Precompiled")
    now = timezone.now()
    return [
        WebFormSubmission.objects.create(
            form=form,
            token=f"t{i}",
            fingerprint=f"f{i}",
            data={"name": f"N{i}", "n": i},
            name=f"N{i}",
            submitted_at=now,
        )
        for i in range(3)
    ]
