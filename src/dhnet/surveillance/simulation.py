"""Simulated weekly surveillance series with known outbreaks, after Noufaily et al. (2013).

The design of the simulation study of

    Noufaily A, Enki DG, Farrington P, Garthwaite P, Andrews N, Charlett A (2013).
    An improved algorithm for outbreak detection in multiple surveillance systems.
    *Statistics in Medicine* 32(7):1206-1222,

as we read it (pure numpy; a seeded :class:`numpy.random.Generator` makes every
run reproducible).

Baseline
--------
Week ``t = 1 .. 624`` (12 years) of a scenario has the mean

    mu_t = exp(alpha + beta * t + sum_{j=1}^{m} [gamma1 cos(2 pi j t / 52) + gamma2 sin(2 pi j t / 52)])

and the count is negative binomial with mean ``mu_t`` and variance
``phi * mu_t`` (``phi`` the dispersion; Poisson when ``phi == 1``).  In numpy's
parametrisation: ``NB(n = mu_t / (phi - 1), p = 1 / phi)``.

Scenarios
---------
Seven parameter sets (the paper's table of ``alpha, beta, gamma1, gamma2, phi``,
:data:`PARAMETER_SETS`), each crossed with *trend* (``beta`` as in the table,
or 0) and *seasonality* (``m`` = 0, 1 or 2 harmonics; ``gamma1 = gamma2 = 0``
when ``m = 0``): 7 x 2 x 3 = 42 scenarios (:data:`SCENARIOS`), numbered 1..42
set by set, and within a set: no trend with ``m`` = 0, 1, 2, then trend with
``m`` = 0, 1, 2 (so scenario 14 is set 3, no trend, one harmonic).

Outbreaks
---------
* **Past outbreaks** (contaminating the baseline the detectors learn from):
  :attr:`Design.past_outbreaks` (4) outbreaks start in weeks drawn uniformly
  from the baseline window :attr:`Design.past_window` (weeks 313..575, the five
  years before the current weeks); the size factor ``k`` of each is drawn
  uniformly from :attr:`Design.k_past` (2, 3, 5, 10).
* **Current outbreak**: one outbreak starts in a week drawn uniformly from the
  last :attr:`Design.current_weeks` (49) weeks, with ``k`` drawn uniformly from
  :attr:`Design.k_current` (1..10).
* An outbreak starting in week ``s`` has ``Poisson(k * sd_s)`` cases where
  ``sd_s = sqrt(phi * mu_s)`` is the standard deviation of the baseline count
  in week ``s``.  Each case falls ``floor(D)`` weeks after ``s`` with
  ``D ~ LogNormal(0, 0.5)`` (the paper's log-normal spread of the cases).
* The outbreak flag (``outbreak``) marks the weeks from the first to the last
  week that received a case of that outbreak.  Cases that would fall after
  week 624 are dropped; cases of a past outbreak that would fall into the
  current weeks are dropped too, so that the current weeks contain only the
  current outbreak (the paper keeps past outbreaks in the baseline).  An
  outbreak of 0 cases leaves no trace.

Differences from the paper (our reading, not a reproduction of its code): the
false positive rate is computed by :mod:`dhnet.surveillance.evaluation` over
the outbreak-free current weeks of the same series rather than over separate
outbreak-free replicates.  R's ``surveillance::sts_creation`` implements a
related design but sizes outbreaks with the *variance* at the last week; we
follow the paper (``k`` times the standard deviation at the start week).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "PARAMETER_SETS",
    "SCENARIOS",
    "Design",
    "ParameterSet",
    "Scenario",
    "Simulation",
    "baseline_mean",
    "simulate",
]


@dataclass(frozen=True)
class ParameterSet:
    """One row of the paper's table of baseline parameters."""

    number: int
    alpha: float
    beta: float
    gamma1: float
    gamma2: float
    phi: float


