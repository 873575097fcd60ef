"""Writing, reading and verifying the audit trail.

Services of every context call :func:`record` inside the transaction that does the audited work, so the record
commits or rolls back with it. Appends are serialised on the chain-head row (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite takes its database write lock at the start of the transaction), so concurrent writers can never
fork the chain.

The head's lock is held until the transaction commits. A long transaction that records early (a FHIR Bundle of a
hundred cases: consent decisions, an import batch, then its own record) would hold it for most of its work, and
concurrent requests on other server processes would queue behind it. Such a transaction runs its work inside
:func:`chained_at_end`: each record is written at once (its row and its person index rows, so that a savepoint
rolled back takes its records with it) but outside the chain (a provisional negative ``seq`` and a ``pending:``
hash, never visible to another transaction); when the block ends, still inside the transaction, the head is locked
and the block's surviving records are chained in the order they were made, as :func:`record` would have chained
them one by one. The lock is then held only from the end of the work to the commit. The chain's format is
unchanged: ``dhnet audit verify`` sees ordinary records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from dhnet.audit.models import AuditRecord, AuditSubject, ChainHead
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid

GENESIS = "0" * 64
READ_PERMISSION = "audit:record:read"
#: The hash of a record written inside :func:`chained_at_end` until the block chains it (followed by random hex).
PENDING = "pending:"

#: (id, provisional hash) of the records written within the outermost :func:`chained_at_end` block, in the order
#: made. The hash tells a record apart from a later one that reuses the id of a record rolled back (SQLite).
_pending: ContextVar[list[tuple[int, str]] | None] = ContextVar("audit_pending", default=None)

#: Fields covered by the hash, in canonical order (the JSON is also key-sorted).
HASHED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_username",
    "actor_role",
    "via",
    "action",
    "object_type",
    "object_id",
    "ip",
    "purpose",
    "detail",
    "prev_hash",
)


def canonical(values: dict[str, Any]) -> bytes:
    """The canonical byte form of a record's content: key-sorted compact JSON, UTC timestamp in microseconds."""
    content = {name: values[name] for name in HASHED_FIELDS}
    at = content["at"]
    if isinstance(at, dt.datetime):
        content["at"] = at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def digest(values: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(values)).hexdigest()


def _row_values(row: AuditRecord) -> dict[str, Any]:
    return {name: getattr(row, name) for name in HASHED_FIELDS}


def _locked_head() -> ChainHead:
    head = ChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # The migration creates the head; this recreates it after a test flush (an empty table, so no fork).
        last = AuditRecord.objects.order_by("-seq").first()
        ChainHead.objects.get_or_create(
            pk=1, defaults={"seq": last.seq if last else 0, "hash": last.hash if last else GENESIS}
        )
        head = ChainHead.objects.select_for_update().get(pk=1)
    return head


def record(
    actor: Actor,
    action: str,
    *,
    object_type: str = "",
    object_id: str | int = "",
    detail: dict[str, Any] | None = None,
    permission: str | None = None,
    subjects: Iterable[str] = (),
) -> AuditRecord:
    """Append one record for ``actor`` doing ``action`` (e.g. ``orgunits.orgunit.read``) on an object.

    Call it inside the service's transaction; it opens a nested atomic block itself so it is safe either way.
    ``permission`` names the permission the action used, to record the role(s) that granted it. ``subjects``:
    the pseudonyms of the persons whose records the action read or changed; they go into ``detail["subjects"]``
    (covered by the hash) and into the :class:`~dhnet.audit.models.AuditSubject` index (a person's access log).
    """
    detail = dict(detail or {})
    subject_list = sorted({str(s) for s in subjects if s})
    if subject_list:
        detail["subjects"] = subject_list
    try:
        json.dumps(detail, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"audit detail is not JSON-serialisable: {exc}") from exc
    pending = _pending.get()
    if pending is not None:
        return _record_pending(pending, actor, action, object_type, object_id, detail, permission, subject_list)
    with transaction.atomic():
        head = _locked_head()
        values: dict[str, Any] = {
            "seq": head.seq + 1,
            "at": timezone.now(),
            "actor_id": actor.user_id,
            "actor_username": actor.username[:150],
            "actor_role": actor.role_label(permission),
            "via": actor.via,
            "action": action[:100],
            "object_type": object_type[:100],
            "object_id": str(object_id)[:255],
            "ip": actor.ip or "",
            "purpose": actor.purpose[:64],
            "detail": detail,
            "prev_hash": head.hash,
        }
        values["hash"] = digest(values)
        row = AuditRecord.objects.create(**values)
        if subject_list:
            AuditSubject.objects.bulk_create([AuditSubject(record=row, subject=s) for s in subject_list])
        head.seq = row.seq
        head.hash = row.hash
        head.save(update_fields=["seq", "hash"])
    return row


