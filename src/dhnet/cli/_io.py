"""Streaming input and output of ``dhnet detect``.

Input
-----
A CSV (optionally compressed: ``.gz``, ``.bz2``, ``.zst``, ``.lz4``) or Parquet
file with the columns ``series, period_start, count`` and optionally
``population``; other columns are ignored.  It is read in blocks (pyarrow's
streaming CSV reader, Parquet record batches), so memory does not grow with the
file.

* The rows of one series must be **contiguous** (the file grouped by series,
  in any order of series).  A series that re-appears after another series
  started is an error naming the row: the input is never sorted behind the
  user's back, which would need the whole file in memory (or on disk) and hide
  a malformed export.  Sort it first (e.g. ``sort -t, -k1,1 -s``) if needed.
  *Within* a series, rows may come in any date order; they are sorted.
* Each series is validated: ``count`` a non-negative integer, ``population``
  (when the column exists) positive, no duplicate period, at least two
  periods, and a regular calendar whose frequency is inferred per series from
  the smallest step between its periods: daily (1 day), weekly (7 days) or
  monthly (28-31 days).  Weekly periods must start on a Monday (ISO weeks) or,
  with ``week_system="mmwr"``, on a Sunday (CDC/MMWR epidemiological weeks);
  monthly periods on the first day of a month.  A missing period inside a
  series is an error unless ``fill_missing`` is set: then it is inserted with
  a zero count (and the population of the period before it).
* Errors are :class:`~dhnet.cli._errors.InputError` naming the 1-based data row
  (header not counted) and the series.

Series are handed on in **chunks** of at most ``batch_series`` series, in input
order; within a chunk, series sharing one calendar (frequency, first period and
number of periods) form one :class:`~dhnet.surveillance.Panel` (a "job"), so
the detector is vectorised across them.

Output
------
:class:`OutputWriter` writes CSV or Parquet (by extension) to a temporary file
in the destination directory and renames it into place on :meth:`commit`;
:meth:`abort` removes it, so nothing is written on error.  Floats are written in
their shortest round-trip form (Arrow's formatting: ``3``, ``0.1``,
``1e+16``; parsing the text gives back the same double), undefined values
(``NaN``) as empty fields (nulls in Parquet).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import math
import os
import queue
import tempfile
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from dhnet.cli import _arrow as arrow
from dhnet.cli._errors import InputError
from dhnet.surveillance import Frequency, Panel, SeriesError

REQUIRED = ("series", "period_start", "count")
OPTIONAL = ("population",)
OUTPUT_COLUMNS = ("series", "period_start", "observed", "expected", "upperbound", "alarm", "score")
OUTPUT_SCHEMA = pa.schema(
    [
        ("series", pa.string()),
        ("period_start", pa.date32()),
        ("observed", pa.float64()),
        ("expected", pa.float64()),
        ("upperbound", pa.float64()),
        ("alarm", pa.int8()),
        ("score", pa.float64()),
    ]
)
_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}
_FREQ_CODES = {1: Frequency.DAILY, 2: Frequency.WEEKLY, 3: Frequency.MONTHLY}
_WEEKDAY_OFFSET = {"iso": 3, "mmwr": 4}  # (days since 1970-01-01 + offset) % 7 == 0 on the week's first day
_WEEK_START_NAME = {"iso": "a Monday (ISO weeks)", "mmwr": "a Sunday (MMWR weeks)"}
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def is_parquet(path: str | Path) -> bool:
    return str(path).lower().endswith((".parquet", ".pq"))


def _iso(days: int | np.integer[Any]) -> str:
    return str(np.datetime64(int(days), "D"))


# --------------------------------------------------------------------------------------------------
# Sources: raw batches of rows
# --------------------------------------------------------------------------------------------------


@dataclass
class RawBatch:
    """Rows ``row0 .. row0 + n - 1`` (1-based data rows) of the input, validated for nulls."""

    names: pa.Array
    dates: NDArray[np.int64]
    counts: NDArray[np.float64]
    population: NDArray[np.float64] | None
    row0: int


class Source:
    """Base of the CSV and Parquet readers."""

    row_kind = "data row"
    unit = "B"

    def __init__(self, path: str) -> None:
        self.path = path
        self.columns: list[str] = []

    @property
    def has_population(self) -> bool:
        return "population" in self.columns

    @property
    def progress_total(self) -> int | None:
        return None

    def progress_done(self) -> int:
        return 0

    def batches(self) -> Iterator[RawBatch]:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _check_columns(self, names: list[str]) -> None:
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            found = ", ".join(names) if names else "none"
            raise InputError(
                f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} (found: {found}); "
                "the input needs series, period_start, count and optionally population",
                file=self.path,
            )
        self.columns = [c for c in (*REQUIRED, *OPTIONAL) if c in names]

    def _raw(self, names: pa.Array, dates: pa.Array, counts: pa.Array, pop: pa.Array | None, row0: int) -> RawBatch:
        """Null checks and conversion to numpy of one batch."""
        for col, arr in (("series", names), ("period_start", dates), ("count", counts), ("population", pop)):
            if arr is not None and arr.null_count:
                i = int(np.flatnonzero(arrow.to_numpy(arr.is_null()))[0])
                series = names[i].as_py() if names[i].is_valid else None
                raise InputError(f"{col} is missing", row=row0 + i, series=series, row_kind=self.row_kind)
        empty = arrow.string_lengths(names) == 0
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            raise InputError("series name is empty", row=row0 + i, row_kind=self.row_kind)
        return RawBatch(
            names=names,
            dates=arrow.to_numpy(dates).astype(np.int64),
            counts=np.asarray(arrow.to_numpy(counts), dtype=np.float64),
            population=None if pop is None else np.asarray(arrow.to_numpy(pop), dtype=np.float64),
            row0=row0,
        )


class CsvSource(Source):
    """Streaming CSV reader (pyarrow), with a slow exact diagnosis when pyarrow rejects a value."""

    def __init__(self, path: str, block_size: int = 1 << 22) -> None:
        super().__init__(path)
        self.block_size = block_size
        self._raw_file: IO[bytes] | None = None
        self._size = os.path.getsize(path)
        self._check_columns(self._header())

    def _codec(self) -> str | None:
        return _COMPRESSION.get(Path(self.path).suffix.lower())

    def _header(self) -> list[str]:
        codec = self._codec()
        try:
            with pa.input_stream(self.path, compression=codec) as stream:
                head = stream.read(1 << 16)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"cannot read: {exc}", file=self.path) from None
        text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
        try:
            row = next(csv.reader(io.StringIO(text)), [])
        except csv.Error as exc:
            raise InputError(f"cannot parse the CSV header: {exc}", file=self.path) from None
        return [c.strip() for c in row]

    @property
    def progress_total(self) -> int | None:
        return self._size

    def progress_done(self) -> int:
        f = self._raw_file
        if f is None or f.closed:
            return self._size
        with contextlib.suppress(ValueError, OSError):
            return f.tell()
        return 0

    def batches(self) -> Iterator[RawBatch]:
        types = {"series": pa.string(), "period_start": pa.date32(), "count": pa.float64()}
        if self.has_population:
            types["population"] = pa.float64()
        self._raw_file = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        codec = self._codec()
        stream: Any = pa.CompressedInputStream(self._raw_file, codec) if codec else self._raw_file
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(block_size=self.block_size, use_threads=True),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, include_columns=list(self.columns), strings_can_be_null=False
                ),
            )
            row0 = 1
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                n = batch.num_rows
                if n == 0:
                    continue
                pop = batch.column("population") if self.has_population else None
                yield self._raw(batch.column("series"), batch.column("period_start"), batch.column("count"), pop, row0)
                row0 += n
        except pa.ArrowInvalid as exc:
            raise self._diagnose(exc) from None
        finally:
            self.close()

    def close(self) -> None:
        if self._raw_file is not None and not self._raw_file.closed:
            self._raw_file.close()

    def _diagnose(self, exc: Exception) -> InputError:
        """Find the first row pyarrow could not read (slow: the error path only)."""
        codec = self._codec()
        opener: Any
        if codec == "gzip":
            import gzip

            opener = gzip.open
        elif codec == "bz2":
            import bz2

            opener = bz2.open
        else:
            opener = open
        if codec in ("zstd", "lz4"):
            return InputError(f"cannot read: {exc}", file=self.path)
        with opener(self.path, "rt", newline="", encoding="utf-8", errors="replace") as fh:
            reader = csv.reader(fh)
            header = [c.strip().lstrip("\ufeff") for c in next(reader, [])]
            pos = {c: header.index(c) for c in self.columns}
            n = 0
            for row in reader:
                if not row:
                    continue  # blank lines are skipped by the reader and are not data rows
                n += 1
                if len(row) != len(header):
                    return InputError(
                        f"expected {len(header)} fields, found {len(row)} (line {reader.line_num})",
                        file=self.path,
                        row=n,
                    )
                series = row[pos["series"]]
                date = row[pos["period_start"]].strip()
                if date and not _is_iso_date(date):
                    return InputError(
                        f"period_start {date!r} is not an ISO date (YYYY-MM-DD)", file=self.path, row=n, series=series
                    )
                for col in ("count", "population"):
                    if col in pos:
                        value = row[pos[col]].strip()
                        if value and not _is_number(value):
                            return InputError(f"{col} {value!r} is not a number", file=self.path, row=n, series=series)
        return InputError(f"cannot read: {' '.join(str(exc).split())}", file=self.path)


def _is_iso_date(text: str) -> bool:
    if len(text) != 10:
        return False
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class ParquetSource(Source):
    """Parquet reader over record batches (row groups are not loaded whole)."""

    row_kind = "row"
    unit = "rows"

    def __init__(self, path: str, batch_rows: int = 1 << 18) -> None:
        super().__init__(path)
        import pyarrow.parquet as pq  # not at module level: a CSV run does not need it

        try:
            self._file = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"cannot read Parquet: {' '.join(str(exc).split())}", file=path) from None
        self.batch_rows = batch_rows
        self._done = 0
        self._check_columns(list(self._file.schema_arrow.names))

    @property
    def progress_total(self) -> int | None:
        return int(self._file.metadata.num_rows)

    def progress_done(self) -> int:
        return self._done

    def batches(self) -> Iterator[RawBatch]:
        row0 = 1
        try:
            for batch in self._file.iter_batches(batch_size=self.batch_rows, columns=list(self.columns)):
                n = batch.num_rows
                if n == 0:
                    continue
                names = self._strings(batch.column("series"), row0)
                dates = self._dates(batch.column("period_start"), names, row0)
                counts = self._numbers(batch.column("count"), "count", names, row0)
                pop = (
                    self._numbers(batch.column("population"), "population", names, row0)
                    if self.has_population
                    else None
                )
                yield self._raw(names, dates, counts, pop, row0)
                row0 += n
                self._done += n
        finally:
            self._done = self.progress_total or self._done
            self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._file.close()

    @staticmethod
    def _plain(arr: pa.Array) -> pa.Array:
        if pa.types.is_dictionary(arr.type):
            return arr.dictionary_decode()
        return arr

    def _strings(self, arr: pa.Array, row0: int) -> pa.Array:
        arr = self._plain(arr)
        if pa.types.is_string(arr.type):
            return arr
        if pa.types.is_large_string(arr.type) or pa.types.is_integer(arr.type):
            return arr.cast(pa.string())
        raise InputError(f"column series has type {arr.type}; expected text or integers", row_kind=self.row_kind)

    def _first_bad(self, ok: NDArray[np.bool_], names: pa.Array, row0: int, message: str) -> InputError:
        i = int(np.flatnonzero(~ok)[0])
        series = names[i].as_py() if names[i].is_valid else None
        return InputError(message, row=row0 + i, series=series, row_kind=self.row_kind)

    def _dates(self, arr: pa.Array, names: pa.Array, row0: int) -> pa.Array:
        arr = self._plain(arr)
        if pa.types.is_date32(arr.type):
            return arr
        if pa.types.is_date64(arr.type):
            return arr.cast(pa.date32())
        if pa.types.is_timestamp(arr.type):
            per_day = {"s": 86400, "ms": 86400_000, "us": 86400_000_000, "ns": 86400_000_000_000}[arr.type.unit]
            ticks = arr.cast(pa.int64()).to_numpy(zero_copy_only=False)
            ok = np.isnan(ticks) if ticks.dtype.kind == "f" else np.zeros(ticks.shape, bool)
            ok |= np.nan_to_num(ticks).astype(np.int64) % per_day == 0
            if not ok.all():
                raise self._first_bad(ok, names, row0, "period_start has a time of day; expected a date")
            return arr.cast(pa.date32())
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            values = arr.to_pylist()
            ok = np.array([v is None or _is_iso_date(v) for v in values])
            if not ok.all():
                bad = values[int(np.flatnonzero(~ok)[0])]
                raise self._first_bad(ok, names, row0, f"period_start {bad!r} is not an ISO date (YYYY-MM-DD)")
            return arr.cast(pa.date32())
        raise InputError(f"column period_start has type {arr.type}; expected dates", row_kind=self.row_kind)

    def _numbers(self, arr: pa.Array, col: str, names: pa.Array, row0: int) -> pa.Array:
        arr = self._plain(arr)
        if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
            return arr.cast(pa.float64())
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            values = arr.to_pylist()
            ok = np.array([v is None or _is_number(v) for v in values])
            if not ok.all():
                bad = values[int(np.flatnonzero(~ok)[0])]
                raise self._first_bad(ok, names, row0, f"{col} {bad!r} is not a number")
            return arr.cast(pa.float64())
        raise InputError(f"column {col} has type {arr.type}; expected numbers", row_kind=self.row_kind)


def open_source(path: str) -> Source:
    if not os.path.exists(path):
        raise InputError("no such file", file=path)
    if os.path.isdir(path):
        raise InputError("is a directory, not a file", file=path)
    return ParquetSource(path) if is_parquet(path) else CsvSource(path)


# --------------------------------------------------------------------------------------------------
# Assembling series into chunks of panels
# --------------------------------------------------------------------------------------------------


@dataclass
class Job:
    """One panel of a chunk: series sharing a calendar, and where they came from."""

    panel: Panel
    positions: NDArray[np.intp]  # position of each series in the chunk (input order)
    first_row: NDArray[np.int64]  # data row of each series' first period
    row_fixups: dict[int, NDArray[np.int64]] = field(default_factory=dict)  # series -> row per period (0: inserted)

    def row_of(self, i: int, t: int | None = None) -> int | None:
        """The data row of series ``i`` (of this panel) at period index ``t`` (its first row if ``None``)."""
        if t is None:
            t = 0
        if i in self.row_fixups:
            r = int(self.row_fixups[i][t])
            return r if r > 0 else None
        return int(self.first_row[i]) + t


@dataclass
class Chunk:
    """Up to ``batch_series`` complete series in input order, grouped into jobs by calendar."""

    index: int
    n_series: int
    jobs: list[Job]


class _Buffer:
    """Rows of series not yet handed on, as a list of column pieces."""

    def __init__(self, with_population: bool) -> None:
        self.with_population = with_population
        self.parts: list[tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64] | None, int]] = []
        self.n_rows = 0

    def append(self, batch: RawBatch) -> None:
        self.parts.append((batch.dates, batch.counts, batch.population, batch.row0))
        self.n_rows += batch.dates.size

    def take(
        self, n: int
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.int64]]:
        """Remove and return the first ``n`` rows (dates, counts, population, data rows)."""
        dates = np.concatenate([p[0] for p in self.parts]) if self.parts else np.empty(0, np.int64)
        counts = np.concatenate([p[1] for p in self.parts]) if self.parts else np.empty(0)
        pop = None
        if self.with_population:
            pop = np.concatenate([p[2] for p in self.parts if p[2] is not None]) if self.parts else np.empty(0)
        rows = (
            np.concatenate([np.arange(p[3], p[3] + p[0].size, dtype=np.int64) for p in self.parts])
            if self.parts
            else np.empty(0, np.int64)
        )
        self.parts = []
        if n < dates.size:
            # Keep the rest as one piece; its rows are consecutive (one piece per raw batch boundary at most).
            rest_rows = rows[n:]
            if rest_rows.size and rest_rows[-1] - rest_rows[0] == rest_rows.size - 1:
                self.parts.append((dates[n:], counts[n:], None if pop is None else pop[n:], int(rest_rows[0])))
            else:  # pragma: no cover - rows of the buffer are always consecutive
                raise AssertionError("non-consecutive rows in the series buffer")
        self.n_rows = dates.size - n
        return dates[:n], counts[:n], None if pop is None else pop[:n], rows[:n]


class SeriesAssembler:
    """Turns raw row batches into :class:`Chunk` objects of complete, validated series."""

    def __init__(
        self,
        source: Source,
        *,
        batch_series: int = 20_000,
        fill_missing: bool = False,
        week_system: str = "iso",
    ) -> None:
        if batch_series < 1:
            raise ValueError("batch_series must be >= 1")
        if week_system not in _WEEKDAY_OFFSET:
            raise ValueError(f"unknown week system {week_system!r}")
        self.source = source
        self.batch_series = batch_series
        self.fill_missing = fill_missing
        self.week_system = week_system
        self.n_series = 0

    def _error(self, message: str, row: int | None, series: str | None) -> InputError:
        return InputError(message, file=self.source.path, row=row, series=series, row_kind=self.source.row_kind)

    def chunks(self) -> Generator[Chunk, None, None]:
        buf = _Buffer(self.source.has_population)
        run_starts: list[int] = []  # starts (in buffer rows) of the runs in the buffer
        run_names: list[str] = []
        seen: set[str] = set()
        index = 0
        try:
            for batch in self.source.batches():
                n = batch.dates.size
                names = batch.names
                if n > 1:
                    change = arrow.string_changes(names)
                    local = np.concatenate(([0], np.flatnonzero(change) + 1))
                else:
                    local = np.zeros(1, dtype=np.int64)
                local_names = arrow.strings_at(names, local)
                base = buf.n_rows
                first = 0
                if run_names and local_names[0] == run_names[-1]:
                    first = 1  # the last series of the previous batch continues
                for k in range(first, local.size):
                    name = local_names[k]
                    if name in seen:
                        raise self._error(
                            "the rows of this series are not contiguous: it re-appears after other series "
                            "(group the input by series, e.g. sort it by the series column)",
                            batch.row0 + int(local[k]),
                            name,
                        )
                    seen.add(name)
                    run_starts.append(base + int(local[k]))
                    run_names.append(name)
                buf.append(batch)
                # Hand on full chunks of complete series (all runs but the last are complete).
                while len(run_starts) - 1 >= self.batch_series:
                    cut = run_starts[self.batch_series]
                    yield self._chunk(index, buf, cut, run_starts[: self.batch_series], run_names[: self.batch_series])
                    index += 1
                    run_starts = [s - cut for s in run_starts[self.batch_series :]]
                    run_names = run_names[self.batch_series :]
            while run_starts:
                k = min(self.batch_series, len(run_starts))
                cut = run_starts[k] if k < len(run_starts) else buf.n_rows
                yield self._chunk(index, buf, cut, run_starts[:k], run_names[:k])
                index += 1
                run_starts = [s - cut for s in run_starts[k:]]
                run_names = run_names[k:]
        except InputError as exc:
            if exc.file is None:
                raise exc.with_file(self.source.path, self.source.row_kind) from None
            raise
        finally:
            self.source.close()

    # -- one chunk -------------------------------------------------------------------------------
    def _chunk(self, index: int, buf: _Buffer, cut: int, starts_list: list[int], names: list[str]) -> Chunk:
        dates, counts, pop, rows = buf.take(cut)
        starts = np.asarray(starts_list, dtype=np.int64)
        self.n_series += starts.size
        jobs = self._validate_and_group(dates, counts, pop, rows, starts, names)
        return Chunk(index=index, n_series=starts.size, jobs=jobs)

    def _validate_and_group(
        self,
        dates: NDArray[np.int64],
        counts: NDArray[np.float64],
        pop: NDArray[np.float64] | None,
        rows: NDArray[np.int64],
        starts: NDArray[np.int64],
        names: list[str],
    ) -> list[Job]:
        n_rows = dates.size
        lengths = np.diff(np.append(starts, n_rows))
        run_of_row = np.repeat(np.arange(starts.size), lengths)

        def fail(message: str, k: int) -> InputError:
            return self._error(message, int(rows[k]), names[int(run_of_row[k])])

        # Values, in input order.
        bad = ~np.isfinite(counts) | (counts < 0) | (counts != np.floor(counts))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise fail(f"count must be a non-negative integer, got {_num(counts[k])}", k)
        if pop is not None:
            badp = ~np.isfinite(pop) | (pop <= 0)
            if badp.any():
                k = int(np.flatnonzero(badp)[0])
                raise fail(f"population must be positive, got {_num(pop[k])}", k)

        # Sort each series by date when needed; duplicates.
        inner = run_of_row[1:] == run_of_row[:-1]
        dd = dates[1:] - dates[:-1]
        if np.any(inner & (dd <= 0)):
            order = np.lexsort((dates, run_of_row))
            dates, counts, rows = dates[order], counts[order], rows[order]
            pop = None if pop is None else pop[order]
            dd = dates[1:] - dates[:-1]
            dup = inner & (dd == 0)
            if dup.any():
                k = int(np.flatnonzero(dup)[0])
                row_a, row_b = sorted((int(rows[k]), int(rows[k + 1])))
                raise self._error(
                    f"duplicate period {_iso(dates[k])} (also on {self.source.row_kind} {row_a})",
                    row_b,
                    names[int(run_of_row[k])],
                )

        single = lengths < 2
        if single.any():
            r = int(np.flatnonzero(single)[0])
            raise fail(
                "a series needs at least two periods (its frequency cannot be inferred from one)", int(starts[r])
            )

        # Frequency per series from its smallest step.
        masked = np.where(inner, dd, np.iinfo(np.int64).max)
        min_step = np.minimum.reduceat(masked, starts) if n_rows > 1 else np.empty(0, np.int64)
        code = np.zeros(starts.size, dtype=np.int8)
        code[min_step == 1] = 1
        code[min_step == 7] = 2
        code[(min_step >= 28) & (min_step <= 31)] = 3
        if (code == 0).any():
            r = int(np.flatnonzero(code == 0)[0])
            raise fail(
                f"periods {int(min_step[r])} days apart are neither daily, weekly nor monthly",
                int(starts[r]),
            )
        code_row = np.repeat(code, lengths)
        months = dates.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)

        # Calendar of each period.
        weekly = code_row == 2
        if weekly.any():
            off = _WEEKDAY_OFFSET[self.week_system]
            wrong = weekly & ((dates + off) % 7 != 0)
            if wrong.any():
                k = int(np.flatnonzero(wrong)[0])
                day = _DAY_NAMES[int((dates[k] + 3) % 7)]
                hint = (
                    " (use --week-system mmwr for CDC/MMWR weeks starting on Sunday)"
                    if self.week_system == "iso" and day == "Sunday"
                    else ""
                )
                raise fail(
                    f"weekly period_start {_iso(dates[k])} is a {day}; "
                    f"weeks must start on {_WEEK_START_NAME[self.week_system]}: "
                    f"{_week_of(int(dates[k]), self.week_system)}{hint}",
                    k,
                )
        monthly = code_row == 3
        if monthly.any():
            month_start = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
            wrong = monthly & (dates != month_start)
            if wrong.any():
                k = int(np.flatnonzero(wrong)[0])
                raise fail(f"monthly period_start {_iso(dates[k])} is not the first day of a month", k)

        # Steps between consecutive periods: regular, a gap (missing periods) or irregular.
        code_step = code_row[:-1]
        step_units = np.where(code_step == 3, months[1:] - months[:-1], np.where(code_step == 2, dd // 7, dd))
        regular = ~inner | (step_units == 1)
        if not regular.all():
            # A weekly step that is not a multiple of 7 days cannot happen here (all weekly dates share a weekday).
            k = int(np.flatnonzero(~regular)[0])
            if not self.fill_missing:
                missing = int(step_units[k]) - 1
                raise self._error(
                    f"{missing} missing period{'s' if missing > 1 else ''} between {_iso(dates[k])} "
                    f"({self.source.row_kind} {int(rows[k])}) and {_iso(dates[k + 1])}; "
                    "use --fill-missing zero to insert zero counts",
                    int(rows[k + 1]),
                    names[int(run_of_row[k])],
                )
            dates, counts, pop, rows, lengths = _fill(dates, counts, pop, rows, starts, lengths, code, regular, inner)
            starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)

        # Group series by calendar: (frequency, first period, number of periods).
        first = dates[starts]
        order = np.lexsort((lengths, first, code))
        keys = np.stack([code[order].astype(np.int64), first[order], lengths[order]], axis=1)
        bounds = np.flatnonzero(np.any(keys[1:] != keys[:-1], axis=1)) + 1
        groups = np.split(order, bounds)
        # Jobs in order of their first series, so chunk output order never depends on grouping.
        groups.sort(key=lambda g: int(g.min()))
        jobs = []
        for g in groups:
            g = np.sort(g)
            length = int(lengths[g[0]])
            freq = _FREQ_CODES[int(code[g[0]])]
            idx = starts[g][:, None] + np.arange(length)
            panel_dates = freq.step(np.datetime64(int(first[g[0]]), "D"), length)
            job_rows = rows[idx]
            plain = np.all(job_rows == job_rows[:, :1] + np.arange(length), axis=1)
            fixups = {int(i): job_rows[i].copy() for i in np.flatnonzero(~plain)}
            try:
                panel = Panel(
                    names=tuple(names[int(i)] for i in g),
                    dates=panel_dates,
                    counts=counts[idx],
                    freq=freq,
                    population=None if pop is None else pop[idx],
                )
            except SeriesError as exc:  # pragma: no cover - validated above
                raise self._error(str(exc), int(job_rows[0, 0]), names[int(g[0])]) from None
            jobs.append(
                Job(panel=panel, positions=g.astype(np.intp), first_row=job_rows[:, 0].copy(), row_fixups=fixups)
            )
        return jobs


def _week_of(days: int, week_system: str) -> str:
    """``"it falls in 2020-W02, which starts on 2020-01-06"`` (epiweeks: ISO or CDC/MMWR weeks)."""
    from epiweeks import Week

    day = _dt.date(1970, 1, 1) + _dt.timedelta(days=days)
    week = Week.fromdate(day, system="iso" if week_system == "iso" else "cdc")
    return f"it falls in {week.year}-W{week.week:02d}, which starts on {week.startdate().isoformat()}"


def _num(x: float) -> str:
    if math.isnan(x):
        return "nothing"
    return repr(int(x)) if float(x).is_integer() else repr(float(x))


def _fill(
    dates: NDArray[np.int64],
    counts: NDArray[np.float64],
    pop: NDArray[np.float64] | None,
    rows: NDArray[np.int64],
    starts: NDArray[np.int64],
    lengths: NDArray[np.int64],
    code: NDArray[np.int8],
    regular: NDArray[np.bool_],
    inner: NDArray[np.bool_],
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.int64], NDArray[np.int64]]:
    """Insert the missing periods of every series (count 0, population of the period before, row 0)."""
    gap_rows = np.flatnonzero(~regular & inner)
    # sorted set, not np.unique (which imports numpy.ma: start-up time)
    needs = np.asarray(sorted(set((np.searchsorted(starts, gap_rows, side="right") - 1).tolist())), dtype=np.int64)
    pieces: list[tuple[Any, Any, Any, Any]] = []
    new_lengths = lengths.copy()
    prev = 0
    for r in needs.tolist():
        s, e = int(starts[r]), int(starts[r] + lengths[r])
        if prev < s:
            pieces.append((dates[prev:s], counts[prev:s], None if pop is None else pop[prev:s], rows[prev:s]))
        freq = _FREQ_CODES[int(code[r])]
        d = dates[s:e]
        if freq is Frequency.MONTHLY:
            m = d.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
            pos = m - m[0]
        else:
            pos = (d - d[0]) // (7 if freq is Frequency.WEEKLY else 1)
        n = int(pos[-1]) + 1
        full = freq.step(np.datetime64(int(d[0]), "D"), n).astype(np.int64)
        c = np.zeros(n)
        c[pos] = counts[s:e]
        rw = np.zeros(n, dtype=np.int64)
        rw[pos] = rows[s:e]
        p = None
        if pop is not None:
            # Forward fill: index of the last present period at or before each period.
            present = np.zeros(n, dtype=bool)
            present[pos] = True
            last = np.maximum.accumulate(np.where(present, np.arange(n), 0))
            vals = np.zeros(n)
            vals[pos] = pop[s:e]
            p = vals[last]
        pieces.append((full, c, p, rw))
        new_lengths[r] = n
        prev = e
    if prev < dates.size:
        pieces.append((dates[prev:], counts[prev:], None if pop is None else pop[prev:], rows[prev:]))
    out_pop = None if pop is None else np.concatenate([p[2] for p in pieces])
    return (
        np.concatenate([p[0] for p in pieces]),
        np.concatenate([p[1] for p in pieces]),
        out_pop,
        np.concatenate([p[3] for p in pieces]),
        new_lengths,
    )


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------


class OutputWriter:
    """Write tables to a temporary file next to ``path``; :meth:`commit` renames it into place.

    Writing (formatting floats is the costliest step of a CSV) happens on a
    background thread, so it overlaps reading and detecting the next batch;
    at most two tables wait in the queue.
    """

    def __init__(self, path: str, schema: pa.Schema = OUTPUT_SCHEMA) -> None:
        self.path = Path(path)
        self.schema = schema
        directory = self.path.parent if str(self.path.parent) else Path(".")
        if not directory.is_dir():
            raise InputError("the output directory does not exist", file=str(path))
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        os.close(fd)
        self.tmp = Path(tmp)
        self._writer: Any
        if is_parquet(self.path):
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(self.tmp, schema)
        else:
            self._writer = pacsv.CSVWriter(self.tmp, schema)
        self._open = True
        self._error: BaseException | None = None
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._drain, name="dhnet-output-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            table = self._queue.get()
            if table is None:
                return
            if self._error is None:
                try:
                    self._writer.write_table(table)
                except BaseException as exc:  # re-raised in the caller's thread
                    self._error = exc

    def write(self, table: pa.Table) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(table)

    def close(self) -> None:
        if self._open:
            self._open = False
            self._queue.put(None)
            self._thread.join()
            self._writer.close()
        if self._error is not None:
            raise self._error

    def commit(self) -> None:
        self.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o666 & ~umask)
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        with contextlib.suppress(BaseException):
            self.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


def atomic_write_bytes(path: str, data: bytes) -> Path:
    """Write ``data`` to a temporary file next to ``path`` and return it (rename it with ``os.replace``)."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InputError("the directory does not exist", file=path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return Path(tmp)
