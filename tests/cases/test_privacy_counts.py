"""Pseudonymisation at the door (no direct identifier outside the identity vault), case counts into detection,
the line list (filters, pages, CSV, audit with the persons shown), a person's resources, linking two persons."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.apps import apps
from django.db import models
from django.test import Client

from dhnet.audit.models import AuditRecord
from dhnet.cases import services
from dhnet.cases.generate import CaseGenerator
from dhnet.cases.models import Case
from dhnet.identity.events import persons_linked
from dhnet.reporting.models import CountValue, ImportBatch
from tests.cases.fixtures import IDENTIFIERS, case_bundle, post


def _text_of_every_surveillance_table() -> str:
    """Every text and JSON value of every model outside ``dhnet.identity`` (the vault)."""
    chunks = []
    for model in apps.get_models():
        if model._meta.app_label == "identity":
            continue
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        for row in model.objects.values_list(*fields):
            chunks.append(json.dumps(row, default=str))
    return "\n".join(chunks)


def test_no_direct_identifier_outside_the_vault(reporter: Client) -> None:
    assert post(reporter, "/fhir", case_bundle()).status_code == 200
    text = _text_of_every_surveillance_table()
    assert Case.objects.count() == 1
    for value in IDENTIFIERS:
        assert value not in text, value


def test_no_generated_identifier_outside_the_vault(reporter: Client) -> None:
    gen = CaseGenerator(2, districts=["D11"], start=dt.date(2024, 1, 1), end=dt.date(2024, 6, 30), consent_share=0)
    secrets: list[str] = []
    for i in range(15):
        bundle = gen.bundle(i)
        assert post(reporter, "/fhir", bundle).status_code == 200
        p = bundle["entry"][0]["resource"]
        secrets += [p["name"][0]["family"] + " ", p["birthDate"], p["telecom"][0]["value"], p["address"][0]["line"][0]]
        secrets += [i["value"] for i in p["identifier"]]
    assert Case.objects.count() == 15
    text = _text_of_every_surveillance_table()
    leaked = [s for s in secrets if s in text]
    assert not leaked


def test_counts_by_onset_feed_reporting_and_are_idempotent(reporter: Client) -> None:
    post(reporter, "/fhir", case_bundle())
    cell = CountValue.objects.get(disease__code="measles", orgunit__code="D11", measure="cases")
    assert cell.period_start == dt.date(2024, 1, 29)  # the ISO week of the onset (2024-01-30)
    assert cell.value == 1
    assert ImportBatch.objects.filter(source="cases").count() == 1
    post(reporter, "/fhir", case_bundle())  # a retry: same counts, no new batch
    assert CountValue.objects.get(pk=cell.pk).value == 1
    assert ImportBatch.objects.filter(source="cases").count() == 1
    second = case_bundle(patient={"national": "OTHER-1"}, condition={"key": "C-9"})
    for entry in second["entry"][2:]:
        entry["resource"]["identifier"][0]["value"] += "-9"
    assert post(reporter, "/fhir", second).status_code == 200
    assert CountValue.objects.get(pk=cell.pk).value == 2
    no_onset = case_bundle(patient={"national": "OTHER-2"}, condition={"key": "C-10", "onset": None})
    for entry in no_onset["entry"][2:]:
        entry["resource"]["identifier"][0]["value"] += "-10"
    assert post(reporter, "/fhir", no_onset).status_code == 200
    today = dt.date.today()
    report_week = today - dt.timedelta(days=today.weekday())
    assert CountValue.objects.get(disease__code="measles", period_start=report_week, measure="cases").value == 1
    by_report = {(r.disease, r.week): r.cases for r in services.case_counts(_actor(reporter), by="report")}
    assert by_report == {("measles", report_week): 3}


def test_recount_equals_a_count_of_the_stored_cases(reporter: Client, diseases: dict[str, Any]) -> None:
    """Each cell (disease, district, period) counted by its own index range equals a count of every stored case,
    weekly and monthly, by onset and (without onset) by report date, deaths alongside; cells without cases are
    zero."""
    from collections import Counter

    from dhnet.diseases.models import ReportingFrequency

    gen = CaseGenerator(5, districts=["D11"], start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31), consent_share=0)
    entries = [e for i in range(60) for e in gen.bundle(i)["entry"]]
    assert (
        post(reporter, "/fhir", {"resourceType": "Bundle", "type": "transaction", "entry": entries}).status_code == 200
    )
    stored = list(Case.objects.select_related("disease").order_by("id"))
    assert len(stored) == 60
    assert len({c.disease_id for c in stored}) > 1
    Case.objects.filter(pk__in=[c.pk for c in stored[::4]]).update(onset_date=None)
    Case.objects.filter(pk__in=[c.pk for c in stored[1::5]]).update(outcome="died")
    monthly = stored[0].disease
    monthly.reporting = ReportingFrequency.MONTHLY
    monthly.save(update_fields=["reporting"])
    cases = list(Case.objects.select_related("disease").order_by("id"))
    by_id = {c.disease_id: c.disease for c in cases}
    expected: Counter[tuple[int, int, dt.date]] = Counter()
    dead: Counter[tuple[int, int, dt.date]] = Counter()
    for c in cases:
        key = (c.disease_id, c.orgunit_id, services.period_of(c.disease, c.onset_date or c.report_date))
        expected[key] += 1
        dead[key] += c.outcome == "died"
    empty = (cases[0].disease_id, cases[0].orgunit_id, dt.date(2023, 1, 2))
    cells = set(expected) | {empty}
    counted = services.recount(cells, by_id)
    assert counted == {key: (expected[key], dead[key]) for key in cells}
    assert counted[empty] == (0, 0)
    assert any(key[0] == monthly.pk and key[2].day == 1 for key in expected)
    assert sum(dead.values()) >= 12  # (the generator lets a few die too)
    # a few cells at a time (several queries) give the same counts
    few = set(sorted(cells)[:7])
    assert services.recount(few, by_id) == {key: counted[key] for key in few}


def _actor(client: Client) -> Any:
    from dhnet.accounts.models import User
    from tests.platform.fixtures import actor_of

    return actor_of(User.objects.get(pk=client.session["_auth_user_id"]))


def test_line_list_filters_pages_csv_and_audit(reporter: Client) -> None:
    gen = CaseGenerator(4, districts=["D11"], start=dt.date(2024, 1, 1), end=dt.date(2024, 3, 31), consent_share=0)
    for i in range(12):
        assert post(reporter, "/fhir", gen.bundle(i)).status_code == 200
    total = Case.objects.count()
    page = reporter.get("/api/v1/cases/?limit=5").json()
    assert page["count"] == total
    assert len(page["items"]) == 5
    record = AuditRecord.objects.filter(action="cases.case.list").latest("seq")
    assert sorted(record.detail["subjects"]) == sorted({i["pseudonym"] for i in page["items"]})
    confirmed = reporter.get("/api/v1/cases/?classification=confirmed&limit=500").json()
    assert confirmed["count"] == Case.objects.filter(classification="confirmed").count()
    bad = reporter.get("/api/v1/cases/?classification=sure")
    assert bad.status_code == 400
    assert "classification" in bad.json()["detail"]
    csv_text = reporter.get("/api/v1/cases/export.csv").content.decode()
    assert len(csv_text.strip().splitlines()) == total + 1
    assert AuditRecord.objects.filter(action="cases.case.export").exists()
    html = reporter.get("/cases/?classification=confirmed").content.decode()
    assert f"{confirmed['count']} case" in html
    one = page["items"][0]
    detail = reporter.get(f"/api/v1/cases/{one['case_id']}").json()
    assert detail["pseudonym"] == one["pseudonym"]
    assert reporter.get(f"/cases/{one['case_id']}/").status_code == 200


def test_cases_of_subjects_and_linking(reporter: Client) -> None:
    post(reporter, "/fhir", case_bundle())
    other = case_bundle(patient={"national": "OTHER-1"}, condition={"key": "C-9"})
    for entry in other["entry"][2:]:
        entry["resource"]["identifier"][0]["value"] += "-9"
    post(reporter, "/fhir", other)
    first, second = (c.pseudonym for c in Case.objects.order_by("source_value"))
    resources = services.cases_of_subjects([first])
    assert [r["resourceType"] for r in resources] == ["Patient", "Encounter", "Condition", "Observation"]
    assert all(first in json.dumps(r) for r in resources)
    persons_linked.send(sender=None, kept=first, merged=second)
    assert set(Case.objects.values_list("pseudonym", flat=True)) == {first}
    assert len(services.cases_of_subjects([first])) == 8


def test_cases_are_found_by_their_exact_source_keys(reporter: Client, monkeypatch: Any) -> None:
    """:func:`services.by_source` answers the exact (system, value) pairs asked, in chunks, not their cross product."""
    gen = CaseGenerator(6, districts=["D11"], start=dt.date(2024, 1, 1), end=dt.date(2024, 3, 31), consent_share=0)
    entries = [e for i in range(6) for e in gen.bundle(i)["entry"]]
    assert (
        post(reporter, "/fhir", {"resourceType": "Bundle", "type": "transaction", "entry": entries}).status_code == 200
    )
    cases = list(Case.objects.order_by("id"))
    assert len({c.source_system for c in cases}) > 1
    monkeypatch.setattr(services, "SOURCE_KEYS_PER_QUERY", 2)
    keys = [(c.source_system, c.source_value) for c in cases]
    crossed = next((s, v) for s, _ in keys for _, v in keys if (s, v) not in keys)
    found = services.by_source([*keys, crossed, ("urn:none", "nothing")], "fhir_id")
    assert sorted(found) == sorted((c.fhir_id, c.source_system, c.source_value) for c in cases)
