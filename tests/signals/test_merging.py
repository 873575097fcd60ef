"""Merging alarms into signals: consecutive alarms of one disease and place are one signal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dhnet.diseases.models import Disease
from dhnet.orgunits.models import OrgUnit
from dhnet.signals.models import Signal, SignalEvent
from dhnet.signals.services.merging import Alarm, merge_alarms, periods_between
from tests.signals import helpers

pytestmark = pytest.mark.django_db

W = [dt.date(2024, 1, 1) + dt.timedelta(weeks=i) for i in range(20)]  # Mondays


@pytest.fixture
def flu(db: Any) -> Disease:
    return helpers.disease()


@pytest.fixture
def rule(flu: Disease) -> Any:
    return helpers.rule(flu, "ears", method="ears")


def _alarm(unit: OrgUnit, week: int, rule: Any, observed: float = 10, score: float | None = 3.0) -> Alarm:
    return Alarm(unit.pk, W[week], rule.pk, rule.name, observed, 4.0, 8.0, score)


def _merge(flu: Disease, alarms: list[Alarm], gap: int = 1, freq: str = "weekly") -> Any:
    return merge_alarms(flu, alarms, gap=gap, freq=freq, actor_username="system:detection", unit_names={})


def _spans(unit: OrgUnit | None = None) -> list[tuple[int, int]]:
    qs = Signal.objects.order_by("first_period")
    if unit is not None:
        qs = qs.filter(orgunit=unit)
    return [(W.index(s.first_period), W.index(s.last_period)) for s in qs]


def test_consecutive_alarms_make_one_signal(tree: dict[str, OrgUnit], flu: Disease, rule: Any) -> None:
    d11, d12 = tree["D11"], tree["D12"]
    result = _merge(flu, [_alarm(d11, w, rule) for w in (3, 4, 5, 8, 9)] + [_alarm(d12, 4, rule)])
    assert len(result.created) == 3
    assert _spans(d11) == [(3, 5), (8, 9)]
    assert _spans(d12) == [(4, 4)]
    signal = Signal.objects.get(orgunit=d11, first_period=W[3])
    assert list(signal.timeline.values_list("kind", flat=True)) == ["created", "alarm", "alarm"]
    assert signal.title.startswith("Influenza (test): 10 cases")


def test_a_later_alarm_extends_the_open_signal(tree: dict[str, OrgUnit], flu: Disease, rule: Any) -> None:
    d11 = tree["D11"]
    _merge(flu, [_alarm(d11, 3, rule)])
    result = _merge(flu, [_alarm(d11, 3, rule), _alarm(d11, 4, rule, observed=25, score=9.0)])
    assert (result.created, result.covered) == ([], 1)
    assert len(result.extended) == 1
    signal = Signal.objects.get()
    assert (W.index(signal.last_period), signal.max_observed, signal.max_score) == (4, 25, 9.0)
    assert SignalEvent.objects.filter(signal=signal, kind="alarm").count() == 1


def test_the_gap_is_configurable(tree: dict[str, OrgUnit], flu: Disease, rule: Any) -> None:
    d11 = tree["D11"]
    _merge(flu, [_alarm(d11, 3, rule)])
    _merge(flu, [_alarm(d11, 5, rule)], gap=1)  # a silent week between: a new signal with gap 1
    assert _spans(d11) == [(3, 3), (5, 5)]
    _merge(flu, [_alarm(d11, 7, rule)], gap=2)  # within two periods of the last one: joins it
    assert _spans(d11) == [(3, 3), (5, 7)]


def test_closed_and_discarded_signals_are_not_extended(tree: dict[str, OrgUnit], flu: Disease, rule: Any) -> None:
    d11 = tree["D11"]
    _merge(flu, [_alarm(d11, 3, rule)])
    Signal.objects.update(status="closed")
    _merge(flu, [_alarm(d11, 4, rule)])
    assert _spans(d11) == [(3, 3), (4, 4)]
    Signal.objects.filter(first_period=W[4]).update(status="discarded")
    _merge(flu, [_alarm(d11, 4, rule), _alarm(d11, 5, rule)])  # week 4 is covered by the discarded one
    assert _spans(d11) == [(3, 3), (4, 4), (5, 5)]


def test_a_late_report_extends_an_open_signal_backwards(tree: dict[str, OrgUnit], flu: Disease, rule: Any) -> None:
    d11 = tree["D11"]
    _merge(flu, [_alarm(d11, 6, rule)])
    _merge(flu, [_alarm(d11, 5, rule)])
    assert _spans(d11) == [(5, 6)]


def test_rules_alarming_in_the_same_week_make_one_alarm(tree: dict[str, OrgUnit], flu: Disease, rule: Any) -> None:
    other = helpers.rule(flu, "count", kind="count", threshold=5)
    d11 = tree["D11"]
    result = _merge(flu, [_alarm(d11, 3, rule, score=2.0), _alarm(d11, 3, other, observed=12, score=12.0)])
    assert len(result.created) == 1
    signal = Signal.objects.get()
    assert (signal.rule_id, signal.max_observed, signal.max_score) == (other.pk, 12, 12.0)
    assert SignalEvent.objects.filter(signal=signal).count() == 1


def test_event_reports_and_other_diseases_are_separate(tree: dict[str, OrgUnit], flu: Disease, rule: Any) -> None:
    d11 = tree["D11"]
    helpers.make_signal(d11, d=flu, source="event", period=W[3])
    measles = helpers.disease("measles-test", "Measles (test)")
    helpers.make_signal(d11, d=measles, period=W[3])
    _merge(flu, [_alarm(d11, 4, rule)])
    assert Signal.objects.filter(disease=flu, source="detection").count() == 1
    assert Signal.objects.count() == 3


def test_monthly_periods(tree: dict[str, OrgUnit], flu: Disease, rule: Any) -> None:
    d11 = tree["D11"]
    months = [dt.date(2024, m, 1) for m in (1, 2, 4)]
    _merge(flu, [Alarm(d11.pk, m, rule.pk, rule.name, 5, None, None, None) for m in months], freq="monthly")
    assert list(Signal.objects.order_by("first_period").values_list("first_period", "last_period")) == [
        (months[0], months[1]),
        (months[2], months[2]),
    ]
    assert periods_between(dt.date(2023, 12, 1), dt.date(2024, 2, 1), "monthly") == 2
    assert periods_between(W[0], W[3], "weekly") == 3
