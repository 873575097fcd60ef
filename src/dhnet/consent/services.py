"""Consent services: ``permits`` (what releases ask), recording decisions, a person's history, search.

Decisions are appended, never overwritten (:class:`~dhnet.consent.models.ConsentDecision`); the decision in force
for a person and purpose at a moment is the latest one recorded up to that moment. Every write and every read of
a person's decisions is audited with ``subjects=[pseudonym]``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from dhnet.audit import services as audit
from dhnet.consent import models as m
from dhnet.consent.models import ConsentDecision
from dhnet.consent.purposes import CONSENT_BASED, LEGAL_BASIS, OPT_OUT, PURPOSES, SURVEILLANCE_LEGAL_BASIS
from dhnet.orgunits.models import OrgUnit
from dhnet.orgunits.services import in_jurisdiction
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid, NotFound

READ = "consent:consent:read"
WRITE = "consent:consent:write"
PSEUDONYM_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 900  # pseudonyms per IN (...) query: below SQLite's variable limit (999)
_SCAN_ABOVE = 5000  # more pseudonyms than this: scan the purpose's decisions instead


def check_pseudonym(value: str, field: str = "pseudonym") -> str:
    if not isinstance(value, str) or not PSEUDONYM_RE.match(value):
        raise Invalid(f"{field}: expected a pseudonym (64 lower-case hex characters), got {str(value)[:80]!r}")
    return value


def check_purpose(value: str, field: str = "purpose") -> str:
    if value not in PURPOSES:
        raise Invalid(f"{field}: unknown purpose {str(value)[:40]!r} (expected one of {', '.join(PURPOSES)})")
    return value


# --- what releases ask ----------------------------------------------------------------------------------------------


def permits(pseudonyms: Iterable[str], purpose: str, at: dt.datetime | None = None) -> set[str]:
    """The pseudonyms whose data may be used for ``purpose`` at ``at`` (default: now).

    ``surveillance`` rests on a legal basis: every pseudonym. ``care``: every pseudonym except those whose latest
    decision is a refusal (implied consent). ``research``/``secondary``: only those whose latest decision recorded up
    to ``at`` is a grant still within its period. A withdrawal recorded before ``at`` excludes the person at once.
    """
    check_purpose(purpose)
    wanted = {p for p in pseudonyms if p}
    if purpose in LEGAL_BASIS or not wanted:
        return wanted
    moment = at or timezone.now()
    latest = _latest_decisions(wanted, purpose, moment)
    if purpose in OPT_OUT:
        return {p for p in wanted if latest.get(p, (m.GRANT, None))[0] != m.WITHDRAW}
    assert purpose in CONSENT_BASED
    return {
        p
        for p, (decision, valid_until) in latest.items()
        if decision == m.GRANT and (valid_until is None or valid_until > moment)
    }


def _latest_decisions(pseudonyms: set[str], purpose: str, at: dt.datetime) -> dict[str, tuple[str, dt.datetime | None]]:
    """(decision, valid_until) of the latest decision per pseudonym recorded up to ``at``.

    Few pseudonyms: looked up in chunks (``IN``); many: one ordered scan of the purpose's decisions, kept when
    asked for (cheaper than thousands of ``IN`` lists; measured 100,000 pseudonyms in well under a second).
    """
    latest: dict[str, tuple[str, dt.datetime | None]] = {}
    base = ConsentDecision.objects.filter(purpose=purpose, recorded_at__lte=at).order_by(
        "pseudonym", "recorded_at", "id"
    )
    fields = ("pseudonym", "decision", "valid_until")
    if len(pseudonyms) > _SCAN_ABOVE:
        chunks = [base.values_list(*fields)]
    else:
        ordered = sorted(pseudonyms)
        chunks = [
            base.filter(pseudonym__in=ordered[i : i + _CHUNK]).values_list(*fields)
            for i in range(0, len(ordered), _CHUNK)
        ]
    for rows in chunks:
        for pseudonym, decision, valid_until in rows.iterator(chunk_size=5000):
            if pseudonym in pseudonyms:
                latest[pseudonym] = (decision, valid_until)  # ordered: the last one wins
    return latest


# --- recording ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewDecision:
    """What to record (validated by the caller's parser or by :func:`record_decision`)."""

    pseudonym: str
    purpose: str
    decision: str
    decided_at: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    fhir_status: str = ""
    fhir_id: str = ""
    source_key: str | None = None
    note: str = ""


def normalise(item: NewDecision) -> NewDecision:
    """Check a decision; surveillance becomes a legal-basis record (a withdrawal of it is refused)."""
    check_pseudonym(item.pseudonym)
    check_purpose(item.purpose)
    if item.decision not in (m.GRANT, m.WITHDRAW, m.LEGAL_BASIS):
        raise Invalid(f"decision: expected grant or withdraw, got {str(item.decision)[:40]!r}")
    if item.purpose in LEGAL_BASIS:
        if item.decision == m.WITHDRAW:
            raise Invalid(
                "purpose surveillance: public-health surveillance rests on a legal basis, not on consent, and "
                f"cannot be withdrawn. {SURVEILLANCE_LEGAL_BASIS}"
            )
        return NewDecision(**{**item.__dict__, "decision": m.LEGAL_BASIS})
    if item.decision == m.LEGAL_BASIS:
        raise Invalid(f"purpose {item.purpose}: only surveillance rests on a legal basis; grant or withdraw")
    return item


def store(
    actor: Actor, items: Sequence[NewDecision], *, channel: str, orgunit: OrgUnit | None, permission: str | None
) -> list[ConsentDecision]:
    """Append decisions (inside the caller's transaction) and audit them; a repeated ``source_key`` is skipped."""
    return store_all(actor, [(items, orgunit)], channel=channel, permission=permission)


def store_all(
    actor: Actor,
    groups: Sequence[tuple[Sequence[NewDecision], OrgUnit | None]],
    *,
    channel: str,
    permission: str | None,
) -> list[ConsentDecision]:
    """Append the decisions of several sources at once (e.g. the Consents of one transaction Bundle, each with its
    person's district), inside the caller's transaction: the repeated ``source_key`` values looked up in one query
    and skipped, the rows inserted in bulk, and one audit record per decision and purpose
    (``consent.decision.<decision>``, every person concerned a subject) instead of one per row, so that a Bundle
    of many Consents costs a few appends to the audit chain. A single decision is audited as before (the row's id
    as object id)."""
    now = timezone.now()
    wanted = [(normalise(raw), orgunit) for items, orgunit in groups for raw in items]
    keys = sorted({item.source_key for item, _ in wanted if item.source_key})
    known: set[str | None] = set()
    for start in range(0, len(keys), _CHUNK):
        known.update(
            ConsentDecision.objects.filter(source_key__in=keys[start : start + _CHUNK]).values_list(
                "source_key", flat=True
            )
        )
    rows: list[ConsentDecision] = []
    for item, orgunit in wanted:
        if item.source_key and item.source_key in known:
            continue  # a retry of a source recorded before (or repeated in this call): nothing new
        known.add(item.source_key)
        rows.append(
            ConsentDecision(
                pseudonym=item.pseudonym,
                purpose=item.purpose,
                decision=item.decision,
                recorded_at=now,
                decided_at=item.decided_at,
                valid_until=item.valid_until,
                orgunit=orgunit,
                channel=channel,
                fhir_status=item.fhir_status,
                fhir_id=item.fhir_id,
                source_key=item.source_key,
                legal_basis=SURVEILLANCE_LEGAL_BASIS if item.decision == m.LEGAL_BASIS else "",
                recorded_by=actor.username[:150],
                note=item.note[:500],
            )
        )
    if not rows:
        return rows
    if len(rows) == 1:
        rows[0].save(force_insert=True)
    else:
        ConsentDecision.objects.bulk_create(rows)
        if any(row.pk is None for row in rows):  # no ids back from the bulk insert
            ids = dict(
                ConsentDecision.objects.filter(source_key__in=[r.source_key for r in rows if r.source_key]).values_list(
                    "source_key", "pk"
                )
            )
            for row in rows:
                row.pk = ids.get(row.source_key)
    by_kind: dict[tuple[str, str], list[ConsentDecision]] = {}
    for row in rows:
        by_kind.setdefault((row.decision, row.purpose), []).append(row)
    for (decision, purpose), same in by_kind.items():
        units = sorted({row.orgunit.code for row in same if row.orgunit is not None})
        detail: dict[str, object] = {
            "purpose": purpose,
            "channel": channel,
            "orgunit": units[0] if len(units) == 1 else None,
        }
        if len(same) > 1:
            detail["decisions"] = [row.pk for row in same]
            detail["orgunits"] = units
        audit.record(
            actor,
            f"consent.decision.{decision}",
            object_type="consent.decision",
            object_id=same[0].pk if len(same) == 1 else "",
            detail=detail,
            permission=permission,
            subjects=[row.pseudonym for row in same],
        )
    return rows


def person_orgunit(pseudonym: str, *, vault: bool = False) -> OrgUnit | None:
    """The district of the person's latest case (their consent's jurisdiction), if they have one; with ``vault``,
    else the district the identity vault holds for them (the person's own decisions, who may have no case)."""
    from dhnet.cases.models import Case

    case = Case.objects.filter(pseudonym=pseudonym).select_related("orgunit").order_by("-report_date", "-id").first()
    if case is not None:
        return case.orgunit
    if not vault:
        return None
    from dhnet.identity import services as identity

    person = identity.identity_for_subject([pseudonym])
    if person is None or not person.orgunit_code:
        return None
    return OrgUnit.objects.filter(code=person.orgunit_code).first()


def home_orgunit(actor: Actor, permission: str) -> OrgUnit | None:
    """The single org unit where ``actor`` holds ``permission`` (None when several: the caller must choose)."""
    paths = actor.paths_for(permission)
    if len(paths) != 1:
        return None
    return OrgUnit.objects.filter(path=paths[0]).first()


def _writable_orgunit(actor: Actor, pseudonym: str, orgunit_code: str | None) -> OrgUnit:
    """Where the decision belongs: the person's district, else the given org unit, else the actor's home unit;
    it must lie within the actor's ``consent:consent:write`` jurisdiction (else 404: existence not revealed)."""
    unit = person_orgunit(pseudonym)
    if unit is None and orgunit_code:
        unit = OrgUnit.objects.filter(code=orgunit_code).first()
        if unit is None:
            raise Invalid(f"orgunit: unknown org unit {orgunit_code[:40]!r}")
    if unit is None:
        unit = home_orgunit(actor, WRITE)
    if unit is None:
        raise Invalid("orgunit: the person has no case here; name the org unit the decision belongs to")
    if not any(unit.is_within(p) for p in actor.paths_for(WRITE)):
        raise NotFound(f"person {pseudonym[:12]}… is not within your jurisdiction")
    return unit


def record_decision(
    actor: Actor,
    pseudonym: str,
    purpose: str,
    decision: str,
    *,
    note: str = "",
    orgunit_code: str | None = None,
) -> ConsentDecision:
    """Staff record a grant or withdrawal on the person's behalf (``consent:consent:write`` in the jurisdiction)."""
    if not actor.has(WRITE):
        raise Forbidden(f"requires {WRITE}")
    item = normalise(NewDecision(pseudonym=pseudonym, purpose=purpose, decision=decision, note=note.strip()))
    with transaction.atomic():
        unit = _writable_orgunit(actor, pseudonym, orgunit_code)
        return store(actor, [item], channel=m.STAFF, orgunit=unit, permission=WRITE)[0]


def record_own(actor: Actor, pseudonyms: Sequence[str], purpose: str, decision: str) -> list[ConsentDecision]:
    """The person themself (right-of-access session) grants or withdraws a consent-based purpose."""
    if purpose not in CONSENT_BASED:
        raise Invalid(f"purpose {purpose!r}: a person can grant or withdraw research or secondary use here")
    items = [NewDecision(pseudonym=p, purpose=purpose, decision=decision, note="by the person") for p in pseudonyms]
    with transaction.atomic():
        return [
            row
            for item in items
            for row in store(
                actor, [item], channel=m.SELF, orgunit=person_orgunit(item.pseudonym, vault=True), permission=None
            )
        ]


def repoint(merged: str, kept: str) -> int:
    """Move the decisions of pseudonym ``merged`` to ``kept`` (two persons linked by a reviewer)."""
    with transaction.atomic():
        return ConsentDecision.objects.filter(pseudonym=merged).update(pseudonym=kept)


# --- reading --------------------------------------------------------------------------------------------------------


def current(pseudonyms: Iterable[str]) -> dict[str, ConsentDecision | None]:
    """The decision in force per purpose for a person (all their pseudonyms together; the latest wins)."""
    result: dict[str, ConsentDecision | None] = dict.fromkeys(PURPOSES)
    for row in ConsentDecision.objects.filter(pseudonym__in=list(pseudonyms)).order_by("recorded_at", "id"):
        result[row.purpose] = row
    return result


def visible(actor: Actor) -> QuerySet[ConsentDecision]:
    """Decisions within the actor's ``consent:consent:read`` jurisdiction."""
    return in_jurisdiction(ConsentDecision.objects.all(), actor, READ, path_field="orgunit__path")


def history(actor: Actor, pseudonym: str) -> list[ConsentDecision]:
    """Every decision of one person, oldest first (``consent:consent:read``; audited)."""
    if not actor.has(READ):
        raise Forbidden(f"requires {READ}")
    check_pseudonym(pseudonym)
    with transaction.atomic():
        rows = list(visible(actor).filter(pseudonym=pseudonym).select_related("orgunit").order_by("recorded_at", "id"))
        if not rows and ConsentDecision.objects.filter(pseudonym=pseudonym).exists():
            raise NotFound(f"person {pseudonym[:12]}… is not within your jurisdiction")
        audit.record(
            actor, "consent.decision.read", object_type="consent.person", permission=READ, subjects=[pseudonym]
        )
    return rows


@dataclass(frozen=True)
class DecisionFilter:
    pseudonym: str = ""
    purpose: str = ""
    decision: str = ""
    #: True: grants and legal bases only (FHIR status active); False: withdrawals only (inactive)
    active: bool | None = None


def search(actor: Actor, flt: DecisionFilter, *, offset: int = 0, limit: int = 50) -> tuple[int, list[ConsentDecision]]:
    """A page of decisions in the jurisdiction, newest first (audited with the persons listed)."""
    if not actor.has(READ):
        raise Forbidden(f"requires {READ}")
    if flt.pseudonym:
        check_pseudonym(flt.pseudonym, "patient")
    if flt.purpose:
        check_purpose(flt.purpose)
    if flt.decision and flt.decision not in m.DECISIONS:
        raise Invalid(f"decision: expected one of {', '.join(m.DECISIONS)}")
    qs = visible(actor).select_related("orgunit").order_by("-recorded_at", "-id")
    if flt.pseudonym:
        qs = qs.filter(pseudonym=flt.pseudonym)
    if flt.purpose:
        qs = qs.filter(purpose=flt.purpose)
    if flt.decision:
        qs = qs.filter(decision=flt.decision)
    if flt.active is not None:
        qs = qs.filter(decision__in=(m.GRANT, m.LEGAL_BASIS)) if flt.active else qs.filter(decision=m.WITHDRAW)
    with transaction.atomic():
        total = qs.count()
        rows = list(qs[offset : offset + limit])
        audit.record(
            actor,
            "consent.decision.list",
            object_type="consent.decision",
            detail={"purpose": flt.purpose, "decision": flt.decision, "offset": offset, "count": len(rows)},
            permission=READ,
            subjects=[r.pseudonym for r in rows],
        )
    return total, rows