def _record_pending(
    pending: list[tuple[int, str]],
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int,
    detail: dict[str, Any],
    permission: str | None,
    subject_list: list[str],
) -> AuditRecord:
    """:func:`record` within :func:`chained_at_end`: the row and its index now, its place in the chain later."""
    with transaction.atomic():
        row = AuditRecord.objects.create(
            seq=-secrets.randbelow(2**62) - 1,  # provisional and unique; never committed
            at=timezone.now(),
            actor_id=actor.user_id,
            actor_username=actor.username[:150],
            actor_role=actor.role_label(permission),
            via=actor.via,
            action=action[:100],
            object_type=object_type[:100],
            object_id=str(object_id)[:255],
            ip=actor.ip or "",
            purpose=actor.purpose[:64],
            detail=detail,
            prev_hash="",
            hash=PENDING + secrets.token_hex(24),
        )
        if subject_list:
            AuditSubject.objects.bulk_create([AuditSubject(record=row, subject=s) for s in subject_list])
    pending.append((row.pk, row.hash))
    return row


@contextlib.contextmanager
def chained_at_end() -> Iterator[None]:
    """Within a transaction: :func:`record` writes each record at once but chains them all when the block ends
    (the chain head locked only from then to the commit; see the module's docstring). When the block raises,
    nothing is chained (the transaction rolls back). Nested blocks chain with the outermost."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("chained_at_end() belongs inside transaction.atomic()")
    if _pending.get() is not None:
        yield
        return
    pending: list[tuple[int, str]] = []
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
    if pending:
        _chain(pending)


def _chain(pending: list[tuple[int, str]]) -> None:
    """Give the records ``pending`` (those a rolled-back savepoint did not remove) their places at the chain's end."""
    rows = {row.pk: row for row in AuditRecord.objects.filter(pk__in=[pk for pk, _ in pending])}
    survivors = [rows[pk] for pk, provisional in pending if pk in rows and rows[pk].hash == provisional]
    if not survivors:
        return
    with transaction.atomic():
        head = _locked_head()
        seq, prev = head.seq, head.hash
        for row in survivors:
            seq += 1
            row.seq, row.at, row.prev_hash = seq, timezone.now(), prev
            row.hash = prev = digest(_row_values(row))
            row.save(update_fields=["seq", "at", "prev_hash", "hash"])
        head.seq, head.hash = seq, prev
        head.save(update_fields=["seq", "hash"])


@dataclass(frozen=True)
class Problem:
    """A break in the chain: the row where it shows, and what is wrong."""

    record_id: int | None
    seq: int | None
    kind: str  # altered | missing | inserted | relinked | head | index
    message: str


