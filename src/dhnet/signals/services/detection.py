# mypy: warn-return-any=False, disallow-subclassing-any=False
"""Detection: every active alert rule, for every disease and org unit, at every level the rule applies to.

One run (:func:`run_detection`) does, for each disease with active rules:

1. **Read** the disease's case counts in one query (``values_list`` of org unit, day number and value, streamed
   into numpy).
2. **Lay out** the counts on the disease's calendar: ISO weeks (Mondays) for diseases reported weekly or
   immediately, months for diseases reported monthly, from the first to the last period with any count of the
   disease. A period without a count for an org unit inside that calendar is **zero**: in aggregate reporting a
   missing report of a unit is a reporting gap, and the engine needs regular series; completeness is monitored
   separately (the reporting context's submissions). Counts not on a period start (a Tuesday for a weekly disease)
   are ignored and counted in the run summary. Only the periods the rules need are read: the evaluated ones and
   the history before them that the disease's methods use (:func:`history_needed`: EARS its baseline,
   Farrington-flexible ``b`` years, thresholds none); a disease with a rule whose method uses the whole history
   (CUSUM, GLR, outliers), and every disease with ``full``, is read from its first count.
3. **Roll up** the hierarchy: the series of an org unit at level ``L`` is the sum of the counts stored in its
   subtree (usually at districts), per period. Org units whose subtree has no count of the disease in the periods
   read have no series (nothing to detect, nothing stored). The population of a unit is the sum of its children's
   populations when any child has one, else its own (``OrgUnit.population``), so that rates at every level use the
   population of the counts summed.
4. **Detect**: one engine call (``dhnet.surveillance.detect``) per disease x level x rule on the :class:`Panel` of
   all series of that level -- ``detector`` rules with their method and settings, ``count`` rules as ``threshold``
   with ``alert_count``, ``rate`` rules as ``threshold`` with ``alert_rate``/``epidemic_rate`` on the series that
   have a population. The last ``window`` periods are evaluated (default 8), or every period with ``full``, or
   from ``since`` (a correction of older data). When the history is too short for the first of them
   (:class:`~dhnet.surveillance.SeriesError`), the periods that can be evaluated are; when none can, the rule is
   skipped for that panel -- both recorded in the run's summary, never a crash.
5. **Write**, per disease in one transaction: the :class:`Detection` rows that are new or changed (a bulk upsert on
   rule x org unit x period: later runs replace earlier values; cells whose values did not change are not
   rewritten, so a row's ``run`` is the run that last changed it), then the alarms of the last ``window`` periods
   merged into signals (:mod:`dhnet.signals.services.merging`), and one audit record.

The run's :class:`DetectionRun` row carries progress (rule x level panels done of all) and a summary with the
time spent reading, computing and writing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import connection, connections, transaction
from django.db.models import Func, IntegerField, Max, Min
from django.utils import timezone
from numpy.typing import NDArray
from scipy import sparse

from dhnet.audit import services as audit
from dhnet.diseases.models import AlertRule, Disease, ReportingFrequency, RuleKind
from dhnet.diseases.services import engine_control
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor, Grant
from dhnet.platform.errors import Conflict, Invalid, ServiceError
from dhnet.reporting.models import CountValue, Measure
from dhnet.signals.models import Detection, DetectionRun, RunStatus
from dhnet.signals.services import READ, RUN, WRITE, notify_changes, require, send_changes
from dhnet.signals.services.merging import Alarm, merge_alarms
from dhnet.surveillance import Frequency, Panel, SeriesError, detect

log = logging.getLogger(__name__)

#: The platform acting on its own (jobs, schedules): may run detection and write signals everywhere.
SYSTEM = Actor(
    user_id=None,
    username="system:detection",
    grants=(
        Grant(
            role="system",
            orgunit_id=0,
            orgunit_code="*",
            orgunit_name="all org units",
            orgunit_path="/",
            permissions=frozenset({RUN, READ, WRITE}),
        ),
    ),
    via="system",
    purpose="detection",
    mfa_verified=True,
)

MONDAY_OFFSET = 4  # 1970-01-05, day 4 of the Unix epoch, is a Monday
MAX_WINDOW = 520
WRITE_BATCH = 5000
READ_CHUNK = 50_000
#: Measured on SQLite in WAL mode (bench_detect_all): reading ahead saved 8 s of reading but cost more in writes (the
#: reader's Python work holds the GIL), so it is off there.
PREFETCH_ON_SQLITE_WAL = False
SQLITE_CACHE_KIB = 256 * 1024
PROGRESS_SECONDS = 0.5

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class DetectionOptions:
    """What to run. ``diseases``: codes (None: every active disease with active rules)."""

    full: bool = False
    window: int = 8
    since: dt.date | None = None
    diseases: tuple[str, ...] | None = None
    merge_gap: int = 1
    trigger: str = "manual"
    requested_by: str = ""

    def check(self) -> None:
        if not 1 <= self.window <= MAX_WINDOW:
            raise Invalid(f"window: between 1 and {MAX_WINDOW} periods")
        if not 1 <= self.merge_gap <= 52:
            raise Invalid("merge_gap: between 1 and 52 periods")


class EpochDay(Func):
    """Days since 1970-01-01 of a date column, as an integer computed by the database (no date parsing in
    Python for millions of rows)."""

    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, conn: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, conn, template="CAST(julianday(%(expressions)s) - 2440587.5 AS INTEGER)", **extra)

    def as_postgresql(self, compiler: Any, conn: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, conn, template="(%(expressions)s - DATE '1970-01-01')", **extra)


# --- the org-unit tree ------------------------------------------------------------------------------------------


class Tree:
    """The org-unit hierarchy as arrays: position ``i`` is the ``i``-th unit by id."""

    def __init__(self, rows: Iterable[tuple[int, str, int, str, str, int | None]]) -> None:
        rows = sorted(rows)
        self.ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        self.paths = [r[1] for r in rows]
        self.level = np.asarray([r[2] for r in rows], dtype=np.int64)
        self.codes = [r[3] for r in rows]
        self.names = [r[4] for r in rows]
        own = np.asarray([np.nan if r[5] is None else float(r[5]) for r in rows], dtype=np.float64)
        position = {uid: i for i, uid in enumerate(self.ids.tolist())}
        self.levels = sorted(set(self.level.tolist()))
        self.ancestor: dict[int, NDArray[np.int64]] = {}
        chains = [[position[int(p)] for p in path.strip("/").split("/") if p] for path in self.paths]
        for lvl in self.levels:
            self.ancestor[lvl] = np.asarray([c[lvl - 1] if len(c) >= lvl else -1 for c in chains], dtype=np.int64)
        parent = np.asarray([c[-2] if len(c) >= 2 else -1 for c in chains], dtype=np.int64)
        self.population = self._population(own, parent)

    def _population(self, own: NDArray[np.float64], parent: NDArray[np.int64]) -> NDArray[np.float64]:
        effective = own.copy()
        child_sum = np.zeros_like(own)
        has_child = np.zeros(own.shape, dtype=bool)
        for lvl in sorted(self.levels, reverse=True):
            at = np.nonzero(self.level == lvl)[0]
            effective[at] = np.where(has_child[at], child_sum[at], own[at])
            counted = at[(parent[at] >= 0) & np.isfinite(effective[at])]
            np.add.at(child_sum, parent[counted], effective[counted])
            has_child[parent[counted]] = True
        return effective

    @classmethod
    def load(cls) -> Tree:
        return cls(OrgUnit.objects.values_list("id", "path", "level", "code", "name", "population"))

    def positions(self, unit_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        pos = np.searchsorted(self.ids, unit_ids)
        return pos.astype(np.int64)


# --- one disease --------------------------------------------------------------------------------------------------


@dataclass
class Counts:
    """One disease's counts on its calendar: ``base[k, t]`` for the ``k``-th unit with data (tree position
    ``units[k]``) and period ``t`` of ``dates``."""

    freq: Frequency
    dates: NDArray[np.datetime64]
    units: NDArray[np.int64]
    base: NDArray[np.float64]
    off_calendar: int = 0


def read_counts(disease_id: int, since: dt.date | None = None) -> NDArray[np.int64]:
    """``(n, 3)`` array of (org unit id, day number, value) of a disease's case counts (from ``since``): one query.

    The ``values_list`` query is compiled by the ORM and its rows are streamed straight into numpy through the
    cursor (Django's per-row converters would double the time for millions of rows).
    """
    qs = CountValue.objects.filter(disease_id=disease_id, measure=Measure.CASES)
    if since is not None:
        qs = qs.filter(period_start__gte=since)
    columns = qs.annotate(day=EpochDay("period_start")).values_list("orgunit_id", "day", "value").order_by()
    sql, params = columns.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        chunks = iter(lambda: cursor.fetchmany(READ_CHUNK), [])
        flat = np.fromiter(itertools.chain.from_iterable(itertools.chain.from_iterable(chunks)), dtype=np.int64)
    return flat.reshape(-1, 3)


def period_range(disease_id: int) -> tuple[dt.date | None, dt.date | None]:
    """The first and the latest period with a case count of the disease (index lookups)."""
    found = CountValue.objects.filter(disease_id=disease_id, measure=Measure.CASES).aggregate(
        first=Min("period_start"), last=Max("period_start")
    )
    return found["first"], found["last"]


def history_needed(method: str, control: Any, freq: Frequency) -> int | None:
    """Periods of history a method reads before a period it evaluates, when that is bounded; None: all of them.

    Only methods whose result for a period depends on a fixed window before it are listed (EARS: its baseline and
    guard band; Farrington-flexible: ``b`` years and ``w`` periods around them; fixed thresholds: none). CUSUM, GLR
    and the outlier methods use every earlier period (e.g. CUSUM's expected count is the mean of the whole history),
    so their diseases are read in full. ``test_detection`` checks that stored results equal engine calls on the full
    series.
    """
    if method == "threshold":
        return 0
    if method == "ears":
        return int(control.baseline) + 4 + 1
    if method == "farrington-flexible":
        per_year = {Frequency.WEEKLY: 53, Frequency.MONTHLY: 12, Frequency.DAILY: 366}[freq]
        return int(control.b) * per_year + int(control.w) + 2
    return None


def frequency_of(disease: Disease) -> Frequency:
    return Frequency.MONTHLY if disease.reporting == ReportingFrequency.MONTHLY else Frequency.WEEKLY


def layout(data: NDArray[np.int64], freq: Frequency, tree: Tree, *, begin: dt.date | None = None) -> Counts | None:
    """Put (unit, day, value) rows on the calendar; None when no row is on a period start. ``begin``: the calendar
    starts there (the first period read) even if no unit reported in it."""
    days = data[:, 1]
    if freq is Frequency.MONTHLY:
        month = days.astype("datetime64[D]").astype("datetime64[M]")
        on_start = month.astype("datetime64[D]").astype(np.int64) == days
        index = month.astype(np.int64)
    else:
        on_start = (days - MONDAY_OFFSET) % 7 == 0
        index = (days - MONDAY_OFFSET) // 7
    off = int((~on_start).sum())
    if not on_start.any():
        return None
    data, index = data[on_start], index[on_start]
    first, last = int(index.min()), int(index.max())
    if begin is not None:
        day0 = np.datetime64(begin, "D")
        anchor = day0.astype("datetime64[M]").astype(np.int64) if freq is Frequency.MONTHLY else None
        first = min(first, int(anchor) if anchor is not None else (int(day0.astype(np.int64)) - MONDAY_OFFSET) // 7)
    n_periods = last - first + 1
    if freq is Frequency.MONTHLY:
        origin = np.datetime64(first, "M").astype("datetime64[D]")
    else:
        origin = np.datetime64(first * 7 + MONDAY_OFFSET, "D")
    dates = freq.step(origin, n_periods)
    units, row = np.unique(tree.positions(data[:, 0]), return_inverse=True)
    flat = row * n_periods + (index - first)
    base = np.bincount(flat, weights=data[:, 2].astype(np.float64), minlength=units.size * n_periods)
    matrix = np.asarray(base, dtype=np.float64).reshape(units.size, n_periods)
    return Counts(freq, dates, units.astype(np.int64), matrix, off)


def roll_up(counts: Counts, tree: Tree, level: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """(tree positions of the level's units with data, their summed series)."""
    ancestor = tree.ancestor[level][counts.units]
    keep = np.nonzero(ancestor >= 0)[0]
    if keep.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, counts.base.shape[1]))
    targets, row = np.unique(ancestor[keep], return_inverse=True)
    matrix = sparse.csr_matrix(
        (np.ones(keep.size), (row, keep)), shape=(targets.size, counts.units.size), dtype=np.float64
    )
    return targets.astype(np.int64), np.asarray(matrix @ counts.base)


# --- the run ------------------------------------------------------------------------------------------------------


class _Skip(Exception):
    pass


@dataclass
class _Timing:
    read: float = 0.0
    layout: float = 0.0
    engine: float = 0.0
    prepare: float = 0.0
    write: float = 0.0
    signals: float = 0.0
    notify: float = 0.0  # the receivers of signal_changed (other contexts), after each commit

    def add_notify(self, seconds: float) -> None:
        self.notify += seconds

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.__dict__.items()}


