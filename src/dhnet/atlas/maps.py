"""The deployment map: published projects by country on a world map, and by org unit where coverage names this
node's org units.

World map
    Countries from the npm package ``world-atlas`` (Natural Earth 1:110m, ISC licence; ``countries-110m.json``,
    copied into ``dashboard/static/vendor/`` by ``bin/assets``). The file is TopoJSON: shared, quantised,
    delta-encoded arcs that :func:`decode_topology` turns back into GeoJSON-like polygons. Its country ids are
    ISO 3166-1 numeric codes, mapped to alpha-2 with ``data/iso3166_numeric.tab``. The outlines are projected
    once per process (equirectangular, :mod:`dhnet.dashboard.svg`, Douglas–Peucker at 1 viewBox unit) and cached;
    a request only colours them. Antarctica is left out. Each country is a link to its portfolio.

Org-unit map
    For one country (``country=`` a single code, or ``area=`` an org unit), when the matching projects' coverage
    names org units of this node's hierarchy: the units below the area (its children; the area itself when it has
    none), each coloured by the number of matching projects *covering* it: a coverage row at the unit, above it
    (a region covers its districts) or below it (a district covers part of its region), or a project marked
    national scale. A unit with children links to its own map (drill-down).
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import Count
from django.urls import reverse

from dhnet.atlas.models import Coverage
from dhnet.atlas.search import (
    PROJECT_APPROVE,
    ProjectFilters,
    country_names,
    filtered_projects,
    normalise,
)
from dhnet.audit import services as audit
from dhnet.dashboard import svg
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.platform.errors import Invalid, NotFound

DATA = Path(__file__).resolve().parent / "data"
NUMERIC_TABLE = DATA / "iso3166_numeric.tab"
WORLD_FILE = Path(svg.__file__).resolve().parent / "static" / "vendor" / "world-atlas.countries-110m.json"
#: Countries without an ISO numeric id in world-atlas, by the name it gives them.
NAMED_CODES = {"Kosovo": "XK"}
LEFT_OUT = frozenset({"AQ"})  # Antarctica: a third of the map's height for no deployment

Point = tuple[float, float]


# --- TopoJSON (pure) -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    id: str
    name: str
    polygons: list[svg.Polygon]


def decode_arcs(topology: dict[str, Any]) -> list[list[Point]]:
    """The arcs of a topology in its coordinates: with a ``transform`` (quantised topology) each arc's positions
    are deltas from the previous one, scaled and translated; without one they are absolute positions."""
    transform = topology.get("transform")
    raw_arcs = topology.get("arcs")
    if not isinstance(raw_arcs, list):
        raise Invalid("topology: 'arcs' is not a list")
    arcs: list[list[Point]] = []
    if transform:
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        for arc in raw_arcs:
            x = y = 0
            points = []
            for position in arc:
                x += position[0]
                y += position[1]
                points.append((x * sx + tx, y * sy + ty))
            arcs.append(points)
    else:
        arcs = [[(float(p[0]), float(p[1])) for p in arc] for arc in raw_arcs]
    return arcs


def ring_of(indexes: Sequence[int], arcs: list[list[Point]]) -> svg.Ring:
    """One ring from arc indexes: a negative index ``~i`` is arc ``i`` reversed; consecutive arcs share their
    joining point, which is kept once."""
    ring: svg.Ring = []
    for index in indexes:
        arc = arcs[~index][::-1] if index < 0 else arcs[index]
        ring.extend(arc[1:] if ring else arc)
    return ring


def polygons_of(geometry: dict[str, Any], arcs: list[list[Point]]) -> list[svg.Polygon]:
    kind = geometry.get("type")
    if kind == "Polygon":
        return [[ring_of(r, arcs) for r in geometry["arcs"]]]
    if kind == "MultiPolygon":
        return [[ring_of(r, arcs) for r in polygon] for polygon in geometry["arcs"]]
    if kind == "GeometryCollection":
        return [p for g in geometry.get("geometries", []) for p in polygons_of(g, arcs)]
    return []  # points and lines have no area


def decode_topology(topology: dict[str, Any], object_name: str) -> list[Feature]:
    """The features of one object of a topology, with their polygons (``Invalid`` naming a missing object)."""
    objects = topology.get("objects") or {}
    if object_name not in objects:
        raise Invalid(f"topology: no object {object_name!r} (has {', '.join(sorted(objects)) or 'none'})")
    arcs = decode_arcs(topology)
    obj = objects[object_name]
    geometries = obj.get("geometries", []) if obj.get("type") == "GeometryCollection" else [obj]
    out = []
    for g in geometries:
        props = g.get("properties") or {}
        out.append(Feature(str(g.get("id", "")), str(props.get("name", "")), polygons_of(g, arcs)))
    return out


def unwrap_antimeridian(polygons: list[svg.Polygon]) -> list[svg.Polygon]:
    """Polygons whose rings cross the antimeridian (Russia, Fiji: world-atlas keeps them whole, as spherical
    shapes) drawn without a line across the whole map: each such ring is made continuous (longitudes shifted by
    360° where consecutive points jump by more than 180°) and drawn twice, once on each side; the map's frame
    clips what lies beyond ±180°."""
    out: list[svg.Polygon] = []
    for polygon in polygons:
        crossing = any(abs(b[0] - a[0]) > 180 for ring in polygon for a, b in itertools.pairwise(ring))
        if not crossing:
            out.append(polygon)
            continue
        rings = []
        for ring in polygon:
            shift = 0.0
            fixed = [ring[0]]
            for a, b in itertools.pairwise(ring):
                if b[0] - a[0] > 180:
                    shift -= 360
                elif a[0] - b[0] > 180:
                    shift += 360
                fixed.append((b[0] + shift, b[1]))
            rings.append(fixed)
        out.append(rings)
        xs = [x for ring in rings for x, _ in ring]
        if max(xs) > 180:
            out.append([[(x - 360, y) for x, y in ring] for ring in rings])
        if min(xs) < -180:
            out.append([[(x + 360, y) for x, y in ring] for ring in rings])
    return out


@functools.cache
def numeric_to_alpha2() -> dict[str, str]:
    table = {}
    for line in NUMERIC_TABLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        numeric, alpha2 = line.split("\t")
        table[numeric.strip()] = alpha2.strip()
    return table


# --- the world's outlines (cached per process) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Outline:
    code: str  # alpha-2, "" when the map's shape has no ISO code (e.g. Somaliland)
    name: str
    d: str


@dataclass(frozen=True)
class World:
    width: int
    height: int
    outlines: tuple[Outline, ...]


@functools.cache
def world(path: Path = WORLD_FILE) -> World | None:
    """The projected, simplified outlines of the world's countries (None when the file is missing: run bin/assets)."""
    if not path.is_file():
        return None
    features = decode_topology(json.loads(path.read_text(encoding="utf-8")), "countries")
    codes = numeric_to_alpha2()
    named: list[tuple[str, Feature]] = []
    for feature in features:
        code = codes.get(feature.id.zfill(3), "") if feature.id else NAMED_CODES.get(feature.name, "")
        if code not in LEFT_OUT:
            named.append((code, feature))
    bbox: svg.BBox | None = None
    for _, feature in named:
        b = svg.BBox.of(feature.polygons)
        if b is not None:
            bbox = b if bbox is None else bbox.union(b)
    if bbox is None:
        return None
    projection = svg.Projection.fit(bbox, "planar", width=svg.MAP_WIDTH, max_height=700, pad=4)
    outlines = []
    for code, feature in named:
        d = svg.polygons_path(unwrap_antimeridian(feature.polygons), projection, tolerance=0.6)
        if d:
            outlines.append(Outline(code, feature.name, d))
    return World(projection.width, projection.height, tuple(outlines))


