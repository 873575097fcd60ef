"""Identity-vault services: registration (with deterministic and probabilistic matching), re-identification,
contact-point lookups for the right of access, the review queue, key rotation and retention.

Other contexts call only the functions named in ``docs/case-privacy-design.md``: :func:`register_person`,
:func:`reidentify`, :func:`pseudonyms_for_contact`, :func:`identity_for_subject`, :func:`purge_expired`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.utils import timezone

from dhnet.audit import services as audit
from dhnet.fhir import bulk
from dhnet.identity import crypto, matching, normalise
from dhnet.identity.events import persons_linked
from dhnet.identity.models import BlindIndex, MatchCandidate, Person
from dhnet.identity.routers import vault_alias
from dhnet.orgunits.models import OrgUnit
from dhnet.orgunits.services import jurisdiction_q
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound

READ = "identity:person:read"
#: Who may register persons: whoever enters case reports.
REPORT_WRITE = "surveillance:report:write"
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
        memo = _batch_memo.get()
        if memo is not None and (self, "nid") in memo:
            return memo[(self, "nid")]
        system = crypto.config().national_id_system
        found = ""
        for sys_, value in self.identifiers:
            if sys_ == system and normalise.identifier(value):
                found = normalise.identifier(value)
                break
        if memo is not None:
            memo[(self, "nid")] = found
        return found

    def comparable(self) -> matching.Comparable:
        """The identity as the matching compares it (normalised names, phonetic codes)."""
        memo = _batch_memo.get()
        if memo is not None and (self, "comparable") in memo:
            return memo[(self, "comparable")]
        found = matching.Comparable.of(
            family=self.family,
            given=self.given,
            birth_date=self.birth_date,
            sex=self.sex,
            district=self.orgunit_code,
            national_id=self.national_id(),
        )
        if memo is not None:
            memo[(self, "comparable")] = found
        return found


#: Within a registration batch (:meth:`_Batch.register`): an identity's national identifier and comparable form,
#: worked out once (the batch asks for them in its look-ups, its matching and its index rows); the memo lives only
#: as long as the batch, which holds the identities anyway.
_batch_memo: ContextVar[dict[tuple[PersonIdentity, str], Any] | None] = ContextVar("identity_memo", default=None)


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


#: Most spellings (name, birth date, sex, district as registered) kept per person for matching.
MAX_VARIANTS = 12


@dataclass(frozen=True)
class Entry:
    """What one vault entry holds: the person's identity and the variants under which they were registered."""

    identity: PersonIdentity
    variants: tuple[PersonIdentity, ...]

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "identity": json.loads(self.identity.to_json()),
                "variants": [
                    [v.family, v.given, v.birth_date.isoformat() if v.birth_date else None, v.sex, v.orgunit_code]
                    for v in self.variants
                ],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Entry:
        data = json.loads(raw)
        variants = tuple(
            PersonIdentity(family=f, given=g, birth_date=dt.date.fromisoformat(b) if b else None, sex=s, orgunit_code=o)
            for f, g, b, s, o in data["variants"]
        )
        return cls(PersonIdentity.from_json(json.dumps(data["identity"]).encode()), variants)

    def comparables(self) -> list[matching.Comparable]:
        nid = self.identity.national_id()
        return [dataclasses.replace(v.comparable(), national_id=nid) for v in self.variants or (self.identity,)]


def _variant(identity: PersonIdentity) -> PersonIdentity:
    return PersonIdentity(
        family=identity.family,
        given=identity.given,
        birth_date=identity.birth_date,
        sex=identity.sex,
        orgunit_code=identity.orgunit_code,
    )


def _with_variants(entry: Entry, *others: PersonIdentity) -> tuple[PersonIdentity, ...]:
    return tuple(dict.fromkeys(entry.variants + tuple(_variant(o) for o in others)))[:MAX_VARIANTS]


def _open(person: Person) -> Entry:
    sealed = crypto.Sealed(person.key_id, bytes(person.nonce), bytes(person.ciphertext))
    return Entry.from_json(crypto.unseal(sealed, pseudonym=person.pseudonym))


def _decrypt(person: Person) -> PersonIdentity:
    return _open(person).identity


