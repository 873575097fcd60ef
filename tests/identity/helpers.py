"""Identities used across the identity tests."""

from __future__ import annotations

import datetime as dt

from dhnet.identity.services import PersonIdentity

NID = "urn:oid:2.16.840.1.113883.4.1"


def person(
    family: str = "Okafor",
    given: str = "Chiamaka",
    *,
    birth: str | None = "1988-04-12",
    sex: str = "female",
    nid: str | None = "NG-1234567",
    district: str = "D11",
    phones: tuple[str, ...] = ("+234 803 555 0101",),
    emails: tuple[str, ...] = ("c.okafor@example.org",),
) -> PersonIdentity:
    return PersonIdentity(
        family=family,
        given=given,
        birth_date=dt.date.fromisoformat(birth) if birth else None,
        sex=sex,
        identifiers=((NID, nid),) if nid else (),
        phones=phones,
        emails=emails,
        address_lines=("12 Allen Avenue",),
        orgunit_code=district,
    )
