"""Org-unit services: jurisdiction filtering, reading, creating and importing the hierarchy.

Every function takes the acting :class:`~dhnet.platform.access.Actor` and writes its audit record in the same
transaction as the work.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import F, Model, Q, QuerySet, Value
from django.db.models.functions import Concat, Substr

from dhnet.audit import services as audit
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid, NotFound

READ = "orgunits:orgunit:read"
WRITE = "orgunits:orgunit:write"
GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}

M = TypeVar("M", bound=Model)


# --- jurisdiction -------------------------------------------------------------------------------------------------


def jurisdiction_q(actor: Actor, permission: str, path_field: str = "path") -> Q | None:
    """A filter matching rows whose org unit lies where ``actor`` holds ``permission``; None when nowhere.

    ``path_field`` is the lookup of the org unit's materialised path from the filtered model, e.g. ``path``
    for :class:`OrgUnit`, ``orgunit__path`` for a model with an ``orgunit`` foreign key.
    """
    paths = actor.paths_for(permission)
    if not paths:
        return None
    q = Q()
    for path in paths:
        q |= Q(**{f"{path_field}__startswith": path})
    return q


def in_jurisdiction(qs: QuerySet[M], actor: Actor, permission: str, path_field: str = "path") -> QuerySet[M]:
    """Limit ``qs`` to the org units (and their descendants) where ``actor`` holds ``permission``."""
    q = jurisdiction_q(actor, permission, path_field)
    return qs.none() if q is None else qs.filter(q)


def require_in_jurisdiction(actor: Actor, permission: str, unit: OrgUnit) -> None:
    """Raise :class:`NotFound` (existence is not revealed) unless ``permission`` holds at ``unit``."""
    if not any(unit.is_within(p) for p in actor.paths_for(permission)):
        raise NotFound(f"org unit {unit.code!r} not found")


# --- reading --------------------------------------------------------------------------------------------------------


#: The largest page offset: offset + limit must fit the databases' 64-bit integers (larger ones were a 500).
MAX_OFFSET = 2**63 - 1 - 1000


@dataclass(frozen=True)
class UnitQuery:
    parent: str = ""  # code of the parent: direct children only
    level: int | None = None
    search: str = ""  # in code or name
    limit: int = 100
    offset: int = 0


def list_units(actor: Actor, query: UnitQuery) -> tuple[int, list[OrgUnit]]:
    """The org units within the actor's jurisdiction matching ``query``: (total count, one page)."""
    if not 1 <= query.limit <= 1000:
        raise Invalid("limit: must be between 1 and 1000")
    if not 0 <= query.offset <= MAX_OFFSET:
        raise Invalid(f"offset: must be between 0 and {MAX_OFFSET}")
    qs = in_jurisdiction(OrgUnit.objects.select_related("parent"), actor, READ)
    if query.parent:
        qs = qs.filter(parent__code=query.parent)
    if query.level is not None:
        qs = qs.filter(level=query.level)
    if query.search:
        qs = qs.filter(Q(code__icontains=query.search) | Q(name__icontains=query.search))
    qs = qs.order_by("level", "name", "code").defer("geometry")
    with transaction.atomic():
        total = qs.count()
        units = list(qs[query.offset : query.offset + query.limit])
        audit.record(
            actor,
            "orgunits.orgunit.list",
            object_type="orgunits.orgunit",
            detail={
                "parent": query.parent,
                "level": query.level,
                "search": query.search,
                "offset": query.offset,
                "returned": len(units),
            },
            permission=READ,
        )
    return total, units


def get_unit(actor: Actor, code: str) -> OrgUnit:
    """One org unit by code, if within the actor's jurisdiction (else :class:`NotFound`)."""
    with transaction.atomic():
        unit = OrgUnit.objects.select_related("parent").filter(code=code).first()
        if unit is None:
            raise NotFound(f"org unit {code!r} not found")
        require_in_jurisdiction(actor, READ, unit)
        audit.record(actor, "orgunits.orgunit.read", object_type="orgunits.orgunit", object_id=code, permission=READ)
    return unit


@dataclass
class TreeNode:
    unit: OrgUnit
    children: list[TreeNode] = field(default_factory=list)


def tree(actor: Actor) -> list[TreeNode]:
    """The hierarchy within the actor's jurisdiction, as nested nodes sorted by name (geometries not loaded)."""
    with transaction.atomic():
        units = list(in_jurisdiction(OrgUnit.objects.defer("geometry"), actor, READ).order_by("level", "name"))
        audit.record(
            actor,
            "orgunits.orgunit.tree",
            object_type="orgunits.orgunit",
            detail={"count": len(units)},
            permission=READ,
        )
    nodes = {u.pk: TreeNode(u) for u in units}
    roots: list[TreeNode] = []
    for unit in units:
        parent = nodes.get(unit.parent_id) if unit.parent_id is not None else None
        (parent.children if parent else roots).append(nodes[unit.pk])
    return roots


