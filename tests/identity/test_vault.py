"""The vault: registration (new and deterministic on the national identifier), AES-GCM entries bound to their row,
keyed pseudonyms, nothing identifying stored in the clear."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.conf import settings

from dhnet.audit.models import AuditRecord, AuditSubject
from dhnet.identity import crypto
from dhnet.identity.crypto import VaultIntegrityError
from dhnet.identity.models import BlindIndex, Person
from dhnet.identity.services import Registration, _decrypt, register_person
from dhnet.platform.access import Actor
from dhnet.platform.config import ConfigError
from dhnet.platform.errors import Forbidden, Invalid, NotFound
from tests.identity.helpers import NID, person

pytestmark = pytest.mark.django_db


def test_a_new_person_gets_a_pseudonym_and_an_encrypted_entry(tree: Any, operator: Actor) -> None:
    reg = register_person(operator, person(), source="facility-a")
    assert isinstance(reg, Registration)
    assert reg.match == "new"
    assert len(reg.pseudonym) == 64
    assert int(reg.pseudonym, 16) >= 0
    row = Person.objects.get(pseudonym=reg.pseudonym)
    assert row.orgunit_code == "D11"
    assert row.key_id == "dev"
    assert b"Okafor" not in bytes(row.ciphertext)
    assert b"NG-1234567" not in bytes(row.ciphertext)
    assert _decrypt(row).family == "Okafor"
    # the audit trail names the person by pseudonym
    rec = AuditRecord.objects.get(action="identity.person.register")
    assert rec.detail["match"] == "new"
    assert rec.detail["subjects"] == [reg.pseudonym]
    assert AuditSubject.objects.filter(record=rec, subject=reg.pseudonym).exists()


def test_no_identifier_is_stored_in_the_clear(tree: Any, operator: Actor) -> None:
    register_person(operator, person(), source="facility-a")
    rows = [
        {k: bytes(v).hex() if isinstance(v, bytes | memoryview) else v for k, v in r.items()}
        for r in Person.objects.values()
    ]
    dump = repr(rows) + repr(list(BlindIndex.objects.values()))
    dump += repr(list(AuditRecord.objects.values()))
    for value in ("Okafor", "Chiamaka", "1234567", "1988-04-12", "okafor@example", "803 555", "Allen"):
        assert value.lower() not in dump.lower(), value


def test_the_same_national_identifier_is_the_same_person(tree: Any, operator: Actor) -> None:
    first = register_person(operator, person(), source="facility-a")
    # another facility, other spelling of the identifier, a new phone number, another district
    again = person("Okafor", "Chiamaka", nid="ng 1234-567", phones=("08035550199",), district="D12")
    second = register_person(operator, again, source="facility-b")
    assert second == Registration(first.pseudonym, "identifier")
    assert Person.objects.count() == 1
    merged = _decrypt(Person.objects.get())
    assert set(merged.phones) == {"+234 803 555 0101", "08035550199"}
    assert merged.orgunit_code == "D12"
    # retrying the same payload changes nothing
    assert register_person(operator, again, source="facility-b").pseudonym == first.pseudonym
    assert Person.objects.count() == 1


def test_pseudonym_is_keyed_and_stable(tree: Any, operator: Actor) -> None:
    reg = register_person(operator, person(), source="a")
    assert reg.pseudonym == crypto.pseudonym("nid:NG1234567")
    other_key = dataclasses.replace(settings.CONFIG, pseudonym_key=b"k" * 40)
    settings.CONFIG, saved = other_key, settings.CONFIG
    try:
        assert crypto.pseudonym("nid:NG1234567") != reg.pseudonym
    finally:
        settings.CONFIG = saved


def test_tampered_ciphertext_fails_with_a_clear_error(tree: Any, operator: Actor) -> None:
    reg = register_person(operator, person(), source="a")
    row = Person.objects.get(pseudonym=reg.pseudonym)
    data = bytearray(bytes(row.ciphertext))
    data[5] ^= 0x01
    row.ciphertext = bytes(data)
    row.save()
    with pytest.raises(VaultIntegrityError, match="does not authenticate: the ciphertext was altered"):
        _decrypt(Person.objects.get(pk=row.pk))


def test_swapped_ciphertexts_fail_decryption(tree: Any, operator: Actor) -> None:
    a = Person.objects.get(pseudonym=register_person(operator, person(), source="a").pseudonym)
    b_identity = person("Schmidt", "Jonas", nid="DE-998877", sex="male", birth="1970-01-02")
    b = Person.objects.get(pseudonym=register_person(operator, b_identity, source="a").pseudonym)
    a.nonce, b.nonce = bytes(b.nonce), bytes(a.nonce)
    a.ciphertext, b.ciphertext = bytes(b.ciphertext), bytes(a.ciphertext)
    a.save()
    b.save()
    for row in (a, b):
        with pytest.raises(VaultIntegrityError, match="belongs to another person's row"):
            _decrypt(Person.objects.get(pk=row.pk))


def test_unknown_key_id_is_named(tree: Any, operator: Actor) -> None:
    reg = register_person(operator, person(), source="a")
    Person.objects.filter(pseudonym=reg.pseudonym).update(key_id="k-gone")
    with pytest.raises(VaultIntegrityError, match="key 'k-gone', which is not configured"):
        _decrypt(Person.objects.get(pseudonym=reg.pseudonym))


def test_without_keys_the_vault_refuses(tree: Any, operator: Actor) -> None:
    saved = settings.CONFIG
    settings.CONFIG = dataclasses.replace(saved, vault_keys=())
    try:
        with pytest.raises(ConfigError, match="DHNET_VAULT_KEYS"):
            register_person(operator, person(), source="a")
    finally:
        settings.CONFIG = saved
    settings.CONFIG = dataclasses.replace(saved, pseudonym_key=None)
    try:
        with pytest.raises(ConfigError, match="DHNET_PSEUDONYM_KEY"):
            register_person(operator, person(), source="a")
    finally:
        settings.CONFIG = saved


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sex": "M"}, "sex: 'M' is not a FHIR administrative gender"),
        ({"orgunit_code": ""}, "orgunit_code: the person's district is required"),
        ({"emails": ("not-an-address",)}, "emails[0]: 'not-an-address' is not an e-mail address"),
        ({"phones": ("12",)}, "phones[0]: '12' has fewer than 6 digits"),
        ({"identifiers": ((NID, "  "),)}, "identifiers[0]: empty value"),
        ({"family": "x" * 201}, "family: longer than 200 characters"),
    ],
)
def test_bad_identities_are_refused_naming_the_field(
    tree: Any, operator: Actor, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(Invalid, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        register_person(operator, dataclasses.replace(person(), **change), source="a")
    assert not Person.objects.exists()


def test_future_birth_date_is_refused(tree: Any, operator: Actor) -> None:
    with pytest.raises(Invalid, match=r"birth_date: .* lies in the future"):
        register_person(operator, person(birth="2999-01-01"), source="a")


def test_registering_needs_report_write_in_the_district(tree: Any, users: Any) -> None:
    from tests.platform.fixtures import actor_of

    viewer = actor_of(users["viewer"])
    with pytest.raises(Forbidden, match="registering a person requires surveillance:report:write"):
        register_person(viewer, person(), source="a")
    officer = actor_of(users["district_officer"])  # at D11
    assert register_person(officer, person(), source="a").match == "new"
    with pytest.raises(NotFound, match="orgunit_code: org unit 'D21' not found"):
        register_person(officer, person(nid="OTHER", district="D21"), source="a")
    with pytest.raises(NotFound, match="org unit 'NOWHERE' not found"):
        register_person(officer, person(nid="OTHER", district="NOWHERE"), source="a")
    assert Person.objects.count() == 1