@dataclass
class _Task:
    rule: AlertRule
    level: int
    method: str = ""
    control: Any = None
    error: str = ""


@dataclass
class _Tracker:
    run: DetectionRun
    total: int
    callback: Progress | None
    done: int = 0
    last: float = field(default=0.0)

    def step(self, message: str, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.callback is not None:
            self.callback(self.done, self.total, message)
        if now - self.last >= PROGRESS_SECONDS or self.done >= self.total:
            self.last = now
            DetectionRun.objects.filter(pk=self.run.pk).update(
                progress_done=self.done, progress_total=self.total, message=message[:2000]
            )


def _tasks(rules: list[AlertRule], tree: Tree) -> dict[int, list[_Task]]:
    """Per disease id, the (rule, level) panels to compute, with each rule's engine settings."""
    by_disease: dict[int, list[_Task]] = {}
    for rule in rules:
        try:
            method, control = engine_control(rule)
            error = ""
        except (ServiceError, ValueError, TypeError) as exc:
            method, control = "", None
            error = f"rule settings no longer valid: {getattr(exc, 'message', None) or exc}"
        levels = [rule.level] if rule.level is not None else tree.levels
        for level in levels:
            by_disease.setdefault(rule.disease_id, []).append(_Task(rule, level, method, control, error))
    return by_disease


def _evaluate(panel: Panel, method: str, control: Any, start: int) -> tuple[Any, int, str]:
    """Run the engine from period ``start`` to the end; with too short a history, from the first period that can be
    evaluated (found by probing single periods of one series). Raises ``_Skip`` when none can."""
    dates = panel.dates
    last = panel.n_periods - 1
    try:
        return detect(panel, method, control, start=dates[start], end=dates[last]), start, ""
    except SeriesError as exc:
        reason = str(exc)
    probe = panel.take([0])

    def feasible(i: int) -> bool:
        try:
            detect(probe, method, control, start=dates[i], end=dates[i])
        except SeriesError:
            return False
        return True

    if start >= last or not feasible(last):
        raise _Skip(reason)
    lo, hi = start + 1, last
    while lo < hi:
        mid = (lo + hi) // 2
        if feasible(mid):
            hi = mid
        else:
            lo = mid + 1
    try:
        result = detect(panel, method, control, start=dates[lo], end=dates[last])
    except SeriesError as exc:
        raise _Skip(str(exc)) from None
    return result, lo, f"history too short before {dates[lo]}; evaluated from there ({reason})"


def _nullable(values: NDArray[np.float64]) -> list[float | None]:
    out = values.astype(object)
    out[~np.isfinite(values)] = None
    return out.tolist()


def _upsert_sql() -> str:
    meta = Detection._meta
    qn = connection.ops.quote_name
    names = [
        "rule",
        "disease",
        "orgunit",
        "period_start",
        "observed",
        "expected",
        "upperbound",
        "score",
        "alarm",
        "run",
    ]
    columns = [meta.get_field(n).column for n in names]
    conflict = [meta.get_field(n).column for n in ("rule", "orgunit", "period_start")]
    updates = [c for c in columns if c not in conflict]
    return (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(qn(c) for c in conflict)}) DO UPDATE SET "
        + ", ".join(f"{qn(c)} = excluded.{qn(c)}" for c in updates)
    )


