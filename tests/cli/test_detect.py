"""``dhnet detect``: output, options, input validation, streaming and atomic writes."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dhnet.surveillance import Frequency, Panel, detect
from tests.cli.conftest import monthly_rows, one_line_error, weekly_rows, write_csv

NEWPORT = "salmonella_newport_germany_states_weekly.csv"
OUTPUT_HEADER = ["series", "period_start", "observed", "expected", "upperbound", "alarm", "score"]


def read_output(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == OUTPUT_HEADER
        return list(reader)


def parse(text: str) -> float:
    return math.nan if text == "" else float(text)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def library_panel(path: Path) -> Panel:
    df = pd.read_csv(path, dtype={"series": str})
    names = list(dict.fromkeys(df["series"]))
    dates = np.array(sorted(df["period_start"].unique()), dtype="datetime64[D]")
    counts = df.pivot(index="series", columns="period_start", values="count").loc[names].to_numpy(float)
    return Panel(names=tuple(names), dates=dates, counts=counts, freq=Frequency.WEEKLY)


def test_output_equals_library_exactly(run: Any, data_dir: Path, tmp_path: Path) -> None:
    """Every value written is the library's double, exactly (shortest round-trip text)."""
    out = tmp_path / "out.csv"
    r = run("detect", data_dir / NEWPORT, "--method", "ears", "--from", "2012-01-02", "--quiet", "--output", out)
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    rows = read_output(out)
    res = detect(library_panel(data_dir / NEWPORT), "ears", start="2012-01-02")
    assert len(rows) == res.observed.size
    for k, row in enumerate(rows):
        i, j = divmod(k, res.dates.size)
        assert row["series"] == res.names[i]
        assert row["period_start"] == str(res.dates[j])
        assert row["alarm"] == str(int(res.alarm[i, j]))
        for col in ("observed", "expected", "upperbound", "score"):
            assert same(parse(row[col]), float(getattr(res, col)[i, j])), (k, col, row[col])


def test_method_options_and_summary(run: Any, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    r = run(
        "detect",
        data_dir / NEWPORT,
        "--method=ears",
        "--variant",
        "C2",
        "--alpha=0.01",
        "--min-sigma",
        "0.5",
        "--from",
        "2013-01-07",
        "--to",
        "2013-03-25",
        "--output",
        out,
    )
    assert r.exit_code == 0, r.stderr
    assert "16 series" in r.stderr
    rows = read_output(out)
    res = detect(
        library_panel(data_dir / NEWPORT),
        "ears",
        variant="C2",
        alpha=0.01,
        min_sigma=0.5,
        start="2013-01-07",
        end="2013-03-25",
    )
    assert len(rows) == 16 * 12
    ub = np.array([parse(r["upperbound"]) for r in rows]).reshape(16, 12)
    np.testing.assert_array_equal(ub, res.upperbound)
    assert {r["period_start"] for r in rows} == {str(d) for d in res.dates}


def test_parquet_in_and_out_match_csv(run: Any, data_dir: Path, tmp_path: Path) -> None:
    df = pd.read_csv(data_dir / NEWPORT, dtype={"series": str}, parse_dates=["period_start"])
    df["period_start"] = df["period_start"].dt.date
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "in.parquet", row_group_size=1000)
    a, b = tmp_path / "a.csv", tmp_path / "b.parquet"
    args = ("--method", "ears", "--from", "2013-01-07", "--quiet")
    assert run("detect", data_dir / NEWPORT, *args, "--output", a).exit_code == 0
    r = run("detect", tmp_path / "in.parquet", *args, "--output", b)
    assert r.exit_code == 0, r.stderr
    ta = pd.read_csv(a, dtype={"series": str})
    tb = pq.read_table(b).to_pandas()
    assert list(tb.columns) == OUTPUT_HEADER
    assert tb["period_start"].astype(str).tolist() == ta["period_start"].tolist()
    for col in ("observed", "expected", "upperbound", "score"):
        np.testing.assert_array_equal(tb[col].to_numpy(float), ta[col].to_numpy(float))
    assert tb["alarm"].tolist() == ta["alarm"].tolist()


