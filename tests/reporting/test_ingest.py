"""The core import service: validation of every row, all or nothing, idempotent retries, strategies, submissions,
the audit record and the counts_changed hook."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from dhnet.audit.models import AuditRecord
from dhnet.diseases.models import Disease
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid
from dhnet.reporting import events, services
from dhnet.reporting.models import CountValue, ImportBatch, Submission
from dhnet.reporting.periods import PeriodError, parse_period, period_start
from dhnet.reporting.services import BatchRejected, Row
from tests.platform.fixtures import actor_of
from tests.reporting.helpers import MONDAY, WEEK


@pytest.fixture
def officer(users: dict[str, Any]) -> Actor:
    return actor_of(users["district_officer"])  # D11


def _rows(*specs: tuple[str, str, Any, Any]) -> list[Row]:
    return [
        Row(unit, disease, period, value, ref=f"row {i + 2}", index=i)
        for i, (unit, disease, period, value) in enumerate(specs)
    ]


def _stored() -> dict[tuple[str, str, dt.date, str], int]:
    return {
        (c.orgunit.code, c.disease.code, c.period_start, c.measure): c.value
        for c in CountValue.objects.select_related("orgunit", "disease")
    }


def _nothing_stored() -> bool:
    return not CountValue.objects.exists() and not ImportBatch.objects.exists() and not Submission.objects.exists()


# --- periods --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind", "start"),
    [
        ("2024-W05", "week", MONDAY),
        ("2024W5", "week", MONDAY),
        ("2024-w5", "week", MONDAY),
        ("2024W05", "week", MONDAY),
        ("202401", "month", dt.date(2024, 1, 1)),
        ("2024-01", "month", dt.date(2024, 1, 1)),
        ("20240129", "day", MONDAY),
        ("2024-01-29", "day", MONDAY),
        (MONDAY, "day", MONDAY),
        ("2020-W53", "week", dt.date(2020, 12, 28)),
    ],
)
def test_periods(raw: Any, kind: str, start: dt.date) -> None:
    assert parse_period(raw) == (kind, start)


@pytest.mark.parametrize(
    ("raw", "unit", "message"),
    [
        ("2024-W53", "week", "2024 has 52 ISO weeks"),
        ("2024-01-31", "week", "is a Wednesday: give the ISO week \\(2024-W05\\) or its Monday \\(2024-01-29\\)"),
        ("202401", "week", "is a month; this disease is reported by week"),
        ("2024-13", "month", "month 13 does not exist"),
        ("2024-02-30", "week", "not a calendar date"),
        ("last week", "week", "not a period"),
        ("2024-W05", "month", "is a week; this disease is reported by month"),
        ("2024-01-15", "month", "not the first day of a month"),
    ],
)
def test_period_errors(raw: str, unit: Any, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        period_start(raw, unit)


# --- validation -----------------------------------------------------------------------------------------------------


def test_import_and_counts(officer: Actor) -> None:
    rows = _rows(("D11", "measles", WEEK, 3), ("D11", "cholera", "2024-01-29", "12"), ("D11", "malaria", "2024W5", 0))
    result = services.ingest(officer, "csv", rows, payload_checksum="a" * 64)
    assert (result.imported, result.updated, result.ignored, result.deleted) == (3, 0, 0, 0)
    assert result.batch_id is not None
    assert result.orgunits == 1
    assert result.periods == ["2024-01-29"]
    assert _stored()[("D11", "cholera", MONDAY, "cases")] == 12
    batch = ImportBatch.objects.get()
    assert (batch.source, batch.imported, batch.actor_username) == ("csv", 3, "district_officer")
    assert batch.summary["imported"] == 3
    assert AuditRecord.objects.filter(action="reporting.batch.import").count() == 1
    # Corrections: one changed, one unchanged, one new.
    rows = _rows(("D11", "measles", WEEK, 4), ("D11", "cholera", WEEK, 12), ("D11", "measles", "2024-W04", 1))
    result = services.ingest(officer, "csv", rows, payload_checksum="b" * 64)
    assert (result.imported, result.updated, result.ignored) == (1, 1, 1)
    assert _stored()[("D11", "measles", MONDAY, "cases")] == 4


def test_every_problem_is_reported_and_nothing_stored(officer: Actor) -> None:
    rows = [
        Row("D11", "measles", WEEK, "3", ref="row 2"),
        Row("D11", "measles", WEEK, "-1", ref="row 3", value_field="cases"),
        Row("D11", "flu", WEEK, 1, ref="row 4"),
        Row("D99", "measles", WEEK, 1, ref="row 5"),
        Row("D11", "measles", "2024-01-31", 1, ref="row 6"),
        Row("D11", "measles", "202401", 1, ref="row 7"),
        Row("D11", "measles", WEEK, 2, ref="row 8"),
        Row("D11", "measles", "2999-W01", 1, ref="row 9"),
        Row("D11", "measles", WEEK, 1, measure="hospitalised", ref="row 10"),
        Row("D11", "measles", WEEK, 1.5, ref="row 11", value_field="cases"),
        Row("D11", "measles", WEEK, True, ref="row 12", value_field="cases"),
        Row("D11", "measles", WEEK, 2**31, ref="row 13", value_field="cases"),
    ]
    with pytest.raises(BatchRejected) as info:
        services.ingest(officer, "csv", rows, payload_checksum="c" * 64, field_names={"period": "period_start"})
    exc = info.value
    assert exc.status == 400
    assert exc.total == 11
    messages = [str(e) for e in exc.errors]
    assert messages == [
        "row 3, field cases: must be a non-negative integer",
        "row 4, field disease: unknown disease 'flu'",
        "row 5, field orgunit: unknown org unit 'D99'",
        "row 6, field period_start: 2024-01-31 is a Wednesday: give the ISO week (2024-W05) or its Monday (2024-01-29)",
        "row 7, field period_start: '202401' is a month; this disease is reported by week: give an ISO week such as "
        "2024-W05",
        "row 8: repeats the count of row 2 (D11, measles, 2024-W05, cases)",
        "row 9, field period_start: 2999-W01 has not started yet",
        "row 10, field measure: expected one of cases, deaths",
        "row 11, field cases: must be a non-negative integer",
        "row 12, field cases: must be a non-negative integer",
        "row 13, field cases: must be a non-negative integer",
    ]
    assert "11 problems" in exc.message
    assert _nothing_stored()
    assert not AuditRecord.objects.filter(action__startswith="reporting.").exists()


def test_outside_the_jurisdiction_is_403_naming_the_row(officer: Actor) -> None:
    rows = _rows(("D11", "measles", WEEK, 1), ("D12", "measles", WEEK, 1), ("D21", "cholera", WEEK, 1))
    with pytest.raises(BatchRejected) as info:
        services.ingest(officer, "csv", rows, payload_checksum="d" * 64)
    assert info.value.status == 403
    assert info.value.forbidden
    assert [str(e) for e in info.value.errors] == [
        "row 3, field orgunit: org unit 'D12' is outside your jurisdiction",
        "row 4, field orgunit: org unit 'D21' is outside your jurisdiction",
    ]
    assert _nothing_stored()


def test_permission_and_arguments(users: dict[str, Any], officer: Actor) -> None:
    with pytest.raises(Forbidden):
        services.ingest(actor_of(users["viewer"]), "csv", _rows(("D11", "measles", WEEK, 1)), payload_checksum="e" * 64)
    for kwargs, message in (
        ({"strategy": "MERGE"}, "importStrategy"),
        ({"orgunit_scheme": "name"}, "orgUnitIdScheme"),
        ({"payload_checksum": "short"}, "payload_checksum"),
    ):
        args = {"payload_checksum": "e" * 64, **kwargs}
        with pytest.raises(Invalid, match=message):
            services.ingest(officer, "csv", [], **args)
    with pytest.raises(Invalid, match="source"):
        services.ingest(officer, "fax", [], payload_checksum="e" * 64)


def test_inactive_disease_and_monthly_periods(officer: Actor, operator: Actor) -> None:
    Disease.objects.filter(code="measles").update(active=False)
    Disease.objects.create(code="leprosy", name="Leprosy", reporting="monthly")
    with pytest.raises(BatchRejected) as info:
        services.ingest(
            officer,
            "csv",
            _rows(("D11", "measles", WEEK, 1), ("D11", "leprosy", WEEK, 1), ("D11", "leprosy", "202401", 1)),
            payload_checksum="f" * 64,
        )
    assert [str(e) for e in info.value.errors] == [
        "row 2, field disease: disease 'measles' is not active",
        "row 3, field period: '2024-W05' is a week; this disease is reported by month: give a month such as 2024-01",
    ]
    result = services.ingest(officer, "csv", _rows(("D11", "leprosy", "2024-01", 2)), payload_checksum="f" * 64)
    assert result.imported == 1
    assert _stored()[("D11", "leprosy", dt.date(2024, 1, 1), "cases")] == 2
    assert not Submission.objects.exists()  # completeness is weekly


def test_errors_are_capped_but_all_counted(officer: Actor) -> None:
    rows = [Row("D11", "measles", f"2023-W{k % 52 + 1:02d}", "x", ref=f"row {k + 2}") for k in range(52 * 30)]
    with pytest.raises(BatchRejected) as info:
        services.ingest(officer, "csv", rows, payload_checksum="0" * 64)
    assert info.value.total == 52 * 30  # every bad value (a row with a bad value is not checked for repeats)
    assert len(info.value.errors) == services.MAX_ERRORS


# --- idempotency, dry run, strategies -------------------------------------------------------------------------------


def test_a_retried_payload_is_stored_once_and_answers_the_first_summary(officer: Actor) -> None:
    rows = _rows(("D11", "measles", WEEK, 3))
    first = services.ingest(officer, "csv", rows, payload_checksum="1" * 64)
    again = services.ingest(officer, "csv", rows, payload_checksum="1" * 64)
    assert again.duplicate
    assert again.batch_id == first.batch_id
    assert again.imported == 1
    assert ImportBatch.objects.count() == 1
    assert CountValue.objects.count() == 1
    assert AuditRecord.objects.filter(action="reporting.batch.duplicate").count() == 1
    # Another source with the same bytes is another batch (nothing changes, so nothing is counted twice).
    other = services.ingest(officer, "dhis2", rows, payload_checksum="1" * 64)
    assert not other.duplicate
    assert other.ignored == 1
    assert ImportBatch.objects.count() == 2


def test_a_correction_back_to_an_earlier_payload_is_applied_again(officer: Actor) -> None:
    a, b = _rows(("D11", "measles", WEEK, 3)), _rows(("D11", "measles", WEEK, 5))
    services.ingest(officer, "csv", a, payload_checksum="a" * 64)
    services.ingest(officer, "csv", b, payload_checksum="b" * 64)
    again = services.ingest(officer, "csv", a, payload_checksum="a" * 64)
    assert not again.duplicate
    assert again.updated == 1
    assert _stored()[("D11", "measles", MONDAY, "cases")] == 3
    batch = ImportBatch.objects.get(pk=again.batch_id)
    assert batch.checksum != "a" * 64
    assert batch.summary["detail"]["payload_checksum"] == "a" * 64
    assert services.ingest(officer, "csv", a, payload_checksum="a" * 64).duplicate


def test_dry_run_counts_and_stores_nothing(officer: Actor) -> None:
    services.ingest(officer, "csv", _rows(("D11", "measles", WEEK, 3)), payload_checksum="1" * 64)
    before = (CountValue.objects.count(), ImportBatch.objects.count(), Submission.objects.get().last_received_at)
    result = services.ingest(
        officer,
        "csv",
        _rows(("D11", "measles", WEEK, 4), ("D11", "cholera", WEEK, 1)),
        payload_checksum="2" * 64,
        dry_run=True,
    )
    assert (result.dry_run, result.imported, result.updated, result.batch_id) == (True, 1, 1, None)
    assert (
        CountValue.objects.count(),
        ImportBatch.objects.count(),
        Submission.objects.get().last_received_at,
    ) == before
    assert _stored()[("D11", "measles", MONDAY, "cases")] == 3
    with pytest.raises(BatchRejected):
        services.ingest(officer, "csv", _rows(("D21", "measles", WEEK, 4)), payload_checksum="3" * 64, dry_run=True)


@pytest.mark.parametrize("sparse", [False, True], ids=["cross-product", "exact-cells"])
def test_strategies(officer: Actor, sparse: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # The stored counts of a batch are read by the cross product of its diseases, periods and units, or (scattered
    # cells, e.g. a case Bundle's) by each cell's exact row values: the outcome is the same.
    monkeypatch.setattr(services, "SPARSE_FACTOR", 0 if sparse else 10**9)
    monkeypatch.setattr(services, "SPARSE_CHUNK", 1)  # (the cells of a batch in several queries)
    services.ingest(officer, "csv", _rows(("D11", "measles", WEEK, 3)), payload_checksum="1" * 64)
    two = _rows(("D11", "measles", WEEK, 9), ("D11", "cholera", WEEK, 2))
    create = services.ingest(officer, "dhis2", two, payload_checksum="2" * 64, strategy="CREATE")
    assert (create.imported, create.updated, create.ignored) == (1, 0, 1)
    assert _stored()[("D11", "measles", MONDAY, "cases")] == 3
    update = services.ingest(
        officer, "dhis2", _rows(("D11", "measles", WEEK, 9), ("D11", "rabies", WEEK, 1)), payload_checksum="3" * 64,
        strategy="UPDATE",
    )  # fmt: skip
    assert (update.imported, update.updated, update.ignored) == (0, 1, 1)
    assert ("D11", "rabies", MONDAY, "cases") not in _stored()
    delete = services.ingest(
        officer, "dhis2", _rows(("D11", "measles", WEEK, "anything"), ("D11", "plague", WEEK, 1)),
        payload_checksum="4" * 64, strategy="DELETE",
    )  # fmt: skip
    assert (delete.deleted, delete.ignored) == (1, 1)
    assert set(_stored()) == {("D11", "cholera", MONDAY, "cases")}
    # An empty value (None) deletes the count under CREATE_AND_UPDATE.
    cleared = services.ingest(officer, "form", _rows(("D11", "cholera", WEEK, None)), payload_checksum="5" * 64)
    assert cleared.deleted == 1
    assert not _stored()


# --- submissions, audit, hook ---------------------------------------------------------------------------------------


def test_submissions_record_completeness_and_timeliness(officer: Actor) -> None:
    services.ingest(officer, "csv", _rows(("D11", "measles", WEEK, 3)), payload_checksum="1" * 64)
    late = Submission.objects.get(orgunit__code="D11", period_start=MONDAY)
    assert not late.on_time
    assert late.source == "csv"
    assert late.submitted_by_id == officer.user_id
    this_week = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
    services.ingest(officer, "form", _rows(("D11", "measles", this_week, 1)), payload_checksum="2" * 64)
    assert Submission.objects.get(period_start=this_week).on_time
    # A later correction keeps the first receipt and its timeliness.
    first = late.first_received_at
    services.ingest(officer, "csv", _rows(("D11", "measles", WEEK, 4)), payload_checksum="3" * 64)
    late.refresh_from_db()
    assert late.first_received_at == first
    assert late.last_received_at > first
    assert not late.on_time


def test_deadline_is_local_time_on_the_configured_day(db: Any, settings: Any, operator: Actor) -> None:
    settings.TIME_ZONE = "Africa/Nairobi"
    due = services.deadline(MONDAY)
    assert due.isoformat() == "2024-02-06T23:59:59.999999+03:00"  # Tuesday after the week, 23:59 in Nairobi
    services.update_settings(operator, {"deadline_days": 3})
    assert services.deadline(MONDAY).date() == dt.date(2024, 2, 7)  # Wednesday
    with pytest.raises(Invalid, match="deadline_days"):
        services.update_settings(operator, {"deadline_days": 30})
    with pytest.raises(Invalid, match="reporting_level"):
        services.update_settings(operator, {"reporting_level": 0})


def test_reporting_level_setting(officer: Actor, operator: Actor, tree: dict[str, OrgUnit]) -> None:
    with pytest.raises(BatchRejected, match="'R1' is not a reporting unit \\(units without child units report\\)"):
        services.ingest(operator, "csv", _rows(("R1", "measles", WEEK, 1)), payload_checksum="1" * 64)
    services.update_settings(operator, {"reporting_level": 2})
    with pytest.raises(BatchRejected, match="'D11' is not a reporting unit \\(units at level 2 report\\)"):
        services.ingest(operator, "csv", _rows(("D11", "measles", WEEK, 1)), payload_checksum="1" * 64)
    assert services.ingest(operator, "csv", _rows(("R1", "measles", WEEK, 1)), payload_checksum="1" * 64).imported


def test_hook_is_sent_after_commit_with_what_changed(
    officer: Actor, django_capture_on_commit_callbacks: Any, tree: dict[str, OrgUnit]
) -> None:
    received: list[dict[str, Any]] = []

    def listener(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    events.counts_changed.connect(listener)
    try:
        rows = _rows(("D11", "measles", WEEK, 3), ("D11", "cholera", "2024-W04", 1))
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            result = services.ingest(officer, "csv", rows, payload_checksum="1" * 64)
            assert not received  # nothing before the commit
        assert len(callbacks) == 1
        callbacks[0]()
        measles, cholera = Disease.objects.get(code="measles").pk, Disease.objects.get(code="cholera").pk
        assert received == [
            {
                "signal": events.counts_changed,
                "batch_id": result.batch_id,
                "source": "csv",
                "disease_ids": sorted([measles, cholera]),
                "orgunit_ids": [tree["D11"].pk],
                "periods": [dt.date(2024, 1, 22), MONDAY],
                "actor_username": "district_officer",
            }
        ]
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            services.ingest(officer, "csv", rows, payload_checksum="1" * 64)  # duplicate: no hook
            services.ingest(officer, "csv", rows, payload_checksum="2" * 64)  # nothing changed: no hook
            services.ingest(officer, "csv", rows, payload_checksum="3" * 64, dry_run=True)
        assert not callbacks
        assert len(received) == 1
    finally:
        events.counts_changed.disconnect(listener)


def test_a_concurrent_identical_payload_answers_the_committed_summary(officer: Actor) -> None:
    rows = _rows(("D11", "measles", WEEK, 3))
    first = services.ingest(officer, "csv", rows, payload_checksum="9" * 64)
    real_filter = ImportBatch.objects.filter
    calls = {"n": 0}

    def blind_first_lookup(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return real_filter(pk=-1) if calls["n"] == 1 else real_filter(*args, **kwargs)

    with mock.patch.object(ImportBatch.objects, "filter", side_effect=blind_first_lookup):
        again = services.ingest(officer, "csv", rows, payload_checksum="9" * 64)
    assert again.duplicate
    assert again.batch_id == first.batch_id
    assert ImportBatch.objects.count() == 1
    assert CountValue.objects.count() == 1