def _store(person: Person, identity: PersonIdentity, variants: tuple[PersonIdentity, ...] = ()) -> None:
    """Encrypt ``identity`` (and the registered variants) into ``person`` under the newest key and refresh its
    blind indexes."""
    entry = Entry(identity, variants or (_variant(identity),))
    sealed = crypto.seal(entry.to_json(), pseudonym=person.pseudonym)
    person.key_id, person.nonce, person.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
    person.orgunit_code = identity.orgunit_code
    creating = person.pk is None
    person.save()
    wanted = _index_values(identity)
    for variant in entry.variants:
        nid = identity.national_id()
        comparable = dataclasses.replace(variant.comparable(), national_id=nid)
        wanted |= {("block", crypto.blind_index("block", key)) for key in matching.blocking_keys(comparable)}
    db = vault_alias()
    have: set[tuple[str, str]] = set()
    if not creating:
        have = set(BlindIndex.objects.using(db).filter(person=person).values_list("kind", "digest"))
        stale = have - wanted
        if stale:
            BlindIndex.objects.using(db).filter(person=person, digest__in=[d for _, d in stale]).delete()
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
    persons = Person.objects.using(vault_alias()).raw(
        f"SELECT * FROM {Person._meta.db_table} WHERE id IN "
        f"(SELECT person_id FROM {BlindIndex._meta.db_table} WHERE kind = %s AND digest = %s)",
        [kind, digest],
    )
    return list(dict.fromkeys(_resolve(p) for p in persons))


# --- registration ---------------------------------------------------------------------------------------------


def register_person(actor: Actor, identity: PersonIdentity, *, source: str) -> Registration:
    """File the identity of a reported person in the vault and return their pseudonym.

    Called by the FHIR Patient handler inside its transaction. The same national identifier always gives the same
    person (``identifier``); otherwise the best probabilistic match at or above the upper threshold is taken
    (``linked``), a match between the thresholds creates a new person and queues the pair for review
    (``review``), and anything below creates a new person (``new``). A known person's vault entry is completed
    with new identifiers and contact points. The actor needs ``surveillance:report:write`` at the person's
    district. Audited (``identity.person.register``, ``subjects=[pseudonym]``). The single-person form of
    :func:`register_persons`.
    """
    (registration,) = register_persons(actor, [identity], source=source, audited=False)
    audit.record(
        actor,
        "identity.person.register",
        object_type="person",
        object_id=registration.pseudonym[:16],
        detail={"match": registration.match, "source": source, "candidates": len(registration.candidates)},
        subjects=[registration.pseudonym],
    )
    return registration


def registration_detail(registrations: list[Registration] | tuple[Registration, ...]) -> list[dict[str, Any]]:
    """What an audit record says about registrations: each person's pseudonym, how they were found, and how many
    probable matches were queued for review."""
    return [{"pseudonym": r.pseudonym, "match": r.match, "candidates": len(r.candidates)} for r in registrations]


def register_persons(
    actor: Actor, identities: list[PersonIdentity] | tuple[PersonIdentity, ...], *, source: str, audited: bool = True
) -> list[Registration]:
    """:func:`register_person` for several identities at once (the Patients of one Bundle), in their order: the
    same outcome as registering them one after another (a later identity matches a person an earlier one created
    or completed), with a constant number of queries (one per blind-index kind to match, bulk writes).

    Audited with one record (``identity.person.register``, every person in ``detail["persons"]`` and as
    subjects) unless ``audited`` is False: then the caller must put :func:`registration_detail` and the
    pseudonyms into its own audit record of the same transaction.
    """
    if not actor.has(REPORT_WRITE):
        raise Forbidden(f"registering a person requires {REPORT_WRITE}")
    if not source or len(source) > 100:
        raise Invalid("source: required, at most 100 characters")
    cleaned = [_clean(identity) for identity in identities]
    if not cleaned:
        return []
    allowed = actor.paths_for(REPORT_WRITE)
    codes = sorted({i.orgunit_code for i in cleaned})
    paths = dict(OrgUnit.objects.filter(code__in=codes).values_list("code", "path")) if allowed else {}
    for identity in cleaned:
        code = identity.orgunit_code
        if not allowed or code not in paths or not paths[code].startswith(allowed):
            raise NotFound(f"orgunit_code: org unit {code!r} not found")
    now = timezone.now()
    db = vault_alias()
    for attempt in range(3):
        try:
            with transaction.atomic(using=db):
                registrations = _Batch(source, now).register(cleaned)
            break
        except IntegrityError as exc:  # a concurrent registration of the same national identifier won: find it now
            if attempt == 2:  # persons of this batch kept being registered by concurrent requests: theirs to retry
                raise Conflict("a person was registered by a concurrent request meanwhile: retry") from exc
    if audited:
        audit.record(
            actor,
            "identity.person.register",
            object_type="person",
            object_id=registrations[0].pseudonym[:16] if len(registrations) == 1 else "",
            detail={"source": source, "persons": registration_detail(registrations)},
            subjects=[r.pseudonym for r in registrations],
        )
    return registrations


