"""FHIR case intake: transaction Bundles and single creates of Patient, Condition, Encounter and lab Observation."""

from __future__ import annotations

from typing import Any

from django.test import Client

from dhnet.cases.models import Case, LabResult
from dhnet.fhir.models import StoredResource
from tests.cases.fixtures import case_bundle, post


def test_a_case_bundle_stores_a_pseudonymised_case(reporter: Client) -> None:
    response = post(reporter, "/fhir", case_bundle())
    assert response.status_code == 200, response.content
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses == ["201 Created"] * 4
    case = Case.objects.get()
    assert case.disease.code == "measles"
    assert case.orgunit.code == "D11"
    assert case.classification == "confirmed"
    assert case.sex == "female"
    assert case.age_years == 39
    assert case.age_band == "35-39"
    assert case.hospitalised is True
    assert len(case.pseudonym) == 64
    lab = LabResult.objects.get()
    assert lab.case == case
    assert lab.loinc == "20479-8"
    assert lab.interpretation == "POS"
    stored = {s.resource_type: s for s in StoredResource.objects.all()}
    assert stored["Patient"].content["identifier"][0]["value"] == case.pseudonym
    assert stored["Condition"].content["subject"]["reference"] == f"Patient/{stored['Patient'].logical_id}"
    assert "display" not in stored["Condition"].content["subject"]
    assert case.fhir_id == stored["Condition"].logical_id
    assert all(s.subject == case.pseudonym for s in stored.values())


def test_retry_stores_nothing_new(reporter: Client) -> None:
    first = post(reporter, "/fhir", case_bundle())
    again = post(reporter, "/fhir", case_bundle())
    assert again.status_code == 200, again.content
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * 4
    assert [e["response"]["location"] for e in again.json()["entry"]] == [
        e["response"]["location"] for e in first.json()["entry"]
    ]
    assert Case.objects.count() == 1
    assert LabResult.objects.count() == 1
    assert StoredResource.objects.count() == 4


def test_single_creates_with_if_none_exist(reporter: Client) -> None:
    from tests.cases.fixtures import encounter, observation, patient

    created = post(reporter, "/fhir/Patient", patient())
    assert created.status_code == 201, created.content
    patient_id = created.json()["id"]
    assert post(reporter, "/fhir/Patient", patient()).json()["id"] == patient_id  # the same person: that Patient
    subject = f"Patient/{patient_id}"
    header = {"HTTP_IF_NONE_EXIST": "identifier=https://clinic.example.org/encounters|E-1"}
    first = post(reporter, "/fhir/Encounter", encounter(subject), **header)
    assert first.status_code == 201, first.content
    changed = encounter(subject, status="cancelled")
    again = post(reporter, "/fhir/Encounter", changed, **header)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    lonely = post(reporter, "/fhir/Observation", observation(subject))
    assert lonely.status_code == 422  # a lab result without its case
    assert lonely.json()["issue"][0]["expression"] == ["Observation.focus"]
    assert StoredResource.objects.count() == 2


def test_a_batch_bundle_takes_entries_one_by_one(reporter: Client) -> None:
    from tests.cases.fixtures import bundle, condition, patient

    good = patient()
    bad = patient(national="OTHER", gender="F")
    answer = post(reporter, "/fhir", bundle(good, bad, condition("Patient/none"), btype="batch"))
    assert answer.status_code == 200, answer.content
    statuses = [e["response"]["status"] for e in answer.json()["entry"]]
    assert statuses[0] == "201 Created"
    assert statuses[1].startswith("400")
    assert statuses[2].startswith("422")
    assert StoredResource.objects.filter(resource_type="Patient").count() == 1
    assert Case.objects.count() == 0


def test_a_person_registered_concurrently_at_every_attempt_is_a_409(reporter: Client, monkeypatch: Any) -> None:
    """The vault kept losing the race for a person of the Bundle: 409 with the Patient named, nothing stored."""
    from django.db import IntegrityError

    from dhnet.identity import services

    def lose(self: Any, identities: Any) -> Any:
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(services._Batch, "register", lose)
    response = post(reporter, "/fhir", case_bundle())
    assert response.status_code == 409, response.content
    issue = response.json()["issue"][0]
    assert issue["code"] == "conflict"
    assert "retry" in issue["diagnostics"]
    assert issue["expression"][0].startswith("Bundle.entry[")
    assert not Case.objects.exists()
    assert not StoredResource.objects.exists()


