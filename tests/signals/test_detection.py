"""Detection on real data: counts of the influenza data in CountValue, the service's Detection rows and signals
against direct calls of the engine on the same series."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from dhnet.diseases.models import AlertRule, Disease
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid
from dhnet.signals.models import Detection, DetectionRun, Signal, SignalEvent
from dhnet.signals.services import detection
from dhnet.signals.services.detection import SYSTEM, DetectionOptions, run_detection
from dhnet.surveillance import Panel, detect
from tests.signals import helpers

pytestmark = pytest.mark.django_db


@pytest.fixture
def series() -> dict[str, list[tuple[dt.date, int, int]]]:
    return helpers.read_influenza()


@pytest.fixture
def world(operator: Actor, series: dict[str, list[tuple[dt.date, int, int]]]) -> dict[str, Any]:
    units = helpers.influenza_tree(operator, series)
    flu = helpers.disease()
    helpers.load_counts(flu, units, series)
    return {"units": units, "disease": flu, "series": series}


def _panel(series: dict[str, list[tuple[dt.date, int, int]]], codes: list[str], *, population: bool = False) -> Panel:
    counts = np.asarray([[c for _, c, _ in series[code]] for code in codes], dtype=float)
    pop = np.asarray([series[code][0][2] for code in codes], dtype=float) if population else None
    return Panel.from_counts(counts, start=series[codes[0]][0][0], freq="weekly", names=codes, population=pop)


def _stored(rule: AlertRule, unit: OrgUnit) -> dict[str, tuple[float, float | None, float | None, bool]]:
    rows = Detection.objects.filter(rule=rule, orgunit=unit).order_by("period_start")
    return {r.period_start.isoformat(): (r.observed, r.expected, r.upperbound, r.alarm) for r in rows}


def _compare(rule: AlertRule, units: dict[str, OrgUnit], panel: Panel, result: Any) -> int:
    alarms = 0
    for i, code in enumerate(panel.names):
        stored = _stored(rule, units[code])
        assert sorted(stored) == [str(d) for d in result.dates], code
        for j, day in enumerate(result.dates):
            observed, expected, upper, alarm = stored[str(day)]
            assert observed == result.observed[i, j]
            for mine, theirs in ((expected, result.expected[i, j]), (upper, result.upperbound[i, j])):
                if np.isfinite(theirs):
                    assert mine == pytest.approx(theirs, rel=1e-12)
                else:
                    assert mine is None
            assert alarm == bool(result.alarm[i, j]), (code, day)
            alarms += alarm
    return alarms


def test_stored_detections_equal_direct_engine_calls(world: dict[str, Any]) -> None:
    flu, units, series = world["disease"], world["units"], world["series"]
    ears = helpers.rule(flu, "EARS C1 everywhere", method="ears", settings={"variant": "C1"})
    farrington = helpers.rule(flu, "Farrington regions", level=2, method="farrington-flexible", settings={"b": 3})
    count = helpers.rule(flu, "30 cases", level=3, kind="count", threshold=30)
    rate = helpers.rule(flu, "rate", level=3, kind="rate", alert_rate=15.0, epidemic_rate=40.0)

    run = run_detection(SYSTEM, DetectionOptions(window=8, trigger="test"))
    assert run.status == "done"
    start = series[helpers.DISTRICTS[0]][-8][0]
    districts = sorted(helpers.DISTRICTS)
    panel = _panel(series, districts)
    alarms = _compare(ears, units, panel, detect(panel, "ears", variant="C1", start=start))
    alarms += _compare(count, units, panel, detect(panel, "threshold", alert_count=30, start=start))
    rate_panel = _panel(series, districts, population=True)
    alarms += _compare(
        rate, units, rate_panel, detect(rate_panel, "threshold", alert_rate=15.0, epidemic_rate=40.0, start=start)
    )

    # Regions and the country: the districts' counts summed per week.
    def summed(codes: list[str]) -> list[int]:
        return [sum(series[c][t][1] for c in codes) for t in range(len(series[codes[0]]))]

    bw = [c for c in districts if c.startswith("8")]
    by = [c for c in districts if c.startswith("9")]
    regions = Panel.from_counts(
        np.asarray([summed(bw), summed(by)], dtype=float), start=series[bw[0]][0][0], names=["BW", "BY"]
    )
    alarms += _compare(farrington, units, regions, detect(regions, "farrington-flexible", b=3, start=start))
    alarms += _compare(ears, units, regions, detect(regions, "ears", variant="C1", start=start))
    country = Panel.from_counts(np.asarray([summed(districts)], dtype=float), start=series[bw[0]][0][0], names=["DE"])
    alarms += _compare(ears, units, country, detect(country, "ears", variant="C1", start=start))

    # Every stored row was compared; the rule x level panels are all in the summary.
    assert Detection.objects.count() == 8 * (len(districts) * 3 + 2 * 2 + 1)
    assert run.summary["detections"] == Detection.objects.count()
    assert run.summary["alarms"] == Detection.objects.filter(alarm=True).count() == alarms
    assert alarms > 0
    assert run.progress_done == run.progress_total  # every rule x level panel of every disease (the catalogue too)
    assert len(run.summary["diseases"]["flu"]["rules"]) == 3 + 1 + 1 + 1
    assert set(run.summary["timing"]) >= {"read", "engine", "write", "signals", "total"}


def test_full_recompute_and_signals_from_recent_alarms_only(world: dict[str, Any]) -> None:
    flu, series = world["disease"], world["series"]
    helpers.rule(flu, "EARS C1 districts", level=3, method="ears", settings={"variant": "C1"})
    run = run_detection(SYSTEM, DetectionOptions(full=True, window=8))
    weeks = len(series[helpers.DISTRICTS[0]])
    # EARS C1 needs 7 weeks of history: the first 7 weeks cannot be evaluated, the rest is.
    entry = run.summary["diseases"]["flu"]["rules"][0]
    assert entry["evaluated"][0] == series[helpers.DISTRICTS[0]][7][0].isoformat()
    assert "history too short" in entry["note"]
    assert Detection.objects.count() == len(helpers.DISTRICTS) * (weeks - 7)
    # Signals are raised from the alarms of the last 8 weeks only, not from 8 years of history.
    last = series[helpers.DISTRICTS[0]][-8][0]
    assert Detection.objects.filter(alarm=True, period_start__lt=last).exists()
    assert not Signal.objects.filter(last_period__lt=last).exists()


def test_missing_weeks_inside_a_series_are_zero(operator: Actor, series: dict[str, Any]) -> None:
    """Reporting gaps: zero counts left out of CountValue give the same detections as zeros stored."""
    units = helpers.influenza_tree(operator, series)
    full, sparse = helpers.disease("flu-full", "Flu (all rows)"), helpers.disease("flu-sparse", "Flu (no zeros)")
    helpers.load_counts(full, units, series)
    # Keep the first week so that the calendar starts where it did.
    helpers.load_counts(sparse, units, {c: rows[1:] for c, rows in series.items()}, skip_zeros=True)
    helpers.load_counts(sparse, units, {c: rows[:1] for c, rows in series.items()})
    # CUSUM's expected count is the mean of the whole history: every zero left out would change it.
    a = helpers.rule(full, "cusum", method="cusum")
    b = helpers.rule(sparse, "cusum", method="cusum")
    run_detection(SYSTEM, DetectionOptions(window=26))
    fields = ("orgunit_id", "period_start", "observed", "expected", "upperbound", "alarm")
    rows_a = list(Detection.objects.filter(rule=a).order_by("orgunit_id", "period_start").values_list(*fields))
    rows_b = list(Detection.objects.filter(rule=b).order_by("orgunit_id", "period_start").values_list(*fields))
    assert len(rows_a) == 26 * (len(helpers.DISTRICTS) + 3)
    assert rows_a == rows_b


def test_too_short_history_skips_the_panel_without_failing(operator: Actor, series: dict[str, Any]) -> None:
    units = helpers.influenza_tree(operator, series)
    flu = helpers.disease()
    helpers.load_counts(flu, units, series, until=dt.date(2003, 6, 30))  # two and a half years
    bad = helpers.rule(flu, "Farrington b=3", level=2, method="farrington-flexible", settings={"b": 3})
    good = helpers.rule(flu, "EARS", level=2, method="ears")
    run = run_detection(SYSTEM, DetectionOptions())
    assert run.status == "done"
    assert [s["rule"] for s in run.summary["skipped"]] == [bad.pk]
    assert "history too short" in run.summary["skipped"][0]["reason"]
    assert not Detection.objects.filter(rule=bad).exists()
    assert Detection.objects.filter(rule=good).count() == 2 * 8


def test_rerun_is_idempotent_and_merges_consecutive_alarms(world: dict[str, Any]) -> None:
    flu = world["disease"]
    helpers.rule(flu, "every week is an alarm", level=3, kind="count", threshold=1)
    first = run_detection(SYSTEM, DetectionOptions(window=8))
    signals = list(Signal.objects.order_by("orgunit_id", "first_period"))
    # Districts with cases in consecutive weeks have one signal spanning them.
    alarms = Detection.objects.filter(alarm=True)
    assert first.summary["signals_created"] == len(signals) > 0
    for signal in signals:
        weeks = alarms.filter(
            orgunit=signal.orgunit, period_start__gte=signal.first_period, period_start__lte=signal.last_period
        ).count()
        span = (signal.last_period - signal.first_period).days // 7 + 1
        assert weeks == span  # no silent week inside a signal (gap 1)
        events = SignalEvent.objects.filter(signal=signal)
        assert events.filter(kind="created").count() == 1
        assert events.filter(kind="alarm").count() == span - 1
    again = run_detection(SYSTEM, DetectionOptions(window=8))
    assert again.summary["signals_created"] == again.summary["signals_extended"] == 0
    assert Signal.objects.count() == len(signals)
    assert Detection.objects.count() == first.summary["detections"]
    assert not Detection.objects.filter(run=again).exists()  # nothing changed: nothing rewritten
    assert again.summary["diseases"]["flu"]["written"] == 0


def test_options_are_checked(world: dict[str, Any], operator: Actor) -> None:
    with pytest.raises(Invalid, match="diseases: unknown disease 'nope'"):
        run_detection(SYSTEM, DetectionOptions(diseases=("nope",)))
    with pytest.raises(Invalid, match="window"):
        run_detection(SYSTEM, DetectionOptions(window=0))
    viewer = Actor(user_id=1, username="v", via="session")
    with pytest.raises(Forbidden):
        run_detection(viewer, DetectionOptions())
    assert not DetectionRun.objects.exists()


def test_monthly_disease_and_counts_off_the_calendar(operator: Actor) -> None:
    units = helpers.influenza_tree(operator, {"8111": [(dt.date(2001, 1, 1), 0, 1000)]})
    monthly = helpers.disease("rota", "Rotavirus", reporting="monthly")
    from dhnet.reporting.models import CountValue

    months = [dt.date(2020 + m // 12, m % 12 + 1, 1) for m in range(36)]
    CountValue.objects.bulk_create(
        [
            CountValue(disease=monthly, orgunit=units["8111"], period_start=d, value=5 + (i % 3))
            for i, d in enumerate(months)
        ]
        + [CountValue(disease=monthly, orgunit=units["8111"], period_start=dt.date(2022, 6, 15), value=99)]
    )
    rule = helpers.rule(monthly, "count", level=3, kind="count", threshold=7)
    run = run_detection(SYSTEM, DetectionOptions(window=6))
    entry = run.summary["diseases"]["rota"]
    assert entry["periods"] == ["2022-07-01", "2022-12-01"]  # a threshold needs no history: six months read
    stored = list(Detection.objects.filter(rule=rule).order_by("period_start").values_list("period_start", "alarm"))
    assert [d for d, _ in stored] == months[-6:]
    assert [a for _, a in stored] == [(5 + i % 3) >= 7 for i in range(30, 36)]
    entry = run_detection(SYSTEM, DetectionOptions(full=True)).summary["diseases"]["rota"]
    assert entry["periods"] == ["2020-01-01", "2022-12-01"]
    assert entry["off_calendar"] == 1  # 2022-06-15 is not the first of a month
    assert Detection.objects.filter(rule=rule).count() == 36


def test_population_is_summed_up_the_hierarchy(operator: Actor, series: dict[str, Any]) -> None:
    units = helpers.influenza_tree(operator, series)
    OrgUnit.objects.filter(code="DE").update(population=1)  # the children's sum wins
    tree = detection.Tree.load()
    pos = {code: i for i, code in enumerate(tree.codes)}
    bw = sum(series[c][0][2] for c in series if c.startswith("8"))
    by = sum(series[c][0][2] for c in series if c.startswith("9"))
    assert tree.population[pos["BW"]] == bw
    assert tree.population[pos["DE"]] == bw + by
    assert units["BW"].population is None


def test_no_rules_or_no_counts(operator: Actor) -> None:
    helpers.influenza_tree(operator, {})
    d = Disease.objects.create(code="quiet", name="Quiet")
    helpers.rule(d, "EARS", method="ears")
    run = run_detection(SYSTEM, DetectionOptions(diseases=("quiet",)))
    assert run.summary["diseases"]["quiet"]["note"] == "no counts"
    assert run.status == "done"


@pytest.mark.parametrize(
    ("method", "settings"),
    [
        ("ears", {"variant": "C1", "baseline": 5}),
        ("ears", {"variant": "C2"}),
        ("ears", {"variant": "C3", "baseline": 10, "min_sigma": 0.5}),
        ("farrington-flexible", {"b": 1, "w": 1}),
        ("farrington-flexible", {"b": 2, "w": 3, "no_periods": 3}),
        ("farrington-flexible", {"preset": "noufaily"}),
    ],
)
def test_reading_only_the_history_a_method_needs_changes_nothing(
    world: dict[str, Any], method: str, settings: dict[str, Any]
) -> None:
    """Rules with a bounded look-back read only that much history; their results equal the engine's on the full
    series (the guard of :func:`detection.history_needed`)."""
    flu, units, series = world["disease"], world["units"], world["series"]
    rule = helpers.rule(flu, "r", level=3, method=method, settings=settings)
    run = run_detection(SYSTEM, DetectionOptions(window=10))
    entry = run.summary["diseases"]["flu"]
    assert entry["read_from"] > series[helpers.DISTRICTS[0]][0][0].isoformat()  # not everything was read
    districts = sorted(helpers.DISTRICTS)
    panel = _panel(series, districts)
    options = dict(settings)
    preset = options.pop("preset", None)
    result = detect(panel, method, preset=preset, start=series[districts[0]][-10][0], **options)
    assert _compare(rule, units, panel, result) == run.summary["alarms"]


def test_methods_using_the_whole_history_read_everything(world: dict[str, Any]) -> None:
    flu = world["disease"]
    helpers.rule(flu, "ears", level=3, method="ears")
    assert "read_from" in run_detection(SYSTEM, DetectionOptions()).summary["diseases"]["flu"]
    helpers.rule(flu, "cusum", level=3, method="cusum")
    entry = run_detection(SYSTEM, DetectionOptions()).summary["diseases"]["flu"]
    assert "read_from" not in entry
    assert entry["periods"][0] == "2001-01-01"
    assert detection.history_needed("glrnb", None, detection.Frequency.WEEKLY) is None


@pytest.mark.django_db(transaction=True)
def test_counts_read_ahead_on_a_second_connection(operator: Actor, series: dict[str, Any]) -> None:
    """Outside a transaction the next disease is read on another thread while one is computed and written."""
    from unittest import mock

    units = helpers.influenza_tree(operator, series)
    rules = {}
    for code in ("flu-a", "flu-b", "flu-c"):
        d = helpers.disease(code, f"Influenza {code}")
        helpers.load_counts(d, units, series)
        rules[code] = helpers.rule(d, "EARS C2", level=3, method="ears", settings={"variant": "C2"})
    from django.db import connection

    if connection.vendor == "sqlite":
        # The test database is in memory (no WAL); the reader works the same on a file in WAL mode.
        with mock.patch.object(detection, "prefetch_allowed", lambda n: n > 1):
            run = run_detection(SYSTEM, DetectionOptions(diseases=("flu-a", "flu-b", "flu-c")))
    else:
        run = run_detection(SYSTEM, DetectionOptions(diseases=("flu-a", "flu-b", "flu-c")))
    assert run.summary["prefetch"] is True
    assert "read_in_background" in run.summary["timing"]
    districts = sorted(helpers.DISTRICTS)
    panel = _panel(series, districts)
    result = detect(panel, "ears", variant="C2", start=series[districts[0]][-8][0])
    for rule in rules.values():
        _compare(rule, units, panel, result)
    # A failing read reaches the run (and fails it) instead of hanging.
    from unittest import mock

    with (
        mock.patch.object(detection, "read_counts", side_effect=RuntimeError("disk gone")),
        pytest.raises(RuntimeError, match="disk gone"),
    ):
        run_detection(SYSTEM, DetectionOptions(diseases=("flu-a", "flu-b")))
    assert DetectionRun.objects.order_by("-pk").first().status == "failed"


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_references_are_checked_once_and_changes_sent_after_commit(
    operator: Actor, series: dict[str, Any]
) -> None:
    from django.db import connection

    from dhnet.signals.events import signals_changed

    units = helpers.influenza_tree(operator, series)
    flu = helpers.disease()
    helpers.load_counts(flu, units, series)
    helpers.rule(flu, "every case", level=3, kind="count", threshold=1)
    heard: list[tuple[int, str, bool]] = []

    batches: list[int] = []

    def receiver(sender: Any, changes: list[tuple[int, str]], **_: Any) -> None:
        batches.append(len(changes))
        for signal_id, kind in changes:
            heard.append((signal_id, kind, Signal.objects.filter(pk=signal_id).exists()))

    signals_changed.connect(receiver, dispatch_uid="test-committed")
    try:
        run = run_detection(SYSTEM, DetectionOptions(diseases=("flu",)))
    finally:
        signals_changed.disconnect(dispatch_uid="test-committed")
    assert batches
    assert len(batches) < len(heard)  # in bulk, not one send per change
    assert run.summary["signals_created"] > 0
    assert sorted(pk for pk, kind, _ in heard if kind == "created") == sorted(
        Signal.objects.values_list("pk", flat=True)
    )
    assert all(committed for _, _, committed in heard)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA foreign_keys")
            assert cursor.fetchone()[0] == 1  # switched back on


def test_a_reference_deleted_during_the_run_fails_the_write(world: dict[str, Any]) -> None:
    from dhnet.platform.errors import Conflict

    run = DetectionRun.objects.create(trigger="test", requested_by="t")
    rows = [
        (999_999, world["disease"].pk, world["units"]["8111"].pk, "2008-01-07", 1.0, None, None, None, False, run.pk)
    ]
    with pytest.raises(Conflict, match="an alert rule was deleted during the run"):
        detection._check_references(world["disease"], rows, run)


def test_a_run_does_not_log_its_queries_in_dev_mode(operator: Actor, series: dict[str, Any], settings: Any) -> None:
    """Under DEBUG Django formats and keeps every query; a detection run (millions of values) opts out, and only for
    its own duration."""
    from django.db import connection, reset_queries

    units = helpers.influenza_tree(operator, series)
    flu = helpers.disease()
    helpers.load_counts(flu, units, series)
    helpers.rule(flu, "every case", level=3, kind="count", threshold=1)
    settings.DEBUG = True
    reset_queries()
    run = run_detection(SYSTEM, DetectionOptions(diseases=("flu",)))
    assert run.summary["detections"] > 0
    logged = [q["sql"] for q in connection.queries]
    assert any('INSERT INTO "signals_detectionrun"' in sql for sql in logged)  # the bookkeeping around the run is
    assert not any('INSERT INTO "signals_detection" ' in sql for sql in logged)  # the run's own writes are not
    assert not any("signals_signalevent" in sql for sql in logged)
    assert "make_debug_cursor" not in connection.__dict__  # the method is back
    reset_queries()
    Signal.objects.count()
    assert len(connection.queries) == 1  # logging works again after the run
