"""Synthetic persons with the errors real registrations make, for measuring person matching (test set, benchmark).

:func:`generate` draws persons (names of several cultures, sex, birth date, district, sometimes a national
identifier) and, for some, further registrations of the same person at other facilities with realistic errors:
typos (adjacent letters transposed, a letter dropped, doubled or replaced by a keyboard neighbour), phonetic
spelling variants, given and family name swapped, birth-date typos (day and month swapped, one digit wrong),
missing fields, another district. Relatives (same family name and district, another given name; twins share the
birth date too) make the set hard for precision. Fixed seed: the same set on every run.

:func:`evaluate` computes pairwise precision and recall of a clustering against the truth.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

#: culture -> (female given names, male given names, family names)
NAMES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "german": (
        ["Anna", "Katharina", "Sabine", "Ursula", "Lena", "Johanna", "Brigitte", "Franziska", "Greta", "Heike"],
        ["Jonas", "Lukas", "Matthias", "Stefan", "Jürgen", "Wolfgang", "Klaus", "Felix", "Dieter", "Tobias"],
        ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schäfer",
         "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann"],
    ),
    "turkish": (
        ["Ayşe", "Fatma", "Emine", "Zeynep", "Elif", "Hatice", "Merve", "Özlem", "Büşra", "Yasemin"],
        ["Mehmet", "Mustafa", "Ahmet", "Ali", "Hüseyin", "Hasan", "İbrahim", "Emre", "Murat", "Yusuf"],
        ["Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın", "Özdemir",
         "Arslan", "Doğan"],
    ),
    "arabic": (
        ["Fatima", "Aisha", "Maryam", "Khadija", "Layla", "Noor", "Amira", "Salma", "Huda", "Rania"],
        ["Mohammed", "Ahmed", "Omar", "Youssef", "Khalid", "Hassan", "Ibrahim", "Tariq", "Karim", "Samir"],
        ["Al-Hassan", "Haddad", "Khoury", "Nasser", "Saleh", "Mansour", "Abdullah", "Hamdan", "Farouk", "Aziz",
         "Rahman", "Qasim"],
    ),
    "west_african": (
        ["Chiamaka", "Ngozi", "Adaeze", "Funmilayo", "Aisha", "Blessing", "Yetunde", "Amina", "Chinwe", "Folake"],
        ["Chinedu", "Emeka", "Oluwaseun", "Babatunde", "Ibrahim", "Kwame", "Kofi", "Tunde", "Obinna", "Musa"],
        ["Okafor", "Adeyemi", "Okonkwo", "Balogun", "Mensah", "Nwosu", "Eze", "Abubakar", "Ogunleye", "Boateng",
         "Owusu", "Adebayo"],
    ),
    "polish": (
        ["Agnieszka", "Małgorzata", "Katarzyna", "Joanna", "Magdalena", "Ewa", "Zofia", "Beata", "Dorota", "Iwona"],
        ["Krzysztof", "Piotr", "Andrzej", "Tomasz", "Paweł", "Marcin", "Grzegorz", "Michał", "Wojciech", "Jakub"],
        ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński",
         "Szymański", "Woźniak", "Dąbrowski", "Kozłowski"],
    ),
    "vietnamese": (
        ["Lan", "Hương", "Mai", "Thảo", "Linh", "Ngọc", "Trang", "Hạnh", "Phương", "Thu"],
        ["Minh", "Tuấn", "Hùng", "Dũng", "Quang", "Thắng", "Long", "Nam", "Huy", "Sơn"],
        ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"],
    ),
    "spanish": (
        ["María", "Carmen", "Lucía", "Isabel", "Sofía", "Valentina", "Guadalupe", "Rosa", "Elena", "Paula"],
        ["José", "Juan", "Carlos", "Luis", "Javier", "Miguel", "Alejandro", "Diego", "Fernando", "Andrés"],
        ["García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
         "Hernández", "Jiménez", "Ruiz"],
    ),
    "south_asian": (
        ["Priya", "Ananya", "Lakshmi", "Sunita", "Deepika", "Fatima", "Kavya", "Meera", "Pooja", "Shreya"],
        ["Rahul", "Arjun", "Vikram", "Sanjay", "Amit", "Rajesh", "Imran", "Suresh", "Arun", "Karthik"],
        ["Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Khan", "Chowdhury", "Nair", "Das",
         "Mehta"],
    ),
    "russian": (
        ["Olga", "Tatiana", "Natalia", "Svetlana", "Irina", "Yekaterina", "Anastasia", "Yelena", "Marina", "Daria"],
        ["Aleksandr", "Sergei", "Dmitri", "Andrei", "Alexei", "Mikhail", "Ivan", "Nikolai", "Vladimir", "Yuri"],
        ["Ivanov", "Smirnov", "Kuznetsov", "Popov", "Vasiliev", "Petrov", "Sokolov", "Mikhailov", "Fedorov",
         "Morozov", "Volkov", "Alekseev"],
    ),
}  # fmt: skip

#: Spelling variants that sound alike (applied in either direction).
PHONETIC = [
    ("ph", "f"), ("ck", "k"), ("ei", "ai"), ("y", "i"), ("sch", "sh"), ("ou", "u"), ("mm", "m"), ("ss", "s"),
    ("c", "k"), ("v", "w"), ("ie", "i"), ("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("th", "t"), ("dz", "j"),
    ("ks", "x"), ("ee", "i"), ("oo", "u"), ("kh", "h"), ("yev", "ev"), ("iy", "i"), ("ow", "ov"), ("ll", "l"),
]  # fmt: skip
NEIGHBOURS = {
    "a": "sq", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj", "i": "uo", "j": "hk",
    "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o", "q": "wa", "r": "et", "s": "ad", "t": "ry",
    "u": "yi", "v": "cb", "w": "qe", "x": "zc", "y": "tu", "z": "x",
}  # fmt: skip
NATIONAL_SYSTEM = "urn:oid:2.16.840.1.113883.4.1"


@dataclass(frozen=True)
class Record:
    """One registration: the true person it belongs to and what the facility wrote down."""

    truth: int
    family: str
    given: str
    birth_date: dt.date | None
    sex: str
    district: str
    national_id: str


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word
    kind = rng.choice(["transpose", "drop", "double", "neighbour", "phonetic", "phonetic"])
    i = rng.randrange(1, len(word) - 1)  # real typos rarely touch the first letter
    if kind == "transpose":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    if kind == "neighbour":
        options = NEIGHBOURS.get(word[i].lower(), "")
        return word[:i] + rng.choice(options) + word[i + 1 :] if options else word
    lower = word.lower()
    pairs = [(a, b) for a, b in PHONETIC if a in lower] + [(b, a) for a, b in PHONETIC if b in lower]
    if not pairs:
        return word[:i] + word[i + 1 :]
    a, b = rng.choice(pairs)
    pos = lower.index(a)
    replaced = word[:pos] + b + word[pos + len(a) :]
    return replaced[:1].upper() + replaced[1:] if pos == 0 else replaced


def _date_typo(rng: random.Random, d: dt.date) -> dt.date:
    if d.day <= 12 and d.day != d.month and rng.random() < 0.5:
        return dt.date(d.year, d.day, d.month)
    text = list(d.strftime("%Y%m%d"))
    for _ in range(20):
        i = rng.choice([2, 3, 5, 6, 7])
        text2 = text[:]
        text2[i] = str(rng.randrange(10))
        try:
            new = dt.date(int("".join(text2[:4])), int("".join(text2[4:6])), int("".join(text2[6:])))
        except ValueError:
            continue
        if new != d and new <= dt.date(2025, 12, 31):
            return new
    return d


def _variant(rng: random.Random, truth: int, base: Record, districts: list[str]) -> Record:
    family, given, birth, sex, district = base.family, base.given, base.birth_date, base.sex, base.district
    if rng.random() < 0.25:
        family = _typo(rng, family)
    if rng.random() < 0.25:
        given = _typo(rng, given)
    if rng.random() < 0.05:
        family, given = given, family
    if birth is not None and rng.random() < 0.12:
        birth = _date_typo(rng, birth)
    if rng.random() < 0.05:
        birth = None
    if rng.random() < 0.03:
        given = ""
    if rng.random() < 0.05:
        sex = "unknown"
    if rng.random() < 0.25:
        district = rng.choice(districts)
    nid = base.national_id if base.national_id and rng.random() < 0.5 else ""
    if rng.random() < 0.2:
        family, given = family.upper(), given.upper()
    return Record(truth, family, given, birth, sex, district, nid)


def generate(
    persons: int = 1000, *, seed: int = 20261122, districts: Iterable[str] = ("D11", "D12", "D21")
) -> list[Record]:
    """About ``1.6 * persons`` registrations of ``persons`` people (relatives included), shuffled."""
    rng = random.Random(seed)
    codes = list(districts)
    records: list[Record] = []
    truth = 0
    while truth < persons:
        culture = rng.choice(list(NAMES))
        female, male, families = NAMES[culture]
        family = rng.choice(families)
        district = rng.choice(codes)
        household = 1 if rng.random() < 0.8 else rng.randint(2, 4)  # relatives: same family name and district
        twin_birth: dt.date | None = None
        used: set[str] = set()
        for member in range(household):
            sex = rng.choice(["female", "male"])
            given = rng.choice([g for g in (female if sex == "female" else male) if g not in used])
            used.add(given)  # relatives, twins too, have different given names
            birth = dt.date(1935, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 90))
            if member == 1 and rng.random() < 0.2 and twin_birth is not None:
                birth = twin_birth  # twins
            twin_birth = birth
            nid = f"{rng.randrange(10**9, 10**10)}" if rng.random() < 0.4 else ""
            base = Record(truth, family, given, birth, sex, district, nid)
            records.append(base)
            duplicates = rng.choices([0, 1, 2, 3], weights=[55, 28, 12, 5])[0]
            records.extend(_variant(rng, truth, base, codes) for _ in range(duplicates))
            truth += 1
    rng.shuffle(records)
    return records


@dataclass(frozen=True)
class Quality:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


def _pairs(labels: list[int]) -> set[tuple[int, int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        groups[label].append(i)
    return {pair for members in groups.values() for pair in itertools.combinations(members, 2)}


def evaluate(records: list[Record], predicted: list[int]) -> Quality:
    """Pairwise quality of ``predicted`` cluster labels (one per record) against the records' true persons."""
    truth = _pairs([r.truth for r in records])
    guess = _pairs(predicted)
    return Quality(len(truth), len(guess), len(truth & guess))