def _wanted(entry: Entry) -> set[tuple[str, str]]:
    """The blind-index entries (kind, digest) of a vault entry: its identity's, and the blocking keys of every
    variant under which the person was registered."""
    identity = entry.identity
    wanted = _index_values(identity)
    nid = identity.national_id()
    for variant in entry.variants:
        comparable = dataclasses.replace(variant.comparable(), national_id=nid)
        wanted |= {("block", crypto.blind_index("block", key)) for key in matching.blocking_keys(comparable)}
    return wanted


@dataclass(eq=False)
class _Slot:
    """A person as a registration batch sees it: a stored row (``touches``: the identities matched to it) or a new
    one (not stored yet); ``order`` sorts like the primary key (new ones after stored ones, in creation order)."""

    person: Person
    entry: Entry
    order: tuple[int, int]
    new: bool
    touches: list[PersonIdentity] = field(default_factory=list)
    comparables: list[matching.Comparable] | None = None

    def scored(self, me: matching.Comparable) -> matching.Score:
        if self.comparables is None:
            self.comparables = self.entry.comparables()
        return matching.best(me, self.comparables)


#: The columns of a new :class:`Person`, inserted by :func:`dhnet.fhir.bulk.insert` (a Bundle's new persons in
#: one statement, without ``bulk_create``'s compilation of each instance).
PERSON_FIELDS = (
    "pseudonym",
    "orgunit_code",
    "key_id",
    "nonce",
    "ciphertext",
    "merged_into",
    "created_at",
    "last_seen_at",
)

#: Most values in one ``IN (...)`` list.
CHUNK = 500


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