def test_batches_and_mixed_calendars_keep_input_order(run: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows: list[tuple[object, ...]] = []
    names = []
    for k in range(9):
        name = f"s{k}"
        names.append(name)
        counts = rng.poisson(4, 30).tolist()
        if k % 3 == 0:
            rows += weekly_rows(name, "2020-01-06", counts)
        elif k % 3 == 1:
            rows += monthly_rows(name, "2019-01-01", counts)
        else:
            rows += weekly_rows(name, "2020-05-20", counts[:20], step_days=1)
    src = write_csv(tmp_path / "mixed.csv", rows)
    outs = []
    for batch in ("1", "2", "4", "100"):
        out = tmp_path / f"out{batch}.csv"
        args = ("--method", "ears", "--from", "2020-06-01", "--batch-series", batch, "--quiet", "--output", out)
        r = run("detect", src, *args)
        assert r.exit_code == 0, r.stderr
        outs.append(out.read_bytes())
    assert all(o == outs[0] for o in outs)
    got = [r["series"] for r in read_output(tmp_path / "out1.csv")]
    assert list(dict.fromkeys(got)) == names
    # One --from date for three calendars: weekly Jun 1 - Jul 27, monthly Jun 2020 - Jun 2021, daily Jun 1 - 8.
    per = pd.read_csv(tmp_path / "out1.csv", dtype={"series": str}).groupby("series").size()
    assert (per["s0"], per["s1"], per["s2"]) == (9, 13, 8)


def test_rows_of_a_series_may_come_unsorted(run: Any, tmp_path: Path) -> None:
    rows = weekly_rows("a", "2020-01-06", list(range(12)))
    shuffled = [rows[i] for i in (5, 0, 11, 3, 1, 2, 4, 10, 6, 7, 9, 8)]
    a = write_csv(tmp_path / "a.csv", rows)
    b = write_csv(tmp_path / "b.csv", shuffled)
    for src, out in ((a, tmp_path / "oa.csv"), (b, tmp_path / "ob.csv")):
        assert run("detect", src, "--method", "ears", "--from", "2020-02-24", "--quiet", "--output", out).exit_code == 0
    assert (tmp_path / "oa.csv").read_bytes() == (tmp_path / "ob.csv").read_bytes()


def test_fill_missing_zero(run: Any, tmp_path: Path) -> None:
    rows = weekly_rows("a", "2020-01-06", [3] * 20)
    del rows[8:10]  # two missing weeks: 2020-03-02 and 2020-03-09
    src = write_csv(tmp_path / "gap.csv", rows)
    out = tmp_path / "out.csv"
    line = one_line_error(run("detect", src, "--method", "ears", "--from", "2020-03-02", "--output", out))
    assert "2 missing periods between 2020-02-24 (data row 8) and 2020-03-16" in line
    assert "data row 9" in line
    assert "series 'a'" in line
    assert "--fill-missing zero" in line
    assert not out.exists()
    args = ("--method", "ears", "--from", "2020-03-02", "--fill-missing", "zero", "--quiet", "--output", out)
    r = run("detect", src, *args)
    assert r.exit_code == 0, r.stderr
    got = read_output(out)
    assert [g["period_start"] for g in got[:3]] == ["2020-03-02", "2020-03-09", "2020-03-16"]
    assert [g["observed"] for g in got[:3]] == ["0", "0", "3"]
    assert len(got) == 18 - 8 + 2


def test_mmwr_weeks(run: Any, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "cdc.csv", weekly_rows("a", "2020-01-05", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
    out = tmp_path / "out.csv"
    line = one_line_error(run("detect", src, "--method", "ears", "--from", "2020-02-23", "--output", out))
    assert "is a Sunday" in line
    assert "--week-system mmwr" in line
    assert "data row 1" in line
    r = run(
        "detect", src, "--method", "ears", "--from", "2020-02-23", "--week-system", "mmwr", "--quiet", "--output", out
    )
    assert r.exit_code == 0, r.stderr
    assert read_output(out)[0]["period_start"] == "2020-02-23"


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ("series,period_start\na,2020-01-06\n", ["missing column count"]),
        (
            "series,period_start,count\na,2020-01-06,1\na,2020-01-13,-1\n",
            ["data row 2", "'a'", "non-negative integer", "-1"],
        ),
        ("series,period_start,count\na,2020-01-06,1.5\na,2020-01-13,1\n", ["data row 1", "'a'", "1.5"]),
        (
            "series,period_start,count\na,2020-01-06,1\nb,2020-01-13,abc\n",
            ["data row 2", "'b'", "'abc' is not a number"],
        ),
        ("series,period_start,count\na,2020-01-06,1\na,2020-01-13,\n", ["data row 2", "'a'", "count is missing"]),
        (
            "series,period_start,count\na,2020-01-06,1\na,2020-01-06,2\n",
            ["data row 2", "'a'", "duplicate period 2020-01-06", "data row 1"],
        ),
        (
            "series,period_start,count\na,2020-01-06,1\na,2020-01-14,2\n",
            ["data row 1", "'a'", "neither daily, weekly nor monthly"],
        ),
        ("series,period_start,count\na,2020-01-07,1\na,2020-01-14,2\n", ["data row 1", "'a'", "Tuesday", "Monday"]),
        ("series,period_start,count\na,2020-01-06,1\na,2020/01/13,2\n", ["data row 2", "'a'", "not an ISO date"]),
        ("series,period_start,count\na,2020-01-06,1\na,2020-01-13,2,9\n", ["data row 2", "expected 3 fields"]),
        (
            "series,period_start,count\na,2020-01-06,1\nb,2020-01-06,1\nb,2020-01-13,1\na,2020-01-13,1\n",
            ["data row 4", "'a'", "not contiguous"],
        ),
        (
            "series,period_start,count\na,2020-01-06,1\nb,2020-01-06,1\nb,2020-01-13,1\n",
            ["data row 1", "'a'", "two periods"],
        ),
        ("series,period_start,count\na,2020-01-15,1\na,2020-02-15,2\n", ["data row 1", "'a'", "first day of a month"]),
        (
            "series,period_start,count,population\na,2020-01-06,1,100\na,2020-01-13,1,0\n",
            ["data row 2", "'a'", "population must be positive"],
        ),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(run: Any, tmp_path: Path, content: str, expect: list[str]) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(content)
    out = tmp_path / "out.csv"
    line = one_line_error(run("detect", src, "--method", "ears", "--from", "2020-01-06", "--output", out))
    assert str(src) in line
    for e in expect:
        assert e in line, (e, line)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_history_too_short_names_row_and_series(run: Any, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "short.csv", weekly_rows("x", "2020-01-06", [1, 2, 3, 4, 5]))
    out = tmp_path / "out.csv"
    line = one_line_error(run("detect", src, "--method", "ears", "--from", "2020-01-20", "--output", out))
    assert str(src) in line
    assert "series 'x'" in line
    assert "data row" in line
    assert not out.exists()


def test_existing_output_kept_on_error(run: Any, tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", weekly_rows("a", "2020-01-06", list(range(10))))
    rows = [*weekly_rows("a", "2020-01-06", list(range(10))), ("b", "2020-01-06", -3)]
    bad = write_csv(tmp_path / "bad.csv", rows)
    out = tmp_path / "out.csv"
    assert run("detect", good, "--method", "ears", "--from", "2020-02-24", "--quiet", "--output", out).exit_code == 0
    before = out.read_bytes()
    # The error comes after the first batch was already written to the temporary file.
    one_line_error(
        run("detect", bad, "--method", "ears", "--from", "2020-02-24", "--batch-series", "1", "--output", out)
    )
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "good.csv", "out.csv"]


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--method", "nope"], ["unknown method 'nope'", "ears"]),
        (["--method", "ears", "--bogus", "1"], ["unknown option --bogus", "'ears'"]),
        (["--method", "ears", "--baselin", "5"], ["did you mean --baseline"]),
        (["--method", "ears", "--baseline", "two"], ["--baseline", "'two'", "integer"]),
        (["--method", "ears", "--baseline", "1"], ["baseline", ">= 3"]),
        (["--method", "ears", "--variant", "C9"], ["--variant", "C1, C2, C3"]),
        (["--method", "ears", "--alpha", "2"], ["alpha"]),
        (["--method", "ears", "--preset", "noufaily"], ["no preset 'noufaily'"]),
        (["--method", "ears", "--from", "2020-13-01"], ["--from", "not an ISO date"]),
        (["--method", "ears", "--from", "2020-03-02", "--to", "2020-02-03"], ["before --from"]),
        (["--method", "ears", "--from", "2020-03-03"], ["--from 2020-03-03 is not a period start", "data row 1"]),
        (["--method", "ears", "--from", "2031-01-06"], ["no period to evaluate", "series 'a'"]),
        (["--method", "ears", "--dask", "nowhere"], ["--dask", "local:N"]),
        (["--method", "ears", "--plot", "x.pdf"], ["--plot must end with"]),
    ],
)
def test_bad_settings_exit_2(run: Any, tmp_path: Path, args: list[str], expect: list[str]) -> None:
    src = write_csv(tmp_path / "in.csv", weekly_rows("a", "2020-01-06", list(range(12))))
    out = tmp_path / "out.csv"
    line = one_line_error(run("detect", src, *args, "--output", out))
    for e in expect:
        assert e in line, (e, line)
    assert not out.exists()


def test_flags_tuples_and_none_values(run: Any, data_dir: Path, tmp_path: Path) -> None:
    """Generic option mapping on another method: bool flags, Literal and Optional values."""
    out = tmp_path / "out.csv"
    args = ("--method", "glrpois", "--from", "2013-01-07", "--quiet", "--output", out)
    r = run("detect", data_dir / NEWPORT, *args, "--mu0-trend", "--no-mu0-refit", "--theta", "none", "--c-arl", "4")
    assert r.exit_code == 0, r.stderr
    res = detect(
        library_panel(data_dir / NEWPORT), "glrpois", start="2013-01-07", mu0_trend=True, mu0_refit=False, c_arl=4.0
    )
    got = np.array([parse(x["upperbound"]) for x in read_output(out)]).reshape(res.upperbound.shape)
    np.testing.assert_array_equal(got, res.upperbound)


def test_progress_bar_only_for_large_inputs_and_not_when_quiet(run: Any, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    args = (data_dir / NEWPORT, "--method", "ears", "--from", "2013-01-07", "--output", out)
    small = run("detect", *args)
    assert small.exit_code == 0
    assert small.stderr.count("\n") == 1  # just the summary
    big = run("detect", *args, "--batch-series", "2")
    assert "dhnet detect:" in big.stderr
    assert "%" in big.stderr
    quiet = run("detect", *args, "--batch-series", "2", "--quiet")
    assert quiet.stderr == ""


def test_round_trip_of_floats(run: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    rows = weekly_rows("a", "2020-01-06", rng.poisson(7, 40).tolist())
    src = write_csv(tmp_path / "in.csv", rows)
    out = tmp_path / "out.csv"
    assert run("detect", src, "--method", "ears", "--from", "2020-03-02", "--quiet", "--output", out).exit_code == 0
    panel = Panel.from_counts([r[2] for r in rows], start="2020-01-06", names=["a"])
    res = detect(panel, "ears", start="2020-03-02")
    text = [r["upperbound"] for r in read_output(out)]
    assert [float(t) for t in text] == res.upperbound[0].tolist()
    assert all(len(t) <= 24 for t in text)


def test_population_column_and_extra_columns(run: Any, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    src = data_dir / "influenza_bavaria_bw_districts_weekly.csv"  # has population and outbreak columns
    r = run("detect", src, "--method", "ears", "--from", "2008-01-07", "--quiet", "--output", out)
    assert r.exit_code == 0, r.stderr
    df = pd.read_csv(out, dtype={"series": str})
    assert df["series"].nunique() == 140
    assert df["series"].iloc[0] == "8336"  # series names are text (leading zeros kept elsewhere)


def test_preset_then_options_override(run: Any, data_dir: Path, tmp_path: Path) -> None:
    """--preset applies the registry's preset, then the command-line options replace fields of it."""
    out = tmp_path / "out.csv"
    args = ("--method", "farrington-flexible", "--preset", "noufaily", "--from", "2013-01-07", "--quiet")
    extra = ("--no-periods", "10", "--limit54", "0,4", "--past-weeks-not-included", "26", "--no-trend")
    r = run("detect", data_dir / NEWPORT, *args, *extra, "--output", out)
    assert r.exit_code == 0, r.stderr
    res = detect(
        library_panel(data_dir / NEWPORT),
        "farrington-flexible",
        preset="noufaily",
        start="2013-01-07",
        no_periods=10,
        limit54=(0, 4),
        past_weeks_not_included=26,
        trend=False,
    )
    rows = read_output(out)
    got = np.array([parse(x["upperbound"]) for x in rows]).reshape(res.upperbound.shape)
    np.testing.assert_array_equal(got, res.upperbound)
    assert [int(x["alarm"]) for x in rows] == res.alarm.ravel().astype(int).tolist()
    plain = detect(library_panel(data_dir / NEWPORT), "farrington-flexible", preset="noufaily", start="2013-01-07")
    assert not np.array_equal(plain.upperbound, res.upperbound, equal_nan=True)
