"""What people see: the surveillance dashboard, the signal list, completeness and the weekly bulletin.

Pure queries over the reporting, detection and signal tables plus the SVG builders of :mod:`dhnet.dashboard.svg`.
Each public function takes the acting :class:`~dhnet.platform.access.Actor`, checks the permission and the
jurisdiction, and appends one audit record for the read (counts, detections and signals are not public data).

Access
    ``surveillance:aggregate:read`` opens the dashboard (counts, incidence, completeness), limited to the
    jurisdiction where the actor holds it. Detection outputs (expected, threshold, alarms) and signals need
    ``surveillance:signal:read`` as well, within the jurisdiction where that holds: a partner, who reads aggregates
    only, sees counts and incidence and nothing of signals or alarms.

Definitions
    *week*: an ISO week, identified by its Monday (``period_start`` of weekly counts). The default week of a disease
    is the latest week with data for it in the area. *open signal in week W*: a signal of the disease not discarded
    or closed, whose alarms span [first_period, last_period] reaches into the four weeks up to W
    (``first_period <= W`` and ``last_period >= W - 3 weeks``). *Incidence*: cases in the week per 100,000
    population of the unit (no value where the population is unknown). Counts of an area are the sum of the counts
    reported in its subtree (each disease is reported at one level). *Completeness* and *timeliness* are the reporting
    service's (``dhnet.reporting.services.completeness``): of the reporting units expected below an area, the
    share that reported for W, and the share that reported by the deadline.

Audit
    The reads run first and the audit record is appended in its own short transaction before anything is returned
    (on SQLite the IMMEDIATE transaction mode takes the database write lock at ``BEGIN``; holding it during the reads
    would serialise every page view).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from dhnet.audit import services as audit
from dhnet.dashboard import svg
from dhnet.diseases.models import AlertRule, Disease
from dhnet.orgunits.models import OrgUnit
from dhnet.orgunits.services import jurisdiction_q, require_in_jurisdiction
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid, NotFound
from dhnet.reporting import services as reporting
from dhnet.reporting.models import CountValue, Measure, Submission
from dhnet.signals.models import Detection, Signal, SignalSource, SignalStatus

AGGREGATE_READ = "surveillance:aggregate:read"
SIGNAL_READ = "surveillance:signal:read"

MEASURES = ("signals", "cases", "incidence")
MEASURE_LABELS = {"signals": "Open signals", "cases": "Cases", "incidence": "Incidence per 100,000"}
CLOSED_STATUSES = (SignalStatus.DISCARDED, SignalStatus.CLOSED)
OPEN_WINDOW_WEEKS = 4
DEFAULT_WEEKS = 52
MIN_WEEKS, MAX_WEEKS = 8, 260
SIGNAL_PAGE_SIZE = 50
OVERVIEW_SIGNALS = 10
WEEK = dt.timedelta(weeks=1)


# --- weeks --------------------------------------------------------------------------------------------------------


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def parse_week(text: str, field_name: str = "week") -> dt.date | None:
    """``2008-W05`` (also ``2008W05``, ``2008-w5``) or a date ``2008-02-04`` -> the Monday of that ISO week."""
    raw = (text or "").strip()
    if not raw:
        return None
    upper = raw.upper().replace(" ", "")
    if "W" in upper:
        year_part, _, week_part = upper.partition("W")
        year_part = year_part.rstrip("-")
        if year_part.isdigit() and week_part.isdigit() and len(year_part) == 4:
            try:
                return dt.date.fromisocalendar(int(year_part), int(week_part), 1)
            except ValueError:
                pass
        raise Invalid(f"{field_name}: {raw!r} is not an ISO week like 2008-W05")
    try:
        return monday(dt.date.fromisoformat(raw))
    except ValueError:
        raise Invalid(f"{field_name}: {raw!r} is not an ISO week like 2008-W05 or a date like 2008-02-04") from None


def week_label(day: dt.date) -> str:
    return svg.iso_week_label(day)


def week_range_label(day: dt.date) -> str:
    end = day + dt.timedelta(days=6)
    return f"{day:%-d %b %Y} – {end:%-d %b %Y}"


# --- access helpers -------------------------------------------------------------------------------------------------


def _require(actor: Actor, permission: str) -> None:
    if not actor.has(permission):
        raise Forbidden(f"requires {permission}")


def _jurisdiction_roots(actor: Actor, permission: str) -> list[OrgUnit]:
    """The top units of the actor's jurisdiction for ``permission`` (the roots of the tree for an operator)."""
    paths = actor.paths_for(permission)
    if "/" in paths:
        return list(OrgUnit.objects.filter(level=1).defer("geometry").order_by("name"))
    return list(OrgUnit.objects.filter(path__in=paths).defer("geometry").order_by("path"))


def _resolve_area(actor: Actor, code: str) -> OrgUnit:
    if code:
        unit: OrgUnit | None = OrgUnit.objects.defer("geometry").filter(code=code).first()
        if unit is None:
            raise NotFound(f"area: org unit {code!r} not found")
        require_in_jurisdiction(actor, AGGREGATE_READ, unit)
        return unit
    roots = _jurisdiction_roots(actor, AGGREGATE_READ)
    if not roots:
        raise NotFound("area: there is no org unit in your jurisdiction")
    return roots[0]


def _resolve_unit(actor: Actor, code: str, area: OrgUnit) -> OrgUnit:
    if not code or code == area.code:
        return area
    unit: OrgUnit | None = OrgUnit.objects.defer("geometry").filter(code=code).first()
    if unit is None:
        raise NotFound(f"unit: org unit {code!r} not found")
    require_in_jurisdiction(actor, AGGREGATE_READ, unit)
    return unit


