"""The SVG of the planning pages read back: bar lengths from phases, milestones placed by date, late ones marked."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from dhnet.planning import charts
from dhnet.planning.gaps import compute_gaps


def test_gap_chart_draws_current_and_target_bars_proportional_to_phases() -> None:
    gaps = compute_gaps(
        [
            {"code": "21", "name": "IDs", "target_phase": 4, "target_year": 2027, "weight": Decimal(2)},
            {"code": "1", "name": "Gov", "target_phase": 3, "target_year": 2026, "weight": Decimal(1)},
        ],
        {"21": 1, "1": 5},
    )
    svg = charts.gap_chart(gaps, title="DE <gaps>")
    assert svg.startswith("<svg")
    assert "DE &lt;gaps&gt;" in svg
    rows = re.findall(r'<g class="gap-row" data-code="([^"]+)" data-current="(\d)" data-target="(\d)"', svg)
    assert rows == [("21", "1", "4"), ("1", "5", "3")]  # in the gap list's order
    inner = charts.GAP_WIDTH - charts.GAP_LEFT - charts.GAP_RIGHT
    widths = [
        float(w) for w in re.findall(r'<rect class="(?:current|target)" x="\d+" y="[\d.]+" width="([\d.]+)"', svg)
    ]
    assert widths == [round(inner * p / 5, 1) for p in (1, 4, 5, 3)]
    assert ">+3<" in svg  # the gap of 21 written next to its target bar
    assert charts.gap_chart([], title="none") == ""


def test_timeline_places_milestones_by_date_and_marks_late_and_done() -> None:
    today = dt.date(2026, 5, 1)
    rows = [
        charts.TimelineRow("done one", dt.date(2026, 1, 31), 100, True, False),
        charts.TimelineRow("late one", dt.date(2026, 4, 1), 40, False, True),
        charts.TimelineRow("ahead", dt.date(2026, 12, 1), 0, False, False),
    ]
    svg = charts.timeline(rows, today=today, title="Milestones")
    assert re.findall(r'<g class="milestone (\w+)" data-due="([\d-]+)" data-progress="(\d+)"', svg) == [
        ("done", "2026-01-31", "100"),
        ("late", "2026-04-01", "40"),
        ("open", "2026-12-01", "0"),
    ]
    assert svg.count(">late</text>") == 1
    # Each circle sits at its due date; the dashed line at today lies between the late one and the one ahead.
    circles = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', svg)]
    today_x = float(re.search(r'<line class="today" x1="([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
    assert circles[0] < circles[1] < today_x < circles[2]
    # The progress bar of the late one is 40 % of its track.
    tracks = [
        float(w) for w in re.findall(r'<rect x="\d+" y="[\d.]+" width="([\d.]+)" height="10" fill="#f1f1f1"', svg)
    ]
    bars = [float(w) for w in re.findall(r'<rect class="progress" x="\d+" y="[\d.]+" width="([\d.]+)"', svg)]
    assert abs(bars[1] - 0.4 * tracks[1]) < 0.11
    assert bars[0] == tracks[0]
    assert bars[2] == 0
    assert charts.timeline([], today=today, title="none") == ""
    ticks = [float(x) for x in re.findall(r'<line x1="([\d.]+)" y1="\d+" x2="[\d.]+" y2="\d+" stroke="#eee"/>', svg)]
    assert ticks
    assert min(ticks) >= charts.TL_LEFT  # no month line across the labels
    assert ">2026-02</text>" in svg  # the first month tick inside the axis (it starts on 2026-01-16)
    assert ">2026-12</text>" in svg
