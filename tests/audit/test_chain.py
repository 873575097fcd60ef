"""The hash-chained audit trail: appends, verification against raw-SQL tampering, concurrency, the page."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from typing import Any

import pytest
from click.testing import CliRunner
from django.db import connection, connections, transaction
from django.test import Client

from dhnet.audit import services as audit
from dhnet.audit.models import AuditRecord, ChainHead
from dhnet.cli import main
from dhnet.platform.access import Actor
from tests.platform.fixtures import login

TABLE = AuditRecord._meta.db_table


@pytest.fixture
def chain(db: Any) -> list[AuditRecord]:
    actor = Actor(user_id=7, username="eve", via="session", ip="10.0.0.7", purpose="outbreak-investigation")
    return [audit.record(actor, f"test.thing.{i}", object_type="thing", object_id=i, detail={"n": i}) for i in range(6)]


def _sql(query: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(query.format(t=connection.ops.quote_name(TABLE)), params or [])


def _verify() -> Any:
    return CliRunner().invoke(main, ["audit", "verify"])


def test_records_link_and_verify(chain: list[AuditRecord]) -> None:
    assert [r.seq for r in chain] == list(range(1, 7))
    assert chain[0].prev_hash == audit.GENESIS
    for before, after in itertools.pairwise(chain):
        assert after.prev_hash == before.hash
    first = chain[0]
    assert (first.actor_username, first.actor_id, first.ip, first.purpose, first.via) == (
        "eve",
        7,
        "10.0.0.7",
        "outbreak-investigation",
        "session",
    )
    report = audit.verify()
    assert report.ok
    assert report.count == 6
    result = _verify()
    assert result.exit_code == 0
    assert "chain intact, 6 records" in result.stdout
    assert ChainHead.objects.get(pk=1).hash == chain[-1].hash


def test_altered_row_is_reported(chain: list[AuditRecord]) -> None:
    _sql("UPDATE {t} SET actor_username = %s WHERE id = %s", ["mallory", chain[2].pk])
    result = _verify()
    assert result.exit_code == 1
    assert f"record id {chain[2].pk}: content does not match its hash (altered)" in result.stderr
    assert "chain BROKEN" in result.stderr


def test_altered_detail_is_reported(chain: list[AuditRecord]) -> None:
    AuditRecord.objects.filter(pk=chain[1].pk).update(detail={"n": 99})
    report = audit.verify()
    assert [(p.record_id, p.kind) for p in report.problems] == [(chain[1].pk, "altered")]


def test_deleted_row_is_reported(chain: list[AuditRecord]) -> None:
    _sql("DELETE FROM {t} WHERE id = %s", [chain[3].pk])
    result = _verify()
    assert result.exit_code == 1
    assert f"record id {chain[4].pk}: records #4..#4 are missing (deleted)" in result.stderr
    assert f"record id {chain[4].pk}: does not link to the previous record" in result.stderr


def test_deleted_last_row_is_reported(chain: list[AuditRecord]) -> None:
    _sql("DELETE FROM {t} WHERE id = %s", [chain[-1].pk])
    report = audit.verify()
    assert [p.kind for p in report.problems] == ["head"]
    assert "chain head points at #6 but the last record is #5" in report.problems[0].message


def test_inserted_row_is_reported(chain: list[AuditRecord]) -> None:
    # A forger who recomputes the hash correctly still breaks the link to the head.
    values = {
        "seq": 7,
        "at": dt.datetime.now(dt.UTC),
        "actor_id": None,
        "actor_username": "mallory",
        "actor_role": "",
        "via": "session",
        "action": "forged",
        "object_type": "",
        "object_id": "",
        "ip": "",
        "purpose": "",
        "detail": {},
        "prev_hash": chain[-1].hash,
    }
    values["hash"] = audit.digest(values)
    AuditRecord.objects.bulk_create([AuditRecord(**values)])
    forged = AuditRecord.objects.get(seq=7)
    result = _verify()
    assert result.exit_code == 1
    assert f"(record id {forged.pk})" in result.stderr


def test_inserted_row_with_bad_hash_is_reported(chain: list[AuditRecord]) -> None:
    _sql(
        "INSERT INTO {t} (seq, at, actor_username, actor_role, via, action, object_type, object_id, ip, purpose, "
        "detail, prev_hash, hash) VALUES (%s, %s, %s, '', 'session', 'forged', '', '', '', '', '{{}}', %s, %s)",
        [100, dt.datetime.now(dt.UTC), "mallory", chain[-1].hash, "f" * 64],
    )
    forged = AuditRecord.objects.get(seq=100)
    report = audit.verify()
    kinds = {(p.record_id, p.kind) for p in report.problems}
    assert (forged.pk, "missing") in kinds
    assert (forged.pk, "altered") in kinds
    assert not report.ok


def test_record_rolls_back_with_the_work(db: Any) -> None:
    actor = Actor(user_id=None, username="eve", via="cli")

    def work() -> None:
        with transaction.atomic():
            audit.record(actor, "test.rolled.back")
            raise RuntimeError("the work fails")

    with pytest.raises(RuntimeError):
        work()
    assert not AuditRecord.objects.exists()
    audit.record(actor, "test.kept")
    assert audit.verify().ok


def test_detail_must_be_json(db: Any) -> None:
    with pytest.raises(audit.Invalid):
        audit.record(Actor(user_id=None, username="x"), "a", detail={"when": dt.date.today()})


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_the_chain() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need a server database (the PostgreSQL run of bin/test)")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            actor = Actor(user_id=None, username=f"w{n}", via="cli")
            for i in range(15):
                with transaction.atomic():
                    audit.record(actor, "test.concurrent", object_id=f"{n}-{i}")
        except BaseException as exc:  # report in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = audit.verify()
    assert report.ok, report.problems
    assert report.count == 90
    assert sorted(AuditRecord.objects.values_list("seq", flat=True)) == list(range(1, 91))


def test_audit_page_filters_and_paginates(users: dict[str, Any], chain: list[AuditRecord]) -> None:
    client = login(Client(), users["system_admin"])
    for i in range(60):
        audit.record(Actor(user_id=None, username="bulk", via="cli"), "bulk.write", object_id=i)
    page = client.get("/audit/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Page 1 of" in body
    assert "Older" in body
    page2 = client.get("/audit/?user=bulk&page=2").content.decode()
    assert "bulk.write" in page2
    assert "Page 2 of 2" in page2
    only_eve = client.get("/audit/?user=eve").content.decode()
    assert "test.thing.5" in only_eve
    assert "bulk.write" not in only_eve
    by_action = client.get("/audit/?action=test.thing").content.decode()
    assert "6 records" in by_action
    today = dt.date.today().isoformat()
    assert "6 records" in client.get(f"/audit/?action=test.thing&from={today}&to={today}").content.decode()
    assert "0 records" in client.get("/audit/?action=test.thing&to=2000-01-01").content.decode()
    assert client.get("/audit/?from=notadate&page=x").status_code == 200
    # Reading the trail is itself recorded.
    assert AuditRecord.objects.filter(action="audit.record.list", actor_username="system_admin").count() == 7
    assert audit.verify().ok


def test_audit_page_forbidden_to_others(users: dict[str, Any]) -> None:
    for role in ("national_epidemiologist", "regional_officer", "district_officer", "viewer", "partner"):
        assert login(Client(), users[role]).get("/audit/").status_code == 403


# --- chained_at_end: records of a long transaction chained when its work is done ------------------------------------


def test_records_of_a_block_are_chained_at_its_end_in_order(db: Any) -> None:
    actor = Actor(user_id=3, username="bulk", via="token")
    audit.record(actor, "test.before")
    with transaction.atomic(), audit.chained_at_end():
        audit.record(actor, "test.block.1", subjects=["p1", "p2"])
        assert AuditRecord.objects.filter(seq__lt=0).count() == 1  # written, not chained yet
        assert ChainHead.objects.get(pk=1).seq == 1
        audit.record(actor, "test.block.2", detail={"n": 2}, subjects=["p2"])
        audit.record(actor, "test.block.3")
    rows = list(AuditRecord.objects.order_by("seq"))
    assert [(r.seq, r.action) for r in rows] == [
        (1, "test.before"),
        (2, "test.block.1"),
        (3, "test.block.2"),
        (4, "test.block.3"),
    ]
    assert not any(r.hash.startswith(audit.PENDING) for r in rows)
    assert [r.at for r in rows] == sorted(r.at for r in rows)
    report = audit.verify()
    assert report.ok, report.problems
    assert ChainHead.objects.get(pk=1).hash == rows[-1].hash
    assert sorted(rows[1].subjects.values_list("subject", flat=True)) == ["p1", "p2"]


def test_a_rolled_back_savepoint_takes_its_record_out_of_the_block(db: Any) -> None:
    actor = Actor(user_id=None, username="bulk", via="cli")
    with transaction.atomic(), audit.chained_at_end():
        audit.record(actor, "test.kept.1")

        def undone() -> None:
            with transaction.atomic():
                audit.record(actor, "test.undone", subjects=["p9"])
                raise RuntimeError("this part fails")

        with pytest.raises(RuntimeError):
            undone()
        with audit.chained_at_end():  # nested: chained with the outer block
            audit.record(actor, "test.kept.2")
    assert list(AuditRecord.objects.order_by("seq").values_list("seq", "action")) == [
        (1, "test.kept.1"),
        (2, "test.kept.2"),
    ]
    assert audit.verify().ok


def test_a_failing_block_stores_and_chains_nothing(db: Any) -> None:
    actor = Actor(user_id=None, username="bulk", via="cli")
    audit.record(actor, "test.first")

    def work() -> None:
        with transaction.atomic(), audit.chained_at_end():
            audit.record(actor, "test.lost")
            raise RuntimeError("the work fails")

    with pytest.raises(RuntimeError):
        work()
    assert list(AuditRecord.objects.values_list("action", flat=True)) == ["test.first"]
    assert ChainHead.objects.get(pk=1).seq == 1
    audit.record(actor, "test.second")
    assert audit.verify().ok


@pytest.mark.django_db(transaction=True)
def test_chained_at_end_belongs_in_a_transaction() -> None:
    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"), audit.chained_at_end():
        pass


@pytest.mark.django_db(transaction=True)
def test_a_block_does_not_hold_the_chain_head_while_it_works() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks of concurrent transactions need a server database (the PostgreSQL run of bin/test)")
    recorded, go_on = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def long_request() -> None:
        try:
            actor = Actor(user_id=None, username="bundle", via="token")
            with transaction.atomic(), audit.chained_at_end():
                audit.record(actor, "test.bundle.consent")
                recorded.set()
                assert go_on.wait(30)
                audit.record(actor, "test.bundle.transaction")
        except BaseException as exc:  # report in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=long_request)
    thread.start()
    try:
        assert recorded.wait(30)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")  # a held head would fail here, not hang
            audit.record(Actor(user_id=None, username="other", via="session"), "test.meanwhile")
    finally:
        go_on.set()
        thread.join()
    assert not errors
    assert list(AuditRecord.objects.order_by("seq").values_list("action", flat=True)) == [
        "test.meanwhile",
        "test.bundle.consent",
        "test.bundle.transaction",
    ]
    assert audit.verify().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_blocks_and_single_records_do_not_fork_the_chain() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need a server database (the PostgreSQL run of bin/test)")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            actor = Actor(user_id=None, username=f"w{n}", via="cli")
            for i in range(10):
                if n % 2:
                    with transaction.atomic(), audit.chained_at_end():
                        for k in range(3):
                            audit.record(actor, "test.block", object_id=f"{n}-{i}-{k}", subjects=[f"s{n}"])
                else:
                    with transaction.atomic():
                        audit.record(actor, "test.single", object_id=f"{n}-{i}")
        except BaseException as exc:  # report in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = audit.verify()
    assert report.ok, report.problems
    assert report.count == 3 * 10 + 3 * 30
    assert sorted(AuditRecord.objects.values_list("seq", flat=True)) == list(range(1, 121))
