"""Tests of the Noufaily et al. (2013) simulation design in dhnet.surveillance.simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dhnet.surveillance.simulation import PARAMETER_SETS, SCENARIOS, Design, Scenario, baseline_mean, simulate


def test_scenarios_table() -> None:
    assert len(PARAMETER_SETS) == 7
    assert len(SCENARIOS) == 42
    assert [s.number for s in SCENARIOS] == list(range(1, 43))
    # Scenario 14: set 3 (alpha 1.5, phi 1), no trend, one harmonic.
    s14 = SCENARIOS[13]
    assert (s14.parameter_set, s14.alpha, s14.beta, s14.m, s14.gamma1, s14.gamma2, s14.phi) == (
        3,
        1.5,
        0.0,
        1,
        0.2,
        -0.4,
        1.0,
    )
    assert sum(s.trend for s in SCENARIOS) == 21
    assert all(s.gamma1 == s.gamma2 == 0.0 for s in SCENARIOS if s.m == 0)
    assert {s.m for s in SCENARIOS} == {0, 1, 2}


def test_baseline_mean_formula() -> None:
    sc = Scenario(1, 1, alpha=0.5, beta=0.01, gamma1=0.3, gamma2=-0.2, m=2, phi=2.0)
    t = np.array([1, 13, 600])
    want = [
        math.exp(
            0.5
            + 0.01 * x
            + sum(0.3 * math.cos(2 * math.pi * j * x / 52) - 0.2 * math.sin(2 * math.pi * j * x / 52) for j in (1, 2))
        )
        for x in t
    ]
    np.testing.assert_allclose(baseline_mean(sc, t), want, rtol=1e-14)


def test_shapes_names_and_reproducibility() -> None:
    a = simulate(2, seed=7)
    b = simulate(2, seed=7)
    c = simulate(2, seed=8)
    assert a.counts.shape == (84, 624)
    assert a.names[:3] == ("s01-r001", "s01-r002", "s02-r001")
    assert a.dates[0] == np.datetime64("2000-01-03")
    assert (a.dates[1:] - a.dates[:-1] == np.timedelta64(7, "D")).all()
    assert np.array_equal(a.counts, b.counts)
    assert np.array_equal(a.outbreak, b.outbreak)
    assert not np.array_equal(a.counts, c.counts)
    assert a.counts.min() >= 0


def test_outbreak_placement() -> None:
    sim = simulate(5, seed=1)
    des = sim.design
    cur0 = des.first_current_week - 1
    assert cur0 == 575
    # Outbreak cases only where flagged, never outside the past window and the current weeks.
    assert not (sim.outbreak_cases > 0)[~sim.outbreak].any()
    assert not sim.outbreak[:, : des.past_window[0] - 1].any()
    # Every series has at most one outbreak episode in the current weeks (the current outbreak).
    cur = sim.outbreak[:, cur0:].astype(np.int8)
    starts = (np.diff(np.concatenate([np.zeros((sim.n_series, 1), np.int8), cur], axis=1), axis=1) == 1).sum(axis=1)
    assert starts.max() <= 1
    assert starts.mean() > 0.5  # most current outbreaks have at least one case
    assert np.array_equal(sim.counts - sim.outbreak_cases >= 0, np.ones_like(sim.counts, dtype=bool))


def test_baseline_moments_match_negative_binomial() -> None:
    # No outbreaks: the counts of one week over many replicates have mean mu and variance phi * mu.
    sc = SCENARIOS[3 * 6 + 0]  # set 4 (phi 5), no trend, no season: constant mean exp(0.5)
    des = Design(weeks=60, current_weeks=4, past_outbreaks=0, current_outbreak=False)
    sim = simulate(400, seed=3, scenarios=[sc], design=des)
    x = sim.counts.astype(float).ravel()
    mu = math.exp(0.5)
    assert x.mean() == pytest.approx(mu, rel=0.03)
    assert x.var() == pytest.approx(5.0 * mu, rel=0.08)
    assert not sim.outbreak.any()


def test_poisson_when_phi_is_one() -> None:
    sc = SCENARIOS[12]  # set 3, phi 1
    des = Design(weeks=60, current_weeks=4, past_outbreaks=0, current_outbreak=False)
    x = simulate(300, seed=4, scenarios=[sc], design=des).counts.astype(float).ravel()
    assert x.var() / x.mean() == pytest.approx(1.0, abs=0.05)


def test_outbreak_size_scales_with_k_and_sd() -> None:
    sc = SCENARIOS[6 * 6]  # set 7: mean exp(5), phi 1.2
    des = Design(weeks=120, current_weeks=20, past_outbreaks=0, k_current=(4.0,))
    sim = simulate(200, seed=5, scenarios=[sc], design=des)
    sd = math.sqrt(1.2 * math.exp(5.0))
    total = sim.outbreak_cases.sum(axis=1)
    # Cases past the last week are dropped, so the mean is somewhat below k * sd.
    assert 0.75 * 4 * sd < total.mean() <= 4 * sd * 1.05


def test_design_validation() -> None:
    with pytest.raises(ValueError, match="Monday"):
        Design(start="2000-01-04")
    with pytest.raises(ValueError, match="past_window"):
        Design(past_window=(300, 600))
    with pytest.raises(ValueError, match="replicates"):
        simulate(0)