def upsert_detections(rows: list[tuple[Any, ...]]) -> None:
    """Insert or replace Detection rows (rule, disease, orgunit, period, observed, expected, upperbound, score, alarm,
    run): one prepared statement executed in batches (SQLite and PostgreSQL both have ``ON CONFLICT``)."""
    if not rows:
        return
    sql = _upsert_sql()
    with connection.cursor() as cursor:
        for i in range(0, len(rows), WRITE_BATCH):
            cursor.executemany(sql, rows[i : i + WRITE_BATCH])


def _changed_only(disease: Disease, rows: list[tuple[Any, ...]], days: list[int]) -> list[tuple[Any, ...]]:
    """The rows whose values differ from those stored (new cells included): unchanged cells are not rewritten, so a
    nightly run writes about one new week per series. (A row's ``run`` is the run that last changed it.)
    ``days``: the period of each row as a day number (compared without parsing dates)."""
    first = dt.date(1970, 1, 1) + dt.timedelta(days=min(days))
    qs = (
        Detection.objects.filter(disease_id=disease.pk, period_start__gte=first)
        .annotate(day=EpochDay("period_start"))
        .values_list("rule_id", "orgunit_id", "day", "observed", "expected", "upperbound", "score", "alarm")
        .order_by()
    )
    sql, params = qs.query.sql_with_params()
    stored: dict[tuple[int, int, int], tuple[Any, ...]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(READ_CHUNK):
            for rule, unit, day, observed, expected, upper, score, alarm in chunk:
                stored[(rule, unit, day)] = (observed, expected, upper, score, bool(alarm))
    if not stored:
        return rows
    return [
        r
        for r, day in zip(rows, days, strict=True)
        if stored.get((r[0], r[2], day)) != (r[4], r[5], r[6], r[7], bool(r[8]))
    ]


def _period_params(dates: NDArray[np.datetime64]) -> list[Any]:
    text = [str(d) for d in np.datetime_as_string(dates, unit="D")]
    if connection.vendor == "sqlite":
        return list(text)
    return [dt.date.fromisoformat(t) for t in text]


def _check_diseases(codes: tuple[str, ...] | None) -> None:
    if codes is None:
        return
    found = set(Disease.objects.filter(code__in=codes).values_list("code", flat=True))
    missing = [c for c in codes if c not in found]
    if missing:
        raise Invalid(f"diseases: unknown disease {missing[0]!r}")


def run_detection(
    actor: Actor,
    options: DetectionOptions,
    *,
    progress: Progress | None = None,
    job_id: int | None = None,
) -> DetectionRun:
    """Run the active alert rules (see the module documentation); returns the finished :class:`DetectionRun`.

    The caller serialises runs (the ``signals.detect`` job is exclusive); each disease is written in its own
    transaction, so pages stay responsive during a long run.
    """
    require(actor, RUN)
    options.check()
    _check_diseases(options.diseases)
    run = DetectionRun.objects.create(
        status=RunStatus.RUNNING,
        trigger=options.trigger[:32],
        requested_by=(options.requested_by or actor.username)[:150],
        started_at=timezone.now(),
        job_id=job_id,
    )
    try:
        with _large_cache(), _queries_not_logged(connection):
            summary = _run(actor, run, options, progress)
    except Exception as exc:
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        DetectionRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), message=message[:2000]
        )
        raise
    with transaction.atomic():
        run.refresh_from_db()
        run.status = RunStatus.DONE
        run.finished_at = timezone.now()
        run.summary = summary
        run.progress_done = run.progress_total
        run.message = (
            f"{summary['detections']} detections, {summary['alarms']} alarms, {summary['signals_created']} new "
            f"signals, {summary['signals_extended']} extended; {len(summary['skipped'])} panels skipped"
        )
        run.save()
        audit.record(
            actor,
            "signals.run.execute",
            object_type="signals.detectionrun",
            object_id=run.pk,
            detail={k: summary[k] for k in ("trigger", "full", "window", "detections", "alarms", "signals_created")},
            permission=RUN,
        )
    return run


