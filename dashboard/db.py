"""Database expressions the dashboard aggregates with, on PostgreSQL and (for `make run` and the
SQLite test run) on SQLite.

PostgreSQL computes percentiles with its ordered-set aggregate `percentile_cont`. SQLite has
none, so we register one (same interpolation) on each SQLite connection: the aggregation still
happens inside the database engine, in the same single query.
"""

from __future__ import annotations

import math

from django.db.models import Aggregate, BooleanField, FloatField, Func, Value

SQLITE_PERCENTILE = "LEADFLOW_PERCENTILE_CONT"


class Percentile(Aggregate):
    """The continuous percentile (`fraction` 0..1) of a numeric expression; NULLs are ignored."""

    name = "Percentile"
    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        fraction = float(fraction)
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be between 0 and 1")
        # A literal from our code, not user input: safe to format into the SQL.
        super().__init__(expression, fraction=repr(fraction), **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        # Set on a copy, not passed as kwargs: Aggregate.as_sql wraps self.template in its
        # FILTER clause itself.
        clone = self.copy()
        clone.function = SQLITE_PERCENTILE
        clone.template = "%(function)s(%(expressions)s, %(fraction)s)"
        return super(Percentile, clone).as_sql(compiler, connection, **extra_context)


class Seconds(Func):
    """Seconds from `start` to `end` (two datetime expressions), as a float; NULL if either is."""

    output_field = FloatField()
    arity = 2

    def __init__(self, end, start, **extra):
        super().__init__(end, start, **extra)

    def as_sql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))::double precision",
            arg_joiner=" - ",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
            **extra_context,
        )


class _PercentileCont:
    """SQLite aggregate with PostgreSQL's percentile_cont semantics (linear interpolation)."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction) -> None:
        if value is not None:
            self.values.append(float(value))
        self.fraction = float(fraction)

    def finalize(self) -> float | None:
        if not self.values:
            return None
        values = sorted(self.values)
        pos = self.fraction * (len(values) - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate(SQLITE_PERCENTILE, 2, _PercentileCont)


class EvaluationPassed(Func):
    """True when a JSON evaluation (DiscoveryCall.evaluation) says "passed": true; False when it
    says otherwise or is missing, so a call never evaluated counts as not passing."""

    output_field = BooleanField()
    conditional = True
    arity = 1

    def as_sql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, template="COALESCE((%(expressions)s -> 'passed') = 'true'::jsonb, false)"
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, template="COALESCE(json_extract(%(expressions)s, '$.passed') = 1, 0)"
        )


class RuleFailed(Func):
    """True when a JSON evaluation lists a failing result for the rule kind `kind`.

    The evaluation is {"passed": …, "results": [{"kind": …, "passed": …}, …]}
    (qualification.evaluation.Evaluation.as_json). An EXISTS over the array, per row.
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, expression, kind: str, **extra):
        super().__init__(expression, Value(kind), **extra)

    def as_sql(self, compiler, connection, **extra_context):
        field_sql, kind_sql = (compiler.compile(e) for e in self.get_source_expressions())
        sql = (
            f"EXISTS (SELECT 1 FROM jsonb_array_elements(COALESCE({field_sql[0]} -> 'results', '[]'::jsonb)) AS r "
            f"WHERE r ->> 'kind' = {kind_sql[0]} AND r ->> 'passed' = 'false')"
        )
        return sql, (*field_sql[1], *kind_sql[1])

    def as_sqlite(self, compiler, connection, **extra_context):
        field_sql, kind_sql = (compiler.compile(e) for e in self.get_source_expressions())
        sql = (
            f"EXISTS (SELECT 1 FROM json_each({field_sql[0]}, '$.results') AS r "
            f"WHERE json_extract(r.value, '$.kind') = {kind_sql[0]} AND json_extract(r.value, '$.passed') = 0)"
        )
        return sql, (*field_sql[1], *kind_sql[1])
