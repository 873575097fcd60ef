"""The person index of the audit trail: who read or changed a person's record, checked by ``audit verify``."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from dhnet.audit import services as audit
from dhnet.audit.models import AuditRecord, AuditSubject
from dhnet.platform.access import Actor

ACTOR = Actor(user_id=3, username="ana", via="session", ip="127.0.0.1", purpose="case-investigation")
P1, P2, P3 = "a" * 64, "b" * 64, "c" * 64


@pytest.fixture
def records(db: Any) -> list[AuditRecord]:
    return [
        audit.record(ACTOR, "cases.linelist.read", subjects=[P2, P1, P1]),
        audit.record(ACTOR, "cases.case.read", object_type="case", object_id="x", subjects=[P3]),
        audit.record(ACTOR, "diseases.disease.read"),
    ]


def test_subjects_are_hashed_and_indexed(records: list[AuditRecord]) -> None:
    assert records[0].detail["subjects"] == [P1, P2]  # sorted, deduplicated, inside the hashed content
    assert "subjects" not in records[2].detail
    by_person = AuditSubject.objects.filter(subject=P1).values_list("record__action", flat=True)
    assert list(by_person) == ["cases.linelist.read"]
    assert AuditSubject.objects.count() == 3
    assert audit.verify().ok


def test_verify_finds_a_deleted_index_row(records: list[AuditRecord]) -> None:
    AuditSubject.objects.filter(subject=P3).delete()  # hides that the case of P3 was read
    report = audit.verify()
    assert [p.kind for p in report.problems] == ["index"]
    assert f"record id {records[1].pk}" in report.problems[0].message


def test_verify_finds_an_inserted_index_row(records: list[AuditRecord]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AuditSubject._meta.db_table} (record_id, subject) VALUES (%s, %s)", [records[2].pk, P1]
        )
    report = audit.verify()
    assert [p.kind for p in report.problems] == ["index"]
    assert "not in the record" in report.problems[0].message