@contextlib.contextmanager
def _queries_not_logged(conn: Any) -> Iterator[None]:
    """Under ``DEBUG`` (dev mode) Django logs every query, formatting the parameters of each statement into SQL
    (on SQLite with an extra ``SELECT QUOTE(?), ...`` per statement): for the millions of values a run reads and
    writes, that took a tenth of the run. A detection run does not log its queries: for its duration this
    connection (one per thread) hands out plain cursors, even in dev mode."""
    if not conn.queries_logged or conn.force_debug_cursor:  # nothing to do, or someone captures queries on purpose
        yield
        return
    conn.make_debug_cursor = conn.make_cursor  # instance attribute over the method, removed afterwards
    try:
        yield
    finally:
        del conn.make_debug_cursor


@contextlib.contextmanager
def _large_cache() -> Iterator[None]:
    """SQLite keeps 2 MB of pages per connection by default: the indexes of millions of detections do not fit and
    every upsert goes back to the operating system for them. For the run, this connection keeps up to
    :data:`SQLITE_CACHE_KIB` (restored afterwards)."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = -{int(SQLITE_CACHE_KIB)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {before}")


@contextlib.contextmanager
def _references_checked_once() -> Iterator[None]:
    """SQLite checks every foreign key of every row written (three times the cost of the upserts themselves). Where
    it can be switched off (outside a transaction), the write transaction checks the few referenced rows once
    instead (:func:`_check_references`), under SQLite's write lock, so that none can vanish meanwhile."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.constraint_checks_disabled():
        yield


