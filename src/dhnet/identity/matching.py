"""Probabilistic person matching (Fellegi–Sunter style), pure: no database, no secrets.

Each compared field adds a weight, roughly ``log2(m/u)`` when it agrees (``m``: how often a true match agrees,
``u``: how often two different persons agree by chance) and ``log2((1-m)/(1-u))`` when it disagrees; partial
agreement of names (Jaro-Winkler similarity from ``rapidfuzz``) is interpolated between the two (names that sound
alike, with equal Soundex codes, count at least part), and a birth date
with a typical typo (day and month swapped, one digit wrong) counts part. Missing fields weigh nothing. The sum is
compared with two thresholds: at or above the upper one the records are linked automatically, between the two
they go to the review queue, below they stay apart. A pair with a name or the birth date missing on one side is
never linked automatically: it goes to review at most.

The weights were set from the error rates of the generated test set (``tests/identity/generator.py``) and checked
with ``bench/bench_matching.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rapidfuzz.distance import JaroWinkler

from dhnet.identity import normalise

#: (agree, disagree) weights per field.
FAMILY = (6.5, -5.0)
GIVEN = (5.5, -6.0)
BIRTH_EXACT = 9.0
BIRTH_TYPO = 4.0
#: A typo in the year (one digit, or two adjacent ones transposed) is also how two namesakes born apart look.
BIRTH_YEAR_TYPO = 2.0
BIRTH_YEAR_ONLY = 0.0
BIRTH_DISAGREE = -7.0
SEX = (1.0, -4.0)
DISTRICT = (1.5, -0.5)
NATIONAL_ID_DISAGREE = -30.0
#: Jaro-Winkler similarities: full agreement at or above HIGH, disagreement at or below LOW, linear between.
HIGH = 0.94
LOW = 0.80
#: Share of the agreement weight given to names that differ but sound alike (equal Soundex codes).
PHONETIC_SHARE = 0.6
#: Subtracted when the names match only after swapping given and family name.
SWAP_PENALTY = 1.0


@dataclass(frozen=True)
class Comparable:
    """The fields matching compares, normalised."""

    family: str
    given: str
    birth_date: dt.date | None
    sex: str
    district: str
    national_id: str = ""

    @classmethod
    def of(
        cls, *, family: str, given: str, birth_date: dt.date | None, sex: str, district: str, national_id: str = ""
    ) -> Comparable:
        return cls(
            normalise.name(family),
            normalise.name(given),
            birth_date,
            sex if sex in ("male", "female") else "",
            district,
            normalise.identifier(national_id) if national_id else "",
        )


@dataclass(frozen=True)
class Score:
    """A comparison's total and its parts (field -> weight), for the review queue."""

    total: float
    parts: dict[str, float]
    #: Whether both names and the birth date were present on both sides: only then may a link be automatic
    #: (a missing field weighs nothing, so a twin without a given name would otherwise score like a duplicate).
    complete: bool = True


def similarity(a: str, b: str) -> float:
    """Jaro-Winkler similarity of two normalised names (1.0 equal, 0.0 nothing in common)."""
    if not a or not b:
        return 0.0
    return float(JaroWinkler.similarity(a, b))


def _name_weight(sim: float, weights: tuple[float, float]) -> float:
    agree, disagree = weights
    if sim >= HIGH:
        return agree
    if sim <= LOW:
        return disagree
    return disagree + (agree - disagree) * (sim - LOW) / (HIGH - LOW)


def _name(a: str, b: str, weights: tuple[float, float]) -> float:
    """The weight of one name pair: by Jaro-Winkler similarity, at least part agreement when they sound alike."""
    if not a or not b:
        return 0.0
    weight = _name_weight(similarity(a, b), weights)
    if weight < PHONETIC_SHARE * weights[0] and normalise.soundex(a) == normalise.soundex(b):
        return PHONETIC_SHARE * weights[0]
    return weight