def _signal_q(actor: Actor) -> Q | None:
    """Where the actor may see signals and detections (None: nowhere)."""
    if not actor.has(SIGNAL_READ):
        return None
    return jurisdiction_q(actor, SIGNAL_READ, "orgunit__path")


def _visible_units(actor: Actor, below: OrgUnit) -> Any:
    """The ids of the org units in ``below``'s subtree where the actor sees signals, as a subquery.

    Signal and detection queries filter ``orgunit_id IN (subquery)`` rather than joining the org units and
    matching paths: the database then probes the (disease, org unit, period) index per unit instead of scanning
    every signal of the disease.
    """
    q = jurisdiction_q(actor, SIGNAL_READ, "path")
    units = OrgUnit.objects.filter(path__startswith=below.path)
    units = units.none() if q is None else units.filter(q)
    return Subquery(units.values("pk"))


def _record(actor: Actor, action: str, permission: str, detail: dict[str, Any], object_id: str = "") -> None:
    with transaction.atomic():
        audit.record(
            actor, action, object_type="dashboard.view", object_id=object_id, detail=detail, permission=permission
        )


# --- links ----------------------------------------------------------------------------------------------------------


def _url(name: str, params: dict[str, Any]) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return str(reverse(name)) + (f"?{query}" if query else "")


def signal_href(signal_id: int) -> str:
    """The signal's triage page (``signals:detail``), or ``""`` while that page does not exist."""
    try:
        return str(reverse("signals:detail", args=[signal_id]))
    except NoReverseMatch:
        return ""


# --- diseases -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiseaseOption:
    code: str
    name: str
    latest: dt.date | None  # latest week with data in the area

    @property
    def latest_label(self) -> str:
        return week_label(self.latest) if self.latest else "no data"


def _cases(area: OrgUnit) -> Any:
    return CountValue.objects.filter(measure=Measure.CASES, orgunit__path__startswith=area.path)


def disease_options(area: OrgUnit) -> list[DiseaseOption]:
    """Active diseases, those with data in the area first (latest data first), then the others by name.

    One query: the latest week of each disease below the area is a correlated subquery that walks the
    (disease, period) index backwards and stops at the first row in the area.
    """
    latest = _cases(area).filter(disease=OuterRef("pk")).order_by("-period_start").values("period_start")[:1]
    rows = Disease.objects.filter(active=True).annotate(latest=Subquery(latest)).order_by("name")
    options = [DiseaseOption(code, name, last) for code, name, last in rows.values_list("code", "name", "latest")]
    with_data = sorted((o for o in options if o.latest), key=lambda o: (o.latest, o.name), reverse=True)
    return with_data + [o for o in options if not o.latest]


def _default_disease(area: OrgUnit, options: Sequence[DiseaseOption]) -> DiseaseOption | None:
    """The disease shown first: of those with data, one whose latest reports come from units with a map (the map is
    the centre of the page), the most recent first; else the most recent."""
    with_data = [o for o in options if o.latest]
    for option in with_data:
        if (
            _cases(area)
            .filter(disease__code=option.code, period_start=option.latest, orgunit__geometry__isnull=False)
            .exists()
        ):
            return option
    return with_data[0] if with_data else (options[0] if options else None)


# --- shapes (cached per org unit) -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    polygons: list[svg.Polygon]
    bbox: svg.BBox
    kind: svg.Kind


