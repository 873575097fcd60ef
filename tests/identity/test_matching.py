"""Person matching: field weights, typo-tolerant comparison, blocking, and the quality floors measured on the
generated test set through the real registration path (vault, blind indexes, blocking, review queue).

Figures for bench/RESULTS.md come from ``bench/bench_matching.py`` (2,000 persons); the floors here are for a
smaller set (600 persons in the three districts of the test tree) and sit just under what it reaches:
automatic links precision 1.000, recall 0.881; with the review queue recall 0.968.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dhnet.identity import matching, synthetic
from dhnet.identity.matching import Comparable, blocking_keys, date_typo, score
from dhnet.platform.access import Actor


def c(
    family: str, given: str, birth: str | None = "1980-03-14", sex: str = "female", district: str = "D11"
) -> Comparable:
    return Comparable.of(
        family=family,
        given=given,
        birth_date=dt.date.fromisoformat(birth) if birth else None,
        sex=sex,
        district=district,
    )


def test_identical_records_score_highest() -> None:
    s = score(c("Nguyễn", "Thu"), c("NGUYEN", "thu"))
    assert s.total == pytest.approx(6.5 + 5.5 + 9.0 + 1.0 + 1.5)
    assert s.complete


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (c("Schneider", "Katharina"), c("Schnieder", "Katharina")),  # transposition
        (c("Schneider", "Katharina"), c("Schneider", "Katarina")),  # dropped letter
        (c("Okonkwo", "Chinedu"), c("Okonkwo", "Chinnedu")),  # doubled letter
        (c("Yılmaz", "Ayşe"), c("Yilmaz", "Ayse")),  # diacritics
        (c("Kowalski", "Piotr"), c("Piotr", "Kowalski")),  # given and family swapped
        (c("Weber", "Anna", "1980-03-14"), c("Weber", "Anna", "1980-03-17")),  # one digit of the birth date
        (c("Haddad", "Youssef", "1980-03-04"), c("Haddad", "Youssef", "1980-04-03")),  # day/month swap
        (c("Mehta", "Amit"), c("Mehta", "Ameet")),  # phonetic variant
    ],
)
def test_typical_errors_still_link(a: Comparable, b: Comparable) -> None:
    assert score(a, b).total >= 15.0
    assert blocking_keys(a) & blocking_keys(b), "the pair must share a blocking key to be compared at all"


def test_relatives_and_namesakes_do_not_link() -> None:
    twin_a, twin_b = c("Schäfer", "Anna", "2001-05-05"), c("Schäfer", "Katharina", "2001-05-05")
    assert score(twin_a, twin_b).total < 15.0
    namesakes = score(c("García", "María", "1950-01-01"), c("García", "María", "1987-09-23"))
    assert namesakes.total < 8.0


def test_missing_fields_weigh_nothing_and_block_automatic_links() -> None:
    s = score(c("Balogun", "Adaeze", None), c("Balogun", "Adaeze"))
    assert s.parts["birth_date"] == 0.0
    assert not s.complete


def test_different_national_identifiers_outweigh_everything() -> None:
    a = Comparable.of(family="A", given="B", birth_date=dt.date(1990, 1, 1), sex="male", district="D", national_id="1")
    b = Comparable.of(family="A", given="B", birth_date=dt.date(1990, 1, 1), sex="male", district="D", national_id="2")
    assert score(a, b).total < 0


def test_date_typos() -> None:
    d = dt.date(1984, 7, 21)
    assert date_typo(d, dt.date(1984, 7, 24))  # one digit
    assert date_typo(d, dt.date(1984, 7, 12))  # adjacent digits transposed
    assert date_typo(dt.date(1984, 3, 7), dt.date(1984, 7, 3))  # day and month swapped
    assert not date_typo(d, dt.date(1991, 2, 3))


# --- quality on the generated set, through the vault -------------------------------------------------------------


def test_generated_set_is_reproducible_and_realistic() -> None:
    a, b = synthetic.generate(200), synthetic.generate(200)
    assert a == b
    persons = {r.truth for r in a}
    assert len(persons) == 200
    assert len(a) > 260  # duplicates
    families = {r.family for r in a}
    assert any("ı" in f or "ş" in f.lower() for f in families)  # Turkish
    assert any("ễ" in f or "ầ" in f for f in families) or any("Nguy" in f for f in families)
    assert any(r.birth_date is None for r in a)


@pytest.mark.django_db(transaction=False)
def test_matching_quality_floors(tree: Any, operator: Actor) -> None:
    records = synthetic.generate(600, districts=("D11", "D12", "D21"))
    out = synthetic.register_all(records)
    assert out.automatic.true_pairs > 500
    assert out.automatic.precision >= 0.99, out
    assert out.automatic.recall >= 0.86, out
    assert out.with_review.recall >= 0.95, out
    assert out.with_review.precision >= 0.85, out
    # nothing else than the truth could explain the figures: the evaluation itself is checked
    perfect = synthetic.evaluate(records, [r.truth for r in records])
    assert (perfect.precision, perfect.recall) == (1.0, 1.0)
    apart = synthetic.evaluate(records, list(range(len(records))))
    assert apart.recall == 0.0


def test_union_joins_clusters() -> None:
    assert synthetic.union([0, 1, 2, 3], [(0, 1), (2, 3)]) == [0, 0, 2, 2]
    assert matching.best(c("A", "B"), [c("X", "Y"), c("A", "B")]).total == score(c("A", "B"), c("A", "B")).total
