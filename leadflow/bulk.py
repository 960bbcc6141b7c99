"""Set-based inserts of many plain rows: one statement per table per batch, no model instances.

`Model.objects.bulk_create` builds a model instance per row and compiles every value of every
row through the field machinery: for a CSV import that writes ~9 rows per imported line
(lead, history, assignment, clock, follow-ups) that compile was most of the import's time.
`insert_rows` takes rows as dicts of attribute names and fills in what the model would (field
defaults, `auto_now_add`), so callers write exactly what `bulk_create` would have written.

PostgreSQL: one `INSERT … SELECT … FROM unnest(%s::type[], …)` per call — a column of values is
one parameter, a PostgreSQL array literal ('{"a","b",NULL}') built here as one string. Passing
Python lists instead makes psycopg2 write `ARRAY['a'::…, …]`, one SQL expression per value that
the server parses and casts one by one: for a batch of 2,700 follow-ups that took 60–110 ms, the
literal 20 ms (psycopg2 quotes one string, the server's array_in reads it). Other databases
(SQLite): `executemany` with each value prepared by its field (and `bulk_create` for
insert_objects), the same rows more slowly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import NotSupportedError, connection, models
from django.db.models.constants import OnConflict
from django.utils import timezone


def _column(field: models.Field, rows: Sequence[dict[str, Any]], given: set[str], now) -> list:
    """The field's value in each row, or what Django would store for a row that does not give it.
    `given`: the attnames any row has."""
    name = field.attname
    if field.has_default() and callable(field.default) and not getattr(field, "auto_now_add", False):
        make: Callable[[], Any] = field.get_default  # e.g. uuid4: one value per row
        return [row[name] if name in row else make() for row in rows]
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        default = now
    else:
        default = field.get_default()
    if name not in given:
        return [default] * len(rows)
    return [row.get(name, default) for row in rows]


def _array_literal(field: models.Field, values: list) -> str:
    """The column as a PostgreSQL array literal: every value double-quoted (its type's input
    function reads it, as for a quoted string), NULL for None."""
    nulls = values.count(None)
    if nulls == len(values):
        return "{" + ",".join(["NULL"] * nulls) + "}"
    if isinstance(field, models.JSONField):
        texts = [None if v is None else json.dumps(v, cls=field.encoder) for v in values]
    elif isinstance(field, models.BooleanField):
        texts = [None if v is None else ("t" if v else "f") for v in values]
    elif isinstance(field, models.DateTimeField):
        # A batch's times repeat (its arrival time, each schedule's due times): format each once.
        text_of = {v: v.isoformat() for v in set(values) if v is not None}
        text_of[None] = None
        texts = [text_of[v] for v in values]
    elif isinstance(field, (models.CharField, models.TextField)):
        texts = values
    elif isinstance(field, (models.IntegerField, models.ForeignKey)):
        texts = [None if v is None else str(v) for v in values] if nulls else list(map(str, values))
    else:  # e.g. UUIDs: their prepared value's text
        prep = field.get_db_prep_save
        texts = [None if v is None else str(prep(v, connection)) for v in values]
    if nulls:
        return "{" + ",".join("NULL" if v is None else '"' + _escape(v) + '"' for v in texts) + "}"
    # No NULLs (the common case): join, escape and split in three passes over one string.
    body = "\x00".join(texts)
    if body.count("\x00") != len(texts) - 1:
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")  # psycopg2's own refusal
    return '{"' + _escape(body).replace("\x00", '","') + '"}'


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def insert_rows(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    returning_pk: bool = False,
    ignore_conflicts: bool = False,
) -> list:
    """Insert `rows` (dicts keyed by field attname; absent fields take their defaults) into the
    model's table in one statement. Returns the new primary keys in row order if `returning_pk`
    (PostgreSQL only). `ignore_conflicts`: a row that would break a unique constraint is skipped
    (bulk_create's ignore_conflicts: ON CONFLICT DO NOTHING), not an error.

    No signals, no `save()`, no model validation: for rows the caller built from checked values.
    """
    if not rows:
        return []
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
    postgres = connection.vendor == "postgresql"
    given = set().union(*rows)
    columns: list = []
    for field in fields:
        values = _column(field, rows, given, now)
        if postgres:
            columns.append(_array_literal(field, values))
        else:
            prep = field.get_db_prep_save
            columns.append([prep(v, connection) for v in values])
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    pk = model._meta.pk
    returning = f" RETURNING {connection.ops.quote_name(pk.column)}" if returning_pk else ""
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    insert = connection.ops.insert_statement(on_conflict=on_conflict)  # "INSERT [OR IGNORE] INTO"
    suffix = connection.ops.on_conflict_suffix_sql(fields, on_conflict, None, None)  # "ON CONFLICT DO NOTHING"
    suffix = f" {suffix}" if suffix else ""
    with connection.cursor() as cursor:
        if postgres:
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
            # WITH ORDINALITY … ORDER BY: rows go in (and RETURNING comes back) in the given order.
            cursor.execute(
                f"{insert} {table} ({names}) SELECT {', '.join(f'c{i}' for i in range(len(fields)))} "
                f"FROM unnest({arrays}) WITH ORDINALITY AS t({', '.join(f'c{i}' for i in range(len(fields)))}, n) "
                f"ORDER BY n{suffix}{returning}",
                columns,
            )
            return [r[0] for r in cursor.fetchall()] if returning_pk else []
        if returning_pk:
            raise NotSupportedError("insert_rows returns primary keys on PostgreSQL only; use bulk_create")
        placeholders = ", ".join(["%s"] * len(fields))
        cursor.executemany(
            f"{insert} {table} ({names}) VALUES ({placeholders}){suffix}", list(zip(*columns, strict=True))
        )
        return []


def insert_objects(objs: Sequence[models.Model]) -> None:
    """`bulk_create` for new, unsaved instances of one model, through insert_rows: sets their
    primary keys and auto_now(_add) fields as bulk_create does, without its per-value compile."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs)  # the generic path: slower, the same rows
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for obj in objs:
                setattr(obj, field.attname, now)
    names = [f.attname for f in fields]
    pks = insert_rows(model, [{name: obj.__dict__[name] for name in names} for obj in objs], returning_pk=True)
    for obj, pk in zip(objs, pks, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


def update_objects(
    objs: Sequence[models.Model], fields: Sequence[str], *, only_if: dict[str, Any] | None = None
) -> int:
    """`bulk_update` of `fields` (field names) for saved instances of one model, in one
    statement; rows not matching `only_if` ({field name: value}, e.g. a state they must still
    be in) are left alone. Returns how many rows were updated (a claim's rowcount check).

    bulk_update writes `SET f = CASE WHEN id = 1 THEN … WHEN id = 2 THEN … END` and resolves
    every WHEN through the ORM: for the web-form drain's 200 submissions that was two thirds of
    its time. PostgreSQL: `UPDATE … FROM unnest(%s::type[], …)`, a column of values one array
    literal as insert_rows does; other databases: bulk_update itself.
    """
    if not objs:
        return 0
    model = type(objs[0])
    only_if = only_if or {}
    if connection.vendor != "postgresql":
        return model._default_manager.filter(**only_if).bulk_update(objs, fields)
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    arrays = [_array_literal(meta.pk, [obj.pk for obj in objs])]
    arrays += [_array_literal(f, [getattr(obj, f.attname) for obj in objs]) for f in targets]
    casts = ", ".join(f"%s::{f.db_type(connection)}[]" for f in [meta.pk, *targets])
    names = ", ".join(f"c{i}" for i in range(len(targets)))
    sets = ", ".join(f"{quote(f.column)} = v.c{i}" for i, f in enumerate(targets))
    conditions = [f"t.{quote(meta.pk.column)} = v.pk"]
    params: list = []
    for name, value in only_if.items():
        field = meta.get_field(name)
        conditions.append(f"t.{quote(field.column)} = %s")
        params.append(field.get_db_prep_value(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} AS t SET {sets} FROM unnest({casts}) AS v(pk, {names}) "
            f"WHERE {' AND '.join(conditions)}",
            [*arrays, *params],
        )
        return cursor.rowcount