class _LRU:
    """A small thread-safe LRU map (per process): parsed shapes and projected, simplified paths per org unit."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.data.clear()


_SHAPES = _LRU(20_000)
_PATHS = _LRU(50_000)


def clear_caches() -> None:
    _SHAPES.clear()
    _PATHS.clear()
    _LAYOUTS.clear()


def _stamp(unit: OrgUnit) -> str:
    return unit.updated_at.isoformat() if unit.updated_at else ""


def shapes_of(units: Sequence[OrgUnit]) -> dict[int, Shape]:
    """Parsed polygons of ``units`` (loaded without geometry); geometries are read only for units not cached."""
    found: dict[int, Shape] = {}
    missing: list[int] = []
    for unit in units:
        shape = _SHAPES.get((unit.pk, _stamp(unit)))
        if shape is None:
            missing.append(unit.pk)
        elif shape is not False:
            found[unit.pk] = shape
    if missing:
        stamps = {u.pk: _stamp(u) for u in units}
        for pk, geometry in OrgUnit.objects.filter(pk__in=missing).values_list("pk", "geometry"):
            polygons = svg.polygons_of(geometry)
            bbox = svg.BBox.of(polygons)
            if bbox is None:
                _SHAPES.put((pk, stamps[pk]), False)
                continue
            shape = Shape(polygons, bbox, svg.coordinate_kind(bbox))
            _SHAPES.put((pk, stamps[pk]), shape)
            found[pk] = shape
    return found


def _path(unit: OrgUnit, shape: Shape, projection: svg.Projection) -> str:
    key = (unit.pk, _stamp(unit), projection.key)
    d = _PATHS.get(key)
    if d is None:
        d = svg.polygons_path(shape.polygons, projection)
        _PATHS.put(key, d)
    return str(d)


# --- the map --------------------------------------------------------------------------------------------------------


@dataclass
class UnitValue:
    code: str
    name: str
    cases: int | None
    population: int | None
    signals: int | None  # None: not visible to the actor
    value: float | None = None  # the mapped measure
    css: str = "nd"
    colour: str = svg.NO_DATA_COLOUR
    href: str = ""
    has_shape: bool = False

    @property
    def incidence(self) -> float | None:
        if self.cases is None or not self.population:
            return None
        return self.cases * 100_000 / self.population

    def describe(self) -> str:
        parts = [self.name]
        if self.cases is None:
            parts.append("no report")
        else:
            parts.append(f"{svg.fmt(self.cases)} case{'s' if self.cases != 1 else ''}")
        if self.incidence is not None:
            parts.append(f"{svg.fmt(self.incidence, 2)} per 100,000")
        if self.signals is not None:
            parts.append(f"{self.signals} open signal{'s' if self.signals != 1 else ''}")
        return " · ".join(parts)


@dataclass
class MapView:
    measure: str
    title: str
    legend: list[svg.LegendEntry]
    frames: list[str]  # one <svg> per cluster of shapes
    units: list[UnitValue]  # every unit, sorted by value (the table under the map, and units without a shape)
    unit_label: str

    @property
    def unshaped(self) -> list[UnitValue]:
        return [u for u in self.units if not u.has_shape]


@dataclass
class _Data:
    """What the map and the curve need, for one disease: the units reporting below the area in the window, the
    week's count of each, and the weekly sums over the focus unit's subtree."""

    units: list[OrgUnit]
    week_values: dict[int, int]
    sums: dict[dt.date, int]


_UNIT_FIELDS = ("pk", "code", "name", "path", "level", "population", "parent_id", "updated_at")


def _data(
    disease: Disease,
    area: OrgUnit,
    unit: OrgUnit,
    week: dt.date,
    weeks: int,
    *,
    with_map: bool = True,
    with_curve: bool = True,
) -> _Data:
    """Aggregate queries (the database sums; Python receives a few hundred values at most): the units reporting
    below ``area`` in the 52 weeks up to ``week`` and their counts in ``week`` (``with_map``), and the weekly sums
    over ``unit``'s subtree for ``weeks`` weeks (``with_curve``)."""
    units: list[OrgUnit] = []
    week_values: dict[int, int] = {}
    sums: dict[dt.date, int] = {}
    if with_map:
        window = _cases(area).filter(
            disease=disease, period_start__gte=week - (DEFAULT_WEEKS - 1) * WEEK, period_start__lte=week
        )
        reporting = window.values("orgunit_id").distinct().order_by()
        units = list(OrgUnit.objects.filter(pk__in=Subquery(reporting)).only(*_UNIT_FIELDS).order_by("path"))
        for pk, total in (
            window.filter(period_start=week)
            .values("orgunit_id")
            .annotate(total=Sum("value"))
            .order_by()
            .values_list("orgunit_id", "total")
        ):
            week_values[pk] = int(total)
    if with_curve:
        for period, total in (
            _cases(unit)
            .filter(disease=disease, period_start__gte=week - (weeks - 1) * WEEK, period_start__lte=week)
            .values("period_start")
            .annotate(total=Sum("value"))
            .order_by()
            .values_list("period_start", "total")
        ):
            sums[period] = int(total)
    return _Data(units, week_values, sums)


@dataclass
class _Window:
    """Every count of one disease below one area over a window of weeks (the bulletin sums them by region)."""

    rows: list[tuple[int, dt.date, int]]  # orgunit id, week, value
    units: dict[int, OrgUnit]

    def data(self, unit: OrgUnit, week: dt.date) -> _Data:
        week_values: dict[int, int] = defaultdict(int)
        sums: dict[dt.date, int] = defaultdict(int)
        for uid, period, value in self.rows:
            if period == week:
                week_values[uid] += value
            if self.units[uid].path.startswith(unit.path):
                sums[period] += value
        return _Data(sorted(self.units.values(), key=lambda u: u.path), dict(week_values), dict(sums))


def _window(disease: Disease, area: OrgUnit, first: dt.date, last: dt.date) -> _Window:
    rows = list(
        _cases(area)
        .filter(disease=disease, period_start__gte=first, period_start__lte=last)
        .values_list("orgunit_id", "period_start", "value")
    )
    ids = {r[0] for r in rows}
    units = {u.pk: u for u in OrgUnit.objects.filter(pk__in=ids).only(*_UNIT_FIELDS)}
    return _Window(rows, units)


def _open_signals(actor: Actor, disease: Disease, area: OrgUnit, week: dt.date) -> Any:
    if _signal_q(actor) is None:
        return Signal.objects.none()
    return Signal.objects.filter(
        disease=disease,
        orgunit_id__in=_visible_units(actor, area),
        first_period__lte=week,
        last_period__gte=week - (OPEN_WINDOW_WEEKS - 1) * WEEK,
    ).exclude(status__in=CLOSED_STATUSES)


