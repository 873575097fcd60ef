"""k-anonymous generalisation: every equivalence class of the output has at least k records, for any input."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dhnet.release.kanon import (
    QUASI_IDENTIFIERS,
    KAnonymityError,
    Levels,
    Record,
    age_group,
    anonymise,
    generalise,
    period_of,
)

PLACES = [("D11", "R1"), ("D12", "R1"), ("D21", "R2"), ("D22", "R2"), ("D31", "R3")]


def record(i: int, age: int | None, sex: str, place: int, day: dt.date) -> Record:
    district, region = PLACES[place]
    return Record(str(i), age, sex, district, region, "DE", day, (("outcome", "recovered"),))


def test_age_bands_at_each_level() -> None:
    assert [age_group(37, level) for level in range(4)] == ["35-39", "30-39", "20-39", "*"]
    assert [age_group(85, level) for level in range(4)] == ["80+", "80+", "60+", "*"]
    assert [age_group(None, level) for level in range(4)] == ["unknown", "unknown", "unknown", "*"]
    assert age_group(0, 0) == "0-4"
    with pytest.raises(KAnonymityError):
        age_group(-1, 0)


def test_periods_are_iso_weeks_then_months() -> None:
    assert period_of(dt.date(2024, 12, 30), 0) == "2025-W01"  # ISO year of that Monday
    assert period_of(dt.date(2024, 12, 30), 1) == "2024-12"


def test_identical_records_need_no_generalisation() -> None:
    records = [record(i, 33, "female", 0, dt.date(2024, 3, 5)) for i in range(5)]
    result = anonymise(records, 5)
    assert result.levels == Levels(0, 0, 0)
    assert result.suppressed == 0
    assert result.k_achieved == 5
    assert result.rows[0] == {
        "age_group": "30-34",
        "sex": "female",
        "place": "D11",
        "period": "2024-W10",
        "outcome": "recovered",
    }


def test_generalisation_goes_up_until_k_is_reached() -> None:
    # Ages 30-37 alternating between two districts of one region: 4 per district share the band 30-39.
    records = [record(i, 30 + i, "male", i % 2, dt.date(2024, 3, 5)) for i in range(8)]
    result = anonymise(records, 4, max_suppression=0)
    assert result.suppressed == 0
    assert result.levels == Levels(1, 0, 0)
    assert {r["age_group"] for r in result.rows} == {"30-39"}
    # k=6 of 10 records, 5 per district: no age band helps, the region is needed
    records = [record(i, 30 + i, "male", i % 2, dt.date(2024, 3, 5)) for i in range(10)]
    result = anonymise(records, 6, max_suppression=0)
    assert result.suppressed == 0
    assert result.levels.describe()["place"] in ("region", "country")
    assert min(Counter(tuple(r[q] for q in QUASI_IDENTIFIERS) for r in result.rows).values()) >= 4


def test_outliers_are_suppressed_when_the_budget_allows() -> None:
    records = [record(i, 30, "female", 0, dt.date(2024, 3, 5)) for i in range(40)]
    records.append(record(99, 90, "male", 4, dt.date(2024, 9, 1)))  # stands out at every level but the top
    result = anonymise(records, 5, max_suppression=0.05)
    assert result.levels == Levels(0, 0, 0)  # the outlier is dropped rather than generalising everyone
    assert result.suppressed == 1
    assert "99" not in result.kept


def test_too_few_records_leave_nothing() -> None:
    result = anonymise([record(1, 30, "female", 0, dt.date(2024, 3, 5))], 2)
    assert result.rows == []
    assert result.k_achieved is None
    assert result.suppressed == 1


@pytest.mark.parametrize(("k", "limit"), [(1, 0.05), (True, 0.05), (3, -0.1), (3, 1.5)])
def test_bad_parameters_are_refused(k: int, limit: float) -> None:
    with pytest.raises(KAnonymityError):
        anonymise([], k, max_suppression=limit)


records_strategy = st.lists(
    st.builds(
        lambda age, sex, place, offset: (age, sex, place, dt.date(2024, 1, 1) + dt.timedelta(days=offset)),
        st.one_of(st.none(), st.integers(min_value=0, max_value=105)),
        st.sampled_from(["female", "male", "other", "unknown"]),
        st.integers(min_value=0, max_value=len(PLACES) - 1),
        st.integers(min_value=0, max_value=400),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(items=records_strategy, k=st.integers(min_value=2, max_value=12), limit=st.sampled_from([0, 0.05, 0.2, 1]))
def test_random_inputs_every_class_has_at_least_k(
    items: list[tuple[int | None, str, int, dt.date]], k: int, limit: float
) -> None:
    records = [record(i, *item) for i, item in enumerate(items)]
    result = anonymise(records, k, max_suppression=limit)
    classes = Counter(tuple(r[q] for q in QUASI_IDENTIFIERS) for r in result.rows)
    assert all(n >= k for n in classes.values())
    assert result.suppressed + len(result.rows) == len(records)
    assert result.k_achieved == (min(classes.values()) if classes else None)
    assert len(set(result.kept)) == len(result.kept) == len(result.rows)
    # each exported row is the generalisation of the record it came from
    by_key = {r.key: r for r in records}
    for key, row in zip(result.kept, result.rows, strict=True):
        assert tuple(row[q] for q in QUASI_IDENTIFIERS) == generalise(by_key[key], result.levels)
    # the suppression limit holds unless even the top of the lattice cannot meet it
    top = Levels(3, 2, 1)
    if result.levels != top:
        assert result.suppressed <= int(limit * len(records))
