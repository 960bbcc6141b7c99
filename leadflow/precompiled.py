"""Querysets compiled to SQL once per shape, then run with each call's values.

Django builds and compiles a queryset on every call. For most queries that is a fraction of a
millisecond, but the work queue's UNION of three segments took ~5 ms of CPU per page: more than
the database needed to answer it. Here the caller gives a function building the queryset from
its values and a key naming its shape (the values aside). The first call of a key builds and
compiles the queryset twice, with two sets of stand-in values: the parameters where the two
differ are where the values go, everything else must be the same SQL. Later calls with that key
reuse the SQL, and the compiler's description of the columns (so rows become model instances
with their select_related objects as usual), with their own values in those places.

A shape the comparison cannot prove is compiled on every call as usual (and remembered as such):
a value changed before it reaches the SQL (`now - timedelta(days=n)`, `"%term%"`), a value that
does not reach it (compiled away), a backend that adapts the value (SQLite stores datetimes as
text). Values are ints, strings, aware datetimes and lists of ints (an array parameter); the SQL must otherwise depend only on the
key, so anything else the builder reads (a limit, a related list, the stage's constant) goes in
the key.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connections
from django.db.models import QuerySet

# The largest id (a bigint). An id from a URL, a session or a query string above it is no row,
# and a value the database refuses: callers answer "not found" before asking.
MAX_ID = 2**63 - 1
MAX_SHAPES = 256  # shapes are few (a page's filters, not their values); a bound all the same

_UNPROVEN = object()  # a key whose SQL is compiled every time
_cache: dict[Hashable, object] = {}


@dataclass(frozen=True)
class _Compiled:
    queryset: QuerySet = field(repr=False)
    compiler: object  # the SQLCompiler after as_sql(): select, klass_info, annotation_col_map
    sql: str
    params: tuple
    slots: tuple[int, ...]  # per parameter: the index of the value it takes, or -1 (a constant)

    def params_for(self, values: Sequence) -> tuple:
        return tuple(p if s < 0 else values[s] for p, s in zip(self.params, self.slots, strict=True))

    # Per connection: the converters of the columns (compiler.get_converters' answer).
    converters: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary, repr=False)

    def queryset_for(self, values: Sequence) -> QuerySet:
        """A queryset that, evaluated once, runs the stored SQL with `values` (do not chain it)."""
        sql, params = self.sql, self.params_for(values)
        compiler = copy.copy(self.compiler)
        connection = compiler.connection = connections[self.queryset.db]  # this thread's connection
        compiler.as_sql = lambda *args, **kwargs: (sql, params)
        # Django asks each selected column for its converters on every run (two look-ups per
        # column: ~30 µs for a row with its select_related rows); the columns are the shape's, so
        # the answer is too. Kept per connection: the backend's converters are its methods.
        converters = self.converters.get(connection)
        if converters is None:
            converters = self.converters[connection] = compiler.get_converters(
                [s[0] for s in compiler.select[0 : compiler.col_count]]
            )
        compiler.get_converters = lambda expressions: converters
        q = self.queryset._chain()
        q.query.get_compiler = lambda *args, **kwargs: compiler
        return q


def _stand_ins(value, i: int) -> tuple:
    """Two values of the type of `value`, different from each other and from anything a query
    holds as a constant. Integers stay in a 32-bit field's range (out of range, Django compiles
    the comparison away); strings start with NUL, which no stored value holds."""
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [-2_000_000_000 + i], [-1_000_000_000 + i]  # an array parameter (`= ANY(%s)`)
    if isinstance(value, bool) or not isinstance(value, int | str | datetime):
        raise TypeError(f"precompiled values are ints, strings, aware datetimes or lists of ints, not {type(value)}")
    if isinstance(value, int):
        return -2_000_000_000 + i, -1_000_000_000 + i
    if isinstance(value, str):
        return f"\x00a{i}", f"\x00b{i}"
    if value.tzinfo is None:
        raise TypeError("precompiled datetimes are aware")
    return (
        datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC) + timedelta(microseconds=i),
        datetime(2002, 3, 4, 5, 6, 7, tzinfo=UTC) + timedelta(microseconds=i),
    )


def _compile(q: QuerySet) -> tuple:
    compiler = q.query.get_compiler(using=q.db)
    sql, params = compiler.as_sql()
    return compiler, sql, tuple(params)


def _prove(build: Callable[..., QuerySet], values: Sequence) -> _Compiled | None:
    pairs = [_stand_ins(v, i) for i, v in enumerate(values)]
    qa = build(*[a for a, _ in pairs])
    qb = build(*[b for _, b in pairs])
    compiler, sql, params = _compile(qa)
    _, sql_b, params_b = _compile(qb)
    if sql != sql_b or len(params) != len(params_b):
        return None
    slots = []
    for a, b in zip(params, params_b, strict=True):
        i = next((i for i, (stand_in, _) in enumerate(pairs) if type(a) is type(stand_in) and a == stand_in), -1)
        if i >= 0:
            if type(b) is not type(pairs[i][1]) or b != pairs[i][1]:
                return None
        elif type(a) is not type(b) or a != b:
            return None  # a value transformed on its way to the SQL
        slots.append(i)
    if set(range(len(values))) - set(slots):
        return None  # a value that does not reach the SQL as given
    return _Compiled(queryset=qa, compiler=compiler, sql=sql, params=params, slots=tuple(slots))


def _compiled(key: Hashable, build: Callable[..., QuerySet], values: Sequence) -> _Compiled | None:
    if key is None:
        return None
    entry = _cache.get(key)
    if entry is None:
        entry = _prove(build, values) or _UNPROVEN
        if len(_cache) >= MAX_SHAPES:
            _cache.pop(next(iter(_cache)), None)
        _cache[key] = entry
    return None if entry is _UNPROVEN else entry


def fetch(key: Hashable, build: Callable[..., QuerySet], *values) -> list:
    """`list(build(*values))`, with the SQL compiled once per `key` (see the module's docstring);
    a key of None: built and compiled this time, as usual."""
    entry = _compiled(key, build, values)
    return list(build(*values) if entry is None else entry.queryset_for(values))


def fetch_columns(key: Hashable, build: Callable[..., QuerySet], *values) -> tuple[list[tuple], dict[tuple, int]]:
    """`build(*values)`'s rows as plain tuples (converted from the database as Django does),
    with where each column is: {(relation, attname): index}, relation "" for the queryset's
    model and a select_related name (`"owner"`, a reverse one-to-one's accessor) for the
    others. The same SQL as fetch, compiled once per `key`; for a page that reads a few
    columns of each row, where making model instances (and their related ones) cost more CPU
    than the query."""
    entry = _compiled(key, build, values)
    q = build(*values) if entry is None else entry.queryset_for(values)
    compiler = q.query.get_compiler(using=q.db)
    rows = list(compiler.results_iter(tuple_expected=True))
    columns = {}
    for relation, info in _klass_infos(compiler.klass_info, ""):
        for i in info["select_fields"]:
            columns[relation, compiler.select[i][0].target.attname] = i
    return rows, columns


def _klass_infos(info: dict, relation: str):
    yield relation, info
    for related in info.get("related_klass_infos", ()):
        field = related["field"]
        name = field.remote_field.get_accessor_name() if related["reverse"] else field.name
        yield from _klass_infos(related, f"{relation}__{name}" if relation else name)


def sql_with_params(key: Hashable, build: Callable[..., QuerySet], *values) -> tuple[str, tuple]:
    """The SQL and parameters of `build(*values)`, compiled once per `key`: for a query run on a cursor."""
    entry = _compiled(key, build, values)
    if entry is None:
        return _compile(build(*values))[1:]
    return entry.sql, entry.params_for(values)