def _map(
    actor: Actor, disease: Disease, area: OrgUnit, week: dt.date, measure: str, data: _Data, link: dict[str, Any]
) -> MapView:
    can_signals = _signal_q(actor) is not None
    week_values = data.week_values
    signal_counts: dict[int, int] = {}
    units = data.units
    if can_signals:
        by_path = {u.path: u.pk for u in units}
        for path in _open_signals(actor, disease, area, week).values_list("orgunit__path", flat=True):
            # attribute the signal to the drawn unit at or above its org unit
            parts = path.strip("/").split("/")
            for i in range(len(parts), 0, -1):
                pk = by_path.get("/" + "/".join(parts[:i]) + "/")
                if pk is not None:
                    signal_counts[pk] = signal_counts.get(pk, 0) + 1
                    break
    base = _url("dashboard:index", {k: v for k, v in link.items() if k != "unit"})
    base += "&" if "?" in base else "?"
    values = []
    for unit in units:
        uv = UnitValue(
            code=unit.code,
            name=unit.name,
            cases=week_values.get(unit.pk),
            population=unit.population,
            signals=signal_counts.get(unit.pk, 0) if can_signals else None,
            href=f"{base}unit={quote(unit.code)}#curve",
        )
        uv.value = float(uv.signals or 0) if measure == "signals" else uv.incidence if measure == "incidence" else None
        if measure == "cases":
            uv.value = None if uv.cases is None else float(uv.cases)
        values.append(uv)
    integer = measure in ("signals", "cases")
    scale = svg.ColourScale.for_values((v.value for v in values), integer=integer)
    for uv in values:
        uv.css = scale.css(uv.value)
        uv.colour = scale.colour(uv.value)
    title = f"{MEASURE_LABELS[measure]}, {disease.name}, {area.name}, {week_label(week)}"
    shapes = shapes_of(units)
    frames: list[str] = []
    drawn = [u for u in units if u.pk in shapes]
    by_code = {v.code: v for v in values}
    selected = link.get("unit") or ""
    if drawn:
        by_pk = {u.pk: u for u in drawn}
        for n, (pks, projection) in enumerate(_layout(drawn, shapes)):
            frame = svg.Frame(projection.width, projection.height)
            for u in (by_pk[pk] for pk in pks):
                uv = by_code[u.code]
                uv.has_shape = True
                frame.areas.append(
                    svg.MapArea(
                        code=u.code,
                        name=u.name,
                        d=_path(u, shapes[u.pk], projection),
                        css=uv.css,
                        href=uv.href,
                        tooltip=uv.describe(),
                        selected=u.code == selected,
                    )
                )
            frames.append(svg.map_svg(frame, scale, title=title, svg_id=f"map{n}"))
    values.sort(key=lambda v: (-(v.value if v.value is not None else -1), v.name))
    unit_label = "reporting area" if len(values) == 1 else "reporting areas"
    return MapView(measure, title, scale.legend(), frames, values, unit_label)


def _bbox_area(b: svg.BBox) -> float:
    return (b.xmax - b.xmin) * (b.ymax - b.ymin)


_LAYOUTS = _LRU(2_000)


def _layout(units: Sequence[OrgUnit], shapes: dict[int, Shape]) -> list[tuple[list[int], svg.Projection]]:
    """The map frames of a set of units: clusters of shapes (see :func:`svg.clusters`), each with its projection
    and its units in drawing order (large shapes first, so that enclaves, towns inside their county, stay visible
    on top). Cached per set of units and their versions."""
    key = tuple((u.pk, _stamp(u)) for u in units)
    cached = _LAYOUTS.get(key)
    if cached is not None:
        return list(cached)
    frames = []
    for group in svg.clusters([(shapes[u.pk].kind, shapes[u.pk].bbox) for u in units]):
        members = [units[i] for i in group]
        bbox = shapes[members[0].pk].bbox
        for u in members[1:]:
            bbox = bbox.union(shapes[u.pk].bbox)
        projection = svg.Projection.fit(bbox, shapes[members[0].pk].kind)
        members.sort(key=lambda u: -_bbox_area(shapes[u.pk].bbox))
        frames.append(([u.pk for u in members], projection))
    _LAYOUTS.put(key, frames)
    return frames


# --- the epidemic curve ---------------------------------------------------------------------------------------------


@dataclass
class CurveView:
    unit_code: str
    unit_name: str
    disease_name: str
    points: list[svg.CurvePoint]
    svg: str
    rule: str  # the alert rule whose expected/threshold lines are drawn ("" when none)
    show_detection: bool
    total: int


def _curve(
    actor: Actor,
    disease: Disease,
    unit: OrgUnit,
    week: dt.date,
    weeks: int,
    data: _Data,
    *,
    width: int = 720,
    height: int = 240,
) -> CurveView:
    first = week - (weeks - 1) * WEEK
    periods = [first + i * WEEK for i in range(weeks)]
    sums = data.sums
    q = _signal_q(actor)
    show = q is not None and any(unit.is_within(p) for p in actor.paths_for(SIGNAL_READ))
    detections: dict[dt.date, tuple[float | None, float | None, bool]] = {}
    sub_alarms: dict[dt.date, int] = {}
    rule_name = ""
    if show:
        own = Detection.objects.filter(disease=disease, orgunit=unit, period_start__gte=first, period_start__lte=week)
        by_rule = list(own.values("rule_id").annotate(n=Count("id")).order_by("-n", "rule_id"))
        if by_rule:
            kinds = dict(AlertRule.objects.filter(pk__in=[r["rule_id"] for r in by_rule]).values_list("pk", "kind"))
            best = sorted(by_rule, key=lambda r: (kinds.get(r["rule_id"]) != "detector", -r["n"], r["rule_id"]))[0]
            rule_name = AlertRule.objects.filter(pk=best["rule_id"]).values_list("name", flat=True).first() or ""
            for period, expected, upper, alarm in own.filter(rule_id=best["rule_id"]).values_list(
                "period_start", "expected", "upperbound", "alarm"
            ):
                detections[period] = (expected, upper, alarm)
        below = (
            Detection.objects.filter(
                disease=disease,
                orgunit_id__in=_visible_units(actor, unit),
                alarm=True,
                period_start__gte=first,
                period_start__lte=week,
            )
            .exclude(orgunit=unit)
            .values("period_start")
            .annotate(n=Count("orgunit_id", distinct=True))
        )
        sub_alarms = {r["period_start"]: r["n"] for r in below}
    points = []
    for p in periods:
        expected, upper, alarm = detections.get(p, (None, None, False))
        points.append(
            svg.CurvePoint(
                period_start=p,
                observed=float(sums[p]) if p in sums else None,
                expected=_finite(expected),
                upperbound=_finite(upper),
                alarm=bool(alarm),
                sub_alarms=sub_alarms.get(p, 0),
            )
        )
    title = f"{disease.name}, {unit.name}: cases per ISO week, {week_label(first)} to {week_label(week)}"
    drawing = svg.curve_svg(points, title=title, highlight=week, show_detection=show, width=width, height=height)
    return CurveView(unit.code, unit.name, disease.name, points, drawing, rule_name, show, sum(sums.values()))


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


