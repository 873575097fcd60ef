"""Case-based counts feed the same detection as aggregate reports: a count rule raises its alarm on cases."""

from __future__ import annotations

import datetime as dt

from django.test import Client

from dhnet.diseases.models import AlertRule, Disease
from dhnet.signals.models import Detection
from dhnet.signals.services.detection import SYSTEM, DetectionOptions, run_detection
from tests.cases.fixtures import case_bundle, post


def _case(n: int, onset: str) -> dict[str, object]:
    bundle = case_bundle(patient={"national": f"P-{n}"}, condition={"key": f"C-{n}", "onset": onset})
    for entry in bundle["entry"][2:]:
        entry["resource"]["identifier"][0]["value"] += f"-{n}"
    return bundle


def test_a_count_rule_alarms_on_case_counts_by_onset_week(reporter: Client) -> None:
    measles = Disease.objects.get(code="measles")
    AlertRule.objects.filter(disease=measles).update(active=False)
    rule = AlertRule.objects.create(disease=measles, name="2 cases a week", level=3, kind="count", threshold=2)
    for n, onset in enumerate(("2024-01-29", "2024-02-04", "2024-02-06")):  # two in W05, one in W06
        assert post(reporter, "/fhir", _case(n, onset)).status_code == 200
    run = run_detection(SYSTEM, DetectionOptions(full=True, window=8, diseases=("measles",)))
    assert run.status == "done"
    rows = {
        d.period_start: (d.observed, d.alarm)
        for d in Detection.objects.filter(rule=rule, orgunit__code="D11", period_start__gte=dt.date(2024, 1, 29))
    }
    assert rows[dt.date(2024, 1, 29)] == (2.0, True)
    assert rows[dt.date(2024, 2, 5)] == (1.0, False)
