"""Shared helpers of the signals tests: a disease with rules, counts from the real influenza data, signals."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from dhnet.diseases.models import AlertRule, Disease
from dhnet.orgunits import services as orgunits
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.reporting.models import CountValue
from dhnet.signals.models import Signal, SignalSource, SignalStatus

INFLUENZA = Path(__file__).resolve().parents[2] / "data" / "surveillance" / "influenza_bavaria_bw_districts_weekly.csv"

#: A few districts of each state (Baden-Württemberg 08..., Bavaria 09...).
DISTRICTS = ("8111", "8115", "8116", "8212", "9162", "9184", "9188", "9262")


def disease(code: str = "flu", name: str = "Influenza (test)", reporting: str = "weekly") -> Disease:
    return Disease.objects.create(code=code, name=name, reporting=reporting)


def rule(d: Disease, name: str, *, level: int | None = None, kind: str = "detector", **fields: Any) -> AlertRule:
    return AlertRule.objects.create(disease=d, name=name, level=level, kind=kind, **fields)


def read_influenza(districts: tuple[str, ...] = DISTRICTS) -> dict[str, list[tuple[dt.date, int, int]]]:
    """``{district: [(period_start, count, population), ...]}`` of the real data."""
    out: dict[str, list[tuple[dt.date, int, int]]] = {d: [] for d in districts}
    with INFLUENZA.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["series"] in out:
                out[row["series"]].append(
                    (dt.date.fromisoformat(row["period_start"]), int(row["count"]), int(row["population"]))
                )
    return out


def influenza_tree(operator: Actor, series: dict[str, list[tuple[dt.date, int, int]]]) -> dict[str, OrgUnit]:
    """DE -> BW, BY -> the districts (populations from the data)."""
    units = {"DE": orgunits.create_unit(operator, code="DE", name="Germany", parent_code=None)}
    units["BW"] = orgunits.create_unit(operator, code="BW", name="Baden-Württemberg", parent_code="DE")
    units["BY"] = orgunits.create_unit(operator, code="BY", name="Bavaria", parent_code="DE")
    for code, rows in series.items():
        parent = "BW" if code.startswith("8") else "BY"
        units[code] = orgunits.create_unit(
            operator, code=code, name=f"District {code}", parent_code=parent, population=rows[0][2]
        )
    return units


def load_counts(
    d: Disease,
    units: dict[str, OrgUnit],
    series: dict[str, list[tuple[dt.date, int, int]]],
    *,
    until: dt.date | None = None,
    skip_zeros: bool = False,
) -> int:
    values = [
        CountValue(disease=d, orgunit=units[code], period_start=day, value=count)
        for code, rows in series.items()
        for day, count, _ in rows
        if (until is None or day <= until) and not (skip_zeros and count == 0)
    ]
    CountValue.objects.bulk_create(values, batch_size=2000)
    return len(values)


def make_signal(
    orgunit: OrgUnit,
    *,
    d: Disease | None = None,
    status: str = SignalStatus.NEW,
    source: str = SignalSource.DETECTION,
    period: dt.date = dt.date(2024, 1, 1),
    escalation_level: int | None = None,
    title: str = "test signal",
) -> Signal:
    return Signal.objects.create(
        source=source,
        status=status,
        disease=d,
        orgunit=orgunit,
        first_period=period,
        last_period=period,
        title=title,
        escalation_level=escalation_level,
    )