# --- completeness ---------------------------------------------------------------------------------------------------


@dataclass
class CompletenessRow:
    code: str
    name: str
    expected: int  # reporting units
    reported: int
    on_time: int
    recent: float | None  # mean completeness over the last 13 weeks

    @property
    def completeness(self) -> float | None:
        return None if not self.expected else 100 * self.reported / self.expected

    @property
    def timeliness(self) -> float | None:
        return None if not self.expected else 100 * self.on_time / self.expected


@dataclass
class CompletenessView:
    week: dt.date
    rows: list[CompletenessRow]
    total: CompletenessRow | None

    #: Longer tables show the least complete areas first, this many of them.
    SHOWN = 10

    @property
    def shown(self) -> list[CompletenessRow]:
        if len(self.rows) <= self.SHOWN + 2:
            return self.rows
        ranked = sorted(self.rows, key=lambda r: (r.completeness or 0.0, r.timeliness or 0.0, r.name))
        return ranked[: self.SHOWN]

    @property
    def hidden(self) -> int:
        return len(self.rows) - len(self.shown)


def _completeness(actor: Actor, area: OrgUnit, week: dt.date) -> CompletenessView:
    """Completeness and timeliness for ``week`` below ``area``, by the area's children, from the reporting service
    (IDSR definitions: the reporting units expected, the reports received and those received by the deadline)."""
    table = reporting.completeness(actor, week - 12 * WEEK, week, root=area.code, depth=1)

    def row(r: Any) -> CompletenessRow:
        last = r.weeks[-1]
        recent = 100 * r.total.received / r.total.expected if r.total.expected else None
        return CompletenessRow(r.code, r.name, last.expected, last.received, last.on_time, recent)

    root = next((r for r in table.rows if r.code == area.code), None)
    children = [row(r) for r in table.rows if r.code != area.code and r.total.expected]
    if not children and root is not None and root.total.expected:
        children = [row(root)]
    total = row(root) if root is not None and root.total.expected else None
    if total is not None:
        total.name = f"All of {area.name}"
    return CompletenessView(week, children, total)


# --- signals --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalRow:
    id: int
    title: str
    disease: str
    orgunit: str
    orgunit_code: str
    first_period: dt.date
    last_period: dt.date
    status: str
    status_label: str
    risk: str
    source: str
    max_observed: float | None
    href: str

    @property
    def weeks_label(self) -> str:
        a, b = week_label(self.first_period), week_label(self.last_period)
        return a if a == b else f"{a} – {b}"


def _signal_rows(qs: Any) -> list[SignalRow]:
    statuses = dict(SignalStatus.choices)
    rows = []
    for s in qs.select_related("disease", "orgunit").only(
        "id",
        "title",
        "first_period",
        "last_period",
        "status",
        "risk",
        "source",
        "max_observed",
        "disease__name",
        "orgunit__name",
        "orgunit__code",
    ):
        rows.append(
            SignalRow(
                id=s.pk,
                title=s.title,
                disease=s.disease.name if s.disease else "",
                orgunit=s.orgunit.name,
                orgunit_code=s.orgunit.code,
                first_period=s.first_period,
                last_period=s.last_period,
                status=s.status,
                status_label=statuses.get(s.status, s.status),
                risk=s.risk,
                source=s.source,
                max_observed=s.max_observed,
                href=signal_href(s.pk),
            )
        )
    return rows


@dataclass(frozen=True)
class SignalQuery:
    disease: str = ""
    status: str = "open"  # open | all | one SignalStatus value
    area: str = ""
    week_from: str = ""
    week_to: str = ""
    source: str = ""
    q: str = ""
    page: int = 1


STATUS_FILTERS = [("open", "Open (not discarded or closed)"), ("all", "All"), *SignalStatus.choices]


@dataclass
class SignalPage:
    query: SignalQuery
    rows: list[SignalRow]
    total: int
    page: int
    pages: int
    area: OrgUnit
    diseases: list[tuple[str, str]]
    areas: list[OrgUnit]
    statuses: list[tuple[str, str]]
    sources: list[tuple[str, str]]
    prev_href: str = ""
    next_href: str = ""


