# mypy: warn-return-any=False
"""Merging alarms into signals: consecutive alarms of one disease in one org unit are one signal.

For each alarm (disease, org unit, period ``t``), in period order:

* a signal of that disease and place whose ``first_period .. last_period`` already covers ``t`` (whatever its
  status) has it already: nothing changes, so re-running detection never adds signals or timeline entries;
* else an *open* signal (not closed, not discarded) whose ``last_period`` is at most ``gap`` periods before ``t``
  (``gap=1``: the week before) is extended to ``t`` (timeline entry ``alarm``); an open signal starting at most
  ``gap`` periods after ``t`` (a late report) is extended back to ``t``;
* else a new signal starts (``created``). A closed or discarded signal is never extended: a new alarm after it is a
  new signal.

Several rules alarming in the same period and place make one alarm (the largest observed count and score; the
rule of the largest score is the signal's ``rule``). :func:`merge_alarms` writes in bulk and schedules
``signals_changed`` (in bulk) for every created or extended signal after the commit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone

from dhnet.diseases.models import Disease
from dhnet.signals.models import Signal, SignalEvent, SignalSource, SignalStatus
from dhnet.signals.services import notify_changes

ENDED = (SignalStatus.CLOSED, SignalStatus.DISCARDED)


@dataclass
class Alarm:
    """One alarm cell (several rules in the same cell are combined by :meth:`combine`)."""

    orgunit_id: int
    period: dt.date
    rule_id: int
    rule_name: str
    observed: float
    expected: float | None
    upperbound: float | None
    score: float | None

    def combine(self, other: Alarm) -> None:
        if _rank(other.score) > _rank(self.score):
            self.rule_id, self.rule_name = other.rule_id, other.rule_name
            self.expected, self.upperbound, self.score = other.expected, other.upperbound, other.score
        self.observed = max(self.observed, other.observed)

    def data(self) -> dict[str, object]:
        return {
            "period": self.period.isoformat(),
            "rule": self.rule_id,
            "rule_name": self.rule_name,
            "observed": self.observed,
            "expected": self.expected,
            "upperbound": self.upperbound,
            "score": self.score,
        }


def _rank(score: float | None) -> float:
    return -math.inf if score is None else score


@dataclass
class MergeResult:
    created: list[int] = field(default_factory=list)
    extended: list[int] = field(default_factory=list)
    covered: int = 0
    changes: list[tuple[int, str]] = field(default_factory=list)


def periods_between(a: dt.date, b: dt.date, freq: str) -> int:
    """Number of periods from ``a`` to ``b`` (``b - a``) for weekly or monthly periods."""
    if freq == "monthly":
        return (b.year - a.year) * 12 + (b.month - a.month)
    return (b - a).days // 7


def merge_alarms(
    disease: Disease,
    alarms: list[Alarm],
    *,
    gap: int,
    freq: str,
    actor_username: str,
    unit_names: dict[int, str],
    title_unit: str = "cases",
    announced: Callable[[float], None] | None = None,
    defer_notify: bool = False,
) -> MergeResult:
    """Merge ``alarms`` of ``disease`` into its detection signals (call inside the write transaction)."""
    result = MergeResult()
    if not alarms:
        return result
    cells: dict[tuple[int, dt.date], Alarm] = {}
    for alarm in alarms:
        key = (alarm.orgunit_id, alarm.period)
        if key in cells:
            cells[key].combine(alarm)
        else:
            cells[key] = Alarm(**alarm.__dict__)
    by_unit: dict[int, list[Alarm]] = defaultdict(list)
    for alarm in sorted(cells.values(), key=lambda a: (a.orgunit_id, a.period)):
        by_unit[alarm.orgunit_id].append(alarm)
    earliest = min(a.period for a in cells.values())
    horizon = earliest - dt.timedelta(days=(gap + 1) * 31 if freq == "monthly" else (gap + 1) * 7)
    existing: dict[int, list[Signal]] = defaultdict(list)
    for signal in Signal.objects.filter(
        source=SignalSource.DETECTION,
        disease=disease,
        orgunit_id__in=list(by_unit),
        last_period__gte=horizon,
    ).order_by("first_period", "id"):
        existing[signal.orgunit_id].append(signal)

    now = timezone.now()
    new_signals: list[tuple[Signal, list[Alarm]]] = []
    changed: dict[int, Signal] = {}
    extension_events: list[SignalEvent] = []
    for unit_id, unit_alarms in by_unit.items():
        signals = existing.get(unit_id, [])
        fresh: list[tuple[Signal, list[Alarm]]] = []
        for alarm in unit_alarms:
            t = alarm.period
            if any(s.first_period <= t <= s.last_period for s in signals) or any(
                s.first_period <= t <= s.last_period for s, _ in fresh
            ):
                result.covered += 1
                continue
            target = _joinable(signals, t, gap, freq)
            if target is not None:
                _extend(target, alarm)
                target.updated_at = now
                changed[target.pk] = target
                extension_events.append(
                    SignalEvent(
                        signal=target,
                        actor_username=actor_username,
                        kind="alarm",
                        text=f"Alarm in the period starting {t.isoformat()}: {alarm.observed:g} {title_unit}.",
                        data=alarm.data(),
                    )
                )
                continue
            pending = next(
                ((s, group) for s, group in fresh if 0 < periods_between(s.last_period, t, freq) <= gap),
                None,
            )
            if pending is not None:
                _extend(pending[0], alarm)
                pending[1].append(alarm)
                continue
            signal = Signal(
                source=SignalSource.DETECTION,
                status=SignalStatus.NEW,
                disease=disease,
                orgunit_id=unit_id,
                rule_id=alarm.rule_id,
                first_period=t,
                last_period=t,
                max_observed=alarm.observed,
                max_score=alarm.score,
                reported_by=actor_username[:150],
            )
            fresh.append((signal, [alarm]))
        for signal, group in fresh:
            first = group[0]
            signal.title = _title(disease, unit_names.get(unit_id, str(unit_id)), first, title_unit)[:255]
            signal.description = (
                f"Detected by rule {first.rule_name!r}: {first.observed:g} {title_unit} observed"
                + (f", {first.expected:.1f} expected" if first.expected is not None else "")
                + (f", alarm threshold {first.upperbound:.1f}" if first.upperbound is not None else "")
                + "."
            )
        new_signals.extend(fresh)

    if new_signals:
        created = Signal.objects.bulk_create([s for s, _ in new_signals], batch_size=500)
        events = []
        for signal, (_, group) in zip(created, new_signals, strict=True):
            result.created.append(signal.pk)
            events.append(
                SignalEvent(
                    signal=signal,
                    actor_username=actor_username,
                    kind="created",
                    text=signal.description,
                    data=group[0].data(),
                )
            )
            for alarm in group[1:]:
                events.append(
                    SignalEvent(
                        signal=signal,
                        actor_username=actor_username,
                        kind="alarm",
                        text=f"Alarm in the period starting {alarm.period.isoformat()}: {alarm.observed:g} "
                        f"{title_unit}.",
                        data=alarm.data(),
                    )
                )
        SignalEvent.objects.bulk_create(events, batch_size=500)
    if changed:
        Signal.objects.bulk_update(
            list(changed.values()),
            ["first_period", "last_period", "max_observed", "max_score", "updated_at"],
            batch_size=500,
        )
        SignalEvent.objects.bulk_create(extension_events, batch_size=500)
        result.extended.extend(changed)
    result.changes = [(pk, "created") for pk in result.created] + [(pk, "alarm") for pk in result.extended]
    if not defer_notify:  # else the caller sends them (send_changes) once the transaction has committed
        notify_changes(result.changes, actor_username, timed=announced)
    return result


def _joinable(signals: list[Signal], t: dt.date, gap: int, freq: str) -> Signal | None:
    """The open signal an alarm at ``t`` joins: ending at most ``gap`` periods before ``t`` (or, for a late report,
    starting at most ``gap`` periods after it); the most recent one when several qualify."""
    best = None
    for signal in signals:
        if signal.status in ENDED:
            continue
        after = periods_between(signal.last_period, t, freq)
        before = periods_between(t, signal.first_period, freq)
        if 0 < after <= gap or 0 < before <= gap:
            best = signal
    return best


def _extend(signal: Signal, alarm: Alarm) -> None:
    signal.first_period = min(signal.first_period, alarm.period)
    signal.last_period = max(signal.last_period, alarm.period)
    signal.max_observed = max(signal.max_observed or 0.0, alarm.observed)
    if alarm.score is not None:
        signal.max_score = alarm.score if signal.max_score is None else max(signal.max_score, alarm.score)


def _title(disease: Disease, unit_name: str, alarm: Alarm, unit: str) -> str:
    return f"{disease.name}: {alarm.observed:g} {unit} in {unit_name} (period starting {alarm.period.isoformat()})"
