"""Identity-vault services: registration (with deterministic and probabilistic matching), re-identification,
contact-point lookups for the right of access, the review queue, key rotation and retention.

Other contexts call only the functions named in ``docs/case-privacy-design.md``: :func:`register_person`,
:func:`reidentify`, :func:`pseudonyms_for_contact`, :func:`identity_for_subject`, :func:`purge_expired`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Literal

from django.db import IntegrityError, transaction
from django.utils import timezone

from dhnet.audit import services as audit
from dhnet.identity import crypto, matching, normalise
from dhnet.identity.models import BlindIndex, MatchCandidate, Person
from dhnet.identity.routers import vault_alias
from dhnet.platform.access import Actor
from dhnet.platform.errors import Invalid

READ = "identity:person:read"
MATCH = "identity:match:write"
GENDERS = ("male", "female", "other", "unknown")
PSEUDONYM_RE = re.compile(r"^[0-9a-f]{64}$")
MatchKind = Literal["new", "identifier", "linked", "review"]

#: Purposes for which a person may be re-identified (the form's choices; the audit trail records the one used).
PURPOSES: dict[str, str] = {
    "treatment": "Treatment or care of the person",
    "contact-tracing": "Contact tracing",
    "outbreak-investigation": "Outbreak investigation",
    "data-correction": "Correction of the person's data",
    "person-request": "Request of the person (right of access, rectification)",
    "legal-obligation": "Legal obligation (court order, notifiable-disease law)",
}
#: Most candidates kept in the review queue per registration.
MAX_REVIEW_CANDIDATES = 5
MAX_FIELD = 200
MAX_ITEMS = 20


@dataclass(frozen=True)
class PersonIdentity:
    """The direct identifiers of a person, as the vault stores them (encrypted) and re-identification returns."""

    family: str = ""
    given: str = ""
    birth_date: dt.date | None = None
    sex: str = ""  # FHIR administrative gender: male, female, other, unknown (or "")
    identifiers: tuple[tuple[str, str], ...] = ()  # (system, value)
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    address_lines: tuple[str, ...] = ()
    orgunit_code: str = ""

    def to_json(self) -> bytes:
        data = {
            "family": self.family,
            "given": self.given,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "sex": self.sex,
            "identifiers": [list(i) for i in self.identifiers],
            "phones": list(self.phones),
            "emails": list(self.emails),
            "address_lines": list(self.address_lines),
            "orgunit_code": self.orgunit_code,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> PersonIdentity:
        data = json.loads(raw)
        return cls(
            family=data["family"],
            given=data["given"],
            birth_date=dt.date.fromisoformat(data["birth_date"]) if data["birth_date"] else None,
            sex=data["sex"],
            identifiers=tuple((s, v) for s, v in data["identifiers"]),
            phones=tuple(data["phones"]),
            emails=tuple(data["emails"]),
            address_lines=tuple(data["address_lines"]),
            orgunit_code=data["orgunit_code"],
        )

    def national_id(self) -> str:
        """The normalised national identifier (``config.national_id_system``), or ``""``."""
        system = crypto.config().national_id_system
        for sys_, value in self.identifiers:
            if sys_ == system and normalise.identifier(value):
                return normalise.identifier(value)
        return ""

    def comparable(self) -> matching.Comparable:
        return matching.Comparable.of(
            family=self.family,
            given=self.given,
            birth_date=self.birth_date,
            sex=self.sex,
            district=self.orgunit_code,
            national_id=self.national_id(),
        )


@dataclass(frozen=True)
class Registration:
    """The outcome of :func:`register_person`: the person's pseudonym and how it was found."""

    pseudonym: str
    match: MatchKind
    #: For ``review``: the pseudonyms of the probable matches queued.
    candidates: tuple[str, ...] = field(default=())


# --- validation and merging -----------------------------------------------------------------------------------


