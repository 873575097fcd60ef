"""Case reports for the release tests, written straight into ``dhnet.cases`` (the intake is tested there)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

from dhnet.cases.models import Case, age_band
from dhnet.diseases.models import Disease
from dhnet.orgunits.models import OrgUnit

#: A Monday: week 2024-W10.
MONDAY = dt.date(2024, 3, 4)


def pseudonym(n: int) -> str:
    return hashlib.sha256(f"person-{n}".encode()).hexdigest()


def add_case(
    n: int,
    district: str,
    *,
    disease: str = "measles",
    onset: dt.date | None = MONDAY,
    report: dt.date | None = None,
    age: int | None = 30,
    sex: str = "female",
    person: int | None = None,
    **extra: Any,
) -> Case:
    return Case.objects.create(
        pseudonym=pseudonym(n if person is None else person),
        disease=Disease.objects.get(code=disease),
        orgunit=OrgUnit.objects.get(code=district),
        classification=extra.pop("classification", "confirmed"),
        onset_date=onset,
        report_date=report or (onset or MONDAY) + dt.timedelta(days=2),
        age_years=age,
        age_band=age_band(age),
        sex=sex,
        source_system="urn:test:condition",
        source_value=f"c-{n}",
        created_by="test",
        **extra,
    )


def add_counts(counts: Iterable[tuple[str, int, int]], *, start: int = 0, disease: str = "measles") -> int:
    """``(district, week offset from MONDAY, count)`` cases; returns the next free case number."""
    n = start
    for district, week, count in counts:
        for _ in range(count):
            add_case(n, district, disease=disease, onset=MONDAY + dt.timedelta(weeks=week, days=n % 7))
            n += 1
    return n