class _Batch:
    """The registrations of one request: matching against the vault read up front (one query for the national
    identifiers, one for the blocking keys) and against the persons the batch itself creates or completes, then
    the writes in bulk."""

    def __init__(self, source: str, now: dt.datetime) -> None:
        self.source, self.now = source, now
        self.db = vault_alias()
        self.cfg = crypto.config()
        self.by_pk: dict[int, _Slot] = {}
        self.nid: dict[str, _Slot] = {}
        self.block: dict[str, list[_Slot]] = {}
        self.created: list[_Slot] = []
        self.queued: list[MatchCandidate] = []
        self.wanted: dict[int, tuple[Entry, set[tuple[str, str]]]] = {}

    def _slot(self, person: Person) -> _Slot:
        slot = self.by_pk.get(person.pk)
        if slot is None:
            slot = self.by_pk[person.pk] = _Slot(person, _open(person), (0, person.pk), new=False)
        return slot

    def _file(self, slot: _Slot, values: set[tuple[str, str]]) -> None:
        for kind, digest in values:
            if kind == "nid":
                self.nid.setdefault(digest, slot)
            elif kind == "block":
                slots = self.block.setdefault(digest, [])
                if slot not in slots:
                    slots.append(slot)

    def _prefetch(self, identities: list[PersonIdentity]) -> None:
        nids = sorted({crypto.blind_index("nid", n) for n in (i.national_id() for i in identities) if n})
        for chunk in _chunks(nids):
            rows = BlindIndex.objects.using(self.db).filter(kind="nid", digest__in=chunk).select_related("person")
            for row in rows:
                person = _resolve(row.person)
                self.nid.setdefault(row.digest, self._slot(person))
        blocks = sorted(
            {
                crypto.blind_index("block", key)
                for identity in identities
                for key in matching.blocking_keys(identity.comparable())
            }
        )
        for chunk in _chunks(blocks):
            rows = (
                BlindIndex.objects.using(self.db)
                .filter(kind="block", digest__in=chunk, person__merged_into="")
                .select_related("person")
            )
            for row in rows:
                self._file(self._slot(row.person), {("block", row.digest)})

    def register(self, identities: list[PersonIdentity]) -> list[Registration]:
        token = _batch_memo.set({})
        try:
            with crypto.memoised_index():
                self._prefetch(identities)
                registrations = [self._one(identity) for identity in identities]
                self._write()
        finally:
            _batch_memo.reset(token)
        return registrations

    def _wanted(self, entry: Entry) -> set[tuple[str, str]]:
        """:func:`_wanted` of an entry, computed once per entry of the batch (filed, then written)."""
        known = self.wanted.get(id(entry))
        if known is not None and known[0] is entry:
            return known[1]
        values = _wanted(entry)
        self.wanted[id(entry)] = (entry, values)
        return values

    def _one(self, identity: PersonIdentity) -> Registration:
        nid = identity.national_id()
        if nid:
            found = self.nid.get(crypto.blind_index("nid", nid))
            if found is not None:
                self._touch(found, identity)
                return Registration(found.person.pseudonym, "identifier")
        me = identity.comparable()
        candidates: dict[int, _Slot] = {}
        for key in matching.blocking_keys(me):
            for slot in self.block.get(crypto.blind_index("block", key), ()):
                if not slot.person.merged_into:
                    candidates.setdefault(id(slot), slot)
        scored = sorted(((s, s.scored(me)) for s in candidates.values()), key=lambda ss: (-ss[1].total, ss[0].order))
        automatic = [(s, sc) for s, sc in scored if sc.total >= self.cfg.match_upper and sc.complete]
        if automatic:
            slot = automatic[0][0]
            self._touch(slot, identity)
            return Registration(slot.person.pseudonym, "linked")
        person_key = f"nid:{nid}" if nid else f"uuid:{uuid.uuid4().hex}"
        person = Person(
            pseudonym=crypto.pseudonym(person_key),
            created_at=self.now,
            last_seen_at=self.now,
            orgunit_code=identity.orgunit_code,
        )
        slot = _Slot(person, Entry(identity, (_variant(identity),)), (1, len(self.created)), new=True)
        self.created.append(slot)
        self._file(slot, self._wanted(slot.entry))
        queued = [(s, sc) for s, sc in scored if sc.total >= self.cfg.match_lower][:MAX_REVIEW_CANDIDATES]
        self.queued += [
            MatchCandidate(
                new_pseudonym=person.pseudonym,
                existing_pseudonym=other.person.pseudonym,
                score=sc.total,
                parts=sc.parts,
                orgunit_codes=sorted({person.orgunit_code, other.person.orgunit_code}),
                source=self.source,
                created_at=self.now,
            )
            for other, sc in queued
        ]
        if queued:
            return Registration(person.pseudonym, "review", tuple(s.person.pseudonym for s, _ in queued))
        return Registration(person.pseudonym, "new")

    def _touch(self, slot: _Slot, identity: PersonIdentity) -> None:
        """A known person reported again (in memory; written by :meth:`_write`)."""
        entry = slot.entry
        current = entry.identity
        merged = _union(current, identity, district=identity.orgunit_code or current.orgunit_code)
        variants = _with_variants(entry, identity)
        if merged != current or variants != entry.variants:
            slot.entry = Entry(merged, variants)
            slot.comparables = None
            slot.person.orgunit_code = merged.orgunit_code
            self._file(slot, self._wanted(slot.entry))
        if not slot.new:
            slot.touches.append(identity)

    def _write(self) -> None:
        db = self.db
        touched = [s for s in self.by_pk.values() if s.touches]
        # Completed persons: locked (PostgreSQL) and re-read, so that concurrent registrations of one person each
        # add what they bring; the batch's identities are applied again to the locked entry.
        locked = {
            p.pk: p
            for chunk in _chunks([s.person.pk for s in touched])
            for p in Person.objects.using(db).select_for_update().filter(pk__in=chunk)
        }
        changed: list[tuple[Person, Entry]] = []
        seen_only: list[int] = []
        for slot in touched:
            person = locked.get(slot.person.pk, slot.person)
            entry = before = _open(person)
            for identity in slot.touches:
                current = entry.identity
                merged = _union(current, identity, district=identity.orgunit_code or current.orgunit_code)
                entry = Entry(merged, _with_variants(entry, identity))
            person.last_seen_at = self.now
            if entry.identity != before.identity or entry.variants != before.variants:
                changed.append((person, entry))
            else:
                seen_only.append(person.pk)
        if seen_only:
            for chunk in _chunks(seen_only):  # type: ignore[arg-type]
                Person.objects.using(db).filter(pk__in=chunk).update(last_seen_at=self.now)
        for person, entry in changed:
            self._seal(person, entry)
        if changed:
            Person.objects.using(db).bulk_update(
                [p for p, _ in changed], ["key_id", "nonce", "ciphertext", "orgunit_code", "last_seen_at"]
            )
        for slot in self.created:
            self._seal(slot.person, slot.entry)
        if self.created:
            pks = bulk.insert(
                Person,
                PERSON_FIELDS,
                [tuple(getattr(s.person, name) for name in PERSON_FIELDS) for s in self.created],
                returning=True,
                using=db,
            )
            for slot, pk in zip(self.created, pks, strict=False):
                slot.person.pk = pk
                slot.person._state.adding, slot.person._state.db = False, db
            if any(s.person.pk is None for s in self.created):  # no ids back from the bulk insert
                ids = dict(
                    Person.objects.using(db)
                    .filter(pseudonym__in=[s.person.pseudonym for s in self.created])
                    .values_list("pseudonym", "pk")
                )
                for slot in self.created:
                    slot.person.pk = ids[slot.person.pseudonym]
        indexes: list[tuple[int, str, str]] = []  # (person id, kind, digest)
        stale: list[int] = []
        if changed:
            have: dict[int, dict[tuple[str, str], int]] = {}
            for chunk in _chunks([p.pk for p, _ in changed]):
                for row_id, person_id, kind, digest in (
                    BlindIndex.objects.using(db)
                    .filter(person_id__in=chunk)
                    .values_list("id", "person_id", "kind", "digest")
                ):
                    have.setdefault(person_id, {})[(kind, digest)] = row_id
            for person, entry in changed:
                wanted, mine = _wanted(entry), have.get(person.pk, {})
                stale += [row_id for value, row_id in mine.items() if value not in wanted]
                indexes += [(person.pk, k, d) for k, d in sorted(wanted - set(mine))]
        for chunk in _chunks(stale):  # type: ignore[arg-type]
            BlindIndex.objects.using(db).filter(pk__in=chunk).delete()
        for slot in self.created:
            indexes += [(slot.person.pk, k, d) for k, d in sorted(self._wanted(slot.entry))]
        # Several rows per person: plain values in multi-row statements (bulk_create's per-row model instances and
        # compiled values were a tenth of a Bundle's intake).
        bulk.insert(BlindIndex, ("person_id", "kind", "digest"), indexes, using=db)
        MatchCandidate.objects.using(db).bulk_create(self.queued, batch_size=CHUNK)

    @staticmethod
    def _seal(person: Person, entry: Entry) -> None:
        sealed = crypto.seal(entry.to_json(), pseudonym=person.pseudonym)
        person.key_id, person.nonce, person.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
        person.orgunit_code = entry.identity.orgunit_code


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