def children_codes(unit: OrgUnit) -> list[str]:
    return list(unit.children.order_by("name").values_list("code", flat=True))


# --- writing --------------------------------------------------------------------------------------------------------


def _check_write(actor: Actor, parent: OrgUnit | None) -> None:
    """Writing below ``parent`` needs the write permission there; a root needs it above every tree (path ``/``,
    which only the operator actor of the command line holds)."""
    if not actor.has(WRITE):
        raise Forbidden(f"requires {WRITE}")
    if parent is None:
        if "/" not in actor.paths_for(WRITE):
            raise Forbidden("only an operator (dhnet command line) creates top-level org units")
        return
    require_in_jurisdiction(actor, WRITE, parent)


def _validate_fields(code: str, name: str, population: Any, geometry: Any, where: str) -> None:
    if not isinstance(code, str) or not code.strip():
        raise Invalid(f"{where}code: missing or empty")
    if len(code) > 64:
        raise Invalid(f"{where}code: longer than 64 characters")
    if not isinstance(name, str) or not name.strip():
        raise Invalid(f"{where}name: missing or empty")
    if len(name) > 255:
        raise Invalid(f"{where}name: longer than 255 characters")
    if population is not None and (isinstance(population, bool) or not isinstance(population, int) or population < 0):
        raise Invalid(f"{where}population: expected a non-negative integer, got {population!r}")
    if geometry is not None:
        _validate_geometry(geometry, f"{where}geometry")


def _validate_geometry(geometry: Any, where: str) -> None:
    if not isinstance(geometry, dict):
        raise Invalid(f"{where}: expected a GeoJSON geometry object")
    kind = geometry.get("type")
    if kind == "GeometryCollection":
        for i, part in enumerate(geometry.get("geometries") or []):
            _validate_geometry(part, f"{where}.geometries[{i}]")
        return
    if kind not in GEOMETRY_TYPES:
        raise Invalid(f"{where}.type: expected one of {sorted(GEOMETRY_TYPES)}, got {kind!r}")
    if not isinstance(geometry.get("coordinates"), list):
        raise Invalid(f"{where}.coordinates: expected a list")


def _insert(code: str, name: str, parent: OrgUnit | None, **fields: Any) -> OrgUnit:
    unit = OrgUnit.objects.create(
        code=code,
        name=name,
        parent=parent,
        path=f"~{uuid.uuid4().hex}",  # replaced once the primary key is known
        level=(parent.level + 1) if parent else 1,
        **fields,
    )
    unit.path = f"{parent.path if parent else '/'}{unit.pk}/"
    OrgUnit.objects.filter(pk=unit.pk).update(path=unit.path)
    return unit


def _move(unit: OrgUnit, parent: OrgUnit | None, where: str) -> None:
    """Re-parent ``unit``, rewriting the paths and levels of its whole subtree."""
    if parent is not None and parent.path.startswith(unit.path):
        raise Invalid(f"{where}parent: {parent.code!r} lies below {unit.code!r} (would create a cycle)")
    old_path = unit.path
    new_path = f"{parent.path if parent else '/'}{unit.pk}/"
    delta = ((parent.level + 1) if parent else 1) - unit.level
    OrgUnit.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
        level=F("level") + delta,
    )
    unit.parent = parent
    unit.path = new_path
    unit.level += delta
    OrgUnit.objects.filter(pk=unit.pk).update(parent=parent)


def create_unit(
    actor: Actor,
    *,
    code: str,
    name: str,
    parent_code: str | None = None,
    population: int | None = None,
    geometry: dict[str, Any] | None = None,
    uid: str = "",
) -> OrgUnit:
    """Create one org unit under ``parent_code`` (or a root)."""
    _validate_fields(code, name, population, geometry, "")
    with transaction.atomic():
        parent = None
        if parent_code:
            parent = OrgUnit.objects.filter(code=parent_code).first()
            if parent is None:
                raise NotFound(f"parent: org unit {parent_code!r} not found")
        _check_write(actor, parent)
        if OrgUnit.objects.filter(code=code).exists():
            raise Invalid(f"code: org unit {code!r} exists already")
        unit = _insert(code, name, parent, population=population, geometry=geometry, uid=uid)
        audit.record(
            actor,
            "orgunits.orgunit.create",
            object_type="orgunits.orgunit",
            object_id=code,
            detail={"parent": parent_code, "name": name},
            permission=WRITE,
        )
    return unit