#: The seven parameter sets of Noufaily et al. (2013).
PARAMETER_SETS: tuple[ParameterSet, ...] = (
    ParameterSet(1, 0.1, 0.0025, 0.6, 0.6, 1.5),
    ParameterSet(2, -2.0, 0.005, 0.1, 0.3, 2.0),
    ParameterSet(3, 1.5, 0.003, 0.2, -0.4, 1.0),
    ParameterSet(4, 0.5, 0.002, 0.5, 0.5, 5.0),
    ParameterSet(5, 2.5, 0.001, 1.0, 0.1, 3.0),
    ParameterSet(6, 3.75, 0.001, 0.1, -0.1, 1.1),
    ParameterSet(7, 5.0, 0.0001, 0.05, 0.01, 1.2),
)


@dataclass(frozen=True)
class Scenario:
    """A baseline model: a parameter set with or without trend, with 0-2 seasonal harmonics."""

    number: int
    parameter_set: int
    alpha: float
    beta: float
    gamma1: float
    gamma2: float
    m: int
    phi: float

    @property
    def trend(self) -> bool:
        return self.beta != 0.0


def _scenarios() -> tuple[Scenario, ...]:
    out: list[Scenario] = []
    for ps in PARAMETER_SETS:
        for trend in (False, True):
            for m in (0, 1, 2):
                out.append(
                    Scenario(
                        number=len(out) + 1,
                        parameter_set=ps.number,
                        alpha=ps.alpha,
                        beta=ps.beta if trend else 0.0,
                        gamma1=ps.gamma1 if m else 0.0,
                        gamma2=ps.gamma2 if m else 0.0,
                        m=m,
                        phi=ps.phi,
                    )
                )
    return tuple(out)


#: The 42 scenarios, numbered 1..42 (see the module docstring for the order).
SCENARIOS: tuple[Scenario, ...] = _scenarios()


@dataclass(frozen=True)
class Design:
    """Lengths, windows and outbreak settings of the simulation (defaults: the paper's design)."""

    weeks: int = 624
    current_weeks: int = 49
    past_window: tuple[int, int] = (313, 575)
    past_outbreaks: int = 4
    k_past: tuple[float, ...] = (2.0, 3.0, 5.0, 10.0)
    k_current: tuple[float, ...] = tuple(float(k) for k in range(1, 11))
    current_outbreak: bool = True
    delay_meanlog: float = 0.0
    delay_sdlog: float = 0.5
    start: str = "2000-01-03"  # a Monday (ISO week 2000-W01)

    def __post_init__(self) -> None:
        if self.weeks < 2 or not 1 <= self.current_weeks < self.weeks:
            raise ValueError(f"need weeks >= 2 and 1 <= current_weeks < weeks, got {self.weeks}, {self.current_weeks}")
        lo, hi = self.past_window
        if self.past_outbreaks and not 1 <= lo <= hi <= self.weeks - self.current_weeks:
            raise ValueError(f"past_window {self.past_window} must lie in weeks 1..{self.weeks - self.current_weeks}")
        if self.past_outbreaks < 0:
            raise ValueError("past_outbreaks must be >= 0")
        if not self.k_past or not self.k_current or min(*self.k_past, *self.k_current) < 0:
            raise ValueError("k_past and k_current must be non-empty and non-negative")
        if self.delay_sdlog < 0:
            raise ValueError("delay_sdlog must be >= 0")
        if np.datetime64(self.start, "D").astype(object).weekday() != 0:
            raise ValueError(f"start {self.start} is not a Monday")

    @property
    def first_current_week(self) -> int:
        """1-based number of the first current week (576 by default)."""
        return self.weeks - self.current_weeks + 1

    def dates(self) -> NDArray[np.datetime64]:
        """Period starts (Mondays) of the ``weeks`` weeks."""
        return np.datetime64(self.start, "D") + 7 * np.arange(self.weeks).astype("timedelta64[D]")


@dataclass(frozen=True, eq=False)
class Simulation:
    """Simulated series: one row per (scenario, replicate), scenario-major."""

    design: Design
    names: tuple[str, ...]
    scenario: NDArray[np.int64]
    replicate: NDArray[np.int64]
    dates: NDArray[np.datetime64]
    counts: NDArray[np.int64]
    outbreak: NDArray[np.bool_]
    mean: NDArray[np.float64]
    outbreak_cases: NDArray[np.int64] = field(repr=False)

    @property
    def n_series(self) -> int:
        return int(self.counts.shape[0])