# --- re-identification ------------------------------------------------------------------------------------------


def deny(
    actor: Actor, pseudonym: str, purpose: str, reason: str, *, action: str = "identity.person.reidentify_denied"
) -> None:
    """Audit a refused re-identification in its own transaction (it survives the refusal's rollback)."""
    pseudonym = pseudonym.strip().lower()[:64]
    subjects = [pseudonym] if PSEUDONYM_RE.match(pseudonym) else []
    with transaction.atomic():
        audit.record(
            actor,
            action,
            object_type="person",
            object_id=pseudonym[:16],
            detail={"purpose": purpose[:64], "reason": reason},
            subjects=subjects,
        )


def _in_jurisdiction(actor: Actor, permission: str, codes: list[str]) -> bool:
    """Whether every org unit of ``codes`` lies where ``actor`` holds ``permission``."""
    allowed = actor.paths_for(permission)
    if not allowed or not codes:
        return False
    paths = dict(OrgUnit.objects.filter(code__in=set(codes)).values_list("code", "path"))
    return all(code in paths and paths[code].startswith(allowed) for code in codes)


def _active(pseudonym: str) -> Person | None:
    person = Person.objects.using(vault_alias()).filter(pseudonym=pseudonym).first()
    if person is None:
        return None
    person = _resolve(person)
    return None if person.merged_into or not person.ciphertext else person