def _clean(identity: PersonIdentity) -> PersonIdentity:
    """Check and trim an identity; :class:`Invalid` names the field at fault."""
    if identity.sex not in ("", *GENDERS):
        raise Invalid(f"sex: {identity.sex!r} is not a FHIR administrative gender ({', '.join(GENDERS)})")
    if not identity.orgunit_code:
        raise Invalid("orgunit_code: the person's district is required")
    if identity.birth_date is not None and identity.birth_date > timezone.now().date():
        raise Invalid(f"birth_date: {identity.birth_date.isoformat()} lies in the future")
    for name in ("family", "given", "orgunit_code"):
        if len(getattr(identity, name)) > MAX_FIELD:
            raise Invalid(f"{name}: longer than {MAX_FIELD} characters")
    for name in ("identifiers", "phones", "emails", "address_lines"):
        items = getattr(identity, name)
        if len(items) > MAX_ITEMS:
            raise Invalid(f"{name}: more than {MAX_ITEMS} entries")
    for i, (system, value) in enumerate(identity.identifiers):
        if not value.strip():
            raise Invalid(f"identifiers[{i}]: empty value")
        if len(system) > MAX_FIELD or len(value) > MAX_FIELD:
            raise Invalid(f"identifiers[{i}]: longer than {MAX_FIELD} characters")
    for i, value in enumerate(identity.emails):
        if not normalise.email(value):
            raise Invalid(f"emails[{i}]: {value[:60]!r} is not an e-mail address")
    for i, value in enumerate(identity.phones):
        if not normalise.phone(value):
            raise Invalid(f"phones[{i}]: {value[:60]!r} has fewer than {normalise.MIN_PHONE_DIGITS} digits")
    for name in ("phones", "emails", "address_lines"):
        for i, value in enumerate(getattr(identity, name)):
            if len(value) > MAX_FIELD:
                raise Invalid(f"{name}[{i}]: longer than {MAX_FIELD} characters")
    return PersonIdentity(
        family=identity.family.strip(),
        given=identity.given.strip(),
        birth_date=identity.birth_date,
        sex=identity.sex,
        identifiers=tuple(dict.fromkeys((s.strip(), v.strip()) for s, v in identity.identifiers)),
        phones=tuple(dict.fromkeys(p.strip() for p in identity.phones)),
        emails=tuple(dict.fromkeys(e.strip() for e in identity.emails)),
        address_lines=tuple(dict.fromkeys(a.strip() for a in identity.address_lines if a.strip())),
        orgunit_code=identity.orgunit_code.strip(),
    )


def _union(kept: PersonIdentity, other: PersonIdentity, *, district: str | None = None) -> PersonIdentity:
    """``kept`` completed by ``other``: missing fields filled, identifiers and contact points added."""
    return PersonIdentity(
        family=kept.family or other.family,
        given=kept.given or other.given,
        birth_date=kept.birth_date or other.birth_date,
        sex=kept.sex if kept.sex not in ("", "unknown") else (other.sex or kept.sex),
        identifiers=tuple(dict.fromkeys(kept.identifiers + other.identifiers)),
        phones=tuple(dict.fromkeys(kept.phones + other.phones)),
        emails=tuple(dict.fromkeys(kept.emails + other.emails)),
        address_lines=tuple(dict.fromkeys(kept.address_lines + other.address_lines)),
        orgunit_code=district or kept.orgunit_code,
    )


def _index_values(identity: PersonIdentity) -> set[tuple[str, str]]:
    """The blind-index entries (kind, digest) of an identity."""
    values: set[tuple[str, str]] = set()
    nid = identity.national_id()
    if nid:
        values.add(("nid", crypto.blind_index("nid", nid)))
    for e in identity.emails:
        if normalise.email(e):
            values.add(("email", crypto.blind_index("email", normalise.email(e))))
    for p in identity.phones:
        if normalise.phone_key(p):
            values.add(("phone", crypto.blind_index("phone", normalise.phone_key(p))))
    for key in matching.blocking_keys(identity.comparable()):
        values.add(("block", crypto.blind_index("block", key)))
    return values