def _merged(gen: Any, count: int, first: int) -> dict[str, Any]:
    entries = [e for i in range(first, first + count) for e in gen.bundle(i)["entry"]]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def test_a_retried_bundle_is_answered_in_queries_that_do_not_grow_with_it(
    reporter: Client, django_assert_max_num_queries: Any
) -> None:
    """A client on a slow link resends a Bundle whose answer it did not get: every resource is answered from what is
    stored (200, the same location), with the stored resources and their org units read in bulk,
    not one query per resource."""
    import datetime as dt

    from dhnet.cases.generate import CaseGenerator

    gen = CaseGenerator(3, districts=["D11"], start=dt.date(2024, 1, 1), end=dt.date(2024, 6, 30), consent_share=0)
    small, large = _merged(gen, 2, 0), _merged(gen, 12, 2)
    first = [post(reporter, "/fhir", bundle) for bundle in (small, large)]
    assert [r.status_code for r in first] == [200, 200]
    with django_assert_max_num_queries(200) as few:
        again = post(reporter, "/fhir", small)
    assert again.status_code == 200, again.content
    assert {e["response"]["status"] for e in again.json()["entry"]} == {"200 OK"}
    # at most one query more per resource type (the small Bundle may have no lab Observation), not per resource
    with django_assert_max_num_queries(len(few.captured_queries) + 4):
        again = post(reporter, "/fhir", large)
    answers = again.json()["entry"]
    assert {e["response"]["status"] for e in answers} == {"200 OK"}
    assert len(answers) == len(large["entry"]) > 4 * len(small["entry"])
    assert [e["response"]["location"] for e in answers] == [e["response"]["location"] for e in first[1].json()["entry"]]


def test_the_database_work_of_a_bundle_does_not_grow_with_what_is_stored(reporter: Client) -> None:
    """The same shape of Bundle costs SQLite about the same number of virtual-machine steps whether 40 or 640 cases
    are stored: every lookup of the intake path (conditional creates, the persons' Patients, the cases by their
    source keys, the stored counts of the cells, the recount of the cells) is an index search, not a walk of the
    stored resources, cases or counts. (Without statistics SQLite's planner took the (resource_type, checksum)
    index for ``resource_type IN (...) AND value IN (...)`` and ``resource_type = ? AND subject IN (...)``; cases
    were looked up by value alone, outside the unique (system, value) index; ``(a, b) IN (VALUES ...)`` reads
    the whole table in SQLite 3.40; the recount read every case of its districts over the Bundle's dates: 49 steps
    of 1,000 became 111.) On PostgreSQL the planner decides from statistics: the test runs on SQLite."""
    import datetime as dt

    import pytest
    from django.db import connection

    from dhnet.cases.generate import CaseGenerator

    if connection.vendor != "sqlite":
        pytest.skip("counts SQLite's virtual-machine steps")
    gen = CaseGenerator(8, districts=["D11"], start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31), consent_share=0.3)
    steps = [0]

    def cost(bundle: dict[str, Any]) -> int:
        connection.ensure_connection()
        raw = connection.connection
        steps[0] = 0

        def count() -> int:
            steps[0] += 1
            return 0

        raw.set_progress_handler(count, 1000)
        try:
            assert post(reporter, "/fhir", bundle).status_code == 200
        finally:
            raw.set_progress_handler(None, 1000)
        return steps[0]

    cases = 40
    for first in range(0, cases, 20):
        assert post(reporter, "/fhir", _merged(gen, 20, first)).status_code == 200
    few = cost(_merged(gen, 20, 10_000))
    for first in range(cases, 16 * cases, 100):
        assert post(reporter, "/fhir", _merged(gen, 100, first)).status_code == 200
    assert Case.objects.count() == 16 * cases + 20
    many = cost(_merged(gen, 20, 20_000))
    assert many < 1.25 * few, (few, many)
