"""Streaming input (dhnet.cli._io): series across block boundaries, Parquet types, compression, filling."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dhnet.cli._errors import InputError
from dhnet.cli._io import CsvSource, ParquetSource, SeriesAssembler, open_source
from dhnet.surveillance import Frequency
from tests.cli.conftest import weekly_rows, write_csv


def collect(source: Any, **kw: Any) -> list[tuple[str, str, list[float], list[int]]]:
    """(name, first date, counts, data rows) per series, in chunk order."""
    out = []
    for chunk in SeriesAssembler(source, **kw).chunks():
        by_pos = {}
        for job in chunk.jobs:
            for k, pos in enumerate(job.positions.tolist()):
                rows = [job.row_of(k, t) or 0 for t in range(job.panel.n_periods)]
                by_pos[pos] = (
                    job.panel.names[k],
                    str(job.panel.dates[0]),
                    job.panel.counts[k].tolist(),
                    rows,
                )
        assert sorted(by_pos) == list(range(chunk.n_series))
        out += [by_pos[p] for p in range(chunk.n_series)]
    return out


def test_series_straddling_small_blocks(tmp_path: Path) -> None:
    rows = []
    for k in range(7):
        rows += weekly_rows(f"series-{k}", "2021-01-04", list(range(k, k + 5 + k)))
    src = write_csv(tmp_path / "in.csv", rows)
    got = collect(CsvSource(str(src), block_size=64), batch_series=3)
    assert [g[0] for g in got] == [f"series-{k}" for k in range(7)]
    assert got[3][2] == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    first = 1 + sum(5 + k for k in range(3))
    assert got[3][3] == list(range(first, first + 8))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lengths=st.lists(st.integers(2, 12), min_size=1, max_size=12),
    block=st.integers(40, 400),
    batch=st.integers(1, 5),
)
def test_any_blocking_gives_the_same_series(tmp_path: Path, lengths: list[int], block: int, batch: int) -> None:
    rows = []
    for k, n in enumerate(lengths):
        rows += weekly_rows(f"s{k}", "2021-01-04", [(k * 7 + i) % 11 for i in range(n)])
    src = write_csv(tmp_path / "prop.csv", rows)
    want = collect(CsvSource(str(src)), batch_series=1000)
    got = collect(CsvSource(str(src), block_size=block), batch_series=batch)
    assert got == want
    assert [len(g[2]) for g in got] == lengths


def test_gzip_csv(tmp_path: Path) -> None:
    rows = weekly_rows("a", "2021-01-04", [1, 2, 3]) + weekly_rows("b", "2021-01-04", [4, 5, 6])
    plain = write_csv(tmp_path / "in.csv", rows)
    gz = tmp_path / "in.csv.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    src = open_source(str(gz))
    assert isinstance(src, CsvSource)
    assert collect(src) == collect(CsvSource(str(plain)))


def test_gzip_bad_value_is_located(tmp_path: Path) -> None:
    gz = tmp_path / "bad.csv.gz"
    gz.write_bytes(gzip.compress(b"series,period_start,count\na,2021-01-04,1\na,2021-01-11,x\n"))
    with pytest.raises(InputError, match="data row 2, series 'a': count 'x' is not a number"):
        collect(open_source(str(gz)))


def test_parquet_types(tmp_path: Path) -> None:
    table = pa.table(
        {
            "series": pa.array([8336, 8336, 8336, 9162, 9162, 9162], type=pa.int32()),
            "period_start": pa.array(
                np.array(["2021-01-04", "2021-01-11", "2021-01-18"] * 2, dtype="datetime64[ms]"),
            ),
            "count": pa.array([1, 2, 3, 4, 5, 6], type=pa.int64()),
            "population": pa.array([10.0] * 6),
            "other": pa.array(["x"] * 6),
        }
    )
    path = tmp_path / "in.parquet"
    pq.write_table(table, path, row_group_size=4)
    src = ParquetSource(str(path), batch_rows=2)
    got = collect(src, batch_series=1)
    assert [g[0] for g in got] == ["8336", "9162"]
    assert got[1][2] == [4.0, 5.0, 6.0]
    assert got[1][3] == [4, 5, 6]


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        (
            "period_start",
            ["2021-01-04", "04/01/2021"],
            "row 2, series 'a': period_start '04/01/2021' is not an ISO date",
        ),
        ("count", ["1", "many"], "row 2, series 'a': count 'many' is not a number"),
    ],
)
def test_parquet_text_columns_are_checked(tmp_path: Path, column: str, values: list[str], message: str) -> None:
    cols: dict[str, Any] = {"series": ["a", "a"], "period_start": ["2021-01-04", "2021-01-11"], "count": ["1", "2"]}
    cols[column] = values
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table(cols), path)
    with pytest.raises(InputError, match=message):
        collect(ParquetSource(str(path)))


def test_parquet_timestamp_with_time_of_day_is_rejected(tmp_path: Path) -> None:
    ts = np.array(["2021-01-04T00:00", "2021-01-11T12:00"], dtype="datetime64[s]")
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"series": ["a", "a"], "period_start": pa.array(ts), "count": [1, 2]}), path)
    with pytest.raises(InputError, match="row 2, series 'a': period_start has a time of day"):
        collect(ParquetSource(str(path)))


def test_fill_missing_forward_fills_population(tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "in.csv",
        [
            ("m", "2021-01-01", 5, 100),
            ("m", "2021-02-01", 6, 110),
            ("m", "2021-05-01", 7, 130),
            ("d", "2021-03-01", 1, 50),
            ("d", "2021-03-02", 2, 55),
            ("d", "2021-03-05", 3, 60),
        ],
        header=("series", "period_start", "count", "population"),
    )
    chunk = next(SeriesAssembler(CsvSource(str(src)), fill_missing=True).chunks())
    monthly, daily = chunk.jobs
    assert monthly.panel.freq is Frequency.MONTHLY
    assert monthly.panel.counts[0].tolist() == [5, 6, 0, 0, 7]
    assert monthly.panel.population is not None
    assert monthly.panel.population[0].tolist() == [100, 110, 110, 110, 130]
    assert [monthly.row_of(0, t) for t in range(5)] == [1, 2, None, None, 3]
    assert daily.panel.freq is Frequency.DAILY
    assert daily.panel.counts[0].tolist() == [1, 2, 0, 0, 3]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        open_source(str(tmp_path / "nope.csv"))
    with pytest.raises(InputError, match="is a directory"):
        open_source(str(tmp_path))


def test_empty_input_gives_no_chunk(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", [])
    assert list(SeriesAssembler(CsvSource(str(src))).chunks()) == []


@pytest.mark.parametrize("bad", ["x", "-1"])
def test_blank_lines_are_not_data_rows(tmp_path: Path, bad: str) -> None:
    """Both the fast path (pyarrow) and the diagnosis (csv module) count data rows the same way."""
    src = tmp_path / "blank.csv"
    src.write_text(f"series,period_start,count\n\na,2020-01-06,1\n\n\na,2020-01-13,{bad}\n")
    with pytest.raises(InputError, match="data row 2, series 'a'"):
        collect(open_source(str(src)))
