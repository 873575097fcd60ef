"""``dhnet detect --plot``: a self-contained HTML page (inline SVG) or a PNG of the series with most alarms."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from dhnet.cli._engine import ChunkResult
from dhnet.cli._io import OUTPUT_SCHEMA
from dhnet.cli._plot import AlarmPlotCollector, render_html
from tests.cli.conftest import weekly_rows, write_csv


def chunk(index: int, alarms_per_series: list[int], m: int = 6, prefix: str = "s") -> ChunkResult:
    n = len(alarms_per_series)
    alarm = np.zeros((n, m), dtype=np.int8)
    for i, a in enumerate(alarms_per_series):
        alarm[i, :a] = 1
    dates = np.datetime64("2021-01-04") + 7 * np.arange(m).astype("timedelta64[D]")
    obs = np.arange(n * m, dtype=float)
    table = pa.Table.from_arrays(
        [
            pa.array(np.repeat([f"{prefix}{index}-{i}" for i in range(n)], m)),
            pa.array(np.tile(dates, n)),
            pa.array(obs),
            pa.array(obs / 2),
            pa.array(np.where(np.arange(n * m) % 5 == 0, np.nan, obs), from_pandas=True),
            pa.array(alarm.ravel()),
            pa.array(obs),
        ],
        schema=OUTPUT_SCHEMA,
    )
    return ChunkResult(index=index, table=table, offsets=np.arange(0, n * m + 1, m, dtype=np.int64))


def test_collector_keeps_most_alarms_ties_in_input_order() -> None:
    c = AlarmPlotCollector(limit=3)
    c.add(chunk(0, [1, 3, 0, 2]))
    c.add(chunk(1, [3, 5, 2, 0]))
    assert [p.name for p in c.selected()] == ["s1-1", "s0-1", "s1-0"]
    assert (c.n_series, c.n_with_alarms, c.n_alarms) == (8, 6, 16)
    assert c.selected()[0].upperbound.size == 6


def test_html_is_self_contained_and_well_formed() -> None:
    c = AlarmPlotCollector(limit=50)
    for k in range(3):
        c.add(chunk(k, [k % 3, 1, 0, 2] * 6, prefix="<&\"'>"))
    page = render_html(c, title="t & t", meta=["Input: a<b>.csv"])
    assert "<script" not in page
    assert "<link" not in page
    assert "http://" not in page
    assert "https://" not in page
    assert "src=" not in page
    assert "@import" not in page
    assert "Showing 50 of 72 series" in page
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert len(svgs) == 50
    for svg in svgs:
        ET.fromstring(svg)  # well-formed XML (escaped names and titles)
    assert "a&lt;b&gt;.csv" in page
    assert page.count('<circle class="al"') == sum(p.n_alarms for p in c.selected())


def test_cli_html_and_png(run: Any, data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "influenza_bavaria_bw_districts_weekly.csv"
    out, html, png = tmp_path / "out.csv", tmp_path / "alarms.html", tmp_path / "alarms.png"
    args = (src, "--method", "ears", "--from", "2008-01-07", "--quiet", "--output", out)
    assert run("detect", *args, "--plot", html).exit_code == 0
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "Showing 50 of 140 series" in page
    assert page.count("<svg") == 50
    assert "2008-01-07 (2008-W02)" in page  # ISO week labels (epiweeks)
    assert run("detect", *args, "--plot", png).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mmwr_labels(run: Any, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "cdc.csv", weekly_rows("a", "2021-01-03", list(range(12))))
    html = tmp_path / "p.html"
    args = ("--method", "ears", "--from", "2021-02-21", "--week-system", "mmwr", "--quiet")
    assert run("detect", src, *args, "--output", tmp_path / "o.csv", "--plot", html).exit_code == 0
    assert "2021-02-21 (2021-W08)" in html.read_text()
