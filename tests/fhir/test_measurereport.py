"""POST /fhir/MeasureReport: valid reports, every validation error with its element path, idempotency."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.diseases.models import Disease
from dhnet.fhir import measurereport as mr
from dhnet.fhir.models import StoredResource
from dhnet.orgunits.models import OrgUnit
from dhnet.reporting.models import CountValue, ImportBatch
from tests.fhir.fixtures import MONTH, group, population, post, report
from tests.platform.fixtures import actor_of, login

URL = "/fhir/MeasureReport"
Mutator = Callable[[dict[str, Any]], None]


@pytest.fixture
def officer(users: dict[str, User], diseases: dict[str, Disease]) -> Client:
    return login(Client(), users["district_officer"])


def _counts() -> dict[tuple[str, str, str, str], int]:
    return {
        (c.disease.code, c.orgunit.code, c.period_start.isoformat(), c.measure): c.value
        for c in CountValue.objects.select_related("disease", "orgunit")
    }


def _nothing_stored() -> bool:
    return not CountValue.objects.exists() and not StoredResource.objects.exists() and not ImportBatch.objects.exists()


def test_valid_report_is_stored(officer: Client) -> None:
    response = post(officer, URL, report(identifier="D11-2024W05"))
    assert response.status_code == 201, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "MeasureReport"
    assert body["meta"]["versionId"] == "1"
    assert response["Location"] == f"http://testserver/fhir/MeasureReport/{body['id']}/_history/1"
    assert response["ETag"] == 'W/"1"'
    assert _counts() == {
        ("measles", "D11", "2024-01-29", "cases"): 12,
        ("measles", "D11", "2024-01-29", "deaths"): 1,
        ("cholera", "D11", "2024-01-29", "cases"): 3,
        ("cholera", "D11", "2024-01-29", "deaths"): 0,
    }
    batch = ImportBatch.objects.get()
    assert batch.source == "fhir"
    stored = StoredResource.objects.get()
    assert stored.batch_id == batch.pk
    assert stored.orgunit.code == "D11"
    actions = set(AuditRecord.objects.values_list("action", flat=True))
    assert {"fhir.measurereport.create", "reporting.batch.import"} <= actions
    # Read it back, and the version.
    read = officer.get(f"{URL}/{body['id']}")
    assert read.status_code == 200
    assert read.json() == body
    assert officer.get(response["Location"].removeprefix("http://testserver")).json() == body
    assert officer.get(f"{URL}/{body['id']}/_history/2").status_code == 404
    assert "fhir.measurereport.read" in set(AuditRecord.objects.values_list("action", flat=True))


def test_retry_stores_nothing_new(officer: Client) -> None:
    first = post(officer, URL, report())
    assert first.status_code == 201
    before = (_counts(), ImportBatch.objects.count(), StoredResource.objects.count(), CountValue.objects.count())
    again = post(officer, URL, report())
    assert again.status_code == 200
    assert again["Location"] == first["Location"]
    assert again.json() == first.json()
    # The same content with a client-side id and another key order is the same report.
    reordered = json.loads(json.dumps(report(), sort_keys=True))
    reordered["id"] = "client-side-id"
    assert post(officer, URL, reordered).status_code == 200
    after = (_counts(), ImportBatch.objects.count(), StoredResource.objects.count(), CountValue.objects.count())
    assert after == before


def test_correction_updates_the_counts(officer: Client) -> None:
    assert post(officer, URL, report()).status_code == 201
    corrected = report(groups=[group(cases=15, deaths=2)])
    assert post(officer, URL, corrected).status_code == 201
    counts = _counts()
    assert counts[("measles", "D11", "2024-01-29", "cases")] == 15
    assert counts[("measles", "D11", "2024-01-29", "deaths")] == 2
    assert counts[("cholera", "D11", "2024-01-29", "cases")] == 3


def test_conditional_create_on_identifier(officer: Client) -> None:
    first = post(officer, URL, report(identifier="D11-W05"))
    assert first.status_code == 201
    different = report(identifier="D11-W05", groups=[group(cases=99)])
    header = {"HTTP_IF_NONE_EXIST": "identifier=https://moh.example/reports|D11-W05"}
    again = post(officer, URL, different, **header)
    assert again.status_code == 200
    assert again["Location"] == first["Location"]
    assert _counts()[("measles", "D11", "2024-01-29", "cases")] == 12  # nothing stored
    # Without a system, and no match: created.
    other = post(
        officer, URL, report(identifier="D11-W06", groups=[group(cases=5)]), HTTP_IF_NONE_EXIST="identifier=nope"
    )
    assert other.status_code == 201
    # Two matches: 412.
    StoredResource.objects.exclude(pk=StoredResource.objects.order_by("pk").first().pk).delete()  # type: ignore[union-attr]
    assert post(officer, URL, report(identifier="D11-W05", groups=[group(cases=7)])).status_code == 201
    twice = post(officer, URL, report(groups=[group(cases=8)]), HTTP_IF_NONE_EXIST="identifier=D11-W05")
    assert twice.status_code == 412
    assert twice.json()["issue"][0]["code"] == "multiple-matches"
    bad = post(officer, URL, report(), HTTP_IF_NONE_EXIST="name=x")
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["code"] == "not-supported"


def test_monthly_report(officer: Client) -> None:
    data = report(
        period=MONTH, measure=mr.MEASURE_MONTHLY + "|1.0", groups=[group(mr.DISEASE_SYSTEM, "leprosy", 2, None)]
    )
    assert post(officer, URL, data).status_code == 201
    assert _counts() == {("leprosy", "D11", "2024-03-01", "cases"): 2}


def test_codes_reporter_uid_and_measure_score(officer: Client, tree: dict[str, OrgUnit]) -> None:
    OrgUnit.objects.filter(code="D11").update(uid="dhis2D11uid")
    data = report(
        groups=[
            {"code": {"coding": [{"system": mr.ICD10, "code": "A00.9"}]}, "measureScore": {"value": 4}},
            group(mr.ICD10, "B51", 6, None),  # malaria: B50-B54
            group(mr.ICD11, "1f03.0", 1, 0),  # measles, lower case, a subcategory
        ]
    )
    del data["subject"]
    data["reporter"] = {"identifier": {"system": mr.ORGUNIT_UID_SYSTEM, "value": "dhis2D11uid"}}
    response = post(officer, URL, data)
    assert response.status_code == 201, response.content
    counts = _counts()
    assert counts[("cholera", "D11", "2024-01-29", "cases")] == 4
    assert counts[("malaria", "D11", "2024-01-29", "cases")] == 6
    assert counts[("measles", "D11", "2024-01-29", "deaths")] == 0


def test_prefer_and_formats(officer: Client) -> None:
    minimal = post(officer, URL, report(), HTTP_PREFER="return=minimal")
    assert minimal.status_code == 201
    assert minimal.content == b""
    assert minimal["Location"]
    outcome = post(officer, URL, report(), HTTP_PREFER="return=OperationOutcome")
    assert outcome.status_code == 200
    assert outcome.json()["issue"][0]["severity"] == "information"
    plain = officer.post(URL, data=json.dumps(report()), content_type="application/json")
    assert plain.status_code == 200
    text = officer.post(URL, data=json.dumps(report()), content_type="text/plain")
    assert text.status_code == 415
    assert text.json()["resourceType"] == "OperationOutcome"
    xml = post(officer, URL, report(), HTTP_ACCEPT="application/fhir+xml")
    assert xml.status_code == 406
    assert officer.get("/fhir/metadata?_format=xml").status_code == 406


def test_bearer_token(users: dict[str, User], diseases: dict[str, Disease]) -> None:
    officer = users["district_officer"]
    _, raw = accounts.create_token(actor_of(officer), officer, name="sync", scopes=["surveillance:report:write"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = post(client, URL, report())
    assert response.status_code == 201
    assert AuditRecord.objects.filter(action="fhir.measurereport.create", via="token").exists()
    # The token has no read scope.
    assert client.get(response["Location"].removeprefix("http://testserver")).status_code == 403


def test_other_district_is_forbidden(officer: Client) -> None:
    response = post(officer, URL, report("D21"))
    assert response.status_code == 403
    issue = response.json()["issue"][0]
    assert issue["code"] == "forbidden"
    assert issue["expression"] == ["MeasureReport.subject.identifier.value"]
    assert _nothing_stored()


def test_region_is_not_a_reporting_unit(users: dict[str, User], diseases: dict[str, Disease]) -> None:
    response = post(login(Client(), users["regional_officer"]), URL, report("R1"))
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert "reporting unit" in issue["diagnostics"]
    assert issue["expression"] == ["MeasureReport.subject.identifier.value"]
    assert _nothing_stored()


def _set(path: str, value: Any) -> Mutator:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        elif isinstance(target, list) and int(last) == len(target):
            target.append(value)
        else:
            target[int(last) if last.isdigit() else last] = value

    return mutate


_DELETE = object()
FUTURE = dt.date.today() + dt.timedelta(days=14 - dt.date.today().weekday())
G0 = "MeasureReport.group[0]"

# (label, mutation, status, issue code, expression)
ERRORS: list[tuple[str, Mutator, int, str, str]] = [
    ("status outside the value set", _set("status", "finished"), 400, "code-invalid", "MeasureReport.status"),
    ("measure missing", _set("measure", _DELETE), 400, "required", "MeasureReport.measure"),
    ("count as a string", _set("group.0.population.0.count", "12"), 400, "structure", f"{G0}.population[0].count"),
    ("count as a decimal", _set("group.0.population.0.count", 1.5), 400, "value", f"{G0}.population[0].count"),
    ("unknown element", _set("colour", "red"), 400, "structure", "MeasureReport.colour"),
    ("impossible date", _set("period.start", "2024-13-01"), 400, "value", "MeasureReport.period.start"),
    ("group not an array", _set("group", {"code": {}}), 400, "structure", "MeasureReport.group"),
    ("empty group array", _set("group", []), 400, "structure", "MeasureReport.group"),
    ("score not a number", _set("group.0.measureScore", {"value": "x"}), 400, "structure", f"{G0}.measureScore.value"),
    ("bad id", _set("id", "a_b"), 400, "value", "MeasureReport.id"),
    ("null value", _set("date", None), 400, "structure", "MeasureReport.date"),
    ("empty string", _set("subject.identifier.value", ""), 400, "value", "MeasureReport.subject.identifier.value"),
    (
        "relative system",
        _set("subject.identifier.system", "orgunits"),
        400,
        "value",
        "MeasureReport.subject.identifier.system",
    ),
    ("status pending", _set("status", "pending"), 422, "business-rule", "MeasureReport.status"),
    ("individual report", _set("type", "individual"), 422, "business-rule", "MeasureReport.type"),
    ("unknown measure", _set("measure", "https://x.example/Measure/a"), 422, "not-found", "MeasureReport.measure"),
    (
        "week not on a Monday",
        _set("period", {"start": "2024-01-30", "end": "2024-02-05"}),
        422,
        "value",
        "MeasureReport.period.start",
    ),
    ("week of 8 days", _set("period.end", "2024-02-05"), 422, "value", "MeasureReport.period.end"),
    ("partial date", _set("period.start", "2024-01"), 422, "value", "MeasureReport.period.start"),
    ("no period end", _set("period", {"start": "2024-01-29"}), 422, "required", "MeasureReport.period"),
    (
        "future week",
        _set("period", {"start": FUTURE.isoformat(), "end": (FUTURE + dt.timedelta(days=6)).isoformat()}),
        422,
        "business-rule",
        "MeasureReport.period.start",
    ),
    ("month for a weekly disease", _set("measure", mr.MEASURE_MONTHLY), 422, "value", "MeasureReport.period.start"),
    (
        "org unit by reference only",
        _set("subject", {"reference": "Location/1"}),
        422,
        "required",
        "MeasureReport.subject.identifier",
    ),
    ("no org unit", _set("subject", _DELETE), 422, "required", "MeasureReport.subject"),
    (
        "unknown org unit",
        _set("subject.identifier.value", "D99"),
        422,
        "not-found",
        "MeasureReport.subject.identifier.value",
    ),
    ("org unit as a Patient", _set("subject.type", "Patient"), 422, "value", "MeasureReport.subject.type"),
    ("no group", _set("group", _DELETE), 422, "required", "MeasureReport.group"),
    ("group without code", _set("group.0.code", _DELETE), 422, "required", f"{G0}.code"),
    (
        "unknown ICD-11 code",
        _set("group.0.code.coding.0.code", "XX99"),
        422,
        "code-invalid",
        f"{G0}.code.coding[0].code",
    ),
    (
        "code in another system only",
        _set("group.0.code.coding.0.system", "http://snomed.info/sct"),
        422,
        "required",
        f"{G0}.code",
    ),
    (
        "codings of two diseases",
        _set("group.0.code.coding.1", {"system": mr.ICD10, "code": "A00"}),
        422,
        "conflict",
        f"{G0}.code",
    ),
    ("disease twice", _set("group.1", group()), 422, "duplicate", "MeasureReport.group[1].code"),
    ("inactive disease", _set("group.0", group(mr.DISEASE_SYSTEM, "yaws")), 422, "business-rule", f"{G0}.code"),
    ("monthly disease in a week", _set("group.0", group(mr.ICD10, "A30")), 422, "business-rule", f"{G0}.code"),
    ("negative count", _set("group.0.population.0.count", -1), 422, "value", f"{G0}.population[0].count"),
    (
        "unknown population",
        _set("group.0.population.0.code.coding.0.code", "hospitalised"),
        422,
        "code-invalid",
        f"{G0}.population[0].code",
    ),
    (
        "population twice",
        _set("group.0.population.1", population("cases", 3)),
        422,
        "duplicate",
        f"{G0}.population[1].code",
    ),
    ("count missing", _set("group.0.population.0.count", _DELETE), 422, "required", f"{G0}.population[0].count"),
    ("no count at all", _set("group.0.population", _DELETE), 422, "required", f"{G0}.population"),
    (
        "score differs from cases",
        _set("group.0.measureScore", {"value": 5}),
        422,
        "conflict",
        f"{G0}.measureScore.value",
    ),
    ("fractional score", _set("group.0.measureScore", {"value": 2.5}), 422, "value", f"{G0}.measureScore.value"),
    ("stratifier", _set("group.0.stratifier", [{"code": [{"text": "age"}]}]), 422, "not-supported", f"{G0}.stratifier"),
    (
        "modifierExtension",
        _set("modifierExtension", [{"url": "http://x.example/e", "valueBoolean": True}]),
        422,
        "not-supported",
        "MeasureReport.modifierExtension",
    ),
]


@pytest.mark.parametrize(("label", "mutate", "status", "code", "expression"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_the_element(
    officer: Client, label: str, mutate: Mutator, status: int, code: str, expression: str
) -> None:
    data = report()
    mutate(data)
    response = post(officer, URL, data)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issues = [(i["code"], i.get("expression", [None])[0]) for i in body["issue"]]
    assert (code, expression) in issues, issues
    assert all(i["severity"] == "error" and i["diagnostics"] for i in body["issue"])
    assert _nothing_stored()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "required"),
        (b"{not json", "structure"),
        (b"\xff\xfe", "structure"),
        (b"[1, 2]", "structure"),
        (b'"MeasureReport"', "structure"),
        (b'{"resourceType": "Patient"}', "invalid"),
        (b'{"status": "complete"}', "required"),
        (b'{"resourceType": "MeasureReport", "count": NaN}', "structure"),
    ],
)
def test_unreadable_bodies(officer: Client, body: bytes, code: str) -> None:
    response = officer.post(URL, data=body, content_type="application/fhir+json")
    assert response.status_code == 400, response.content
    assert response.json()["issue"][0]["code"] == code
    assert _nothing_stored()