def _check_references(disease: Disease, rows: list[tuple[Any, ...]], run: DetectionRun) -> None:
    """The rules, the disease, the org units and the run the rows refer to all exist (else :class:`Conflict`)."""
    rule_ids = {r[0] for r in rows}
    unit_ids = {r[2] for r in rows}
    missing = []
    if AlertRule.objects.filter(pk__in=rule_ids).count() != len(rule_ids):
        missing.append("an alert rule")
    if not Disease.objects.filter(pk=disease.pk).exists():
        missing.append(f"disease {disease.code!r}")
    if len(unit_ids) and OrgUnit.objects.filter(pk__in=unit_ids).count() != len(unit_ids):
        missing.append("an org unit")
    if not DetectionRun.objects.filter(pk=run.pk).exists():
        missing.append(f"detection run {run.pk}")
    if missing:
        raise Conflict(f"{disease.code}: {', '.join(missing)} was deleted during the run; run detection again")


def _run(actor: Actor, run: DetectionRun, options: DetectionOptions, progress: Progress | None) -> dict[str, Any]:
    timing = _Timing()
    started = time.perf_counter()
    tree = Tree.load()
    rules_qs = AlertRule.objects.filter(active=True, disease__active=True).select_related("disease")
    if options.diseases is not None:
        rules_qs = rules_qs.filter(disease__code__in=options.diseases)
    rules = list(rules_qs.order_by("disease__code", "id"))
    tasks = _tasks(rules, tree)
    diseases = {r.disease_id: r.disease for r in rules}
    tracker = _Tracker(run, sum(len(t) for t in tasks.values()), progress)
    DetectionRun.objects.filter(pk=run.pk).update(progress_total=tracker.total)
    summary: dict[str, Any] = {
        "trigger": options.trigger,
        "full": options.full,
        "window": options.window,
        "since": options.since.isoformat() if options.since else None,
        "merge_gap": options.merge_gap,
        "diseases": {},
        "skipped": [],
        "detections": 0,
        "alarms": 0,
        "signals_created": 0,
        "signals_extended": 0,
    }
    plan = [
        (disease_id, _read_from(diseases[disease_id], disease_tasks, frequency_of(diseases[disease_id]), options))
        for disease_id, disease_tasks in tasks.items()
    ]
    reader = Prefetcher(plan) if prefetch_allowed(len(plan)) else None
    summary["prefetch"] = reader is not None
    try:
        for (disease_id, read_from), disease_tasks in zip(plan, tasks.values(), strict=True):
            disease = diseases[disease_id]
            t0 = time.perf_counter()
            data = reader.get(disease_id) if reader is not None else read_counts(disease_id, read_from)
            timing.read += time.perf_counter() - t0
            entry = _run_disease(
                actor, run, disease, disease_tasks, tree, options, timing, tracker, summary["skipped"], data, read_from
            )
            summary["diseases"][disease.code] = entry
            for key in ("detections", "alarms", "signals_created", "signals_extended"):
                summary[key] += entry.get(key, 0)
    finally:
        if reader is not None:
            reader.close()
    summary["timing"] = {**timing.as_dict(), "total": round(time.perf_counter() - started, 3)}
    if reader is not None:
        summary["timing"]["read_in_background"] = round(reader.seconds, 3)
    return summary


