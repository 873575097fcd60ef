"""Pure builders of the dashboard's inline SVG: map projection, polygon simplification, colour scales, the
choropleth map and the epidemic curve.

Nothing here touches the database or Django's request machinery; :mod:`dhnet.dashboard.services` feeds these
functions plain values and puts the resulting markup into the pages. Every string that reaches the markup goes
through :func:`esc`.

Geometry
    GeoJSON ``Polygon`` / ``MultiPolygon`` (and ``GeometryCollection`` of them) in whatever coordinates the source
    used. :func:`coordinate_kind` tells WGS84 longitude/latitude from planar coordinates by their range: all
    ``x`` in [-180, 180] and ``y`` in [-90, 90] is *geographic* (drawn equirectangular, ``x = lon·cos(lat₀)``
    with ``lat₀`` the middle latitude of the map, so that shapes keep their aspect at that latitude); anything
    else is *planar* (drawn as it is: identity, equal scale on both axes). ``y`` grows northwards in both, so the
    projection flips it for the screen.

Simplification
    Douglas–Peucker (Douglas & Peucker 1973, *Cartographica* 10(2):112–122) on the projected ring, with a
    tolerance in viewBox units (the map is drawn 1000 units wide, so 1 unit ≈ 0.6 px on a phone): detail finer
    than a pixel is dropped, and rings that collapse below a few units disappear.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any, Literal

Point = tuple[float, float]
Ring = list[Point]
Polygon = list[Ring]  # outer ring first, then holes
Kind = Literal["geographic", "planar"]

#: Width of the map's viewBox; heights follow the shapes' aspect (capped by ``max_height``).
MAP_WIDTH = 1000
#: Douglas–Peucker tolerance in viewBox units.
TOLERANCE = 1.0

#: Sequential colours (ColorBrewer OrRd, 6 classes): zero, then five classes of increasing value.
ZERO_COLOUR = "#fef0d9"
CLASS_COLOURS = ("#fdd49e", "#fdbb84", "#fc8d59", "#e34a33", "#b30000")
NO_DATA_COLOUR = "#d5dbe0"


def esc(value: Any) -> str:
    """Escape text for SVG/HTML element content and attribute values."""
    return escape(str(value), quote=True)


# --- geometry ---------------------------------------------------------------------------------------------------


def polygons_of(geometry: Any) -> list[Polygon]:
    """The polygons of a GeoJSON geometry (points and lines are ignored; malformed parts are skipped)."""
    if not isinstance(geometry, dict):
        return []
    kind = geometry.get("type")
    if kind == "GeometryCollection":
        return [p for part in geometry.get("geometries") or [] for p in polygons_of(part)]
    coords = geometry.get("coordinates")
    if kind == "Polygon":
        raw = [coords]
    elif kind == "MultiPolygon":
        raw = coords if isinstance(coords, list) else []
    else:
        return []
    polygons: list[Polygon] = []
    for poly in raw:
        if not isinstance(poly, list):
            continue
        rings: Polygon = []
        for ring in poly:
            points = _ring(ring)
            if len(points) >= 3:
                rings.append(points)
        if rings:
            polygons.append(rings)
    return polygons


def _ring(ring: Any) -> Ring:
    points: Ring = []
    if not isinstance(ring, list):
        return points
    for pt in ring:
        if (
            isinstance(pt, list | tuple)
            and len(pt) >= 2
            and isinstance(pt[0], int | float)
            and isinstance(pt[1], int | float)
            and math.isfinite(pt[0])
            and math.isfinite(pt[1])
        ):
            points.append((float(pt[0]), float(pt[1])))
    return points


@dataclass(frozen=True)
class BBox:
    xmin: float
    ymin: float
    xmax: float
    ymax: float

    @classmethod
    def of(cls, polygons: Iterable[Polygon]) -> BBox | None:
        xs: list[float] = []
        ys: list[float] = []
        for poly in polygons:
            for x, y in poly[0]:  # the outer ring bounds the holes
                xs.append(x)
                ys.append(y)
        if not xs:
            return None
        return cls(min(xs), min(ys), max(xs), max(ys))

    def union(self, other: BBox) -> BBox:
        return BBox(
            min(self.xmin, other.xmin),
            min(self.ymin, other.ymin),
            max(self.xmax, other.xmax),
            max(self.ymax, other.ymax),
        )

    def near(self, other: BBox, margin: float) -> bool:
        """Whether the boxes overlap once each is grown by ``margin`` times its larger side."""
        ga = margin * max(self.xmax - self.xmin, self.ymax - self.ymin)
        gb = margin * max(other.xmax - other.xmin, other.ymax - other.ymin)
        return not (
            self.xmax + ga < other.xmin - gb
            or other.xmax + gb < self.xmin - ga
            or self.ymax + ga < other.ymin - gb
            or other.ymax + gb < self.ymin - ga
        )


def coordinate_kind(bbox: BBox) -> Kind:
    """``geographic`` when every coordinate fits WGS84 longitude/latitude, else ``planar``."""
    if max(abs(bbox.xmin), abs(bbox.xmax)) <= 180.0 and max(abs(bbox.ymin), abs(bbox.ymax)) <= 90.0:
        return "geographic"
    return "planar"


@dataclass(frozen=True)
class Projection:
    """Source coordinates -> viewBox coordinates (``y`` down), fitting ``bbox`` into ``width`` with a margin."""

    kind: Kind
    x0: float  # projected left edge
    y1: float  # projected top edge (largest y)
    scale: float
    aspect: float  # cos(lat0) for geographic coordinates, 1 for planar ones
    width: int
    height: int
    pad: float

    @classmethod
    def fit(
        cls, bbox: BBox, kind: Kind, *, width: int = MAP_WIDTH, max_height: int = 1100, pad: float = 8
    ) -> Projection:
        aspect = math.cos(math.radians((bbox.ymin + bbox.ymax) / 2)) if kind == "geographic" else 1.0
        w = max((bbox.xmax - bbox.xmin) * aspect, 1e-12)
        h = max(bbox.ymax - bbox.ymin, 1e-12)
        scale = (width - 2 * pad) / w
        if h * scale > max_height - 2 * pad:
            scale = (max_height - 2 * pad) / h
        height = math.ceil(h * scale + 2 * pad)
        x_extra = (width - 2 * pad - w * scale) / 2  # centre a tall shape horizontally
        return cls(
            kind=kind,
            x0=bbox.xmin * aspect - (pad + x_extra) / scale,
            y1=bbox.ymax + pad / scale,
            scale=scale,
            aspect=aspect,
            width=width,
            height=height,
            pad=pad,
        )

    @property
    def key(self) -> str:
        """Identifies the transformation (for caching projected paths)."""
        return f"{self.kind}:{self.x0:.9g}:{self.y1:.9g}:{self.scale:.9g}:{self.aspect:.9g}"

    def project(self, x: float, y: float) -> Point:
        return ((x * self.aspect - self.x0) * self.scale, (self.y1 - y) * self.scale)

    def project_ring(self, ring: Sequence[Point]) -> Ring:
        a, x0, y1, s = self.aspect, self.x0, self.y1, self.scale
        return [((x * a - x0) * s, (y1 - y) * s) for x, y in ring]


# --- simplification ---------------------------------------------------------------------------------------------


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    """Distance from ``p`` to the segment ``a``-``b``."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    if dx == 0 and dy == 0:
        return math.hypot(p[0] - a[0], p[1] - a[1])
    t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)
    t = 0.0 if t < 0 else 1.0 if t > 1 else t
    return math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy))