# --- vault rows -----------------------------------------------------------------------------------------------


def _decrypt(person: Person) -> PersonIdentity:
    sealed = crypto.Sealed(person.key_id, bytes(person.nonce), bytes(person.ciphertext))
    return PersonIdentity.from_json(crypto.unseal(sealed, pseudonym=person.pseudonym))


def _store(person: Person, identity: PersonIdentity) -> None:
    """Encrypt ``identity`` into ``person`` (under the newest key) and refresh its blind indexes."""
    sealed = crypto.seal(identity.to_json(), pseudonym=person.pseudonym)
    person.key_id, person.nonce, person.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
    person.orgunit_code = identity.orgunit_code
    person.save()
    wanted = _index_values(identity)
    db = vault_alias()
    have = set(BlindIndex.objects.using(db).filter(person=person).values_list("kind", "digest"))
    stale = have - wanted
    if stale:
        for kind, digest in stale:
            BlindIndex.objects.using(db).filter(person=person, kind=kind, digest=digest).delete()
    BlindIndex.objects.using(db).bulk_create(
        [BlindIndex(person=person, kind=kind, digest=digest) for kind, digest in sorted(wanted - have)]
    )


def _resolve(person: Person) -> Person:
    """Follow ``merged_into`` to the person that stands for this one now."""
    seen = 0
    while person.merged_into and seen < 20:
        nxt = Person.objects.using(vault_alias()).filter(pseudonym=person.merged_into).first()
        if nxt is None:
            break
        person, seen = nxt, seen + 1
    return person


def _by_index(kind: str, digest: str) -> list[Person]:
    ids = BlindIndex.objects.using(vault_alias()).filter(kind=kind, digest=digest).values_list("person_id", flat=True)
    persons = Person.objects.using(vault_alias()).filter(pk__in=list(ids))
    return list(dict.fromkeys(_resolve(p) for p in persons))


# --- registration ---------------------------------------------------------------------------------------------


def _candidates(identity: PersonIdentity) -> list[tuple[Person, matching.Score]]:
    """Persons sharing a blocking key with ``identity``, scored, best first."""
    digests = [crypto.blind_index("block", key) for key in matching.blocking_keys(identity.comparable())]
    if not digests:
        return []
    db = vault_alias()
    ids = set(BlindIndex.objects.using(db).filter(kind="block", digest__in=digests).values_list("person_id", flat=True))
    me = identity.comparable()
    scored = []
    for person in Person.objects.using(db).filter(pk__in=ids, merged_into=""):
        scored.append((person, matching.score(me, _decrypt(person).comparable())))
    scored.sort(key=lambda ps: (-ps[1].total, ps[0].pk))
    return scored


def register_person(actor: Actor, identity: PersonIdentity, *, source: str) -> Registration:
    """File the identity of a reported person in the vault and return their pseudonym.

    Called by the FHIR Patient handler inside its transaction. The same national identifier always gives the same
    person (``identifier``); otherwise the best probabilistic match at or above the upper threshold is taken
    (``linked``), a match between the thresholds creates a new person and queues the pair for review
    (``review``), and anything below creates a new person (``new``). A known person's vault entry is completed
    with new identifiers and contact points. Audited (``identity.person.register``, ``subjects=[pseudonym]``).
    """
    if not source or len(source) > 100:
        raise Invalid("source: required, at most 100 characters")
    identity = _clean(identity)
    now = timezone.now()
    db = vault_alias()
    for attempt in range(3):
        try:
            with transaction.atomic(using=db):
                registration = _register(identity, source=source, now=now)
            break
        except IntegrityError:  # a concurrent registration of the same national identifier won: find it now
            if attempt == 2:
                raise
    audit.record(
        actor,
        "identity.person.register",
        object_type="person",
        object_id=registration.pseudonym[:16],
        detail={"match": registration.match, "source": source, "candidates": len(registration.candidates)},
        subjects=[registration.pseudonym],
    )
    return registration


