"""Re-identification (permission, purpose, jurisdiction, audit of grants and refusals), contact lookups for the
right of access, the review queue (link, keep apart, the persons_linked signal), key rotation, retention."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from dhnet.accounts.models import User
from dhnet.audit import services as audit_services
from dhnet.audit.models import AuditRecord, AuditSubject
from dhnet.identity import crypto, services
from dhnet.identity.events import persons_linked
from dhnet.identity.models import BlindIndex, MatchCandidate, Person
from dhnet.identity.services import (
    identity_for_subject,
    pseudonyms_for_contact,
    purge_expired,
    register_person,
    reidentify,
)
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from tests.identity.helpers import person
from tests.platform.fixtures import actor_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def config() -> Iterator[Any]:
    """Replace settings.CONFIG fields for one test: ``config(retention_days=30)``."""
    saved = settings.CONFIG

    def apply(**changes: Any) -> None:
        settings.CONFIG = dataclasses.replace(saved, **changes)

    yield apply
    settings.CONFIG = saved


def _epi(users: dict[str, User]) -> Actor:
    return actor_of(users["national_epidemiologist"])


# --- re-identification ------------------------------------------------------------------------------------------


def test_reidentify_returns_the_identity_and_audits_purpose_and_subject(
    users: dict[str, User], operator: Actor
) -> None:
    reg = register_person(operator, person(), source="a")
    actor = _epi(users)
    identity = reidentify(actor, reg.pseudonym, purpose="contact-tracing")
    assert (identity.family, identity.given, identity.birth_date) == ("Okafor", "Chiamaka", dt.date(1988, 4, 12))
    rec = AuditRecord.objects.filter(action="identity.person.reidentify").get()
    assert rec.detail["purpose"] == "contact-tracing"
    assert rec.detail["subjects"] == [reg.pseudonym]
    assert rec.actor_username == "national_epidemiologist"
    assert AuditSubject.objects.filter(record=rec, subject=reg.pseudonym).exists()
    assert audit_services.verify().ok


def test_reidentify_without_permission_is_refused_and_audited(users: dict[str, User], operator: Actor) -> None:
    reg = register_person(operator, person(), source="a")
    officer = actor_of(users["district_officer"])
    with pytest.raises(Forbidden, match="requires identity:person:read"):
        reidentify(officer, reg.pseudonym, purpose="treatment")
    rec = AuditRecord.objects.get(action="identity.person.reidentify_denied")
    assert rec.detail["reason"] == "permission"
    assert rec.detail["subjects"] == [reg.pseudonym]


@pytest.mark.parametrize("purpose", ["", "curiosity", "TREATMENT"])
def test_reidentify_needs_a_listed_purpose(users: dict[str, User], operator: Actor, purpose: str) -> None:
    reg = register_person(operator, person(), source="a")
    with pytest.raises(Invalid, match=r"purpose: .* is not one of treatment, contact-tracing"):
        reidentify(_epi(users), reg.pseudonym, purpose=purpose)
    assert AuditRecord.objects.get(action="identity.person.reidentify_denied").detail["reason"] == "purpose"
    assert not AuditRecord.objects.filter(action="identity.person.reidentify").exists()


def test_reidentify_outside_the_jurisdiction_is_404_and_audited(users: dict[str, User], operator: Actor) -> None:
    reg = register_person(operator, person(district="D21"), source="a")
    # a user holding identity:person:read in region R1 only
    from dhnet.accounts import services as accounts

    user, _ = accounts.create_user(operator, "r1epi", role="national_epidemiologist", orgunit_code="R1")
    with pytest.raises(NotFound, match="not found"):
        reidentify(actor_of(user), reg.pseudonym, purpose="treatment")
    assert AuditRecord.objects.get(action="identity.person.reidentify_denied").detail["reason"] == "jurisdiction"
    inside = register_person(operator, person("Weber", "Anna", nid="X-1", district="D12"), source="a")
    assert reidentify(actor_of(user), inside.pseudonym, purpose="treatment").family == "Weber"


def test_reidentify_unknown_or_malformed_pseudonym(users: dict[str, User]) -> None:
    with pytest.raises(NotFound):
        reidentify(_epi(users), "ab" * 32, purpose="treatment")
    with pytest.raises(Invalid, match="pseudonym: expected 64 hexadecimal characters"):
        reidentify(_epi(users), "not-a-pseudonym", purpose="treatment")


# --- contact points ---------------------------------------------------------------------------------------------


def test_pseudonyms_for_contact_match_on_normalised_values(tree: Any, operator: Actor) -> None:
    reg = register_person(operator, person(), source="a")
    assert pseudonyms_for_contact("email", "  C.Okafor@EXAMPLE.org ") == [reg.pseudonym]
    assert pseudonyms_for_contact("phone", "0803-555-0101") == [reg.pseudonym]  # trunk prefix instead of +234
    assert pseudonyms_for_contact("phone", "+234 803 555 0102") == []
    assert pseudonyms_for_contact("email", "nobody@example.org") == []
    assert pseudonyms_for_contact("email", "not an address") == []
    with pytest.raises(Invalid, match="kind: expected one of email, phone"):
        pseudonyms_for_contact("fax", "123456")


def test_identity_for_subject_combines_a_persons_entries(tree: Any, operator: Actor) -> None:
    a = register_person(operator, person(), source="a")
    b = register_person(
        operator,
        person("Okafor", "Chiamaka", nid="NG-999", emails=("c.okafor@example.org", "chi@example.net")),
        source="b",
    )
    both = identity_for_subject([b.pseudonym, a.pseudonym])
    assert both is not None
    assert set(both.emails) == {"c.okafor@example.org", "chi@example.net"}
    assert identity_for_subject(["ab" * 32]) is None
    assert identity_for_subject([]) is None


# --- matching and the review queue --------------------------------------------------------------------------------


def test_probabilistic_link_above_the_upper_threshold(tree: Any, operator: Actor) -> None:
    first = register_person(operator, person(nid=None), source="a")
    typo = person("Okafr", "Chiamaka", nid=None, district="D12", phones=(), emails=())
    second = register_person(operator, typo, source="b")
    assert second.match == "linked"
    assert second.pseudonym == first.pseudonym


def test_missing_birth_date_goes_to_review_not_link(tree: Any, operator: Actor) -> None:
    first = register_person(operator, person(nid=None), source="a")
    second = register_person(operator, person(nid=None, birth=None, phones=(), emails=()), source="b")
    assert second.match == "review"
    assert second.candidates == (first.pseudonym,)
    assert second.pseudonym != first.pseudonym
    cand = MatchCandidate.objects.get()
    assert cand.status == "open"
    assert cand.parts["birth_date"] == 0.0
    assert "Okafor" not in repr(cand.parts)


def test_different_people_stay_apart(tree: Any, operator: Actor) -> None:
    register_person(operator, person(nid=None), source="a")
    other = register_person(
        operator, person("Schmidt", "Jonas", nid=None, sex="male", birth="1955-02-03", phones=(), emails=()), source="b"
    )
    assert other.match == "new"
    assert not MatchCandidate.objects.exists()


def test_different_national_identifiers_are_never_linked(tree: Any, operator: Actor) -> None:
    register_person(operator, person(nid="A-1"), source="a")
    assert register_person(operator, person(nid="B-2"), source="b").match in ("new", "review")
    assert Person.objects.count() == 2


def _queued(operator: Actor) -> tuple[str, str, MatchCandidate]:
    first = register_person(operator, person(nid=None), source="a")
    second = register_person(operator, person(nid=None, birth=None, emails=("other@example.org",)), source="b")
    return first.pseudonym, second.pseudonym, MatchCandidate.objects.get()


def test_link_merges_fires_the_signal_and_audits(users: dict[str, User], operator: Actor) -> None:
    kept, merged, cand = _queued(operator)
    received: list[dict[str, Any]] = []

    def listener(sender: Any, **kwargs: Any) -> None:
        received.append({k: kwargs[k] for k in ("kept", "merged")})

    persons_linked.connect(listener, dispatch_uid="test-listener")
    try:
        services.decide_review(_epi(users), cand.pk, "link")
    finally:
        persons_linked.disconnect(dispatch_uid="test-listener")
    assert received == [{"kept": kept, "merged": merged}]
    cand.refresh_from_db()
    assert cand.status == "linked"
    assert cand.decided_by == "national_epidemiologist"
    assert Person.objects.get(pseudonym=merged).merged_into == kept
    # the merged person's contact point now finds the kept person; re-identifying the merged one gives the kept one
    assert pseudonyms_for_contact("email", "other@example.org") == [kept]
    assert set(reidentify(_epi(users), merged, purpose="treatment").emails) == {
        "c.okafor@example.org",
        "other@example.org",
    }
    rec = AuditRecord.objects.get(action="identity.match.link")
    assert sorted(rec.detail["subjects"]) == sorted([kept, merged])
    # later registrations of the merged identity land on the kept person
    assert register_person(operator, person(nid=None), source="c").pseudonym == kept
    with pytest.raises(Conflict, match="decided already"):
        services.decide_review(_epi(users), cand.pk, "keep_apart")


def test_keep_apart(users: dict[str, User], operator: Actor) -> None:
    _kept, merged, cand = _queued(operator)
    services.decide_review(_epi(users), cand.pk, "keep_apart")
    cand.refresh_from_db()
    assert cand.status == "kept_apart"
    assert Person.objects.get(pseudonym=merged).merged_into == ""
    assert AuditRecord.objects.filter(action="identity.match.keep_apart").exists()
    with pytest.raises(Invalid, match="decision: expected one of link, keep_apart"):
        services.decide_review(_epi(users), cand.pk, "maybe")


def test_review_queue_is_limited_to_the_jurisdiction(users: dict[str, User], operator: Actor) -> None:
    _queued(operator)  # both persons in D11
    from dhnet.accounts import services as accounts

    r2, _ = accounts.create_user(operator, "r2epi", role="national_epidemiologist", orgunit_code="R2")
    assert services.list_reviews(actor_of(r2)) == (0, [])
    total, items = services.list_reviews(_epi(users))
    assert total == 1
    with pytest.raises(NotFound):
        services.get_review(actor_of(r2), items[0].id)
    review = services.get_review(_epi(users), items[0].id)
    assert review.new_identity is not None
    assert review.new_identity.family == "Okafor"
    with pytest.raises(Forbidden):
        services.list_reviews(actor_of(users["regional_officer"]))
    with pytest.raises(Invalid, match="status: expected one of"):
        services.list_reviews(_epi(users), status="bogus")


# --- rotation -----------------------------------------------------------------------------------------------------


def _key(fill: int) -> bytes:
    return bytes([fill]) * 32


def test_rotate_keys_reencrypts_everything_resumably(tree: Any, operator: Actor, config: Any) -> None:
    config(vault_keys=(("k1", _key(1)),))
    pseudonyms = [
        register_person(
            operator, person(f"Family{i}", "Given", nid=f"N-{i}", phones=(), emails=()), source="a"
        ).pseudonym
        for i in range(5)
    ]
    assert set(Person.objects.values_list("key_id", flat=True)) == {"k1"}
    before = {p.pk: bytes(p.ciphertext) for p in Person.objects.all()}
    config(vault_keys=(("k1", _key(1)), ("k2", _key(2))))
    steps: list[tuple[int, int]] = []
    # an interrupted run: the first batch commits, then the run stops
    with pytest.raises(RuntimeError):
        services.rotate_keys(
            operator, batch=2, progress=lambda d, t: steps.append((d, t)) or (_ for _ in ()).throw(RuntimeError())
        )
    assert sorted(Person.objects.values_list("key_id", flat=True)) == ["k1", "k1", "k1", "k2", "k2"]
    assert services.rotate_keys(operator, batch=2) == 3  # resumes with the rest
    assert services.rotate_keys(operator) == 0  # idempotent
    assert set(Person.objects.values_list("key_id", flat=True)) == {"k2"}
    assert all(bytes(p.ciphertext) != before[p.pk] for p in Person.objects.all())
    # the old key can go now; everything decrypts under the new one
    config(vault_keys=(("k2", _key(2)),))
    for i, pseudonym in enumerate(pseudonyms):
        assert services._decrypt(Person.objects.get(pseudonym=pseudonym)).family == f"Family{i}"
    assert AuditRecord.objects.filter(action="identity.vault.rotate").count() == 3
    status = services.vault_status()
    assert status.by_key == {"k2": 5}
    assert status.newest == "k2"


def test_rotation_stops_on_a_tampered_entry(tree: Any, operator: Actor, config: Any) -> None:
    config(vault_keys=(("k1", _key(1)),))
    reg = register_person(operator, person(), source="a")
    Person.objects.filter(pseudonym=reg.pseudonym).update(ciphertext=b"\x00" * 64)
    config(vault_keys=(("k1", _key(1)), ("k2", _key(2))))
    with pytest.raises(crypto.VaultIntegrityError, match="does not authenticate"):
        services.rotate_keys(operator)
    assert Person.objects.get(pseudonym=reg.pseudonym).key_id == "k1"


# --- retention ----------------------------------------------------------------------------------------------------


def test_purge_expired_deletes_old_entries_and_keeps_recent_ones(tree: Any, operator: Actor, config: Any) -> None:
    old = register_person(operator, person(), source="a")
    recent = register_person(operator, person("Weber", "Anna", nid="X-2", emails=("anna@example.org",)), source="a")
    Person.objects.filter(pseudonym=old.pseudonym).update(last_seen_at=timezone.now() - dt.timedelta(days=400))
    assert purge_expired() == 0  # no retention configured
    config(retention_days=365)
    assert purge_expired(timezone.now()) == 1
    assert list(Person.objects.values_list("pseudonym", flat=True)) == [recent.pseudonym]
    assert not BlindIndex.objects.filter(person__pseudonym=old.pseudonym).exists()
    assert pseudonyms_for_contact("email", "c.okafor@example.org") == []
    rec = AuditRecord.objects.get(action="identity.person.purge")
    assert rec.detail["subjects"] == [old.pseudonym]
    assert rec.detail["count"] == 1
    assert purge_expired(timezone.now()) == 0
    # a purged person reported again with the same national identifier gets the same pseudonym back
    assert register_person(operator, person(), source="a").pseudonym == old.pseudonym


def test_the_purge_job_is_registered_and_runs(tree: Any, operator: Actor, config: Any) -> None:
    from dhnet.identity.jobs import PURGE
    from dhnet.jobs import registry

    assert PURGE in registry.schedules()
    reg = register_person(operator, person(), source="a")
    Person.objects.filter(pseudonym=reg.pseudonym).update(last_seen_at=timezone.now() - dt.timedelta(days=40))
    config(retention_days=30)
    from dhnet.jobs.worker import run_inline

    job = run_inline(PURGE, {}, requested_by="test")
    assert job.result == {"purged": 1}
    assert not Person.objects.exists()


def test_no_key_material_in_the_vault(tree: Any, operator: Actor) -> None:
    register_person(operator, person(), source="a")
    secrets = [key for _, key in settings.CONFIG.vault_keys] + [settings.CONFIG.pseudonym_key]
    blobs = b"".join(bytes(p.ciphertext) + bytes(p.nonce) for p in Person.objects.all())
    text = repr(list(Person.objects.values("pseudonym", "key_id"))) + repr(list(BlindIndex.objects.values()))
    for secret in secrets:
        assert secret not in blobs
        assert base64.b64encode(secret).decode() not in text
        assert secret.hex() not in text
