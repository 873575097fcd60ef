"""``dhnet evaluate`` (algo.quality per series and overall) and ``dhnet simulate`` (Noufaily et al. 2013)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dhnet.surveillance.evaluation import algo_quality, pool
from tests.cli.conftest import one_line_error, write_csv

HEP = "hepatitis_a_berlin_districts_weekly.csv"


def _truth_and_alarms(tmp_path: Path) -> tuple[Path, Path]:
    truth = write_csv(
        tmp_path / "truth.csv",
        [
            ("a", "2020-01-06", 1, 0),
            ("a", "2020-01-13", 9, 1),
            ("a", "2020-01-20", 9, 1),
            ("a", "2020-01-27", 1, 0),
            ("a", "2020-02-03", 1, 0),
            ("b", "2020-01-06", 1, 0),
            ("b", "2020-01-13", 1, 0),
            ("b", "2020-01-20", 1, 1),
        ],
        header=("series", "period_start", "count", "outbreak"),
    )
    alarms = write_csv(
        tmp_path / "alarms.csv",
        [
            ("b", "2020-01-13", 1, "", "", 1, ""),
            ("b", "2020-01-20", 1, "", "", 0, ""),
            ("a", "2020-01-20", 9, "", "", 1, ""),  # unsorted within the series on purpose
            ("a", "2020-01-13", 9, "", "", 0, ""),
            ("a", "2020-01-27", 1, "", "", 1, ""),
        ],
        header=("series", "period_start", "observed", "expected", "upperbound", "alarm", "score"),
    )
    return truth, alarms


def test_evaluate_hand_computed(run: Any, tmp_path: Path) -> None:
    truth, alarms = _truth_and_alarms(tmp_path)
    out = tmp_path / "q.csv"
    r = run("evaluate", truth, "--alarms", alarms, "--output", out)
    assert r.exit_code == 0, r.stderr
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(x["level"], x["series"]) for x in rows] == [("series", "b"), ("series", "a"), ("overall", "")]
    b, a, overall = rows
    # a (weeks 13, 20, 27): state 1 1 0, alarm 0 1 1 -> TP 1, FN 1, FP 1; lag 1; detected.
    assert (a["TP"], a["FP"], a["TN"], a["FN"], a["mlag"], a["detected"]) == ("1", "1", "0", "1", "1.0", "1")
    # b (weeks 13, 20): state 0 1, alarm 1 0 -> FP 1, FN 1; the last episode has no alarm -> lag 20.
    assert (b["TP"], b["FP"], b["FN"], b["mlag"], b["pod"], b["fpr"]) == ("0", "1", "1", "20.0", "0.0", "1.0")
    assert overall["mlag"] == "10.5"
    assert overall["pod"] == "0.5"
    assert b["sens"] == "0.0"
    assert a["spec"] == "0.0"


def test_evaluate_json_and_table(run: Any, tmp_path: Path) -> None:
    truth, alarms = _truth_and_alarms(tmp_path)
    r = run("evaluate", truth, "--alarms", alarms, "--json", "--penalty", "5")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["penalty"] == 5
    assert doc["overall"]["mlag"] == 3.0
    assert [s["series"] for s in doc["series"]] == ["b", "a"]
    assert doc["series"][0]["sens"] == 0.0
    table = run("evaluate", truth, "--alarms", alarms)
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split()[:3] == ["level", "series", "periods"]
    assert table.stdout.splitlines()[-1].startswith("overall")


def test_evaluate_real_data_matches_library(run: Any, data_dir: Path, tmp_path: Path) -> None:
    alarms = tmp_path / "alarms.csv"
    r = run("detect", data_dir / HEP, "--method", "ears", "--from", "2002-01-07", "--quiet", "--output", alarms)
    assert r.exit_code == 0, r.stderr
    r = run("evaluate", data_dir / HEP, "--alarms", alarms, "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    truth = pd.read_csv(data_dir / HEP, dtype={"series": str})
    al = pd.read_csv(alarms, dtype={"series": str})
    merged = al.merge(truth, on=["series", "period_start"])
    qs = []
    for s, g in merged.groupby("series", sort=False):
        q = algo_quality(g["outbreak"].to_numpy(), g["alarm"].to_numpy())
        qs.append(q)
        got = next(x for x in doc["series"] if x["series"] == s)
        assert (got["TP"], got["FP"], got["TN"], got["FN"]) == (q.tp, q.fp, q.tn, q.fn)
        assert got["mlag"] == q.mlag
    assert doc["overall"]["fpr"] == pool(qs).fpr


@pytest.mark.parametrize(
    ("truth_rows", "alarm_rows", "expect"),
    [
        ([("a", "2020-01-06", 1, 2)], [("a", "2020-01-06", 1)], ["truth.csv", "data row 1", "outbreak must be 0 or 1"]),
        ([("a", "2020-01-06", 1, 0)], [("a", "2020-01-13", 1)], ["alarms.csv", "data row 1", "no outbreak label"]),
        ([("a", "2020-01-06", 1, 0)], [("a", "2020-01-06", 1), ("a", "2020-01-06", 0)], ["duplicate", "data row 2"]),
    ],
)
def test_evaluate_bad_input(
    run: Any,
    tmp_path: Path,
    truth_rows: list[tuple[object, ...]],
    alarm_rows: list[tuple[object, ...]],
    expect: list[str],
) -> None:
    truth = write_csv(tmp_path / "truth.csv", truth_rows, header=("series", "period_start", "count", "outbreak"))
    alarms = write_csv(tmp_path / "alarms.csv", alarm_rows, header=("series", "period_start", "alarm"))
    line = one_line_error(run("evaluate", truth, "--alarms", alarms))
    for e in expect:
        assert e in line, (e, line)


def test_evaluate_needs_outbreak_column(run: Any, data_dir: Path, tmp_path: Path) -> None:
    alarms = write_csv(tmp_path / "alarms.csv", [("x", "2020-01-06", 0)], header=("series", "period_start", "alarm"))
    line = one_line_error(run("evaluate", data_dir / "campylobacter_germany_weekly_humidity.csv", "--alarms", alarms))
    assert "missing column(s) outbreak" in line


def test_simulate_writes_reproducible_long_csv(run: Any, tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert run("simulate", "--output", a, "--replicates", "2", "--seed", "5").exit_code == 0
    assert run("simulate", "--output", b, "--replicates", "2", "--seed", "5").exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    df = pd.read_csv(a)
    assert list(df.columns) == ["series", "period_start", "count", "outbreak"]
    assert len(df) == 42 * 2 * 624
    assert df["series"].nunique() == 84
    assert set(df["outbreak"].unique()) <= {0, 1}
    # The simulated file is valid detect input.
    out = tmp_path / "alarms.csv"
    r = run("detect", a, "--method", "ears", "--from", str(df["period_start"].iloc[575]), "--quiet", "--output", out)
    assert r.exit_code == 0, r.stderr
    assert len(pd.read_csv(out)) == 84 * 49


def test_simulate_scores_methods(run: Any, tmp_path: Path) -> None:
    r = run("simulate", "--output", tmp_path / "s.csv", "--replicates", "3", "--method", "ears", "--method", "cusum")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:5] == ["method", "group", "series", "fpr", "pod"]
    body = [ln.split() for ln in lines[1:]]
    assert [b[0] for b in body] == ["ears"] * 8 + ["cusum"] * 8
    assert [b[1:3] for b in body[:8]][-1] == ["all", "126"]
    for b in body:
        fpr, pod = float(b[3]), float(b[4])
        assert 0 <= fpr <= 1
        assert math.isnan(pod) or 0 <= pod <= 1
    by = run("simulate", "--output", tmp_path / "s.csv", "--replicates", "1", "--method", "ears", "--by", "trend")
    assert [ln.split()[1] for ln in by.stdout.splitlines()[1:]] == ["no-trend", "trend", "all"]


def test_simulate_unknown_method(run: Any, tmp_path: Path) -> None:
    line = one_line_error(run("simulate", "--output", tmp_path / "s.csv", "--method", "nope"))
    assert "unknown method 'nope'" in line
    assert not (tmp_path / "s.csv").exists()


def test_simulated_current_outbreak_is_in_last_49_weeks(tmp_path: Path) -> None:
    from dhnet.surveillance.simulation import simulate

    sim = simulate(3, seed=2)
    assert np.all(sim.outbreak[:, 575:].sum(axis=1) >= 0)
    assert sim.outbreak[:, 575:].any(axis=1).mean() > 0.5
