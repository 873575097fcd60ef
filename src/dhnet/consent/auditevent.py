"""``GET /fhir/AuditEvent``: the hash-chained audit trail searched and answered as R4 ``AuditEvent`` resources.

Search parameters (anything else is a 400 naming the parameter):

- ``patient``: a pseudonym (64 hex) or ``Patient/<id>`` (a stored Patient), comma-separated for OR — the records
  whose person index (:class:`~dhnet.audit.models.AuditSubject`) names the person;
- ``agent``: a username, comma-separated for OR;
- ``date``: ``[eq|ge|gt|le|lt]`` + a date (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``) or a dateTime with a time zone;
  at most twice (a range);
- ``action``: ``C``, ``R``, ``U``, ``D``, ``E``, comma-separated for OR, mapped from the last word of our action
  names (:data:`VERBS`; ``E``, execute, is every other action: lists, searches, log-ins, runs);
- ``_count`` (1..100, default 20) and ``_offset`` (paging; the Bundle's ``next``/``previous`` links carry it).

Each record becomes one AuditEvent: ``type``/``subtype`` our action, ``action``, ``recorded``, the agent (user,
role, address, purpose of use), the person(s) as entities named by pseudonym, the object, and the chain fields
(``seq``, ``hash``, ``prev_hash``) as entity details, so that a reader can re-check the chain.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import Q, QuerySet

from dhnet.audit import services as audit
from dhnet.audit.models import AuditRecord
from dhnet.consent.fhirconsent import PATIENT_REF_RE, PSEUDONYM_SYSTEM
from dhnet.fhir.measurereport import CANONICAL_BASE
from dhnet.fhir.outcome import FhirError
from dhnet.platform.access import Actor

READ = audit.READ_PERMISSION
ACTION_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/audit-action"
EVENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/audit-event-type"
MAX_COUNT = 100
DEFAULT_COUNT = 20
MAX_OFFSET = 10**9
MAX_VALUE = 1000
MAX_ALTERNATIVES = 50
PARAMETERS = ("patient", "agent", "date", "action", "_count", "_offset", "_format")

#: FHIR AuditEvent.action from the last word of our action names (E: everything else).
VERBS: dict[str, frozenset[str]] = {
    "C": frozenset(
        {"create", "add", "register", "import", "upload", "enrol", "grant", "withdraw", "legal-basis", "comment"}
    ),
    "R": frozenset({"read", "view", "download", "export", "reidentify", "access"}),
    "U": frozenset(
        {"update", "change", "edit", "assign", "revoke", "rotate", "rotate_secret", "set_password", "link", "merge"}
    ),
    "D": frozenset({"delete", "purge", "remove", "erase"}),
}
ACTIONS = ("C", "R", "U", "D", "E")
DATE_RE = re.compile(r"^(eq|ge|gt|le|lt)?(\d{4}(?:-\d{2}(?:-\d{2}(?:T.+)?)?)?)$")


def action_code(action: str) -> str:
    verb = action.rsplit(".", 1)[-1]
    for code, verbs in VERBS.items():
        if verb in verbs:
            return code
    return "E"


@dataclass(frozen=True)
class DateBound:
    """``at`` compared with ``op`` (``ge``/``gt``/``le``/``lt``)."""

    op: str
    at: dt.datetime


@dataclass
class AuditQuery:
    patients: list[str] = field(default_factory=list)  # pseudonyms or Patient/<id>
    agents: list[str] = field(default_factory=list)
    dates: list[DateBound] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0

    def params(self, *, offset: int | None = None) -> str:
        """The query string of this search (for paging links)."""
        pairs: list[tuple[str, str]] = []
        if self.patients:
            pairs.append(("patient", ",".join(self.patients)))
        if self.agents:
            pairs.append(("agent", ",".join(self.agents)))
        pairs += [("date", f"{d.op}{d.at.isoformat()}") for d in self.dates]
        if self.actions:
            pairs.append(("action", ",".join(self.actions)))
        pairs += [("_count", str(self.count)), ("_offset", str(self.offset if offset is None else offset))]
        return urlencode(pairs)


def _bad(parameter: str, message: str) -> FhirError:
    return FhirError.one(400, "invalid", f"search parameter {parameter}: {message}", parameter)


def _moment(text: str, parameter: str) -> tuple[dt.datetime, dt.datetime]:
    """The [start, end) interval a FHIR date or dateTime covers."""
    try:
        if len(text) == 4:
            start = dt.datetime(int(text), 1, 1, tzinfo=dt.UTC)
            return start, start.replace(year=start.year + 1)
        if len(text) == 7:
            start = dt.datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=dt.UTC)
            nxt = (
                start.replace(year=start.year + 1, month=1)
                if start.month == 12
                else start.replace(month=start.month + 1)
            )
            return start, nxt
        if len(text) == 10:
            start = dt.datetime.combine(dt.date.fromisoformat(text), dt.time.min, tzinfo=dt.UTC)
            return start, start + dt.timedelta(days=1)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError) as exc:
        raise _bad(parameter, f"{text[:40]!r} is not a valid date ({exc})") from exc
    if value.tzinfo is None:
        raise _bad(parameter, f"{text[:40]!r}: a dateTime needs a time zone (Z or +hh:mm)")
    return value, value + dt.timedelta(microseconds=1)


def _alternatives(name: str, value: str) -> list[str]:
    items = [v.strip() for v in value.split(",")]
    if any(not v for v in items):
        raise _bad(name, "empty value")
    if len(items) > MAX_ALTERNATIVES:
        raise _bad(name, f"at most {MAX_ALTERNATIVES} alternatives")
    return items


def _bounded_int(name: str, value: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d{1,12}", value):
        raise _bad(name, f"expected a whole number {low}..{high}, got {value[:40]!r}")
    number = int(value)
    if not low <= number <= high:
        raise _bad(name, f"expected {low}..{high}, got {number}")
    return number


def parse_query(pairs: Iterable[tuple[str, str]]) -> AuditQuery:
    """The search of ``pairs`` (the query string, in order), or a 400 :class:`FhirError` naming the parameter."""
    query = AuditQuery()
    seen: set[str] = set()
    for name, value in pairs:
        if name not in PARAMETERS:
            raise FhirError.one(
                400,
                "not-supported",
                f"unknown search parameter {name[:60]!r} (supported: {', '.join(PARAMETERS)})",
                name[:60],
            )
        if len(value) > MAX_VALUE:
            raise _bad(name, f"longer than {MAX_VALUE} characters")
        if name != "date" and name in seen:
            raise _bad(name, "given more than once (separate alternatives with commas)")
        seen.add(name)
        if name == "patient":
            for item in _alternatives(name, value):
                if not (re.fullmatch(r"[0-9a-f]{64}", item) or PATIENT_REF_RE.match(item)):
                    raise _bad(name, f"{item[:80]!r}: expected a pseudonym (64 hex) or Patient/<id>")
                query.patients.append(item)
        elif name == "agent":
            for item in _alternatives(name, value):
                if len(item) > 150:
                    raise _bad(name, "a username has at most 150 characters")
                query.agents.append(item)
        elif name == "action":
            for item in _alternatives(name, value):
                if item not in ACTIONS:
                    raise _bad(name, f"{item[:20]!r}: expected one of C, R, U, D, E")
                query.actions.append(item)
        elif name == "date":
            if len(query.dates) >= 4:
                raise _bad(name, "given more than twice")
            match = DATE_RE.match(value)
            if not match:
                raise _bad(name, f"{value[:60]!r}: expected [eq|ge|gt|le|lt]YYYY[-MM[-DD[Thh:mm:ss+zz:zz]]]")
            op, text = match.group(1) or "eq", match.group(2)
            start, end = _moment(text, name)
            if op == "eq":
                query.dates += [DateBound("ge", start), DateBound("lt", end)]
            elif op in ("ge", "lt"):
                query.dates.append(DateBound(op, start))
            elif op == "gt":
                query.dates.append(DateBound("ge", end))
            else:  # le: up to the end of the stated precision
                query.dates.append(DateBound("lt", end))
        elif name == "_count":
            query.count = _bounded_int(name, value, 1, MAX_COUNT)
        elif name == "_offset":
            query.offset = _bounded_int(name, value, 0, MAX_OFFSET)
        elif name == "_format" and value not in ("json", "application/fhir+json", "application/json"):
            raise FhirError.one(406, "not-supported", f"_format {value[:40]!r}: only json is supported", name)
    return query


def _verb_q(code: str) -> Q:
    if code != "E":
        q = Q()
        for verb in VERBS[code]:
            q |= Q(action__endswith=f".{verb}")
        return q
    known = Q()
    for verbs in VERBS.values():
        for verb in verbs:
            known |= Q(action__endswith=f".{verb}")
    return ~known


def pseudonym_of_patient(logical_id: str) -> str | None:
    """The pseudonym of a stored (pseudonymised) Patient, or None when there is no such Patient."""
    from dhnet.fhir.models import StoredResource

    row = StoredResource.objects.filter(resource_type="Patient", logical_id=logical_id).values_list("subject").first()
    return row[0] or None if row else None


def _pseudonyms(patients: list[str]) -> list[str]:
    from dhnet.fhir.models import StoredResource

    found = [p for p in patients if not p.startswith("Patient/")]
    ids = [p.removeprefix("Patient/") for p in patients if p.startswith("Patient/")]
    if ids:
        rows = StoredResource.objects.filter(resource_type="Patient", logical_id__in=ids)
        found += [s for s in rows.values_list("subject", flat=True) if s]
    return found


def filtered(query: AuditQuery) -> QuerySet[AuditRecord]:
    qs = AuditRecord.objects.order_by("-seq")
    if query.patients:
        qs = qs.filter(subjects__subject__in=_pseudonyms(query.patients)).distinct()
    if query.agents:
        qs = qs.filter(actor_username__in=query.agents)
    for bound in query.dates:
        qs = qs.filter(**{f"at__{'gte' if bound.op == 'ge' else bound.op}": bound.at})
    if query.actions:
        q = Q()
        for code in query.actions:
            q |= _verb_q(code)
        qs = qs.filter(q)
    return qs


@dataclass(frozen=True)
class Found:
    total: int
    records: list[AuditRecord]
    query: AuditQuery


def search(actor: Actor, query: AuditQuery) -> Found:
    """A page of audit records (``audit:record:read``); this search is itself audited."""
    if not actor.has(READ):
        raise FhirError.one(403, "forbidden", f"requires {READ}")
    qs = filtered(query)
    with transaction.atomic():
        total = qs.count()
        records = list(qs.prefetch_related("subjects")[query.offset : query.offset + query.count])
        audit.record(
            actor,
            "audit.auditevent.list",
            object_type="audit.record",
            detail={"query": query.params(), "total": total, "count": len(records)},
            permission=READ,
        )
    return Found(total, records, query)


def reason_of(row: AuditRecord) -> str:
    """Why the action was taken: the purpose the service recorded (e.g. a re-identification's), else the actor's."""
    stated = row.detail.get("purpose") if isinstance(row.detail, dict) else None
    return stated if isinstance(stated, str) and stated else row.purpose


def as_fhir(row: AuditRecord, *, only: Iterable[str] | None = None) -> dict[str, Any]:
    """One audit record as an R4 AuditEvent (``only``: list just these persons, e.g. in a person's own export,
    where the other persons a record concerned must not appear)."""
    keep = None if only is None else set(only)
    agent: dict[str, Any] = {
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                    "code": "humanuser" if row.actor_id is not None else "dataprocessor",
                }
            ]
        },
        "who": {"display": row.actor_username},
        "altId": row.actor_username,
        "requestor": True,
    }
    if row.actor_role:
        agent["role"] = [{"text": row.actor_role}]
    if row.ip:
        agent["network"] = {"address": row.ip, "type": "2"}
    if reason_of(row):
        agent["purposeOfUse"] = [{"text": reason_of(row)}]
    entities: list[dict[str, Any]] = [
        {
            "what": {"identifier": {"system": PSEUDONYM_SYSTEM, "value": s.subject}},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"},
        }
        for s in row.subjects.all()
        if keep is None or s.subject in keep
    ]
    chain = [
        {"type": "seq", "valueString": str(row.seq)},
        {"type": "hash", "valueString": row.hash},
        {"type": "prev_hash", "valueString": row.prev_hash},
    ]
    record_entity: dict[str, Any] = {"name": f"audit record #{row.seq}", "detail": chain}
    if row.object_type or row.object_id:
        record_entity["what"] = {"display": f"{row.object_type} {row.object_id}".strip()}
    entities.append(record_entity)
    return {
        "resourceType": "AuditEvent",
        "id": str(row.seq),
        "type": {"system": EVENT_TYPE_SYSTEM, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": ACTION_SYSTEM, "code": row.action}],
        "action": action_code(row.action),
        "recorded": row.at.astimezone(dt.UTC).isoformat(timespec="milliseconds"),
        "outcome": "0",
        "agent": [agent],
        "source": {"observer": {"display": "dhnet"}, "site": "dhnet"},
        "entity": entities,
    }


def searchset(found: Found, base_url: str) -> dict[str, Any]:
    """The searchset Bundle of a search, with self/next/previous links."""
    query = found.query
    url = f"{base_url}AuditEvent"
    links = [{"relation": "self", "url": f"{url}?{query.params()}"}]
    if query.offset + query.count < found.total:
        links.append({"relation": "next", "url": f"{url}?{query.params(offset=query.offset + query.count)}"})
    if query.offset > 0:
        links.append(
            {"relation": "previous", "url": f"{url}?{query.params(offset=max(0, query.offset - query.count))}"}
        )
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": found.total, "link": links}
    entries = [
        {"fullUrl": f"{url}/{row.seq}", "resource": as_fhir(row), "search": {"mode": "match"}} for row in found.records
    ]
    if entries:
        bundle["entry"] = entries
    return bundle