# --- the service --------------------------------------------------------------------------------------------------


@dataclass
class CountryCount:
    code: str
    name: str
    projects: int
    href: str
    on_map: bool = False


@dataclass
class UnitCount:
    code: str
    name: str
    projects: int
    href: str
    has_shape: bool = False
    has_children: bool = False


@dataclass
class UnitMap:
    country: str
    area_code: str
    area_name: str
    frames: list[str]
    legend: list[svg.LegendEntry]
    units: list[UnitCount]
    national: int  # projects at national scale (counted in every unit)
    up_href: str = ""  # the parent area's map


@dataclass
class MapData:
    total: int
    countries: list[CountryCount]
    markup: str
    legend: list[svg.LegendEntry]
    filters: ProjectFilters
    notice: str = ""
    units: UnitMap | None = None
    unpublished: bool = False
    with_coverage: list[str] = field(default_factory=list)  # countries whose coverage names org units


def portfolio_href(code: str) -> str:
    return str(reverse("atlas-explore:country", args=[code]))


def _map_href(filters: ProjectFilters, **extra: str) -> str:
    pairs = [(k, v) for k, v in filters.params() if k not in extra]
    pairs += [(k, v) for k, v in extra.items() if v]
    query = urlencode(pairs)
    return str(reverse("atlas-explore:map")) + (f"?{query}" if query else "")


