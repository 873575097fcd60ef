"""Property-based tests (hypothesis) of the parsers and normalisers: names, e-mail addresses, phone numbers,
identifiers, dates, the vault-key list and the vault entry's serialisation."""

from __future__ import annotations

import base64
import datetime as dt
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhnet.identity import normalise
from dhnet.identity.services import Entry, PersonIdentity
from dhnet.platform.config import ConfigError, parse_vault_keys

texts = st.text(max_size=60)


@given(texts)
def test_name_is_idempotent_and_clean(value: str) -> None:
    once = normalise.name(value)
    assert normalise.name(once) == once
    assert once == once.strip()
    assert "  " not in once
    assert all(ch.isalpha() or ch == " " for ch in once)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_name_of_ascii_text_takes_a_shortcut_to_the_same_result(value: str) -> None:
    assert normalise.name(value) == normalise._unicode_name(value)


@given(st.sampled_from(["Müller", "Ayşe", "Łukasz", "Nguyễn", "O'Brien", "García-López", "Straße"]))
def test_name_drops_accents_case_and_punctuation(value: str) -> None:
    assert normalise.name(value).isascii()
    assert normalise.name(value.upper()) == normalise.name(value)


@given(texts)
def test_email_is_empty_or_a_casefolded_address(value: str) -> None:
    out = normalise.email(value)
    assert out == "" or (out.count("@") == 1 and out == out.casefold() and out == out.strip())
    assert normalise.email(out) == out


@given(st.text(alphabet=string.digits + " +-()./", max_size=30))
def test_phone_keeps_digits_and_keys_on_the_last_nine(value: str) -> None:
    out = normalise.phone(value)
    assert out == "" or (out.isdigit() and len(out) >= normalise.MIN_PHONE_DIGITS)
    key = normalise.phone_key(value)
    assert key == out[-9:]


@given(st.from_regex(r"[1-9][0-9]{8}", fullmatch=True))
def test_phone_key_ignores_country_and_trunk_prefix(number: str) -> None:
    local = f"0{number[:3]} {number[3:]}"
    international = f"+49 {number[:3]}-{number[3:]}"
    dialled = f"0049{number}"
    assert normalise.phone_key(local) == normalise.phone_key(international) == normalise.phone_key(dialled) == number


@given(st.text(max_size=40))
def test_identifier_normalisation_is_idempotent(value: str) -> None:
    once = normalise.identifier(value)
    assert normalise.identifier(once) == once
    assert not any(ch in once for ch in " -./\t")


@given(texts)
def test_soundex_is_short_and_stable(value: str) -> None:
    code = normalise.soundex(value)
    assert len(code) <= 4
    assert normalise.soundex(value.upper()) == code


@given(st.dates())
def test_parse_date_round_trips(value: dt.date) -> None:
    assert normalise.parse_date(value.isoformat()) == value


@given(texts.filter(lambda s: s.strip() != ""))
def test_parse_date_refuses_or_parses(value: str) -> None:
    message = ""
    try:
        parsed = normalise.parse_date(value)
    except ValueError as exc:
        message = str(exc)
    if message:
        assert "not a date (YYYY-MM-DD)" in message
    else:
        assert isinstance(parsed, dt.date)


key_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}", fullmatch=True)


@given(st.lists(st.tuples(key_ids, st.binary(min_size=32, max_size=32)), max_size=5, unique_by=lambda kv: kv[0]))
def test_vault_keys_round_trip(keys: list[tuple[str, bytes]]) -> None:
    raw = ",".join(f"{k}:{base64.b64encode(v).decode()}" for k, v in keys)
    assert parse_vault_keys(raw) == tuple(keys)
    assert parse_vault_keys(raw.replace(",", "\n") + "\n# a comment\n") == tuple(keys)


@given(st.text(max_size=80))
@settings(max_examples=300)
def test_vault_keys_parser_never_crashes(raw: str) -> None:
    message = ""
    try:
        parse_vault_keys(raw)
    except ConfigError as exc:
        message = str(exc)
    assert message == "" or message.startswith("DHNET_VAULT_KEYS: ")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("k1", "key 1 must be written id:base64key"),
        ("k1:!!!", "key 'k1' is not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "key 'k1' must be 32 bytes (AES-256), got 5"),
        (f"k 1:{base64.b64encode(bytes(32)).decode()}", "key id 'k 1' must be 1-32 letters"),
        (
            f"a:{base64.b64encode(bytes(32)).decode()},a:{base64.b64encode(bytes(32)).decode()}",
            "key id 'a' appears twice",
        ),
    ],
)
def test_vault_key_errors_name_the_key(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_vault_keys(raw)


identities = st.builds(
    PersonIdentity,
    family=st.text(max_size=30),
    given=st.text(max_size=30),
    birth_date=st.none() | st.dates(),
    sex=st.sampled_from(["", "male", "female", "other", "unknown"]),
    identifiers=st.lists(st.tuples(st.text(max_size=20), st.text(max_size=20)), max_size=3).map(tuple),
    phones=st.lists(st.text(max_size=20), max_size=3).map(tuple),
    emails=st.lists(st.text(max_size=20), max_size=3).map(tuple),
    address_lines=st.lists(st.text(max_size=20), max_size=3).map(tuple),
    orgunit_code=st.text(max_size=10),
)


@given(identities, st.lists(identities, max_size=3))
def test_vault_entry_serialisation_round_trips(identity: PersonIdentity, others: list[PersonIdentity]) -> None:
    variants = tuple(
        PersonIdentity(family=o.family, given=o.given, birth_date=o.birth_date, sex=o.sex, orgunit_code=o.orgunit_code)
        for o in others
    )
    entry = Entry(identity, variants)
    assert Entry.from_json(entry.to_json()) == entry
