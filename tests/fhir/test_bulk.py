"""dhnet.fhir.bulk.insert: the intake's multi-row INSERT stores what bulk_create would, and answers the new ids."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from dhnet.fhir import bulk
from dhnet.fhir.models import ResourceIdentifier, StoredResource
from dhnet.identity.models import BlindIndex, Person
from dhnet.orgunits.models import OrgUnit

FIELDS = ("resource_type", "logical_id", "version", "checksum", "content", "orgunit_id", "batch_id", "subject")


def _values(i: int, orgunit: OrgUnit | None, at: dt.datetime) -> tuple[object, ...]:
    content = {"resourceType": "Patient", "id": f"p{i}", "gender": "female", "birthDate": "1980", "n": [i, None]}
    return ("Patient", f"p{i}", 1, f"{i:064x}", content, orgunit.pk if orgunit else None, None, "", "bench", at)


@pytest.mark.django_db
def test_rows_round_trip_and_ids_come_back_in_row_order(tree: dict[str, OrgUnit]) -> None:
    at = timezone.now()
    unit = tree["D11"]
    rows = [_values(i, unit if i % 2 else None, at) for i in range(7)]
    ids = bulk.insert(StoredResource, (*FIELDS, "created_by", "created_at"), rows, returning=True)
    assert len(ids) == 7
    for i, pk in enumerate(ids):
        row = StoredResource.objects.get(pk=pk)
        assert row.logical_id == f"p{i}"
        assert row.content == rows[i][4]  # JSON stored as JSON
        assert row.created_at == at  # an aware datetime, as bulk_create stores it
        assert row.orgunit_id == (unit.pk if i % 2 else None)
    # Foreign keys given as ids; without returning, nothing is answered.
    assert bulk.insert(ResourceIdentifier, ("resource_id", "system", "value"), [(ids[0], "urn:x", "1")]) == []
    assert ResourceIdentifier.objects.get().resource_id == ids[0]


@pytest.mark.django_db
def test_many_rows_go_in_several_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "MAX_ROWS", 3)
    monkeypatch.setattr(bulk, "MAX_UNNEST_ROWS", 3)  # PostgreSQL
    now = timezone.now()
    person = Person.objects.create(pseudonym="a" * 64, orgunit_code="D11", created_at=now, last_seen_at=now)
    rows = [(person.pk, "block", f"{i:064x}") for i in range(10)]
    ids = bulk.insert(BlindIndex, ("person_id", "kind", "digest"), rows, returning=True)
    assert len(set(ids)) == 10
    digests = dict(BlindIndex.objects.values_list("pk", "digest"))
    assert [digests[pk] for pk in ids] == [r[2] for r in rows]  # the ids of the rows, in row order


@pytest.mark.django_db
def test_a_violated_constraint_is_an_integrity_error_and_stores_nothing() -> None:
    now = timezone.now()
    person = Person.objects.create(pseudonym="b" * 64, orgunit_code="D11", created_at=now, last_seen_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert(BlindIndex, ("person_id", "kind", "digest"), [(person.pk, "nid", "1" * 64)] * 2)
    assert not BlindIndex.objects.exists()


@pytest.mark.django_db
def test_the_caller_gives_the_values_django_would_fill_in() -> None:
    from dhnet.cases.models import PatientSubmission

    at = timezone.now() - dt.timedelta(days=3)
    bulk.insert(PatientSubmission, ("digest", "pseudonym", "created_at"), [("d" * 64, "p" * 64, at)])
    assert PatientSubmission.objects.get().created_at == at  # auto_now_add: the value given, no pre_save
    assert bulk.insert(BlindIndex, ("person_id", "kind", "digest"), []) == []


@pytest.mark.django_db
def test_refuses_a_row_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="a row of 2 values for 3 fields"):
        bulk.insert(BlindIndex, ("person_id", "kind", "digest"), [(1, "nid")])