def baseline_mean(scenario: Scenario, t: NDArray[np.float64] | NDArray[np.int64]) -> NDArray[np.float64]:
    """``mu_t`` of the scenario for weeks ``t`` (1-based)."""
    tt = np.asarray(t, dtype=np.float64)
    eta = scenario.alpha + scenario.beta * tt
    for j in range(1, scenario.m + 1):
        eta = (
            eta
            + scenario.gamma1 * np.cos(2 * math.pi * j * tt / 52)
            + scenario.gamma2 * np.sin(2 * math.pi * j * tt / 52)
        )
    return np.asarray(np.exp(eta), dtype=np.float64)


def _negative_binomial(rng: np.random.Generator, mu: NDArray[np.float64], phi: float) -> NDArray[np.int64]:
    if phi == 1.0:
        return rng.poisson(mu).astype(np.int64)
    return rng.negative_binomial(mu / (phi - 1.0), 1.0 / phi).astype(np.int64)


def _add_outbreak(
    rng: np.random.Generator,
    cases_row: NDArray[np.int64],
    flag_row: NDArray[np.bool_],
    start: int,
    size_mean: float,
    last: int,
    design: Design,
) -> None:
    """Add one outbreak starting at 0-based index ``start``; cases beyond index ``last`` are dropped."""
    n_cases = int(rng.poisson(size_mean))
    if n_cases == 0:
        return
    offsets = np.floor(rng.lognormal(design.delay_meanlog, design.delay_sdlog, n_cases)).astype(np.int64)
    weeks = start + offsets
    weeks = weeks[weeks <= last]
    if weeks.size == 0:
        return
    np.add.at(cases_row, weeks, 1)
    flag_row[weeks.min() : weeks.max() + 1] = True


def simulate(
    replicates: int = 1,
    *,
    seed: int | np.random.Generator | None = None,
    scenarios: Sequence[Scenario] | None = None,
    design: Design | None = None,
) -> Simulation:
    """Simulate ``replicates`` series of every scenario (all 42 by default).

    Series are named ``s<scenario:02d>-r<replicate:03d>`` and ordered by
    scenario, then replicate.  ``seed`` (an int or a Generator) makes the run
    reproducible.
    """
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise ValueError(f"replicates must be a positive integer, got {replicates!r}")
    des = design or Design()
    scs = tuple(SCENARIOS if scenarios is None else scenarios)
    if not scs:
        raise ValueError("no scenario to simulate")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    t = np.arange(1, des.weeks + 1)
    n = len(scs) * replicates
    counts = np.zeros((n, des.weeks), dtype=np.int64)
    extra = np.zeros((n, des.weeks), dtype=np.int64)
    flags = np.zeros((n, des.weeks), dtype=bool)
    means = np.zeros((n, des.weeks), dtype=np.float64)
    scen_ids = np.repeat(np.array([s.number for s in scs], dtype=np.int64), replicates)
    reps = np.tile(np.arange(1, replicates + 1, dtype=np.int64), len(scs))
    cur0 = des.first_current_week - 1  # 0-based index of the first current week
    lo, hi = des.past_window
    row = 0
    for sc in scs:
        mu = baseline_mean(sc, t)
        sd = np.sqrt(sc.phi * mu)
        for _ in range(replicates):
            counts[row] = _negative_binomial(rng, mu, sc.phi)
            means[row] = mu
            for _ in range(des.past_outbreaks):
                s = int(rng.integers(lo, hi + 1)) - 1
                k = float(rng.choice(des.k_past))
                _add_outbreak(rng, extra[row], flags[row], s, k * sd[s], cur0 - 1, des)
            if des.current_outbreak:
                s = int(rng.integers(cur0, des.weeks))
                k = float(rng.choice(des.k_current))
                _add_outbreak(rng, extra[row], flags[row], s, k * sd[s], des.weeks - 1, des)
            row += 1
    names = tuple(f"s{s:02d}-r{r:03d}" for s, r in zip(scen_ids.tolist(), reps.tolist(), strict=True))
    return Simulation(
        design=des,
        names=names,
        scenario=scen_ids,
        replicate=reps,
        dates=des.dates(),
        counts=counts + extra,
        outbreak=flags,
        mean=means,
        outbreak_cases=extra,
    )