def reidentify(actor: Actor, pseudonym: str, *, purpose: str) -> PersonIdentity:
    """The identity behind ``pseudonym``, for an actor holding ``identity:person:read`` where the person lives.

    ``purpose`` must be one of :data:`PURPOSES`. Granted and refused attempts alike are audited with
    ``subjects=[pseudonym]`` and the purpose (the person's access log shows both). A person outside the actor's
    jurisdiction, merged away or purged is 404.
    """
    pseudonym = pseudonym.strip().lower()
    if not actor.has(READ):
        deny(actor, pseudonym, purpose, "permission")
        raise Forbidden(f"re-identification requires {READ}")
    if purpose not in PURPOSES:
        deny(actor, pseudonym, purpose, "purpose")
        raise Invalid(f"purpose: {purpose[:64]!r} is not one of {', '.join(PURPOSES)}")
    if not PSEUDONYM_RE.match(pseudonym):
        raise Invalid("pseudonym: expected 64 hexadecimal characters")
    person = _active(pseudonym)
    if person is None or not _in_jurisdiction(actor, READ, [person.orgunit_code]):
        deny(actor, pseudonym, purpose, "not found" if person is None else "jurisdiction")
        raise NotFound(f"person {pseudonym[:12]}… not found")
    identity = _decrypt(person)
    with transaction.atomic():
        audit.record(
            actor,
            "identity.person.reidentify",
            object_type="person",
            object_id=person.pseudonym[:16],
            detail={"purpose": purpose, "requested": pseudonym, "orgunit": person.orgunit_code},
            permission=READ,
            subjects=sorted({pseudonym, person.pseudonym}),
        )
    return identity


# --- the person's own access (right of access) --------------------------------------------------------------------

CONTACT_KINDS = ("email", "phone")


def pseudonyms_for_contact(kind: str, value: str) -> list[str]:
    """The pseudonyms of the persons on record with this e-mail address or phone number (blind index, no
    decryption); ``[]`` for none or an unusable value. For the right-of-access flow, which proves control of the
    contact point before it shows anything."""
    if kind not in CONTACT_KINDS:
        raise Invalid(f"kind: expected one of {', '.join(CONTACT_KINDS)}, got {kind!r}")
    key = normalise.email(value) if kind == "email" else normalise.phone_key(value)
    if not key:
        return []
    persons = _by_index(kind, crypto.blind_index(kind, key))
    return sorted({p.pseudonym for p in persons if not p.merged_into and p.ciphertext})


def identity_for_subject(pseudonyms: list[str] | tuple[str, ...]) -> PersonIdentity | None:
    """The decrypted identity of the person behind ``pseudonyms`` (several entries combined), for their own export
    after they proved control of a contact point; None when none is in the vault (purged). The caller audits."""
    persons = []
    for p in dict.fromkeys(pseudonyms):
        person = _active(str(p))
        if person is not None and person not in persons:
            persons.append(person)
    if not persons:
        return None
    persons.sort(key=lambda p: p.pk)
    identity = _decrypt(persons[0])
    for other in persons[1:]:
        identity = _union(identity, _decrypt(other))
    return identity


# --- the review queue -------------------------------------------------------------------------------------------

MAX_PAGE = 200
MAX_OFFSET = 2**63 - 1 - 1000


@dataclass(frozen=True)
class Review:
    """An open or decided probable match, with both identities when the reviewer may see them."""

    id: int
    status: str
    score: float
    parts: dict[str, float]
    new: str
    existing: str
    orgunit_codes: list[str]
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decided_by: str
    new_identity: PersonIdentity | None = None
    existing_identity: PersonIdentity | None = None


def _visible(actor: Actor, candidates: list[MatchCandidate]) -> list[MatchCandidate]:
    codes = sorted({c for cand in candidates for c in cand.orgunit_codes})
    q = jurisdiction_q(actor, MATCH)
    allowed = set(OrgUnit.objects.filter(q, code__in=codes).values_list("code", flat=True)) if q is not None else set()
    return [c for c in candidates if set(c.orgunit_codes) <= allowed]


def _review(cand: MatchCandidate, *, identities: bool) -> Review:
    new_identity = existing_identity = None
    if identities:
        new_p, old_p = _active(cand.new_pseudonym), _active(cand.existing_pseudonym)
        new_identity = _decrypt(new_p) if new_p else None
        existing_identity = _decrypt(old_p) if old_p else None
    return Review(
        id=cand.pk,
        status=cand.status,
        score=cand.score,
        parts=dict(cand.parts),
        new=cand.new_pseudonym,
        existing=cand.existing_pseudonym,
        orgunit_codes=list(cand.orgunit_codes),
        created_at=cand.created_at,
        decided_at=cand.decided_at,
        decided_by=cand.decided_by,
        new_identity=new_identity,
        existing_identity=existing_identity,
    )