def _register(identity: PersonIdentity, *, source: str, now: dt.datetime) -> Registration:
    db = vault_alias()
    cfg = crypto.config()
    nid = identity.national_id()
    if nid:
        found = _by_index("nid", crypto.blind_index("nid", nid))
        if found:
            person = found[0]
            _touch(person, identity, now)
            return Registration(person.pseudonym, "identifier")
    scored = _candidates(identity)
    if scored and scored[0][1].total >= cfg.match_upper:
        person = scored[0][0]
        _touch(person, identity, now)
        return Registration(person.pseudonym, "linked")
    person_key = f"nid:{nid}" if nid else f"uuid:{uuid.uuid4().hex}"
    person = Person(pseudonym=crypto.pseudonym(person_key), created_at=now, last_seen_at=now)
    _store(person, identity)
    queued = [(p, s) for p, s in scored if s.total >= cfg.match_lower][:MAX_REVIEW_CANDIDATES]
    MatchCandidate.objects.using(db).bulk_create(
        [
            MatchCandidate(
                new_pseudonym=person.pseudonym,
                existing_pseudonym=other.pseudonym,
                score=s.total,
                parts=s.parts,
                orgunit_codes=sorted({person.orgunit_code, other.orgunit_code}),
                source=source,
                created_at=now,
            )
            for other, s in queued
        ]
    )
    if queued:
        return Registration(person.pseudonym, "review", tuple(p.pseudonym for p, _ in queued))
    return Registration(person.pseudonym, "new")


def _touch(person: Person, identity: PersonIdentity, now: dt.datetime) -> None:
    """A known person reported again: complete their entry and restart their retention period."""
    current = _decrypt(person)
    merged = _union(current, identity, district=identity.orgunit_code or current.orgunit_code)
    person.last_seen_at = now
    if merged != current:
        _store(person, merged)
    else:
        person.save(update_fields=["last_seen_at"])


# --- retention --------------------------------------------------------------------------------------------------

RETENTION_ACTOR = "system:retention"
PURGE_BATCH = 500


def purge_expired(now: dt.datetime | None = None, *, actor: Actor | None = None) -> int:
    """Delete the vault entries of persons not reported for ``DHNET_RETENTION_DAYS`` days; returns how many.

    Their blind indexes and review-queue entries go with them; pseudonymised rows in other contexts stay (the
    counts remain, nobody can be re-identified any more). Persons merged into a purged person go too. Without a
    configured retention period nothing is deleted. Each batch is audited (``identity.person.purge``) with the
    purged pseudonyms as subjects, in the batch's transaction.
    """
    days = crypto.config().retention_days
    if days is None:
        return 0
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=days)
    actor = actor or Actor.system(RETENTION_ACTOR, purpose="retention")
    db = vault_alias()
    purged = 0
    while True:
        with transaction.atomic(using=db), transaction.atomic():
            batch = list(
                Person.objects.using(db)
                .filter(last_seen_at__lt=cutoff, merged_into="")
                .order_by("id")
                .values_list("id", "pseudonym")[:PURGE_BATCH]
            )
            if not batch:
                break
            pseudonyms = [p for _, p in batch]
            merged = list(Person.objects.using(db).filter(merged_into__in=pseudonyms).values_list("id", "pseudonym"))
            ids = [i for i, _ in batch + merged]
            gone = pseudonyms + [p for _, p in merged]
            MatchCandidate.objects.using(db).filter(new_pseudonym__in=gone).delete()
            MatchCandidate.objects.using(db).filter(existing_pseudonym__in=gone).delete()
            Person.objects.using(db).filter(pk__in=ids).delete()
            audit.record(
                actor,
                "identity.person.purge",
                object_type="person",
                detail={"retention_days": days, "cutoff": cutoff.isoformat(), "count": len(gone)},
                subjects=gone,
            )
            purged += len(gone)
    return purged
