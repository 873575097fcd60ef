"""Running a method over a chunk of series: the unit of work, in process or on a Dask worker.

:func:`run_chunk` is a pure function of its arguments (a :class:`~dhnet.cli._io.Chunk`,
the method name, its settings and the evaluation dates), so a chunk gives the
same table wherever it runs; the caller writes the tables in chunk order, which
makes a Dask run identical to a single-process run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from dhnet.cli import _arrow as arrow
from dhnet.cli._errors import InputError
from dhnet.cli._io import OUTPUT_SCHEMA, Chunk, Job
from dhnet.surveillance import DetectionResult, SeriesError, evaluation_indices, registry


@dataclass
class ChunkResult:
    """The output rows of one chunk (series in input order) and where each series' rows start."""

    index: int
    table: pa.Table
    offsets: NDArray[np.int64]  # len n_series + 1

    @property
    def n_series(self) -> int:
        return int(self.offsets.size - 1)


def _indices(job: Job, start: np.datetime64 | None, end: np.datetime64 | None) -> NDArray[np.intp]:
    panel = job.panel
    d0, d1 = panel.dates[0], panel.dates[-1]
    for flag, value in (("--from", start), ("--to", end)):
        if value is not None and d0 <= value <= d1 and not (panel.dates == value).any():
            raise InputError(
                f"{flag} {value} is not a period start of this {panel.freq.value} series "
                f"(its periods run from {d0} to {d1})",
                row=job.row_of(0),
                series=panel.names[0],
            )
    try:
        return evaluation_indices(panel, start, end)
    except SeriesError:
        raise InputError(
            f"no period to evaluate: the series runs from {d0} to {d1}, "
            f"outside --from {start or '-'} --to {end or '-'}",
            row=job.row_of(0),
            series=panel.names[0],
        ) from None


def _attribute(job: Job, exc: SeriesError) -> InputError:
    """Turn a method's ``SeriesError`` into an ``InputError`` naming the row and the series."""
    panel = job.panel
    i = 0
    if exc.series is not None and exc.series in panel.names:
        i = panel.names.index(exc.series)
    t = None
    if exc.period is not None:
        hit = np.flatnonzero(panel.dates == np.datetime64(str(exc.period)[:10], "D"))
        t = int(hit[0]) if hit.size else None
    row = job.row_of(i, t)
    if row is None:
        row = job.row_of(i)
    message = str(exc)
    if panel.n_series > 1 and exc.series is None:
        message += f" (applies to all {panel.n_series} series with this calendar)"
    return InputError(message, row=row, series=panel.names[i])


def result_table(res: DetectionResult) -> pa.Table:
    """Long table of a result: series-major, the output columns only (``NaN`` as null)."""
    n, m = res.observed.shape
    series = arrow.repeat_strings(res.names, m)
    return pa.Table.from_arrays(
        [
            series,
            arrow.dates(np.tile(np.asarray(res.dates, dtype="datetime64[D]"), n)),
            arrow.floats(res.observed),
            arrow.floats(res.expected),
            arrow.floats(res.upperbound),
            arrow.int8s(res.alarm),
            arrow.floats(res.score),
        ],
        schema=OUTPUT_SCHEMA,
    )


def run_chunk(
    chunk: Chunk, method: str, control: Any, start: np.datetime64 | None, end: np.datetime64 | None
) -> ChunkResult:
    """Run ``method`` on every panel of ``chunk``; the rows come back in input order."""
    spec = registry.get(method)
    tables: list[pa.Table] = []
    positions: list[NDArray[np.intp]] = []
    widths: list[int] = []
    for job in chunk.jobs:
        idx = _indices(job, start, end)
        try:
            res = spec.run(job.panel, control, idx)
        except SeriesError as exc:
            raise _attribute(job, exc) from None
        tables.append(result_table(res))
        positions.append(job.positions)
        widths.append(int(res.dates.size))
    # Series order: input order.  Each series' rows are a block of `width` rows of its job's table.
    pos = np.concatenate(positions)
    width = np.concatenate([np.full(p.size, w, dtype=np.int64) for p, w in zip(positions, widths, strict=True)])
    table_base = np.cumsum([0] + [t.num_rows for t in tables])[:-1]
    block_start = np.concatenate(
        [b + np.arange(p.size, dtype=np.int64) * w for p, w, b in zip(positions, widths, table_base, strict=True)]
    )
    order = np.argsort(pos, kind="stable")
    width_o = width[order]
    offsets = np.concatenate(([0], np.cumsum(width_o))).astype(np.int64)
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    if len(tables) > 1 or not np.array_equal(order, np.arange(order.size)):
        take = np.repeat(block_start[order] - offsets[:-1], width_o) + np.arange(offsets[-1], dtype=np.int64)
        table = table.take(arrow.int64s(take))
    return ChunkResult(index=chunk.index, table=table.combine_chunks(), offsets=offsets)