def douglas_peucker(points: Sequence[Point], tolerance: float) -> Ring:
    """Douglas–Peucker simplification of an open polyline; keeps both end points (iterative, no recursion)."""
    n = len(points)
    if n <= 2 or tolerance <= 0:
        return list(points)
    keep = [False] * n
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        first, last = stack.pop()
        a, b = points[first], points[last]
        worst, index = -1.0, -1
        for i in range(first + 1, last):
            d = _segment_distance(points[i], a, b)
            if d > worst:
                worst, index = d, i
        if worst > tolerance:
            keep[index] = True
            stack.append((first, index))
            stack.append((index, last))
    return [p for p, k in zip(points, keep, strict=True) if k]


def simplify_ring(ring: Sequence[Point], tolerance: float) -> Ring:
    """Simplify a closed ring; an empty list when it collapses (fewer than 3 distinct corners or no area)."""
    pts = list(ring)
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts = pts[:-1]
    if len(pts) < 3:
        return []
    # Split the ring at the point farthest from its first point, so that both halves are open polylines whose
    # end points are certainly kept.
    far = max(range(len(pts)), key=lambda i: (pts[i][0] - pts[0][0]) ** 2 + (pts[i][1] - pts[0][1]) ** 2)
    first_half = douglas_peucker([*pts[: far + 1]], tolerance)
    second_half = douglas_peucker([*pts[far:], pts[0]], tolerance)
    out = first_half[:-1] + second_half[:-1]
    if len(out) < 3 or abs(ring_area(out)) < tolerance * tolerance:
        return []
    return out


