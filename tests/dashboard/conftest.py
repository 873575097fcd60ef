"""Fixtures of the dashboard tests: the platform's tree and users, plus a small surveillance dataset.

``surveillance`` gives the three districts square polygons (WGS84), 60 weeks of hepatitis A counts and
submissions, detections with an alarm in D11 and signals in D11 (open), D12 (closed) and D21 (open).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from dhnet.dashboard import services as dashboard
from dhnet.diseases.models import AlertRule, Disease
from dhnet.orgunits.models import OrgUnit
from dhnet.reporting.models import CountValue, Source, Submission
from dhnet.signals.models import Detection, Signal, SignalSource, SignalStatus
from tests.platform.fixtures import operator, tree, users  # noqa: F401  (fixtures)

LAST_WEEK = dt.date(2008, 3, 3)  # 2008-W10
WEEKS = 60
DISEASE = "hepatitis_a"


def square(lon: float, lat: float, size: float = 0.5) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


@dataclass
class Data:
    disease: Disease
    week: dt.date
    signals: dict[str, Signal]


@pytest.fixture
def surveillance(tree: dict[str, OrgUnit]) -> Data:  # noqa: F811  (the fixture, by name)
    dashboard.clear_caches()
    for code, lon in (("D11", 10.0), ("D12", 10.5), ("D21", 11.0)):
        OrgUnit.objects.filter(code=code).update(geometry=square(lon, 50.0), population=200_000)
    disease = Disease.objects.get(code=DISEASE)
    rule = AlertRule.objects.filter(disease=disease).order_by("id").first()
    assert rule is not None
    now = timezone.now()
    counts, submissions, detections = [], [], []
    for i in range(WEEKS):
        week = LAST_WEEK - dt.timedelta(weeks=WEEKS - 1 - i)
        for code, base in (("D11", 3), ("D12", 1), ("D21", 2)):
            unit = tree[code]
            value = base + (i % 3) + (25 if code == "D11" and i == WEEKS - 1 else 0)
            if code == "D12" and i == WEEKS - 1:
                continue  # D12 did not report for the last week
            counts.append(CountValue(disease=disease, orgunit=unit, period_start=week, value=value))
            submissions.append(
                Submission(
                    orgunit=unit,
                    period_start=week,
                    first_received_at=now,
                    last_received_at=now,
                    on_time=code != "D21",
                    source=Source.DEMO,
                )
            )
        detections.append(
            Detection(
                rule=rule,
                disease=disease,
                orgunit=tree["D11"],
                period_start=week,
                observed=3 + (i % 3) + (25 if i == WEEKS - 1 else 0),
                expected=4.0,
                upperbound=9.0,
                alarm=i == WEEKS - 1,
            )
        )
    CountValue.objects.bulk_create(counts)
    Submission.objects.bulk_create(submissions)
    Detection.objects.bulk_create(detections)
    signals = {}
    for code, status, title in (
        ("D11", SignalStatus.NEW, "Hepatitis A above threshold in District 11"),
        ("D12", SignalStatus.CLOSED, "Hepatitis A cluster in District 12"),
        ("D21", SignalStatus.VERIFICATION, "Hepatitis A above threshold in District 21"),
    ):
        signals[code] = Signal.objects.create(
            source=SignalSource.DETECTION,
            status=status,
            disease=disease,
            orgunit=tree[code],
            rule=rule,
            first_period=LAST_WEEK,
            last_period=LAST_WEEK,
            title=title,
            max_observed=28,
        )
    return Data(disease, LAST_WEEK, signals)
