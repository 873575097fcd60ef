"""The IHR (2005) Annex 2 decision logic, table-driven over its paths."""

from __future__ import annotations

import itertools

import pytest

from dhnet.platform.errors import Invalid
from dhnet.signals.services.ihr import ALWAYS_ASSESSED, ALWAYS_NOTIFIABLE, QUESTION_KEYS, decide

Y, N = "yes", "no"
ALGORITHM = {"notifiable": "none", "assessed": "cholera"}


@pytest.mark.parametrize("disease", sorted(ALWAYS_NOTIFIABLE))
def test_always_notifiable_diseases_are_notified_at_once(disease: str) -> None:
    decision = decide({"notifiable": disease, "assessed": "none", "serious": "no"})  # later answers ignored
    assert decision.complete
    assert decision.notify is True
    assert decision.answers == {"notifiable": disease}
    assert "always notifiable" in decision.reasoning
    assert "24 hours" in decision.reasoning


def test_outside_annex_2_no_notification() -> None:
    decision = decide({"notifiable": "none", "assessed": "none"})
    assert decision.complete
    assert decision.notify is False
    assert "does not require notifying WHO" in decision.reasoning


# (serious, unusual, spread, restrictions) as answered; None: not asked, because the outcome was certain.
PATHS = [
    ((Y, Y, None, None), True),
    ((Y, N, Y, None), True),
    ((Y, N, N, Y), True),
    ((Y, N, N, N), False),
    ((N, Y, Y, None), True),
    ((N, Y, N, Y), True),
    ((N, Y, N, N), False),
    ((N, N, Y, Y), True),  # "any two of the four": III and IV suffice (the flow chart would stop after II)
    ((N, N, Y, N), False),
    ((N, N, N, None), False),  # no yes after three questions: two cannot be reached
]


@pytest.mark.parametrize("assessed", sorted(ALWAYS_ASSESSED))
@pytest.mark.parametrize(
    ("path", "notify"), PATHS, ids=lambda p: "-".join(x or "." for x in p) if isinstance(p, tuple) else str(p)
)
def test_the_four_questions(assessed: str, path: tuple[str | None, ...], notify: bool) -> None:
    given = {"notifiable": "none", "assessed": assessed}
    given.update({key: answer for key, answer in zip(QUESTION_KEYS, path, strict=True) if answer})
    decision = decide(given)
    assert decision.complete
    assert decision.notify is notify
    asked = [k for k, a in zip(QUESTION_KEYS, path, strict=True) if a]
    assert [k for k in QUESTION_KEYS if k in decision.answers] == asked
    met = tuple(k for k, a in zip(QUESTION_KEYS, path, strict=True) if a == Y)
    assert decision.criteria_met == met
    assert ("notify WHO within 24 hours" in decision.reasoning) is notify
    assert ALWAYS_ASSESSED[assessed] in decision.reasoning


def test_every_combination_notifies_iff_two_criteria_are_met() -> None:
    for answers in itertools.product((Y, N), repeat=4):
        decision = decide({**ALGORITHM, **dict(zip(QUESTION_KEYS, answers, strict=True))})
        assert decision.complete
        assert decision.notify is (answers.count(Y) >= 2), answers


@pytest.mark.parametrize(
    ("given", "next_step"),
    [
        ({}, "notifiable"),
        ({"notifiable": "none"}, "assessed"),
        ({"notifiable": "none", "assessed": "vhf"}, "serious"),
        ({**ALGORITHM, "serious": Y}, "unusual"),
        ({**ALGORITHM, "serious": Y, "unusual": N}, "spread"),
        ({**ALGORITHM, "serious": N, "unusual": N}, "spread"),
        ({**ALGORITHM, "serious": Y, "unusual": N, "spread": N}, "restrictions"),
        ({**ALGORITHM, "unusual": Y}, "serious"),  # asked in order: an answer out of turn does not skip one
        ({"notifiable": "", "assessed": "cholera"}, "notifiable"),
    ],
)
def test_incomplete_answers_name_the_next_step(given: dict[str, str], next_step: str) -> None:
    decision = decide(given)
    assert not decision.complete
    assert decision.notify is None
    assert decision.next_step == next_step


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"notifiable": "measles"}, "answers.notifiable: expected one of"),
        ({"notifiable": "none", "assessed": "flu"}, "answers.assessed: expected one of"),
        ({**ALGORITHM, "serious": "maybe"}, "answers.serious: expected one of no, yes, got 'maybe'"),
        ({"colour": "blue"}, "answers.colour: not a step"),
    ],
)
def test_bad_answers_are_refused_naming_the_step(given: dict[str, str], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        decide(given)