def ring_area(ring: Sequence[Point]) -> float:
    """Signed area (shoelace formula)."""
    total = 0.0
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i]
        x2, y2 = ring[(i + 1) % n]
        total += x1 * y2 - x2 * y1
    return total / 2


def ring_path(ring: Sequence[Point]) -> str:
    """A compact SVG path of a closed ring in integer viewBox units: absolute move, relative lines, close.

    Consecutive points that round to the same integer position are merged.
    """
    coords: list[tuple[int, int]] = []
    for x, y in ring:
        q = (round(x), round(y))
        if not coords or coords[-1] != q:
            coords.append(q)
    if len(coords) > 1 and coords[0] == coords[-1]:
        coords.pop()
    if len(coords) < 3:
        return ""
    parts = [f"M{coords[0][0]} {coords[0][1]}l"]
    px, py = coords[0]
    rel: list[str] = []
    for x, y in coords[1:]:
        rel.append(_pair(x - px, y - py))
        px, py = x, y
    parts.append("".join(rel).lstrip(" "))
    parts.append("z")
    return "".join(parts)


def _pair(dx: int, dy: int) -> str:
    # SVG path grammar: a minus sign separates numbers by itself.
    sx = f" {dx}" if dx >= 0 else f"{dx}"
    sy = f" {dy}" if dy >= 0 else f"{dy}"
    return sx + sy


def polygons_path(polygons: Sequence[Polygon], projection: Projection, tolerance: float = TOLERANCE) -> str:
    """The SVG path (``d``) of a unit's polygons, projected and simplified; rings drawn even-odd (holes)."""
    out = []
    for poly in polygons:
        for ring in poly:
            simple = simplify_ring(projection.project_ring(ring), tolerance)
            if simple:
                d = ring_path(simple)
                if d:
                    out.append(d)
    return "".join(out)


def label_point(polygons: Sequence[Polygon], projection: Projection) -> Point | None:
    """Where to put a label: the centroid of the largest outer ring, projected."""
    best: Ring | None = None
    best_area = 0.0
    for poly in polygons:
        ring = projection.project_ring(poly[0])
        area = abs(ring_area(ring))
        if area > best_area:
            best, best_area = ring, area
    if best is None or best_area == 0:
        return None
    a = ring_area(best)
    cx = cy = 0.0
    n = len(best)
    for i in range(n):
        x1, y1 = best[i]
        x2, y2 = best[(i + 1) % n]
        cross = x1 * y2 - x2 * y1
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    return (cx / (6 * a), cy / (6 * a))


