"""Fixtures and builders of the FHIR tests: a small disease catalogue and valid MeasureReports to break."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from dhnet.diseases.models import Disease, ReportingFrequency
from dhnet.fhir import measurereport as mr

#: A past ISO week (Monday..Sunday).
WEEK = (dt.date(2024, 1, 29), dt.date(2024, 2, 4))
MONTH = (dt.date(2024, 3, 1), dt.date(2024, 3, 31))


@pytest.fixture
def diseases(db: Any) -> dict[str, Disease]:
    """The seeded IDSR catalogue (measles and cholera: immediate, so weekly counts) plus a monthly and an inactive
    disease of our own."""
    Disease.objects.update_or_create(
        code="leprosy",
        defaults={"name": "Leprosy", "icd11": "1B20", "icd10": "A30", "reporting": ReportingFrequency.MONTHLY},
    )
    Disease.objects.update_or_create(
        code="yaws", defaults={"name": "Yaws", "icd11": "1C1F", "icd10": "A66", "active": False}
    )
    return {d.code: d for d in Disease.objects.all()}


def population(code: str, count: Any) -> dict[str, Any]:
    return {"code": {"coding": [{"system": mr.POPULATION_SYSTEM, "code": code}]}, "count": count}


def group(system: str = mr.ICD11, code: str = "1F03", cases: Any = 12, deaths: Any = 1) -> dict[str, Any]:
    pops = []
    if cases is not None:
        pops.append(population("cases", cases))
    if deaths is not None:
        pops.append(population("deaths", deaths))
    result: dict[str, Any] = {"code": {"coding": [{"system": system, "code": code}]}}
    if pops:
        result["population"] = pops
    return result


def report(
    orgunit: str = "D11",
    *,
    groups: list[dict[str, Any]] | None = None,
    period: tuple[dt.date, dt.date] = WEEK,
    measure: str = mr.MEASURE_WEEKLY,
    identifier: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "status": "complete",
        "type": "summary",
        "measure": measure,
        "subject": {"type": "Location", "identifier": {"system": mr.ORGUNIT_CODE_SYSTEM, "value": orgunit}},
        "period": {"start": period[0].isoformat(), "end": period[1].isoformat()},
        "group": groups if groups is not None else [group(), group(mr.ICD10, "A00", 3, 0)],
    }
    if identifier:
        data["identifier"] = [{"system": "https://moh.example/reports", "value": identifier}]
    return data


@pytest.fixture
def measure_report() -> Callable[..., dict[str, Any]]:
    return lambda *a, **kw: copy.deepcopy(report(*a, **kw))


def post(client: Client, url: str, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data=data, content_type="application/fhir+json", **headers)
