"""Multi-row ``INSERT`` of plain values, for the intake's hot tables.

Django's ``bulk_create`` builds a model instance per row and compiles every value of every row through the generic
insert compiler (``pre_save``, ``get_db_prep_save``, ``field_as_sql``, a placeholder each): for a transaction Bundle
of a hundred cases that was a fifth of the intake's CPU time. :func:`insert` takes the rows as tuples of the
fields' Python values, converts each value with its field's own ``get_db_prep_save`` (so JSON, datetimes, binary
values and foreign keys reach the database exactly as ``bulk_create`` would send them), and sends one statement
per chunk, optionally with ``RETURNING`` the new primary keys in row order (both SQLite >= 3.35 and PostgreSQL
return them in the order of the rows given, as ``bulk_create`` itself relies on).

On PostgreSQL the statement is ``INSERT ... SELECT * FROM UNNEST(%b::type[], ...)`` with one array per column (as
Django's own ``bulk_create`` does there), bound on the server in binary: a short statement, the same for every
chunk. A ``VALUES`` list of thousands of placeholders made psycopg split the statement anew for every execution (it
caches statements of at most 4,096 characters) and the server parse it: measured under HTTP load on a 100-case
Bundle, that conversion alone was a seventh of a serving thread's busy time. Django's cursors bind on the client
(values quoted into the SQL text, array elements escaped one by one in Python), so the statement goes through a
server-binding psycopg cursor on the same connection (same transaction), inside Django's error wrapper (an
``IntegrityError`` is Django's, as from any query).

No ``pre_save`` is called and no signal is sent: the caller names every column that has no database default and
gives the values Django would fill in itself (``auto_now_add`` timestamps, ``default`` values); for models
without signal receivers that must see each row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connections, router
from django.db.models import Field, Model

#: Internal types whose database value is the Python value itself for ``str`` (text) or ``int`` (integers): such
#: values skip the field's conversion (it would return them unchanged); anything else goes through it.
TEXT_TYPES = frozenset({"CharField", "TextField", "SlugField", "EmailField"})
INTEGER_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "PositiveBigIntegerField",
    }
)

#: Bound parameters per statement: below SQLite's limit (32,766 since 3.32) and PostgreSQL's (65,535).
MAX_PARAMS = 30_000
MAX_ROWS = 1000
#: Rows per ``UNNEST`` statement on PostgreSQL (no placeholder limit there: one array per column).
MAX_UNNEST_ROWS = 5000


def insert(
    model: type[Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: bool = False,
    using: str | None = None,
) -> list[int]:
    """Insert ``rows`` (each a tuple of values in the order of ``fields``, attribute names such as ``person_id``
    for foreign keys) into ``model``'s table; the new primary keys in row order when ``returning``, else []."""
    if not rows:
        return []
    opts = model._meta
    alias = using or router.db_for_write(model)
    connection = connections[alias]
    concrete = {f.attname: f for f in opts.concrete_fields}
    columns = [concrete[name] for name in fields]
    qn = connection.ops.quote_name
    head = f"INSERT INTO {qn(opts.db_table)} ({', '.join(qn(f.column) for f in columns)}) VALUES "
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    tail = f" RETURNING {qn(opts.pk.column)}" if returning else ""
    prep = [_converter(f, connection) for f in columns]
    width = len(columns)
    if connection.vendor == "postgresql":
        return _insert_unnest(connection, head, columns, prep, rows, tail, opts.label)
    per_statement = max(1, min(MAX_ROWS, MAX_PARAMS // max(width, 1)))
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params: list[Any] = []
            for row in chunk:
                if len(row) != width:
                    raise ValueError(f"{opts.label}: a row of {len(row)} values for {width} fields")
                params.extend(p(value) for p, value in zip(prep, row, strict=True))
            cursor.execute(head + ", ".join([one] * len(chunk)) + tail, params)
            if returning:
                ids.extend(r[0] for r in cursor.fetchall())
    return ids


def _insert_unnest(
    connection: Any,
    head: str,
    columns: list[Any],
    prep: list[Any],
    rows: Sequence[Sequence[Any]],
    tail: str,
    label: str,
) -> list[int]:
    # The element type without its modifiers (varchar[], not varchar(255)[]), as Django's bulk_create on PostgreSQL.
    types = [f.db_type(connection).split("(")[0] for f in columns]
    statement = head.removesuffix("VALUES ") + "SELECT * FROM UNNEST("
    statement += ", ".join(f"%b::{t}[]" for t in types) + ")" + tail
    width = len(columns)
    ids: list[int] = []
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        for start in range(0, len(rows), MAX_UNNEST_ROWS):
            chunk = rows[start : start + MAX_UNNEST_ROWS]
            arrays: list[list[Any]] = [[] for _ in columns]
            for row in chunk:
                if len(row) != width:
                    raise ValueError(f"{label}: a row of {len(row)} values for {width} fields")
                for array, p, value in zip(arrays, prep, row, strict=True):
                    array.append(p(value))
            cursor.execute(statement, arrays)
            if tail:
                ids.extend(r[0] for r in cursor.fetchall())
    return ids


def _converter(field: Field[Any, Any], connection: Any) -> Any:
    """The function giving a value's database form: the field's ``get_db_prep_save``, skipped for a ``str`` of a
    text column and an ``int`` of an integer column (or a foreign key to one), which it returns unchanged."""
    prep = field.get_db_prep_save
    target = getattr(field, "target_field", None) if field.is_relation else field
    kind = target.get_internal_type() if target is not None else ""
    if kind in TEXT_TYPES:
        return lambda value: value if value.__class__ is str else prep(value, connection)
    if kind in INTEGER_TYPES:
        return lambda value: value if value.__class__ is int else prep(value, connection)
    return lambda value: prep(value, connection)