def clusters(boxes: Sequence[tuple[Kind, BBox]], margin: float = 0.25) -> list[list[int]]:
    """Group shapes drawn on one map frame: same kind of coordinates, and near each other (union-find).

    Shapes of different coordinate systems (a planar state next to WGS84 districts, two planar datasets in
    unrelated units) cannot share a frame; each cluster becomes its own frame. Largest cluster first.
    """
    parent = list(range(len(boxes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if boxes[i][0] == boxes[j][0] and boxes[i][1].near(boxes[j][1], margin):
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[rj] = ri
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


# --- colour scales ------------------------------------------------------------------------------------------------


def nice_number(value: float, *, up: bool = True) -> float:
    """The nearest 1, 2, 2.5 or 5 x 10^k at or above (``up``) or at or below ``value`` (> 0)."""
    if value <= 0:
        return 0.0
    exp = math.floor(math.log10(value))
    base = 10.0**exp
    steps = (1.0, 2.0, 2.5, 5.0, 10.0)
    if up:
        for s in steps:
            if value <= s * base * (1 + 1e-9):
                return s * base
        return 10 * base
    for s in reversed(steps):
        if s * base <= value * (1 + 1e-9):
            return s * base
    return base


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for people: integers without decimals, others with ``digits`` decimals; ``–`` for none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def fmt_break(value: float) -> str:
    """A class bound: at most three significant decimals, no trailing zeros (``0.25``, ``2.5``, ``1,000``)."""
    if value >= 100 or float(value).is_integer():
        return f"{round(value):,}"
    return f"{value:.2f}".rstrip("0").rstrip(".") if value >= 1 else f"{value:.3g}"


@dataclass(frozen=True)
class LegendEntry:
    label: str
    colour: str
    css: str  # class name used on the map


@dataclass(frozen=True)
class ColourScale:
    """Zero gets its own class; positive values fall into classes bounded above by ``breaks`` (inclusive)."""

    breaks: tuple[float, ...]  # increasing upper bounds of the positive classes; the last class is open
    unit: str = ""
    integer: bool = False

    @classmethod
    def for_values(cls, values: Iterable[float | None], *, integer: bool = False, unit: str = "") -> ColourScale:
        """Breaks from the positive values: ``1, 2, 3–4, 5+`` style for small counts, else rounded quantiles."""
        positive = sorted(v for v in values if v is not None and math.isfinite(v) and v > 0)
        if not positive:
            return cls(breaks=(), unit=unit, integer=integer)
        top = positive[-1]
        if integer and top <= len(CLASS_COLOURS):
            return cls(breaks=tuple(float(b) for b in range(1, math.ceil(top))), unit=unit, integer=True)
        if integer and top <= 12:
            return cls(breaks=tuple(b for b in (1.0, 2.0, 4.0, 8.0) if b < top), unit=unit, integer=True)
        qs = [positive[min(len(positive) - 1, int(len(positive) * q))] for q in (0.2, 0.4, 0.6, 0.8)]
        breaks: list[float] = []
        for q in qs:
            b = nice_number(q, up=True)
            if integer:
                b = float(max(1, math.ceil(b)))
            if (not breaks or b > breaks[-1]) and b < top:
                breaks.append(b)
        return cls(breaks=tuple(breaks), unit=unit, integer=integer)

    def index(self, value: float | None) -> int | None:
        """0 for zero, 1.. for the positive classes, None for no data."""
        if value is None or not math.isfinite(value):
            return None
        if value <= 0:
            return 0
        for i, b in enumerate(self.breaks):
            if value <= b:
                return i + 1
        return len(self.breaks) + 1

    def colour(self, value: float | None) -> str:
        i = self.index(value)
        if i is None:
            return NO_DATA_COLOUR
        return ZERO_COLOUR if i == 0 else self._palette()[i - 1]

    def css(self, value: float | None) -> str:
        i = self.index(value)
        return "nd" if i is None else f"c{i}"

    def _palette(self) -> tuple[str, ...]:
        n = len(self.breaks) + 1
        if n == 1:
            return (CLASS_COLOURS[2],)
        # Spread n classes over the five colours, from the lightest to the darkest.
        return tuple(CLASS_COLOURS[round(i * (len(CLASS_COLOURS) - 1) / (n - 1))] for i in range(n))

    def legend(self) -> list[LegendEntry]:
        entries = [LegendEntry("0", ZERO_COLOUR, "c0")]
        lower = 0.0
        palette = self._palette()
        for i, upper in enumerate((*self.breaks, math.inf)):
            if upper == math.inf:
                if not self.breaks and not self.integer:
                    label = "> 0"
                elif self.integer:
                    label = f"{fmt(lower + 1)}+" if self.breaks else "1+"
                else:
                    label = f"> {fmt_break(lower)}"
            elif self.integer:
                lo = int(lower) + 1
                label = f"{lo}" if lo == int(upper) else f"{lo}–{int(upper)}"
            else:
                label = f"{fmt_break(lower)}–{fmt_break(upper)}" if lower > 0 else f"≤ {fmt_break(upper)}"
            entries.append(LegendEntry(label, palette[i], f"c{i + 1}"))
            lower = upper
        entries.append(LegendEntry("no data", NO_DATA_COLOUR, "nd"))
        return entries

    def style(self) -> str:
        """CSS rules giving each class its fill (scoped by the caller's map id)."""
        rules = [f".c0{{fill:{ZERO_COLOUR}}}", f".nd{{fill:{NO_DATA_COLOUR}}}"]
        rules += [f".c{i + 1}{{fill:{c}}}" for i, c in enumerate(self._palette())]
        return "".join(rules)


# --- the choropleth map -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapArea:
    """One drawn unit: its path (viewBox units), fill class, link and tooltip."""

    code: str
    name: str
    d: str
    css: str
    href: str
    tooltip: str
    selected: bool = False


@dataclass
class Frame:
    """One map frame (a cluster of shapes sharing one projection)."""

    width: int
    height: int
    areas: list[MapArea] = field(default_factory=list)


def map_svg(frame: Frame, scale: ColourScale, *, title: str, svg_id: str = "map") -> str:
    """The ``<svg>`` of one frame: each unit a link with a tooltip (``<title>``), its fill from the scale's class."""
    out = [
        f'<svg id="{esc(svg_id)}" class="map" viewBox="0 0 {frame.width} {frame.height}" role="img" '
        f'aria-label="{esc(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{esc(title)}</title>",
        _map_style(svg_id, scale),
    ]
    for area in sorted(frame.areas, key=lambda a: a.selected):  # the selected unit last: its outline on top
        cls = f"{area.css} sel" if area.selected else area.css
        out.append(
            f'<a href="{esc(area.href)}" data-code="{esc(area.code)}"><path class="{cls}" d="{area.d}">'
            f"<title>{esc(area.tooltip)}</title></path></a>"
        )
    out.append("</svg>")
    return "".join(out)


def _map_style(svg_id: str, scale: ColourScale) -> str:
    sid = f"#{esc(svg_id)}"
    rules = [
        f"{sid} path{{stroke:rgba(29,35,41,.35);stroke-width:.8;fill-rule:evenodd;stroke-linejoin:round}}",
        f"{sid} a:hover path,{sid} a:focus path{{stroke:#1d2329;stroke-width:2}}",
        f"{sid} path.sel{{stroke:#1d2329;stroke-width:3}}",
    ]
    rules += [f"{sid} {rule}}}" for rule in scale.style().split("}") if rule]
    return "<style>" + "".join(rules) + "</style>"


# --- the epidemic curve -----------------------------------------------------------------------------------------


def iso_week_label(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class CurvePoint:
    period_start: dt.date
    observed: float | None
    expected: float | None = None
    upperbound: float | None = None
    alarm: bool = False
    sub_alarms: int = 0  # units below the area in alarm that week


def _ticks(top: float, count: int = 4) -> list[float]:
    if top <= 0:
        return [0.0, 1.0]
    step = nice_number(top / count, up=True)
    ticks = []
    v = 0.0
    while v < top + step * 1e-9:
        ticks.append(v)
        v += step
    if ticks[-1] < top:
        ticks.append(ticks[-1] + step)
    return ticks


def curve_svg(
    points: Sequence[CurvePoint],
    *,
    title: str,
    highlight: dt.date | None = None,
    width: int = 720,
    height: int = 240,
    show_detection: bool = True,
) -> str:
    """Weekly bars of observed counts, the expected line, the threshold (upper bound) line and alarm markers.

    The x axis is labelled with ISO weeks (``2008-W05``), at most about eight labels; the y axis with rounded
    ticks. ``show_detection=False`` draws the counts only (for actors who may not see detection outputs).
    """
    left, right, top_pad, bottom = 50, 10, 20, 36
    plot_w = width - left - right
    plot_h = height - top_pad - bottom
    n = len(points)
    values = [p.observed or 0.0 for p in points]
    if show_detection:
        values += [p.upperbound for p in points if p.upperbound is not None and math.isfinite(p.upperbound)]
        values += [p.expected for p in points if p.expected is not None and math.isfinite(p.expected)]
    ticks = _ticks(max(values, default=0.0))
    ymax = ticks[-1]

    def y(v: float) -> float:
        return top_pad + plot_h - (v / ymax) * plot_h

    bw = plot_w / max(n, 1)
    out = [
        f'<svg class="curve" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{esc(title)}</title>",
        "<style>.curve text{font:13px system-ui,sans-serif;fill:#5b6670}.curve .g{stroke:#e6eaed}"
        ".curve .b{fill:#6b8fa3}.curve .b.h{fill:#0b5e7a}.curve .b.al{fill:#c0392b}"
        ".curve .e{fill:none;stroke:#1d6fa5;stroke-width:2;stroke-dasharray:5 3}"
        ".curve .u{fill:none;stroke:#b30000;stroke-width:1.5}.curve .m{fill:#b30000}.curve .s{fill:none;"
        "stroke:#b30000;stroke-width:1.2}</style>",
    ]
    for t in ticks:
        yy = y(t)
        out.append(f'<line class="g" x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        out.append(f'<text x="{left - 4}" y="{yy + 4:.1f}" text-anchor="end">{fmt(t, 1)}</text>')
    # bars
    for i, p in enumerate(points):
        if p.observed is None:
            continue
        x = left + i * bw
        h = (p.observed / ymax) * plot_h
        classes = ["b"]
        if show_detection and p.alarm:
            classes.append("al")
        elif highlight is not None and p.period_start == highlight:
            classes.append("h")
        tip = f"{iso_week_label(p.period_start)}: {fmt(p.observed)} cases"
        if show_detection:
            if p.expected is not None:
                tip += f"; expected {fmt(p.expected)}"
            if p.upperbound is not None:
                tip += f"; threshold {fmt(p.upperbound)}"
            if p.alarm:
                tip += "; ALARM"
            if p.sub_alarms:
                tip += f"; {p.sub_alarms} area(s) below in alarm"
        out.append(
            f'<rect class="{" ".join(classes)}" x="{x + bw * 0.08:.1f}" y="{y(p.observed):.1f}" '
            f'width="{max(bw * 0.84, 0.5):.1f}" height="{h:.1f}"><title>{esc(tip)}</title></rect>'
        )
    if show_detection:
        for attr, css in (("expected", "e"), ("upperbound", "u")):
            for run in _runs([(i, getattr(p, attr)) for i, p in enumerate(points)]):
                pts = " ".join(f"{left + (i + 0.5) * bw:.1f},{y(v):.1f}" for i, v in run)
                if len(run) == 1:
                    i, v = run[0]
                    pts = f"{left + i * bw:.1f},{y(v):.1f} {left + (i + 1) * bw:.1f},{y(v):.1f}"
                out.append(f'<polyline class="{css}" points="{pts}"/>')
        for i, p in enumerate(points):
            cx = left + (i + 0.5) * bw
            base = y(max(p.observed or 0.0, p.upperbound or 0.0)) - 4
            if p.alarm:
                out.append(
                    f'<path class="m" d="M{cx:.1f} {base:.1f}l-4 -7h8z"><title>{esc(iso_week_label(p.period_start))}'
                    ": alarm</title></path>"
                )
            elif p.sub_alarms:
                out.append(
                    f'<circle class="s" cx="{cx:.1f}" cy="{base - 3:.1f}" r="3"><title>'
                    f"{esc(iso_week_label(p.period_start))}: {p.sub_alarms} area(s) below in alarm</title></circle>"
                )
    # x axis labels: about eight, on whole steps of weeks
    out.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top_pad + plot_h}" y2="{top_pad + plot_h}" stroke="#5b6670"/>'
    )
    if n:
        step = max(1, math.ceil(n / 8))
        for i in range(0, n, step):
            cx = left + (i + 0.5) * bw
            out.append(
                f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{top_pad + plot_h}" y2="{top_pad + plot_h + 4}" '
                'stroke="#5b6670"/>'
            )
            out.append(
                f'<text x="{cx:.1f}" y="{top_pad + plot_h + 18}" text-anchor="middle">'
                f"{iso_week_label(points[i].period_start)}</text>"
            )
    out.append(f'<text x="{left}" y="11">cases per week</text>')
    out.append("</svg>")
    return "".join(out)


def _runs(values: Sequence[tuple[int, float | None]]) -> list[list[tuple[int, float]]]:
    """Consecutive stretches of defined, finite values."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, v in values:
        if v is None or not math.isfinite(v):
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, float(v)))
    if current:
        runs.append(current)
    return runs