def union(labels: list[int], extra_pairs: Iterable[tuple[int, int]]) -> list[int]:
    """Cluster labels after also joining the records of ``extra_pairs`` (e.g. the review queue's pairs)."""
    parent = {label: label for label in labels}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in extra_pairs:
        ra, rb = find(labels[a]), find(labels[b])
        if ra != rb:
            parent[rb] = ra
    return [find(label) for label in labels]


@dataclass(frozen=True)
class Outcome:
    """Matching quality of a run of registrations: automatic links alone, and links plus the review queue."""

    records: int
    persons: int
    automatic: Quality
    with_review: Quality
    review_pairs: int
    seconds: float


def register_all(records: list[Record], *, source: str = "synthetic", per_transaction: int = 1) -> Outcome:
    """Register every record through :func:`dhnet.identity.services.register_person` (the real path: vault,
    blind indexes, blocking, scoring, review queue) in the current database and measure the outcome.

    The records' districts must exist as org units. Automatic quality: records with the same pseudonym are the
    same person. With review: as if a reviewer linked every queued pair. ``per_transaction`` registrations share
    one commit (1: one commit each, as one FHIR bundle per patient); the outcome does not depend on it.
    """
    import time

    from django.db import transaction

    from dhnet.accounts.services import operator_actor
    from dhnet.identity.services import PersonIdentity, register_person

    actor = operator_actor("cli:matching-benchmark")
    pseudonyms: list[str] = []
    queued: list[tuple[str, str]] = []
    began = time.perf_counter()
    batch: list[PersonIdentity] = []

    def flush() -> None:
        with transaction.atomic():
            for identity in batch:
                reg = register_person(actor, identity, source=source)
                pseudonyms.append(reg.pseudonym)
                queued.extend((reg.pseudonym, other) for other in reg.candidates)
        batch.clear()

    for r in records:
        identity = PersonIdentity(
            family=r.family,
            given=r.given,
            birth_date=r.birth_date,
            sex=r.sex,
            identifiers=((NATIONAL_SYSTEM, r.national_id),) if r.national_id else (),
            orgunit_code=r.district,
        )
        batch.append(identity)
        if len(batch) >= per_transaction:
            flush()
    flush()
    seconds = time.perf_counter() - began
    ids = {p: i for i, p in enumerate(dict.fromkeys(pseudonyms))}
    labels = [ids[p] for p in pseudonyms]
    first: dict[str, int] = {}
    for i, p in enumerate(pseudonyms):
        first.setdefault(p, i)
    pairs = [(first[a], first[b]) for a, b in queued if a in first and b in first]
    return Outcome(
        records=len(records),
        persons=len({r.truth for r in records}),
        automatic=evaluate(records, labels),
        with_review=evaluate(records, union(labels, pairs)),
        review_pairs=len(queued),
        seconds=seconds,
    )
