"""The one series type every detector takes: :class:`Panel`.

A panel is a set of count series that share one regular calendar of periods
(daily, ISO-weekly or monthly).  Detectors work on the whole panel at once,
vectorised across series; a single series is a panel with one row.

This mirrors the ``sts`` class of the R package ``surveillance`` built with
``epochAsDate = TRUE``: every period is identified by its first day
(``period_start``), so methods that look "one year back" (Farrington) use
calendar dates, not a fixed number of rows.

Validation lives here so that every method can trust its input:

* counts are finite, non-negative integers (stored as ``float64`` so that the
  numerical code needs no casts);
* periods are strictly regular for the frequency (no gaps, no duplicates);
* population, when given, is positive and finite.

Errors are :class:`SeriesError` (a ``ValueError``) naming the series and the
period at fault.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Frequency",
    "Panel",
    "SeriesError",
    "evaluation_indices",
    "to_datetime64",
]

FloatArray = NDArray[np.float64]
DateArray = NDArray[np.datetime64]


class SeriesError(ValueError):
    """Invalid series input; the message names the series and period."""

    def __init__(self, message: str, *, series: str | None = None, period: str | None = None):
        self.series = series
        self.period = period
        parts = [message]
        if series is not None:
            parts.append(f"series {series!r}")
        if period is not None:
            parts.append(f"period {period}")
        super().__init__(": ".join(parts[:1]) + ("" if len(parts) == 1 else " (" + ", ".join(parts[1:]) + ")"))


class Frequency(enum.Enum):
    """Sampling frequency of a panel; ``periods_per_year`` as R's ``freq``."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"

    @property
    def periods_per_year(self) -> int:
        return {Frequency.DAILY: 365, Frequency.WEEKLY: 52, Frequency.MONTHLY: 12}[self]

    @classmethod
    def infer(cls, dates: DateArray) -> Frequency:
        """Infer the frequency from the first step of ``dates`` (at least two)."""
        if dates.size < 2:
            raise SeriesError("cannot infer the frequency of a series with fewer than 2 periods")
        step = int((dates[1] - dates[0]).astype("timedelta64[D]").astype(np.int64))
        if step == 1:
            return cls.DAILY
        if step == 7:
            return cls.WEEKLY
        if 28 <= step <= 31:
            return cls.MONTHLY
        raise SeriesError(f"periods {step} days apart are neither daily, weekly nor monthly")

    def step(self, start: np.datetime64, n: int) -> DateArray:
        """``n`` regular period starts beginning at ``start``."""
        d: DateArray = np.asarray([start], dtype="datetime64[D]")
        if self is Frequency.MONTHLY:
            m0: DateArray = d.astype("datetime64[M]")
            out: DateArray = (m0 + np.arange(n)).astype("datetime64[D]")
            return out
        days = 1 if self is Frequency.DAILY else 7
        res: DateArray = d + np.arange(n) * np.timedelta64(days, "D")
        return res


def to_datetime64(value: str | _dt.date | np.datetime64) -> np.datetime64:
    """Parse an ISO date (``YYYY-MM-DD``), a ``date`` or a ``datetime64`` to day precision."""
    try:
        parsed: DateArray = np.asarray([value], dtype="datetime64[D]")
    except ValueError as exc:  # pragma: no cover - message re-raised with context
        raise SeriesError(f"not an ISO date: {value!r}") from exc
    out: np.datetime64 = parsed[0]
    return out