def list_reviews(actor: Actor, *, status: str = "open", limit: int = 50, offset: int = 0) -> tuple[int, list[Review]]:
    """The probable matches whose persons both lie in the actor's jurisdiction (``identity:match:write``), best
    score first: (total, one page), without identities. Audited with the listed pseudonyms as subjects."""
    if not actor.has(MATCH):
        raise Forbidden(f"the review queue requires {MATCH}")
    if status not in MatchCandidate.Status.values:
        raise Invalid(f"status: expected one of {', '.join(MatchCandidate.Status.values)}, got {status!r}")
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit: must be between 1 and {MAX_PAGE}")
    if not 0 <= offset <= MAX_OFFSET:
        raise Invalid(f"offset: must be between 0 and {MAX_OFFSET}")
    candidates = _visible(actor, list(MatchCandidate.objects.using(vault_alias()).filter(status=status)))
    page = candidates[offset : offset + limit]
    with transaction.atomic():
        audit.record(
            actor,
            "identity.match.list",
            detail={"status": status, "count": len(page)},
            permission=MATCH,
            subjects=[p for c in page for p in (c.new_pseudonym, c.existing_pseudonym)],
        )
    return len(candidates), [_review(c, identities=False) for c in page]


def _candidate(actor: Actor, candidate_id: int) -> MatchCandidate:
    if not actor.has(MATCH):
        raise Forbidden(f"the review queue requires {MATCH}")
    if not 1 <= candidate_id <= MAX_OFFSET:
        raise NotFound(f"review {candidate_id} not found")
    cand = MatchCandidate.objects.using(vault_alias()).filter(pk=candidate_id).first()
    if cand is None or not _visible(actor, [cand]):
        raise NotFound(f"review {candidate_id} not found")
    return cand


def get_review(actor: Actor, candidate_id: int) -> Review:
    """One probable match with both identities side by side, for the reviewer's decision; audited as a read of
    both persons (purpose ``match-review``)."""
    cand = _candidate(actor, candidate_id)
    review = _review(cand, identities=True)
    with transaction.atomic():
        audit.record(
            actor,
            "identity.match.read",
            object_type="match",
            object_id=cand.pk,
            detail={"purpose": "match-review"},
            permission=MATCH,
            subjects=[cand.new_pseudonym, cand.existing_pseudonym],
        )
    return review


DECISIONS = ("link", "keep_apart")


def decide_review(actor: Actor, candidate_id: int, decision: str) -> Review:
    """Link the two persons of an open review (the earlier one is kept, the later merged into it; the signal
    :data:`~dhnet.identity.events.persons_linked` lets other contexts re-point their rows) or keep them apart.
    Audited; a decided review is a 409."""
    if decision not in DECISIONS:
        raise Invalid(f"decision: expected one of {', '.join(DECISIONS)}, got {decision!r}")
    cand = _candidate(actor, candidate_id)
    db = vault_alias()
    now = timezone.now()
    with transaction.atomic(using=db), transaction.atomic():
        cand = MatchCandidate.objects.using(db).select_for_update().get(pk=cand.pk)
        if cand.status != MatchCandidate.Status.OPEN:
            raise Conflict(f"review {cand.pk} was decided already ({cand.status})")
        kept, merged = cand.existing_pseudonym, cand.new_pseudonym
        if decision == "link":
            kept_p, merged_p = _active(kept), _active(merged)
            if kept_p is None or merged_p is None or kept_p.pk == merged_p.pk:
                raise Conflict(f"review {cand.pk}: one of the persons was linked or purged meanwhile")
            kept, merged = kept_p.pseudonym, merged_p.pseudonym
            # lock both rows (registrations completing them meanwhile would be lost) and re-read them
            locked = {
                p.pk: p for p in Person.objects.using(db).select_for_update().filter(pk__in=[kept_p.pk, merged_p.pk])
            }
            _link(locked[kept_p.pk], locked[merged_p.pk], now)
            cand.status = MatchCandidate.Status.LINKED
        else:
            cand.status = MatchCandidate.Status.KEPT_APART
        cand.decided_at, cand.decided_by = now, actor.username[:150]
        cand.save(update_fields=["status", "decided_at", "decided_by"])
        audit.record(
            actor,
            f"identity.match.{decision}",
            object_type="match",
            object_id=cand.pk,
            detail={"score": cand.score, "kept": kept, "merged": merged} if decision == "link" else {},
            permission=MATCH,
            subjects=[kept, merged],
        )
        if decision == "link":
            persons_linked.send(sender=Person, kept=kept, merged=merged)
    return _review(cand, identities=False)