def world_svg(
    counts: dict[str, int], *, title: str, svg_id: str = "worldmap"
) -> tuple[str, list[svg.LegendEntry], set[str]]:
    """The world map coloured by ``counts`` (country -> projects), its legend, and the codes drawn."""
    w = world()
    scale = svg.ColourScale.for_values(counts.values(), integer=True)
    if w is None:
        return "", scale.legend(), set()
    names = country_names()
    frame = svg.Frame(w.width, w.height)
    drawn = set()
    for outline in w.outlines:
        n = counts.get(outline.code, 0) if outline.code else None
        label = names.get(outline.code, outline.name) if outline.code else outline.name
        tip = f"{label}: {n} project{'s' if n != 1 else ''}" if n is not None else f"{label}: no ISO code"
        frame.areas.append(
            svg.MapArea(
                code=outline.code,
                name=label,
                d=outline.d,
                css=scale.css(n) if n is not None else "nd",
                href=portfolio_href(outline.code) if outline.code else "#",
                tooltip=tip,
            )
        )
        drawn.add(outline.code)
    return svg.map_svg(frame, scale, title=title, svg_id=svg_id), scale.legend(), drawn


def deployment_map(actor: Actor, filters: ProjectFilters, *, area: str = "") -> MapData:
    """Matching projects by country (world map) and, for one country, by org unit (see the module docstring)."""
    f = normalise(filters)
    qs = filtered_projects(actor, f)
    counts = {
        code: int(n) for code, n in qs.values("country").annotate(n=Count("id")).order_by().values_list("country", "n")
    }
    title = "Projects by country" + ("" if f.empty else " (filtered)")
    world_markup, legend, drawn = world_svg(counts, title=title)
    names = country_names()
    countries = sorted(
        (CountryCount(c, names.get(c, c), n, portfolio_href(c), c in drawn) for c, n in counts.items()),
        key=lambda c: (-c.projects, c.name),
    )
    covered = sorted(
        set(
            Coverage.objects.filter(project__in=qs, orgunit__isnull=False)
            .values_list("project__country", flat=True)
            .distinct()
        )
    )
    data = MapData(
        total=sum(counts.values()),
        countries=countries,
        markup=world_markup,
        legend=legend,
        filters=f,
        notice="" if world_markup else "The world map is not installed on this server (bin/assets copies it).",
        with_coverage=covered,
        unpublished=bool(set(f.status) - {"published"}),
    )
    country = f.countries[0] if len(f.countries) == 1 else ""
    if area or country:
        data.units = unit_map(qs, f, country=country, area=area)
    if data.unpublished:
        with transaction.atomic():
            audit.record(
                actor,
                "atlas.project.map",
                object_type="atlas.project",
                detail={"filters": f.params(), "total": data.total},
                permission=PROJECT_APPROVE,
            )
    return data


_UNIT_FIELDS = ("pk", "code", "name", "path", "level", "parent_id", "updated_at")


def covering_counts(
    paths_by_project: dict[int, set[str]], national: set[int], units: Sequence[OrgUnit]
) -> dict[str, int]:
    """Per unit code, how many projects cover it: a coverage path at, above or below the unit, or national."""
    out = {}
    for unit in units:
        ids = set(national)
        for pid, paths in paths_by_project.items():
            if any(p.startswith(unit.path) or unit.path.startswith(p) for p in paths):
                ids.add(pid)
        out[unit.code] = len(ids)
    return out