@dataclass(frozen=True, eq=False)
class Panel:
    """Count series sharing one regular calendar.

    Attributes
    ----------
    names:
        One name per series (row).
    dates:
        ``datetime64[D]`` array of period starts, shape ``(T,)``, strictly regular.
    counts:
        ``float64`` array of shape ``(n, T)`` holding non-negative integers.
    freq:
        The :class:`Frequency` of ``dates``.
    population:
        Optional ``float64`` array ``(n, T)`` of population at risk.
    """

    names: tuple[str, ...]
    dates: DateArray
    counts: FloatArray
    freq: Frequency
    population: FloatArray | None = None

    def __post_init__(self) -> None:
        counts = np.asarray(self.counts, dtype=np.float64)
        if counts.ndim == 1:
            counts = counts[None, :]
        dates = np.asarray(self.dates).astype("datetime64[D]")
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        if counts.ndim != 2:
            raise SeriesError("counts must be a 2-D array (series x periods)")
        if counts.shape[0] != len(self.names):
            raise SeriesError(f"{counts.shape[0]} count rows but {len(self.names)} names")
        if counts.shape[1] != dates.shape[0]:
            raise SeriesError(f"{counts.shape[1]} periods of counts but {dates.shape[0]} dates")
        self._check_dates(dates)
        self._check_counts(counts, dates)
        if self.population is not None:
            pop = np.asarray(self.population, dtype=np.float64)
            if pop.ndim == 1:
                pop = np.broadcast_to(pop[:, None] if pop.shape[0] == counts.shape[0] else pop, counts.shape)
            if pop.shape != counts.shape:
                raise SeriesError(f"population has shape {pop.shape}, counts {counts.shape}")
            bad = ~np.isfinite(pop) | (pop <= 0)
            if bad.any():
                i, t = np.argwhere(bad)[0]
                raise SeriesError(
                    "population must be positive and finite",
                    series=self.names[i],
                    period=str(dates[t]),
                )
            object.__setattr__(self, "population", np.ascontiguousarray(pop))

    # -- validation -----------------------------------------------------------------
    def _check_dates(self, dates: DateArray) -> None:
        if dates.size == 0:
            raise SeriesError("a series needs at least one period")
        expected = self.freq.step(dates[0], dates.size)
        mismatch = np.nonzero(expected != dates)[0]
        if mismatch.size:
            t = int(mismatch[0])
            prev = str(dates[t - 1]) if t > 0 else "start"
            raise SeriesError(
                f"irregular {self.freq.value} periods: expected {expected[t]} after {prev}, found {dates[t]}",
                period=str(dates[t]),
            )

    def _check_counts(self, counts: FloatArray, dates: DateArray) -> None:
        bad = ~np.isfinite(counts) | (counts < 0) | (counts != np.floor(counts))
        if bad.any():
            i, t = np.argwhere(bad)[0]
            raise SeriesError(
                f"count must be a non-negative integer, got {counts[i, t]!r}",
                series=self.names[i],
                period=str(dates[t]),
            )

    # -- constructors ----------------------------------------------------------------
    @classmethod
    def from_counts(
        cls,
        counts: ArrayLike,
        *,
        start: str | _dt.date | np.datetime64,
        freq: Frequency | str = Frequency.WEEKLY,
        names: Sequence[str] | None = None,
        population: ArrayLike | None = None,
    ) -> Panel:
        """Build a panel from a count matrix (or vector) and its first period start."""
        c = np.asarray(counts, dtype=np.float64)
        if c.ndim == 1:
            c = c[None, :]
        f = Frequency(freq) if isinstance(freq, str) else freq
        nm = tuple(names) if names is not None else tuple(f"s{i}" for i in range(c.shape[0]))
        pop = None if population is None else np.asarray(population, dtype=np.float64)
        return cls(names=nm, dates=f.step(to_datetime64(start), c.shape[1]), counts=c, freq=f, population=pop)

    # -- helpers ---------------------------------------------------------------------
    @property
    def n_series(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_periods(self) -> int:
        return int(self.counts.shape[1])

    def take(self, rows: slice | Sequence[int] | NDArray[np.intp]) -> Panel:
        """A panel with a subset of the series (rows)."""
        idx = np.arange(self.n_series)[rows]
        return Panel(
            names=tuple(self.names[i] for i in idx),
            dates=self.dates,
            counts=self.counts[idx],
            freq=self.freq,
            population=None if self.population is None else self.population[idx],
        )

    def index_of(self, date: str | _dt.date | np.datetime64) -> int:
        """Row index of the period starting at ``date``; ``SeriesError`` if absent."""
        d = to_datetime64(date)
        hit = np.nonzero(self.dates == d)[0]
        if hit.size == 0:
            raise SeriesError(f"no period starts on {d}")
        return int(hit[0])


def evaluation_indices(
    panel: Panel,
    start: str | _dt.date | np.datetime64 | None = None,
    end: str | _dt.date | np.datetime64 | None = None,
) -> NDArray[np.intp]:
    """Indices of the periods to evaluate, ``start``..``end`` inclusive (dates).

    ``None`` means the first (resp. last) period.  Dates outside the panel are
    clipped to it; an empty selection is an error.
    """
    lo = 0 if start is None else int(np.searchsorted(panel.dates, to_datetime64(start), side="left"))
    hi = panel.n_periods - 1 if end is None else int(np.searchsorted(panel.dates, to_datetime64(end), side="right")) - 1
    if hi < lo:
        raise SeriesError(f"no period to evaluate between {start} and {end}")
    return np.arange(lo, hi + 1, dtype=np.intp)