def _link(kept: Person, merged: Person, now: dt.datetime) -> None:
    """Merge ``merged`` into ``kept``: the identity and indexes move, ``merged`` keeps only a forwarding pointer,
    other open reviews of ``merged`` are superseded."""
    db = vault_alias()
    kept_entry, merged_entry = _open(kept), _open(merged)
    identity = _union(kept_entry.identity, merged_entry.identity)
    variants = _with_variants(kept_entry, *merged_entry.variants)
    BlindIndex.objects.using(db).filter(person=merged).delete()
    merged.merged_into, merged.key_id, merged.nonce, merged.ciphertext = kept.pseudonym, "", b"", b""
    merged.save()
    kept.last_seen_at = max(kept.last_seen_at, merged.last_seen_at, now)
    _store(kept, identity, variants)
    others = MatchCandidate.objects.using(db).filter(status=MatchCandidate.Status.OPEN)
    others.filter(new_pseudonym=merged.pseudonym).update(status=MatchCandidate.Status.SUPERSEDED)
    others.filter(existing_pseudonym=merged.pseudonym).update(status=MatchCandidate.Status.SUPERSEDED)


# --- key rotation and status ------------------------------------------------------------------------------------

ROTATE_BATCH = 200


@dataclass(frozen=True)
class VaultStatus:
    keys: list[str]
    newest: str
    persons: int
    merged: int
    by_key: dict[str, int]
    open_reviews: int
    retention_days: int | None
    database: str


def vault_status() -> VaultStatus:
    """What the operator sees with ``dhnet vault status`` (counts only)."""
    db = vault_alias()
    by_key: dict[str, int] = {}
    for key_id in Person.objects.using(db).exclude(key_id="").values_list("key_id", flat=True):
        by_key[key_id] = by_key.get(key_id, 0) + 1
    cfg = crypto.config()
    return VaultStatus(
        keys=[k for k, _ in cfg.vault_keys],
        newest=crypto.newest_key_id(),
        persons=Person.objects.using(db).filter(merged_into="").count(),
        merged=Person.objects.using(db).exclude(merged_into="").count(),
        by_key=dict(sorted(by_key.items())),
        open_reviews=MatchCandidate.objects.using(db).filter(status=MatchCandidate.Status.OPEN).count(),
        retention_days=cfg.retention_days,
        database=db,
    )


def rotate_keys(actor: Actor, *, batch: int = ROTATE_BATCH, progress: Callable[[int, int], Any] | None = None) -> int:
    """Re-encrypt every vault entry not under the newest key; returns how many were re-encrypted.

    Works in batches, each in its own transaction, so an interrupted run loses nothing and the next one resumes
    where it stopped; entries already under the newest key are left alone (running it twice re-encrypts nothing
    the second time). Audited once per batch (``identity.vault.rotate``, counts only).
    """
    newest = crypto.newest_key_id()
    db = vault_alias()
    pending = Person.objects.using(db).exclude(key_id="").exclude(key_id=newest)
    total = pending.count()
    done = 0
    while True:
        with transaction.atomic(using=db), transaction.atomic():
            rows = list(pending.order_by("id")[:batch])
            if not rows:
                break
            for person in rows:
                plaintext = crypto.unseal(
                    crypto.Sealed(person.key_id, bytes(person.nonce), bytes(person.ciphertext)),
                    pseudonym=person.pseudonym,
                )
                sealed = crypto.seal(plaintext, pseudonym=person.pseudonym, key_id=newest)
                person.key_id, person.nonce, person.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
            Person.objects.using(db).bulk_update(rows, ["key_id", "nonce", "ciphertext"])
            audit.record(actor, "identity.vault.rotate", detail={"key": newest, "count": len(rows)})
        done += len(rows)
        if progress is not None:
            progress(done, total)
    return done