@dataclass
class VerifyReport:
    count: int = 0
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(*, chunk_size: int = 2000) -> VerifyReport:
    """Walk the whole chain and report every altered, inserted or deleted row.

    - altered: the stored hash differs from the hash of the row's content;
    - missing (deleted): ``seq`` jumps, or the row does not link to the row before it;
    - inserted: a ``seq`` out of order, or a row whose link or hash does not fit;
    - head: the chain head does not point at the last row (rows deleted or appended at the end).
    """
    report = VerifyReport()
    expected_seq = 1
    prev_hash = GENESIS
    last: AuditRecord | None = None
    subjects: dict[int, set[str]] = {}
    for row in AuditRecord.objects.order_by("seq", "id").iterator(chunk_size=chunk_size):
        report.count += 1
        listed = row.detail.get("subjects") if isinstance(row.detail, dict) else None
        if listed:
            subjects[row.pk] = {str(s) for s in listed}
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                kind, what = "missing", f"records #{expected_seq}..#{row.seq - 1} are missing (deleted)"
            else:
                kind, what = "inserted", f"sequence number {row.seq} repeats or goes back (inserted row)"
            report.problems.append(Problem(row.pk, row.seq, kind, f"record id {row.pk}: {what}"))
        if row.hash != digest(_row_values(row)):
            report.problems.append(
                Problem(row.pk, row.seq, "altered", f"record id {row.pk}: content does not match its hash (altered)")
            )
        if row.prev_hash != prev_hash:
            report.problems.append(
                Problem(
                    row.pk,
                    row.seq,
                    "relinked",
                    f"record id {row.pk}: does not link to the previous record (a record before it was deleted, "
                    "altered or inserted)",
                )
            )
        prev_hash = row.hash
        expected_seq = row.seq + 1
        last = row
    _verify_subject_index(subjects, report)
    head = ChainHead.objects.filter(pk=1).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    last_seq, last_hash = (last.seq, last.hash) if last else (0, GENESIS)
    if (head_seq, head_hash) != (last_seq, last_hash):
        report.problems.append(
            Problem(
                last.pk if last else None,
                last_seq,
                "head",
                f"chain head points at #{head_seq} but the last record is #{last_seq}"
                + (f" (record id {last.pk})" if last else "")
                + ": records were deleted from or appended to the end outside the audit service",
            )
        )
    report.head_hash = last_hash
    return report


def _verify_subject_index(expected: dict[int, set[str]], report: VerifyReport) -> None:
    """The person index must list exactly the subjects each record's hashed detail names."""
    indexed: dict[int, set[str]] = {}
    for record_id, subject in AuditSubject.objects.order_by("record_id").values_list("record_id", "subject"):
        indexed.setdefault(record_id, set()).add(subject)
    for record_id in sorted(expected.keys() | indexed.keys()):
        want, have = expected.get(record_id, set()), indexed.get(record_id, set())
        if want != have:
            extra, missing = sorted(have - want), sorted(want - have)
            seq = AuditRecord.objects.filter(pk=record_id).values_list("seq", flat=True).first()
            report.problems.append(
                Problem(
                    record_id,
                    seq,
                    "index",
                    f"record id {record_id}: person index differs from the record "
                    f"(not in the record: {extra[:3]}, missing from the index: {missing[:3]})",
                )
            )


@dataclass(frozen=True)
class RecordFilter:
    username: str = ""
    action: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def search(actor: Actor, flt: RecordFilter, *, page: int = 1, per_page: int = 50) -> Page[AuditRecord]:
    """A page of records, newest first, for an actor holding ``audit:record:read`` (reading is itself audited).

    The audit trail is platform-wide: only roles whose grant is at the top of the hierarchy should hold
    ``audit:record:read`` (the system administrator).
    """
    if not actor.has(READ_PERMISSION):
        raise Forbidden(f"requires {READ_PERMISSION}")
    qs: QuerySet[AuditRecord] = AuditRecord.objects.order_by("-seq")
    if flt.username:
        qs = qs.filter(actor_username=flt.username)
    if flt.action:
        qs = qs.filter(action__startswith=flt.action)
    tz = timezone.get_current_timezone()
    if flt.date_from:
        qs = qs.filter(at__gte=dt.datetime.combine(flt.date_from, dt.time.min, tzinfo=tz))
    if flt.date_to:
        qs = qs.filter(at__lt=dt.datetime.combine(flt.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz))
    with transaction.atomic():
        result = Paginator(qs, per_page).get_page(page)
        result.object_list = list(result.object_list)  # read before this very read is recorded
        record(
            actor,
            "audit.record.list",
            object_type="audit.record",
            detail={
                "username": flt.username,
                "action": flt.action,
                "from": flt.date_from.isoformat() if flt.date_from else None,
                "to": flt.date_to.isoformat() if flt.date_to else None,
                "page": result.number,
            },
            permission=READ_PERMISSION,
        )
    return result