def signal_list(actor: Actor, query: SignalQuery) -> SignalPage:
    """A page of signals within the actor's jurisdiction (most recent alarm first), filtered."""
    _require(actor, SIGNAL_READ)
    area = _resolve_signal_area(actor, query.area)
    # Here a join on the org units' paths: the database walks the (last alarm, id) index in the list's order and
    # stops at the page (an ``IN (units)`` filter would make it collect every signal of the area first).
    qs = Signal.objects.filter(_signal_q(actor), orgunit__path__startswith=area.path)
    if query.disease:
        if not Disease.objects.filter(code=query.disease).exists():
            raise Invalid(f"disease: unknown disease {query.disease!r}")
        qs = qs.filter(disease__code=query.disease)
    if query.status == "open":
        qs = qs.exclude(status__in=CLOSED_STATUSES)
    elif query.status and query.status != "all":
        if query.status not in SignalStatus.values:
            raise Invalid(f"status: expected open, all or one of {', '.join(SignalStatus.values)}")
        qs = qs.filter(status=query.status)
    if query.source:
        if query.source not in SignalSource.values:
            raise Invalid(f"source: expected one of {', '.join(SignalSource.values)}")
        qs = qs.filter(source=query.source)
    week_from = parse_week(query.week_from, "week_from")
    week_to = parse_week(query.week_to, "week_to")
    if week_from and week_to and week_from > week_to:
        raise Invalid("week_from: after week_to")
    if week_from:
        qs = qs.filter(last_period__gte=week_from)
    if week_to:
        qs = qs.filter(first_period__lte=week_to + dt.timedelta(days=6))
    if query.q.strip():
        qs = qs.filter(title__icontains=query.q.strip()[:100])
    if query.page < 1:
        raise Invalid("page: must be 1 or more")
    qs = qs.order_by("-last_period", "-id")
    paginator = Paginator(qs, SIGNAL_PAGE_SIZE)
    total = paginator.count
    pages = max(1, paginator.num_pages)
    page = min(query.page, pages)
    rows = _signal_rows(qs[(page - 1) * SIGNAL_PAGE_SIZE : page * SIGNAL_PAGE_SIZE])
    params = {
        "disease": query.disease,
        "status": query.status,
        "area": query.area,
        "week_from": query.week_from,
        "week_to": query.week_to,
        "source": query.source,
        "q": query.q,
    }
    result = SignalPage(
        query=query,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        area=area,
        diseases=list(Disease.objects.filter(active=True).order_by("name").values_list("code", "name")),
        areas=_area_options(actor, area, SIGNAL_READ),
        statuses=STATUS_FILTERS,
        sources=list(SignalSource.choices),
        prev_href=_url("dashboard:signals", {**params, "page": page - 1}) if page > 1 else "",
        next_href=_url("dashboard:signals", {**params, "page": page + 1}) if page < pages else "",
    )
    _record(
        actor,
        "dashboard.signal.list",
        SIGNAL_READ,
        {**{k: v for k, v in params.items() if v}, "page": page, "total": total, "returned": len(rows)},
    )
    return result


def _resolve_signal_area(actor: Actor, code: str) -> OrgUnit:
    if code:
        unit: OrgUnit | None = OrgUnit.objects.defer("geometry").filter(code=code).first()
        if unit is None:
            raise NotFound(f"area: org unit {code!r} not found")
        require_in_jurisdiction(actor, SIGNAL_READ, unit)
        return unit
    roots = _jurisdiction_roots(actor, SIGNAL_READ)
    if not roots:
        raise NotFound("area: there is no org unit in your jurisdiction")
    return roots[0]


def _area_options(actor: Actor, area: OrgUnit, permission: str) -> list[OrgUnit]:
    """Choices for the area filter: the jurisdiction's top units and their children, the area and its ancestors
    within the jurisdiction."""
    roots = _jurisdiction_roots(actor, permission)
    options: dict[int, OrgUnit] = {u.pk: u for u in roots}
    for child in OrgUnit.objects.filter(parent__in=roots).defer("geometry"):
        options[child.pk] = child
    ancestor_ids = [int(p) for p in area.path.strip("/").split("/") if p]
    for u in OrgUnit.objects.filter(pk__in=ancestor_ids).defer("geometry"):
        if any(u.is_within(p) for p in actor.paths_for(permission)):
            options[u.pk] = u
    for child in OrgUnit.objects.filter(parent=area).defer("geometry"):
        options[child.pk] = child
    return sorted(options.values(), key=lambda u: u.path)


# --- the dashboard --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    disease: str = ""
    week: str = ""
    area: str = ""
    unit: str = ""
    measure: str = ""
    weeks: int = DEFAULT_WEEKS


@dataclass
class Overview:
    area: OrgUnit
    unit: OrgUnit
    diseases: list[DiseaseOption]
    disease: Disease | None
    week: dt.date | None
    measure: str
    measures: list[tuple[str, str]]
    areas: list[OrgUnit]
    breadcrumbs: list[OrgUnit]
    can_signals: bool
    map: MapView | None = None
    curve: CurveView | None = None
    signals: list[SignalRow] = field(default_factory=list)
    signals_total: int = 0
    signals_href: str = ""
    completeness: CompletenessView | None = None
    prev_week_href: str = ""
    next_week_href: str = ""
    bulletin_href: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def week_label(self) -> str:
        return week_label(self.week) if self.week else ""

    @property
    def week_dates(self) -> str:
        return week_range_label(self.week) if self.week else ""


def _measure(actor: Actor, requested: str, can_signals: bool) -> str:
    if requested and requested not in MEASURES:
        raise Invalid(f"measure: expected one of {', '.join(MEASURES)}")
    if requested == "signals" and not can_signals:
        requested = ""  # a partner asking for signals gets the default of their role
    return requested or ("signals" if can_signals else "incidence")


def _weeks(value: int) -> int:
    if not MIN_WEEKS <= value <= MAX_WEEKS:
        raise Invalid(f"weeks: between {MIN_WEEKS} and {MAX_WEEKS}")
    return value


def _disease(code: str, options: Sequence[DiseaseOption], area: OrgUnit) -> tuple[Disease | None, DiseaseOption | None]:
    if code:
        disease = Disease.objects.filter(code=code).first()
        if disease is None:
            raise Invalid(f"disease: unknown disease {code!r}")
        option = next((o for o in options if o.code == code), None)
        return disease, option
    option = _default_disease(area, options)
    if option is None:
        return None, None
    return Disease.objects.get(code=option.code), option