def _names(a: Comparable, b: Comparable) -> tuple[float, float, bool]:
    straight_f = _name(a.family, b.family, FAMILY)
    straight_g = _name(a.given, b.given, GIVEN)
    if a.family and a.given and b.family and b.given:
        swap_f = _name(a.family, b.given, FAMILY)
        swap_g = _name(a.given, b.family, GIVEN)
        if swap_f + swap_g - SWAP_PENALTY > straight_f + straight_g:
            return swap_f - SWAP_PENALTY / 2, swap_g - SWAP_PENALTY / 2, True
    return straight_f, straight_g, False


def date_typo(a: dt.date, b: dt.date) -> bool:
    """Whether two dates differ by a common typo: day and month swapped, or one digit of ``YYYYMMDD`` wrong, or
    two adjacent digits transposed."""
    if (a.day, a.month, a.year) == (b.month, b.day, b.year):
        return True
    sa, sb = a.strftime("%Y%m%d"), b.strftime("%Y%m%d")
    diff = [i for i in range(8) if sa[i] != sb[i]]
    if len(diff) == 1:
        return True
    return len(diff) == 2 and diff[1] == diff[0] + 1 and sa[diff[0]] == sb[diff[1]] and sa[diff[1]] == sb[diff[0]]


def _birth(a: dt.date | None, b: dt.date | None) -> float:
    if a is None or b is None:
        return 0.0
    if a == b:
        return BIRTH_EXACT
    if date_typo(a, b):
        return BIRTH_TYPO if a.year == b.year else BIRTH_YEAR_TYPO
    if a.year == b.year:
        return BIRTH_YEAR_ONLY
    return BIRTH_DISAGREE


def _binary(a: str, b: str, weights: tuple[float, float]) -> float:
    if not a or not b:
        return 0.0
    return weights[0] if a == b else weights[1]


def score(a: Comparable, b: Comparable) -> Score:
    """The match weight of two records (higher: more likely the same person)."""
    family, given, swapped = _names(a, b)
    parts = {
        "family": round(family, 2),
        "given": round(given, 2),
        "birth_date": _birth(a.birth_date, b.birth_date),
        "sex": _binary(a.sex, b.sex, SEX),
        "district": _binary(a.district, b.district, DISTRICT),
    }
    if swapped:
        parts["swapped_names"] = 1.0
    if a.national_id and b.national_id and a.national_id != b.national_id:
        parts["national_id"] = NATIONAL_ID_DISAGREE
    total = sum(v for k, v in parts.items() if k != "swapped_names")
    complete = all((a.family, b.family, a.given, b.given, a.birth_date, b.birth_date))
    return Score(round(total, 2), parts, complete)


def best(a: Comparable, variants: list[Comparable]) -> Score:
    """The best score of ``a`` against any of the variants recorded for one person."""
    return max((score(a, v) for v in variants), key=lambda s: s.total)


def blocking_keys(c: Comparable) -> set[str]:
    """The keys under which a record is filed, so that only records sharing one are compared.

    Several independent keys, so that one typo (in a name's first letter, or in the birth date) or swapped names
    still leave a key in common: both phonetic names (order-free); either name with the birth year or the birth
    date; birth date + district.
    """
    keys: set[str] = set()
    fam, giv = normalise.soundex(c.family), normalise.soundex(c.given)
    if fam and giv:
        keys.add("names:" + "|".join(sorted((fam, giv))))
    if c.birth_date is not None:
        if fam:
            keys.add(f"family-year:{fam}|{c.birth_date.year}")
            keys.add(f"family-date:{fam}|{c.birth_date.isoformat()}")
        if giv:
            keys.add(f"given-year:{giv}|{c.birth_date.year}")
            keys.add(f"given-date:{giv}|{c.birth_date.isoformat()}")
        if c.district:
            keys.add(f"date-district:{c.birth_date.isoformat()}|{c.district}")
    return keys