def prefetch_allowed(n_diseases: int) -> bool:
    """Read the next disease on a second connection while this one computes and writes: outside a transaction only
    (a second connection would not see the caller's uncommitted rows, e.g. a test's), on PostgreSQL (the scan runs
    in the server while this process computes). Not on SQLite: with its default rollback journal every commit waits
    for the reader's statement to end, and in WAL mode the reader's share of the GIL cost more than it saved
    (:data:`PREFETCH_ON_SQLITE_WAL`)."""
    if n_diseases < 2 or connection.in_atomic_block:
        return False
    if connection.vendor == "postgresql":
        return True
    if connection.vendor == "sqlite" and PREFETCH_ON_SQLITE_WAL:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            return str(cursor.fetchone()[0]).lower() == "wal"
    return False


class Prefetcher:
    """Reads the diseases' counts in order on its own thread and connection, one disease ahead of the consumer.

    Reading is mostly time inside the database driver, which releases the GIL: on two cores it overlaps with the
    engine and the writes of the previous disease. Errors surface in :meth:`get`.
    """

    def __init__(self, plan: list[tuple[int, dt.date | None]]) -> None:
        self._plan = plan
        self._queue: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._work, name="detection-reader", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            with _queries_not_logged(connection):
                self._read_all()
        finally:
            connections.close_all()

    def _read_all(self) -> None:
        for disease_id, read_from in self._plan:
            if self._stop.is_set():
                return
            began = time.perf_counter()
            try:
                item: Any = read_counts(disease_id, read_from)
            except Exception as exc:  # handed to the consumer
                item = exc
            self.seconds += time.perf_counter() - began
            while not self._stop.is_set():
                try:
                    self._queue.put((disease_id, item), timeout=0.2)
                    break
                except queue.Full:
                    continue
            if isinstance(item, Exception):
                return

    def get(self, disease_id: int) -> NDArray[np.int64]:
        got, item = self._queue.get()
        if isinstance(item, Exception):
            raise item
        if got != disease_id:  # pragma: no cover - the plan is consumed in order
            raise RuntimeError(f"prefetched disease {got}, expected {disease_id}")
        return item

    def close(self) -> None:
        self._stop.set()
        while True:  # unblock a reader waiting to hand over
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join()


