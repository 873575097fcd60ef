"""The registry pages' pure builders: budget tables by phase x year (per currency) and the metric line chart."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dhnet.atlas import charts
from dhnet.atlas.models import CostPhase


def test_budget_tables_add_up_per_currency() -> None:
    rows = [
        {"phase": "deployment", "year": 2021, "amount": "100.50", "currency": "USD"},
        {"phase": "deployment", "year": 2021, "amount": "0.50", "currency": "USD"},
        {"phase": "operations", "year": 2023, "amount": "10.00", "currency": "USD"},
        {"phase": "scaling", "year": 2022, "amount": "7.00", "currency": "EUR"},
    ]
    eur, usd = charts.budget_tables(rows, CostPhase.choices)
    assert usd.currency == "USD"
    assert usd.years == [2021, 2023]
    assert usd.rows == [
        ("Deployment", [Decimal("101.00"), None], Decimal("101.00")),
        ("Operations and maintenance", [None, Decimal("10.00")], Decimal("10.00")),
    ]
    assert usd.totals == [Decimal("101.00"), Decimal("10.00")]
    assert usd.total == Decimal("111.00")
    assert eur.total == Decimal("7.00")
    assert charts.budget_tables([], CostPhase.choices) == []


def test_line_chart_draws_every_point_with_its_value() -> None:
    points = [(dt.date(2022, 1, 1), 1500.0), (dt.date(2021, 1, 1), 1200.0), (dt.date(2023, 1, 1), 900.0)]
    svg = charts.line_chart(points, title="active <users>", unit="users")
    assert svg.startswith('<svg class="metric-chart"')
    assert svg.count("<circle") == 3
    assert "active &lt;users&gt; (users)" in svg  # escaped
    assert "2021-01-01: 1,200" in svg or "2021-01-01: 1200" in svg
    assert charts.line_chart([], title="none") == ""
    single = charts.line_chart([(dt.date(2021, 1, 1), 0.0)], title="one")
    assert single.count("<circle") == 1


def test_metric_series_groups_by_metric() -> None:
    rows = [
        {"kind": "usage", "metric": "b", "period_start": "2021-01-01", "value": 1.0, "unit": ""},
        {"kind": "outcome", "metric": "a", "period_start": "2021-02-01", "value": 2.0, "unit": "%"},
        {"kind": "usage", "metric": "b", "period_start": "2020-01-01", "value": 3.0, "unit": ""},
    ]
    series = charts.metric_series(rows)
    assert [s.metric for s in series] == ["a", "b"]
    assert series[1].points == [(dt.date(2020, 1, 1), 3.0), (dt.date(2021, 1, 1), 1.0)]
    assert series[0].unit == "%"