def overview(actor: Actor, query: Query) -> Overview:
    """Everything on the dashboard page: map, curve, latest signals and completeness for a disease and week."""
    _require(actor, AGGREGATE_READ)
    weeks = _weeks(query.weeks)
    area = _resolve_area(actor, query.area)
    unit = _resolve_unit(actor, query.unit, area)
    can_signals = _signal_q(actor) is not None and any(area.is_within(p) for p in actor.paths_for(SIGNAL_READ))
    measure = _measure(actor, query.measure, can_signals)
    options = disease_options(area)
    disease, option = _disease(query.disease, options, area)
    week = parse_week(query.week) or (option.latest if option else None)
    ancestors = [int(p) for p in area.path.strip("/").split("/") if p]
    crumbs = [
        u
        for u in OrgUnit.objects.filter(pk__in=ancestors).defer("geometry").order_by("level")
        if any(u.is_within(p) for p in actor.paths_for(AGGREGATE_READ))
    ]
    measures = [(m, MEASURE_LABELS[m]) for m in MEASURES if m != "signals" or can_signals]
    result = Overview(
        area=area,
        unit=unit,
        diseases=options,
        disease=disease,
        week=week,
        measure=measure,
        measures=measures,
        areas=_area_options(actor, area, AGGREGATE_READ),
        breadcrumbs=crumbs,
        can_signals=can_signals,
    )
    if disease is not None and week is not None:
        link = {
            "disease": disease.code,
            "week": week_label(week),
            "area": area.code,
            "measure": measure,
            "unit": unit.code if unit != area else "",
        }
        if weeks != DEFAULT_WEEKS:
            link["weeks"] = str(weeks)
        result.params = link
        data = _data(disease, area, unit, week, weeks)
        result.map = _map(actor, disease, area, week, measure, data, link)
        result.curve = _curve(actor, disease, unit, week, weeks, data)
        result.completeness = _completeness(actor, area, week)
        result.prev_week_href = _url("dashboard:index", {**link, "week": week_label(week - WEEK)})
        result.next_week_href = _url("dashboard:index", {**link, "week": week_label(week + WEEK)})
        result.bulletin_href = _url("dashboard:bulletin", {"week": week_label(week), "area": area.code})
        if can_signals:
            # the signals open in the week (as on the map), for the curve's unit
            qs = _open_signals(actor, disease, unit, week).order_by("-last_period", "-id")
            rows = _signal_rows(qs[: OVERVIEW_SIGNALS + 1])
            result.signals = rows[:OVERVIEW_SIGNALS]
            result.signals_total = len(rows) if len(rows) <= OVERVIEW_SIGNALS else qs.count()
            result.signals_href = _url(
                "dashboard:signals",
                {"disease": disease.code, "area": unit.code, "status": "all", "week_to": week_label(week)},
            )
    _record(
        actor,
        "dashboard.overview.read",
        AGGREGATE_READ,
        {
            "disease": disease.code if disease else "",
            "week": week_label(week) if week else "",
            "area": area.code,
            "unit": unit.code,
            "measure": measure,
            "signals": len(result.signals),
        },
        object_id=area.code,
    )
    return result


# --- API-sized pieces -----------------------------------------------------------------------------------------------


def map_data(actor: Actor, query: Query) -> tuple[Disease, dt.date, OrgUnit, MapView]:
    """The map's values per unit (for the API)."""
    _require(actor, AGGREGATE_READ)
    area = _resolve_area(actor, query.area)
    can_signals = _signal_q(actor) is not None and any(area.is_within(p) for p in actor.paths_for(SIGNAL_READ))
    measure = _measure(actor, query.measure, can_signals)
    disease, week = _disease_and_week(query, area)
    data = _data(disease, area, area, week, DEFAULT_WEEKS, with_curve=False)
    view = _map(actor, disease, area, week, measure, data, {"disease": disease.code, "week": week_label(week)})
    _record(
        actor,
        "dashboard.map.read",
        AGGREGATE_READ,
        {"disease": disease.code, "week": week_label(week), "area": area.code, "measure": measure},
        object_id=area.code,
    )
    return disease, week, area, view


def curve_data(actor: Actor, query: Query) -> tuple[Disease, dt.date, CurveView]:
    """The epidemic curve of one disease in one unit (for the API)."""
    _require(actor, AGGREGATE_READ)
    weeks = _weeks(query.weeks)
    area = _resolve_area(actor, query.area)
    disease, week = _disease_and_week(query, area)
    view = _curve(actor, disease, area, week, weeks, _data(disease, area, area, week, weeks, with_map=False))
    _record(
        actor,
        "dashboard.curve.read",
        AGGREGATE_READ,
        {"disease": disease.code, "week": week_label(week), "area": area.code, "weeks": weeks},
        object_id=area.code,
    )
    return disease, week, view


def completeness_data(actor: Actor, query: Query) -> CompletenessView:
    """Completeness and timeliness of reporting below an area for a week (for the API)."""
    _require(actor, AGGREGATE_READ)
    area = _resolve_area(actor, query.area)
    week = parse_week(query.week)
    if week is None:
        latest = Submission.objects.filter(orgunit__path__startswith=area.path).order_by("-period_start").first()
        week = latest.period_start if latest else monday(timezone.localdate())
    view = _completeness(actor, area, week)
    _record(
        actor,
        "dashboard.completeness.read",
        AGGREGATE_READ,
        {"week": week_label(week), "area": area.code},
        object_id=area.code,
    )
    return view