def _step(day: dt.date, periods: int, freq: Frequency) -> dt.date:
    """The period start ``periods`` periods after (negative: before) the period containing ``day``."""
    if freq is Frequency.MONTHLY:
        month = day.year * 12 + day.month - 1 + periods
        return dt.date(month // 12, month % 12 + 1, 1)
    monday = day - dt.timedelta(days=day.weekday())
    return monday + dt.timedelta(weeks=periods)


def _read_from(disease: Disease, tasks: list[_Task], freq: Frequency, options: DetectionOptions) -> dt.date | None:
    """The first period to read: the evaluated periods less the longest history any rule needs (None: all)."""
    if options.full:
        return None
    needs = [history_needed(t.method, t.control, freq) for t in tasks if not t.error]
    if not needs or any(n is None for n in needs):
        return None
    first, last = period_range(disease.pk)
    if first is None or last is None:
        return None
    first_evaluated = _step(last, -(options.window - 1), freq)
    if options.since is not None:
        first_evaluated = min(first_evaluated, _step(options.since, 0, freq))
    begin = _step(first_evaluated, -max(n for n in needs if n is not None), freq)
    return begin if begin > first else None  # never before the disease's first count


def _run_disease(
    actor: Actor,
    run: DetectionRun,
    disease: Disease,
    tasks: list[_Task],
    tree: Tree,
    options: DetectionOptions,
    timing: _Timing,
    tracker: _Tracker,
    skipped: list[dict[str, Any]],
    data: NDArray[np.int64],
    read_from: dt.date | None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"rules": []}
    freq = frequency_of(disease)
    t0 = time.perf_counter()
    counts = layout(data, freq, tree, begin=read_from) if data.size else None
    timing.layout += time.perf_counter() - t0
    if read_from is not None:
        entry["read_from"] = read_from.isoformat()
    if counts is None:
        entry["note"] = "no counts"
        tracker.step(f"{disease.code}: no counts", len(tasks))
        return entry
    n_periods = counts.dates.size
    entry["periods"] = [str(counts.dates[0]), str(counts.dates[-1])]
    if counts.off_calendar:
        entry["off_calendar"] = counts.off_calendar
    start = 0 if options.full else max(0, n_periods - options.window)
    if options.since is not None:
        start = min(start, int(np.searchsorted(counts.dates, np.datetime64(options.since, "D"))))
    signal_from = counts.dates[max(0, n_periods - options.window)]

    rows: list[tuple[Any, ...]] = []
    days: list[int] = []  # the period of each row, as a day number
    alarms: list[Alarm] = []
    panels: dict[int, tuple[NDArray[np.int64], NDArray[np.float64]]] = {}
    series: dict[str, int] = {}
    for task in tasks:
        rule = task.rule
        where = f"{disease.code}: rule {rule.name!r} at level {task.level}"
        record: dict[str, Any] = {"rule": rule.pk, "name": rule.name, "level": task.level, "method": task.method}
        entry["rules"].append(record)
        if task.error:
            record["skipped"] = task.error
            skipped.append({"disease": disease.code, "rule": rule.pk, "level": task.level, "reason": task.error})
            tracker.step(where)
            continue
        t0 = time.perf_counter()
        if task.level not in panels:
            panels[task.level] = (
                roll_up(counts, tree, task.level)
                if task.level in tree.ancestor
                else (
                    np.zeros(0, dtype=np.int64),
                    np.zeros((0, n_periods)),
                )
            )
            series[str(task.level)] = int(panels[task.level][0].size)
        units, matrix = panels[task.level]
        population = None
        if rule.kind == RuleKind.RATE:
            pop = tree.population[units]
            has = np.isfinite(pop) & (pop > 0)
            if not has.all():
                record["without_population"] = int((~has).sum())
            units, matrix, population = units[has], matrix[has], pop[has]
        timing.layout += time.perf_counter() - t0
        if units.size == 0:
            record["skipped"] = "no series at this level"
            tracker.step(where)
            continue
        panel = Panel(
            names=tuple(tree.codes[i] for i in units),
            dates=counts.dates,
            counts=matrix,
            freq=counts.freq,
            population=population,
        )
        t0 = time.perf_counter()
        try:
            result, _start, note = _evaluate(panel, task.method, task.control, start)
        except _Skip as exc:
            timing.engine += time.perf_counter() - t0
            record["skipped"] = str(exc)
            record["series"] = panel.n_series
            skipped.append({"disease": disease.code, "rule": rule.pk, "level": task.level, "reason": str(exc)})
            tracker.step(where)
            continue
        timing.engine += time.perf_counter() - t0
        t0 = time.perf_counter()
        record.update(series=panel.n_series, evaluated=[str(result.dates[0]), str(result.dates[-1])])
        if note:
            record["note"] = note
        unit_ids = tree.ids[units]
        m = result.dates.size
        periods = _period_params(result.dates)
        days.extend(result.dates.astype("datetime64[D]").astype(np.int64).tolist() * panel.n_series)
        rows.extend(
            zip(
                itertools.repeat(rule.pk),
                itertools.repeat(disease.pk),
                np.repeat(unit_ids, m).tolist(),
                periods * panel.n_series,
                result.observed.ravel().tolist(),
                _nullable(result.expected.ravel()),
                _nullable(result.upperbound.ravel()),
                _nullable(result.score.ravel()),
                result.alarm.ravel().tolist(),
                itertools.repeat(run.pk),
                strict=False,
            )
        )
        recent = result.dates >= signal_from
        hit_rows, hit_cols = np.nonzero(result.alarm & recent[None, :])
        record["alarms"] = int(result.alarm.sum())
        for i, j in zip(hit_rows.tolist(), hit_cols.tolist(), strict=True):
            alarms.append(
                Alarm(
                    orgunit_id=int(unit_ids[i]),
                    period=dt.date.fromisoformat(str(result.dates[j])),
                    rule_id=rule.pk,
                    rule_name=rule.name,
                    observed=float(result.observed[i, j]),
                    expected=_finite(result.expected[i, j]),
                    upperbound=_finite(result.upperbound[i, j]),
                    score=_finite(result.score[i, j]),
                )
            )
        timing.prepare += time.perf_counter() - t0
        tracker.step(where)
    entry["series"] = series

    t0 = time.perf_counter()
    changed = _changed_only(disease, rows, days) if rows else rows
    timing.prepare += time.perf_counter() - t0
    t0 = time.perf_counter()
    with _references_checked_once(), transaction.atomic():
        if connection.vendor == "sqlite":
            _check_references(disease, rows, run)
        upsert_detections(changed)
        t1 = time.perf_counter()
        timing.write += t1 - t0
        names = {int(tree.ids[i]): tree.names[i] for i in {_pos(tree, a.orgunit_id) for a in alarms}}
        merged = merge_alarms(
            disease,
            alarms,
            gap=options.merge_gap,
            freq=counts.freq.value,
            actor_username=actor.username,
            unit_names=names,
            defer_notify=True,
        )
        audit.record(
            actor,
            "signals.detection.write",
            object_type="signals.detectionrun",
            object_id=run.pk,
            detail={
                "disease": disease.code,
                "detections": len(rows),
                "alarms": len(alarms),
                "signals_created": merged.created[:500],
                "signals_extended": merged.extended[:500],
            },
            permission=RUN,
        )
    timing.signals += time.perf_counter() - t1
    # Committed, and foreign-key checks back on: now the other contexts hear of the new and extended signals (or,
    # inside a caller's transaction, once that commits).
    if connection.in_atomic_block:
        notify_changes(merged.changes, actor.username, timed=timing.add_notify)
    else:
        send_changes(merged.changes, actor.username, timed=timing.add_notify)
    entry.update(
        detections=len(rows),
        written=len(changed),
        alarms=int(sum(r.get("alarms", 0) for r in entry["rules"])),
        recent_alarms=len(alarms),
        signals_created=len(merged.created),
        signals_extended=len(merged.extended),
    )
    return entry


def _pos(tree: Tree, unit_id: int) -> int:
    return int(np.searchsorted(tree.ids, unit_id))


def _finite(value: float) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None