# --- importing ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incoming:
    """One org unit read from a source file, before it is matched with the database."""

    index: int
    where: str  # prefix of error messages, e.g. "features[3]."
    code: str
    name: str
    parent_key: str | None  # code (GeoJSON) or uid (DHIS2) of the parent, as the file names it
    population: int | None = None
    geometry: dict[str, Any] | None = None
    uid: str = ""


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged)

    def summary(self) -> str:
        return f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged"


@dataclass(frozen=True)
class GeoJsonMapping:
    """Which feature properties hold what. ``code`` falls back to the feature's own ``id`` member."""

    code: str = "id"
    name: str = "name"
    parent: str | None = "parent"
    population: str | None = "population"


def parse_geojson(data: Any, mapping: GeoJsonMapping = GeoJsonMapping()) -> list[Incoming]:
    """Read a GeoJSON FeatureCollection into :class:`Incoming` units; errors name the feature index and field."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise Invalid("type: expected a GeoJSON FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list):
        raise Invalid("features: expected a list")
    units = []
    for i, feature in enumerate(features):
        where = f"features[{i}]."
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise Invalid(f"features[{i}]: expected a GeoJSON Feature")
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise Invalid(f"{where}properties: expected an object")
        code = props.get(mapping.code, feature.get("id") if mapping.code == "id" else None)
        if isinstance(code, int) and not isinstance(code, bool):
            code = str(code)
        if not isinstance(code, str) or not code.strip():
            raise Invalid(f"{where}properties.{mapping.code}: missing code")
        name = props.get(mapping.name)
        if not isinstance(name, str) or not name.strip():
            raise Invalid(f"{where}properties.{mapping.name}: missing name")
        parent = props.get(mapping.parent) if mapping.parent else None
        if parent is not None and not isinstance(parent, str | int):
            raise Invalid(f"{where}properties.{mapping.parent}: expected a code")
        population = props.get(mapping.population) if mapping.population else None
        if isinstance(population, float) and population.is_integer():
            population = int(population)
        if population is not None and (
            isinstance(population, bool) or not isinstance(population, int) or population < 0
        ):
            raise Invalid(f"{where}properties.{mapping.population}: expected a non-negative integer")
        geometry = feature.get("geometry")
        if geometry is not None:
            _validate_geometry(geometry, f"{where}geometry")
        units.append(
            Incoming(
                index=i,
                where=where,
                code=code.strip(),
                name=name.strip(),
                parent_key=str(parent).strip() if parent not in (None, "") else None,
                population=population,
                geometry=geometry,
            )
        )
    return units


def parse_dhis2(data: Any) -> list[Incoming]:
    """Read DHIS2 ``{"organisationUnits": [...]}`` (Web API ``/api/organisationUnits?paging=false&fields=...``).

    Uses ``id`` (kept as ``uid``), ``code`` (falls back to ``id``), ``name``, ``parent.id`` and ``geometry``.
    ``level`` in the file is ignored: levels follow from the hierarchy.
    """
    if not isinstance(data, dict) or not isinstance(data.get("organisationUnits"), list):
        raise Invalid("organisationUnits: expected a list")
    units = []
    for i, item in enumerate(data["organisationUnits"]):
        where = f"organisationUnits[{i}]."
        if not isinstance(item, dict):
            raise Invalid(f"organisationUnits[{i}]: expected an object")
        uid = item.get("id")
        if not isinstance(uid, str) or not uid.strip():
            raise Invalid(f"{where}id: missing")
        code = item.get("code") or uid
        if not isinstance(code, str):
            raise Invalid(f"{where}code: expected a string")
        name = item.get("name") or item.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise Invalid(f"{where}name: missing")
        parent = item.get("parent")
        if parent is not None and not (isinstance(parent, dict) and isinstance(parent.get("id"), str)):
            raise Invalid(f"{where}parent.id: expected an object with an id")
        geometry = item.get("geometry")
        if geometry is not None:
            _validate_geometry(geometry, f"{where}geometry")
        units.append(
            Incoming(
                index=i,
                where=where,
                code=code.strip(),
                name=name.strip(),
                parent_key=parent["id"] if parent else None,
                geometry=geometry,
                uid=uid.strip(),
            )
        )
    return units


def import_units(
    actor: Actor,
    incoming: Sequence[Incoming],
    *,
    parent_by: str = "code",
    default_parent: str | None = None,
    source: str = "",
) -> ImportResult:
    """Create or update ``incoming`` atomically: all or nothing, idempotent (matched by uid, then code).

    ``parent_by`` says what ``parent_key`` names (``code`` or ``uid``); units without a parent go under
    ``default_parent`` (a code), or become roots. A parent may be in the same file (any order) or in the database.
    """
    if parent_by not in ("code", "uid"):
        raise Invalid("parent_by: expected 'code' or 'uid'")
    _check_duplicates(incoming)
    by_key = {(u.uid if parent_by == "uid" else u.code): u for u in incoming}
    result = ImportResult()
    with transaction.atomic():
        fallback = None
        if default_parent:
            fallback = OrgUnit.objects.filter(code=default_parent).first()
            if fallback is None:
                raise NotFound(f"parent: org unit {default_parent!r} not found")
        if not actor.has(WRITE):
            raise Forbidden(f"requires {WRITE}")
        saved: dict[str, OrgUnit] = {}  # by code

        def resolve_parent(item: Incoming, chain: tuple[str, ...]) -> OrgUnit | None:
            if item.parent_key is None:
                return fallback
            if item.parent_key in by_key:
                parent_item = by_key[item.parent_key]
                if parent_item.code in chain:
                    raise Invalid(f"{item.where}parent: cycle through {parent_item.code!r}")
                return save(parent_item, (*chain, item.code))
            lookup = {"uid": item.parent_key} if parent_by == "uid" else {"code": item.parent_key}
            parent = OrgUnit.objects.filter(**lookup).first()
            if parent is None:
                raise Invalid(f"{item.where}parent: unknown org unit {item.parent_key!r}")
            return parent

        def save(item: Incoming, chain: tuple[str, ...] = ()) -> OrgUnit:
            if item.code in saved:
                return saved[item.code]
            parent = resolve_parent(item, (*chain, item.code))
            _check_write(actor, parent)
            existing = None
            if item.uid:
                existing = OrgUnit.objects.filter(uid=item.uid).first()
            if existing is None:
                existing = OrgUnit.objects.filter(code=item.code).first()
                if existing is not None and item.uid and existing.uid and existing.uid != item.uid:
                    raise Invalid(f"{item.where}code: {item.code!r} belongs to org unit with id {existing.uid!r}")
            if existing is None:
                unit = _insert(
                    item.code, item.name, parent, population=item.population, geometry=item.geometry, uid=item.uid
                )
                result.created.append(item.code)
                action = "orgunits.orgunit.create"
            else:
                unit = existing
                require_in_jurisdiction(actor, WRITE, unit)
                changed = _update(unit, item, parent)
                (result.updated if changed else result.unchanged).append(item.code)
                action = "orgunits.orgunit.update" if changed else ""
            if action:
                audit.record(
                    actor,
                    action,
                    object_type="orgunits.orgunit",
                    object_id=item.code,
                    detail={"source": source, "index": item.index, "parent": parent.code if parent else None},
                    permission=WRITE,
                )
            saved[item.code] = unit
            return unit

        for item in incoming:
            save(item)
        audit.record(
            actor,
            "orgunits.orgunit.import",
            object_type="orgunits.orgunit",
            detail={
                "source": source,
                "created": len(result.created),
                "updated": len(result.updated),
                "unchanged": len(result.unchanged),
            },
            permission=WRITE,
        )
    return result


def _check_duplicates(incoming: Iterable[Incoming]) -> None:
    seen: dict[str, int] = {}
    seen_uid: dict[str, int] = {}
    for item in incoming:
        if item.code in seen:
            raise Invalid(f"{item.where}code: {item.code!r} repeats feature {seen[item.code]}")
        seen[item.code] = item.index
        if item.uid:
            if item.uid in seen_uid:
                raise Invalid(f"{item.where}id: {item.uid!r} repeats entry {seen_uid[item.uid]}")
            seen_uid[item.uid] = item.index


def _update(unit: OrgUnit, item: Incoming, parent: OrgUnit | None) -> bool:
    changed = False
    if unit.parent_id != (parent.pk if parent else None):
        _move(unit, parent, item.where)
        changed = True
    fields: dict[str, Any] = {"code": item.code, "name": item.name, "geometry": item.geometry}
    if item.population is not None:
        fields["population"] = item.population
    if item.uid:
        fields["uid"] = item.uid
    dirty = [name for name, value in fields.items() if getattr(unit, name) != value]
    if dirty:
        for name in dirty:
            setattr(unit, name, fields[name])
        unit.save(update_fields=[*dirty, "updated_at"])
        changed = True
    return changed
