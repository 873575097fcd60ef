"""Reading rows by exact multi-column keys, on SQLite and PostgreSQL alike.

Django has no lookup for "rows whose (a, b) is one of these pairs" short of an ``OR`` of one ``Q`` per pair, which
costs milliseconds to compile for a few hundred keys; ``a IN (...) AND b IN (...)`` searches the cross product;
and SQLite 3.40 answers the row-value form ``(a, b) IN (VALUES ...)`` by reading the whole table. A join with the
keys as a ``VALUES`` list is one search of the index on the key columns per key, in both databases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections, router
from django.db.models import Model


def rows_by_keys(
    model: type[Model],
    key_fields: Sequence[str],
    select: Sequence[str],
    keys: Iterable[Sequence[Any]],
    *,
    chunk: int,
) -> list[tuple[Any, ...]]:
    """The ``select`` columns (raw database values) of ``model``'s rows whose ``key_fields`` equal one of ``keys``,
    ``chunk`` keys per statement. Fields are named as on the model (a foreign key by its name, its value the id)."""
    connection = connections[router.db_for_read(model)]
    opts = model._meta
    qn = connection.ops.quote_name
    fields = {f.name: f for f in opts.concrete_fields}
    by_key = [fields[name] for name in key_fields]
    if connection.vendor == "postgresql":  # (a VALUES column of quoted values is text otherwise)
        slots = [f"CAST(%s AS {f.cast_db_type(connection)})" for f in by_key]
    else:
        slots = ["%s"] * len(by_key)
    row = "(" + ", ".join(slots) + ")"
    columns = ", ".join(f"t.{qn(fields[name].column)}" for name in select)
    join = " AND ".join(f"t.{qn(f.column)} = k.column{i}" for i, f in enumerate(by_key, start=1))
    ordered = sorted({tuple(key) for key in keys})
    found: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), chunk):
            part = ordered[start : start + chunk]
            params = [
                f.get_db_prep_value(value, connection, prepared=False)
                for key in part
                for f, value in zip(by_key, key, strict=True)
            ]
            cursor.execute(
                f"SELECT {columns} FROM (VALUES {', '.join([row] * len(part))}) AS k "
                f"JOIN {qn(opts.db_table)} AS t ON {join}",
                params,
            )
            found.extend(cursor.fetchall())
    return found