def unit_map(qs: Any, f: ProjectFilters, *, country: str = "", area: str = "") -> UnitMap | None:
    """The org-unit map of one country's matching projects (None when their coverage names no org unit)."""
    if country:
        qs = qs.filter(country=country)
    rows = list(
        Coverage.objects.filter(project__in=qs, orgunit__isnull=False).values_list("project_id", "orgunit__path")
    )
    root: OrgUnit | None
    if area:
        root = OrgUnit.objects.only(*_UNIT_FIELDS).filter(code=area).first()
        if root is None:
            raise NotFound(f"area: no org unit {area!r}")
    elif rows:
        tops: dict[str, int] = {}
        for _, path in rows:
            top = "/" + path.strip("/").split("/")[0] + "/"
            tops[top] = tops.get(top, 0) + 1
        root = OrgUnit.objects.only(*_UNIT_FIELDS).filter(path=max(tops, key=lambda k: tops[k])).first()
    else:
        return None
    if root is None:
        return None
    paths_by_project: dict[int, set[str]] = {}
    for pid, path in rows:
        paths_by_project.setdefault(pid, set()).add(path)
    national = set(qs.filter(national_scale=True).values_list("pk", flat=True))
    children = list(OrgUnit.objects.filter(parent=root).only(*_UNIT_FIELDS).order_by("name"))
    units = children or [root]
    counts = covering_counts(paths_by_project, national, units)
    with_children = set(OrgUnit.objects.filter(parent__in=units).values_list("parent_id", flat=True).distinct())
    keep_country = country or (f.countries[0] if len(f.countries) == 1 else "")
    unit_counts = [
        UnitCount(
            u.code,
            u.name,
            counts[u.code],
            _map_href(f, country=keep_country, area=u.code) if u.pk in with_children else "",
            has_children=u.pk in with_children,
        )
        for u in units
    ]
    scale = svg.ColourScale.for_values([float(v) for v in counts.values()], integer=True)
    frames = _unit_frames(units, unit_counts, scale, title=f"Projects covering each unit of {root.name}")
    up = ""
    if root.parent_id is not None:
        parent = OrgUnit.objects.only("code").filter(pk=root.parent_id).first()
        if parent is not None:
            up = _map_href(f, country=keep_country, area=parent.code)
    unit_counts.sort(key=lambda u: (-u.projects, u.name))
    return UnitMap(
        country=keep_country,
        area_code=root.code,
        area_name=root.name,
        frames=frames,
        legend=scale.legend(),
        units=unit_counts,
        national=len(national),
        up_href=up,
    )


def _unit_frames(units: list[OrgUnit], counts: list[UnitCount], scale: svg.ColourScale, *, title: str) -> list[str]:
    from dhnet.dashboard.services import shapes_of

    shapes = shapes_of(units)
    by_code = {c.code: c for c in counts}
    drawn = [u for u in units if u.pk in shapes]
    frames = []
    for n, group in enumerate(svg.clusters([(shapes[u.pk].kind, shapes[u.pk].bbox) for u in drawn])):
        members = [drawn[i] for i in group]
        bbox = shapes[members[0].pk].bbox
        for u in members[1:]:
            bbox = bbox.union(shapes[u.pk].bbox)
        projection = svg.Projection.fit(bbox, shapes[members[0].pk].kind, max_height=700)
        frame = svg.Frame(projection.width, projection.height)
        for u in sorted(members, key=lambda u: -_area(shapes[u.pk].bbox)):
            c = by_code[u.code]
            c.has_shape = True
            frame.areas.append(
                svg.MapArea(
                    code=u.code,
                    name=u.name,
                    d=svg.polygons_path(shapes[u.pk].polygons, projection),
                    css=scale.css(c.projects),
                    href=c.href or "#",
                    tooltip=f"{u.name}: {c.projects} project{'s' if c.projects != 1 else ''}",
                )
            )
        frames.append(svg.map_svg(frame, scale, title=title, svg_id=f"unitmap{n}"))
    return frames


def _area(b: svg.BBox) -> float:
    return (b.xmax - b.xmin) * (b.ymax - b.ymin)


def country_unit_map(qs: Any, country: str) -> UnitMap | None:
    """The org-unit map of a country's projects ``qs`` (for the portfolio page)."""
    return unit_map(qs, ProjectFilters(countries=(country,)), country=country)