def _disease_and_week(query: Query, area: OrgUnit) -> tuple[Disease, dt.date]:
    if not query.disease:
        raise Invalid("disease: required")
    disease = Disease.objects.filter(code=query.disease).first()
    if disease is None:
        raise Invalid(f"disease: unknown disease {query.disease!r}")
    week = parse_week(query.week)
    if week is None:
        latest = (
            _cases(area).filter(disease=disease).order_by("-period_start").values_list("period_start", flat=True)[:1]
        )
        if not latest:
            raise NotFound(f"week: no data for {disease.code!r} below {area.code!r}")
        week = latest[0]
    return disease, week


# --- the weekly bulletin --------------------------------------------------------------------------------------------


@dataclass
class RegionCases:
    code: str
    name: str
    week: int
    previous: int
    year_to_date: int


@dataclass
class BulletinDisease:
    code: str
    name: str
    week: int
    previous: int
    year_to_date: int
    regions: list[RegionCases]
    map: MapView
    curve: CurveView
    signals: list[SignalRow]

    @property
    def change(self) -> str:
        if self.previous == 0:
            return "new" if self.week else "–"
        pct = 100 * (self.week - self.previous) / self.previous
        return f"{pct:+.0f}%"


@dataclass
class Bulletin:
    area: OrgUnit
    week: dt.date
    diseases: list[BulletinDisease]
    completeness: CompletenessView
    can_signals: bool
    signals_new: int
    signals_open: int
    generated_at: dt.datetime
    areas: list[OrgUnit]
    prev_href: str
    next_href: str

    @property
    def week_label(self) -> str:
        return week_label(self.week)

    @property
    def week_dates(self) -> str:
        return week_range_label(self.week)


def bulletin(actor: Actor, *, week: str = "", area: str = "") -> Bulletin:
    """The weekly epidemiological bulletin of an area: cases by disease and region, signals, completeness, a map
    and an epidemic curve per disease. Without ``week``: the latest week with any report in the area."""
    _require(actor, AGGREGATE_READ)
    unit = _resolve_area(actor, area)
    day = parse_week(week)
    if day is None:
        latest = _cases(unit).order_by("-period_start").values_list("period_start", flat=True)[:1]
        day = monday(latest[0] if latest else timezone.localdate())
    can_signals = _signal_q(actor) is not None and any(unit.is_within(p) for p in actor.paths_for(SIGNAL_READ))
    year_start = dt.date.fromisocalendar(day.isocalendar()[0], 1, 1)
    recent = _cases(unit).filter(period_start__gte=day - 3 * WEEK, period_start__lte=day)
    disease_ids = list(recent.values_list("disease_id", flat=True).distinct())
    children = list(OrgUnit.objects.filter(parent=unit).only("pk", "code", "name", "path").order_by("name"))
    diseases = []
    signals_new = signals_open = 0
    for disease in Disease.objects.filter(pk__in=disease_ids).order_by("name"):
        window = _window(disease, unit, min(year_start, day - 51 * WEEK), day)
        per_region: dict[str, list[int]] = {c.code: [0, 0, 0] for c in children}
        totals = [0, 0, 0]
        for uid, period, value in window.rows:
            u = window.units[uid]
            slots = []
            if period == day:
                slots.append(0)
            if period == day - WEEK:
                slots.append(1)
            if year_start <= period <= day:
                slots.append(2)
            region = next((c.code for c in children if u.path.startswith(c.path)), None)
            for s in slots:
                totals[s] += value
                if region is not None:
                    per_region[region][s] += value
        regions = [RegionCases(c.code, c.name, *per_region[c.code]) for c in children if any(per_region[c.code])]
        regions.sort(key=lambda r: (-r.week, -r.year_to_date, r.name))
        has_population = any(u.population for u in window.units.values())
        measure = "incidence" if has_population else "cases"
        link = {"disease": disease.code, "week": week_label(day), "area": unit.code}
        data = window.data(unit, day)
        map_view = _map(actor, disease, unit, day, measure, data, link)
        curve = _curve(actor, disease, unit, day, DEFAULT_WEEKS, data, width=720, height=200)
        rows: list[SignalRow] = []
        if can_signals:
            open_qs = _open_signals(actor, disease, unit, day)
            signals_open += open_qs.count()
            new_qs = open_qs.filter(first_period__gte=day)
            signals_new += new_qs.count()
            rows = _signal_rows(open_qs.order_by("-last_period", "-id")[:15])
        diseases.append(
            BulletinDisease(disease.code, disease.name, totals[0], totals[1], totals[2], regions, map_view, curve, rows)
        )
    result = Bulletin(
        area=unit,
        week=day,
        diseases=diseases,
        completeness=_completeness(actor, unit, day),
        can_signals=can_signals,
        signals_new=signals_new,
        signals_open=signals_open,
        generated_at=timezone.now(),
        areas=_area_options(actor, unit, AGGREGATE_READ),
        prev_href=_url("dashboard:bulletin", {"week": week_label(day - WEEK), "area": unit.code}),
        next_href=_url("dashboard:bulletin", {"week": week_label(day + WEEK), "area": unit.code}),
    )
    _record(
        actor,
        "dashboard.bulletin.read",
        AGGREGATE_READ,
        {"week": week_label(day), "area": unit.code, "diseases": [d.code for d in diseases]},
        object_id=unit.code,
    )
    return result


__all__ = [
    "AGGREGATE_READ",
    "SIGNAL_READ",
    "Bulletin",
    "CompletenessView",
    "CurveView",
    "MapView",
    "Overview",
    "Query",
    "SignalPage",
    "SignalQuery",
    "bulletin",
    "completeness_data",
    "curve_data",
    "map_data",
    "overview",
    "parse_week",
    "signal_list",
]
