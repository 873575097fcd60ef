"""Property tests: whatever JSON arrives, the parser and the endpoints answer an OperationOutcome, never a 500."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dhnet.accounts.models import User
from dhnet.diseases.models import Disease
from dhnet.fhir import measurereport
from dhnet.fhir.outcome import ISSUE_TYPES, FhirError
from dhnet.fhir.validation import parse_json, validate
from tests.fhir.fixtures import post, report
from tests.platform.fixtures import login

KEYS = st.sampled_from(
    [
        "resourceType", "id", "meta", "status", "type", "measure", "period", "start", "end", "group", "code",
        "coding", "system", "population", "count", "measureScore", "value", "subject", "reporter", "identifier",
        "reference", "entry", "resource", "request", "method", "url", "contained", "extension", "_status",
        "valueQuantity", "stratifier", "fullUrl", "text", "div",
    ]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["MeasureReport", "Bundle", "Patient", "complete", "summary", "transaction", "#x", "D11"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=6), inner, max_size=5),
    max_leaves=30,
)
RESOURCES = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(["MeasureReport", "Bundle", "Patient", "Observation", "Nope", 3])},
    optional=dict.fromkeys(("id", "status", "type", "group", "entry", "period", "subject", "contained", "text"), JSON),
)


@given(RESOURCES | JSON)
@settings(max_examples=400, deadline=None)
def test_validation_never_raises(data: Any) -> None:
    result = validate(data)
    for issue in result.issues:
        assert issue.code in ISSUE_TYPES
        assert issue.diagnostics
    if isinstance(data, dict) and data.get("resourceType") == "MeasureReport":
        measurereport.check(data)


@given(st.binary(max_size=200))
@settings(max_examples=200, deadline=None)
def test_parse_json_never_raises_anything_but_outcomes(raw: bytes) -> None:
    try:
        parse_json(raw)
    except FhirError as exc:
        error = exc
    else:
        return
    assert error.status in (400, 413)
    assert error.issues[0].code in ("structure", "required")


def test_deep_nesting_is_refused_not_crashed() -> None:
    deep: Any = {"url": "http://x.example/e", "valueString": "v"}
    for _ in range(200):
        deep = {"url": "http://x.example/e", "extension": [deep]}
    result = validate({"resourceType": "Patient", "extension": [deep]})
    assert not result.ok
    assert any(i.code == "too-costly" for i in result.issues)
    with pytest.raises(Exception, match="JSON"):
        parse_json(b"[" * 100_000 + b"]" * 100_000)


def _mutations() -> st.SearchStrategy[tuple[list[Any], Any]]:
    """A path into a valid report and a random value to put there."""
    paths = [
        ["status"], ["type"], ["measure"], ["period"], ["period", "start"], ["period", "end"], ["subject"],
        ["subject", "identifier"], ["subject", "identifier", "value"], ["group"], ["group", 0], ["group", 0, "code"],
        ["group", 0, "code", "coding", 0, "code"], ["group", 0, "population"], ["group", 0, "population", 0],
        ["group", 0, "population", 0, "count"], ["group", 0, "measureScore"], ["identifier"], ["contained"],
    ]  # fmt: skip
    return st.tuples(st.sampled_from(paths), JSON)


@pytest.fixture
def client(users: dict[str, User], diseases: dict[str, Disease]) -> Client:
    return login(Client(), users["regional_officer"])


@given(body=RESOURCES | JSON)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_json_is_never_a_server_error(client: Client, body: Any) -> None:
    for url in ("/fhir/MeasureReport", "/fhir"):
        response = post(client, url, json.dumps(body))
        assert response.status_code < 500, response.content
        assert response["Content-Type"].startswith("application/fhir+json")
        if response.status_code >= 400:
            assert response.json()["resourceType"] == "OperationOutcome"


@given(mutation=_mutations())
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_mutated_reports_are_never_a_server_error(client: Client, mutation: tuple[list[Any], Any]) -> None:
    path, value = mutation
    data = copy.deepcopy(report())
    target: Any = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    response = post(client, "/fhir/MeasureReport", data)
    assert response.status_code in (200, 201, 400, 403, 422), response.content
    if response.status_code >= 400:
        issues = response.json()["issue"]
        assert all(i.get("expression") or i["code"] in ("forbidden",) for i in issues), issues
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": data, "request": {"method": "POST"}}]}
    assert post(client, "/fhir", bundle).status_code < 500
