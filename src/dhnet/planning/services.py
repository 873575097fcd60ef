"""From maturity gaps to a costed roadmap: targets, the gap list, roadmap items, links, needs and milestones.

Who may do what (docs/maturity-design.md):

- Writing (targets, weights, the roadmap, its items, links, milestones, progress) needs ``planning:roadmap:write``
  and administering the country (``maturity.services.administers``: a registry manager, or appointed the country's
  administrator). Without the permission: 403; without the country: 403 naming the country.
- Reading targets, gaps and the roadmap is for the country's administrators, and for every signed-in user once the
  country has marked its roadmap ``shared``; anyone else gets 404 (existence is not revealed). These are not public
  data: every read is audited (``planning.roadmap.read``).

Every write checks permission and country, validates the whole input first (an error names the row and field; a
rejected batch stores nothing), runs in one transaction with its audit record, and writing the same again changes
nothing (no duplicate rows, no new audit record). The gap list itself is the pure :mod:`dhnet.planning.gaps`.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone

from dhnet.accounts.models import User
from dhnet.atlas.models import Product, Project, ProjectStatus
from dhnet.audit.services import record
from dhnet.maturity import services as maturity
from dhnet.maturity.models import Indicator, Rubric
from dhnet.needs import services as needs
from dhnet.needs.models import Need, Source
from dhnet.network import timezones
from dhnet.network.models import Organisation
from dhnet.network.services import who_region
from dhnet.network.timezones import country_code as country_code  # re-exported: planning.views uses it
from dhnet.planning.gaps import Gap, code_key, compute_gaps
from dhnet.planning.models import ItemStatus, Milestone, Roadmap, RoadmapItem, Target
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from dhnet.platform.validate import text as _text
from dhnet.strategy.models import ProposedAction
from dhnet.taxonomy.models import Concept
from dhnet.taxonomy.services import equivalents, resolve_tags

WRITE = "planning:roadmap:write"
DEFAULT_RUBRIC = "gdhm-current"
MAX_ROWS = 200
MAX_TEXT = 20_000
MAX_WEIGHT = Decimal("1000")
MAX_LINKS = 50
MAX_SUGGESTIONS = 12
YEARS = range(2000, 2101)
CONCEPTS_FILE = Path(__file__).resolve().parent / "data" / "indicator_concepts.json"
TARGET_FIELDS = ("indicator", "target_phase", "target_year", "weight")
ITEM_FIELDS = ("indicator", "title", "description", "status", "position", "actions", "projects", "products")
MILESTONE_FIELDS = (
    "title",
    "owner_name",
    "owner_user",
    "owner_organisation",
    "due_date",
    "progress",
    "done",
    "note",
)


# --- who ------------------------------------------------------------------------------------------------------------


def may_write(actor: Actor, country: str) -> bool:
    """Whether ``actor`` may change ``country``'s targets and roadmap."""
    return actor.has(WRITE) and maturity.administers(actor, country)


def _require_write(actor: Actor, country: str) -> None:
    if not actor.has(WRITE):
        raise Forbidden(f"requires {WRITE}")
    if not maturity.administers(actor, country):
        raise Forbidden(
            f"country: you do not administer {country} (ask a registry manager to appoint you its country "
            "administrator)"
        )


def may_read(actor: Actor, country: str, rubric: Rubric) -> bool:
    """Whether ``actor`` may see ``country``'s targets, gaps and roadmap on ``rubric``."""
    if maturity.administers(actor, country):
        return True
    return actor.is_authenticated and Roadmap.objects.filter(country=country, rubric=rubric, shared=True).exists()


def _require_read(actor: Actor, country: str, rubric: Rubric, what: str) -> None:
    """404 unless ``actor`` may read; the read is audited (the data are not public)."""
    if not may_read(actor, country, rubric):
        raise NotFound(f"no {what} of {country} on {rubric.code} that you may see")
    with transaction.atomic():
        record(
            actor,
            "planning.roadmap.read",
            object_type="planning.roadmap",
            object_id=f"{country}/{rubric.code}",
            detail={"what": what},
        )


def visible_countries(actor: Actor, rubric_code: str = DEFAULT_RUBRIC) -> list[tuple[str, bool]]:
    """``(country, writable)`` of the countries whose planning ``actor`` may see on a rubric: those it administers
    by appointment and those with a roadmap, for a registry manager; plus the shared roadmaps for signed-in users."""
    rubric = rubric_of(rubric_code)
    administered = maturity.administered_countries(actor)
    roadmaps = set(Roadmap.objects.filter(rubric=rubric).values_list("country", flat=True))
    targets = set(Target.objects.filter(rubric=rubric).values_list("country", flat=True).distinct())
    if administered is None:
        seen = roadmaps | targets
    else:
        seen = set(administered)
        if actor.is_authenticated:
            seen |= set(Roadmap.objects.filter(rubric=rubric, shared=True).values_list("country", flat=True))
    return [(c, may_write(actor, c)) for c in sorted(seen)]


# --- reference data -------------------------------------------------------------------------------------------------


def rubric_of(code: Any) -> Rubric:
    """The rubric named ``code`` (``gdhm-current`` when empty); an unknown one is ``Invalid`` (400) naming it."""
    text = _text(code or DEFAULT_RUBRIC, "rubric", max_length=40)
    try:
        return maturity.rubric(text)
    except NotFound as exc:
        raise Invalid(exc.message) from None


def _indicators(rubric: Rubric) -> dict[str, Indicator]:
    return {i.code: i for i in Indicator.objects.filter(rubric=rubric).order_by("position", "id")}


@functools.cache
def _concepts_table() -> dict[str, dict[str, dict[str, Any]]]:
    data: dict[str, Any] = json.loads(CONCEPTS_FILE.read_text(encoding="utf-8"))
    return data["rubrics"]


def indicator_tags(rubric_code: str, code: str) -> dict[str, list[str]]:
    """The taxonomy tags that address one indicator (``interventions``, ``system_categories``, ``challenges``), from
    ``data/indicator_concepts.json``; empty lists for an indicator the table does not name."""
    row = _concepts_table().get(rubric_code, {}).get(code, {})
    return {kind: list(row.get(kind, [])) for kind in ("interventions", "system_categories", "challenges")}


# --- targets and gaps -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetInput:
    indicator: Indicator
    target_phase: int | None  # None: remove the target
    target_year: int
    weight: Decimal


def _int(raw: Any, where: str, allowed: range) -> int:
    if isinstance(raw, bool):
        raise Invalid(f"{where}: expected a whole number")
    if isinstance(raw, str):
        raw = raw.strip()
        if not raw.lstrip("-").isdigit():
            raise Invalid(f"{where}: {raw[:20]!r} is not a whole number")
        raw = int(raw)
    if not isinstance(raw, int):
        raise Invalid(f"{where}: expected a whole number")
    if raw not in allowed:
        raise Invalid(f"{where}: {raw} is not between {allowed.start} and {allowed.stop - 1}")
    return raw


def _weight(raw: Any, where: str) -> Decimal:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Decimal(1)
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise Invalid(f"{where}: expected a number such as 1 or 2.5")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise Invalid(f"{where}: {str(raw)[:20]!r} is not a number") from None
    if not value.is_finite() or value < 0 or value > MAX_WEIGHT:
        raise Invalid(f"{where}: {str(raw)[:20]!r} is not a weight from 0 to {MAX_WEIGHT}")
    if value != value.quantize(Decimal("0.01")):
        raise Invalid(f"{where}: {str(raw)[:20]!r} has more than two decimals")
    return value.quantize(Decimal("0.01"))


def validate_targets(rubric: Rubric, rows: Any) -> list[TargetInput]:
    """Check every row of a bulk target update (``{"indicator", "target_phase", "target_year", "weight"}``); a
    ``target_phase`` of null or "" removes the indicator's target. Errors name the row (0-based) and field."""
    if not isinstance(rows, list):
        raise Invalid("targets: expected a list of rows")
    if len(rows) > MAX_ROWS:
        raise Invalid(f"targets: more than {MAX_ROWS} rows")
    indicators = _indicators(rubric)
    seen: dict[str, int] = {}
    out = []
    for i, row in enumerate(rows):
        where = f"rows[{i}]"
        if not isinstance(row, dict):
            raise Invalid(f"{where}: expected an object with indicator, target_phase, target_year, weight")
        unknown = sorted(set(row) - set(TARGET_FIELDS))
        if unknown:
            raise Invalid(f"{where}.{unknown[0]}: unknown field (known: {', '.join(TARGET_FIELDS)})")
        code = _text(row.get("indicator"), f"{where}.indicator", max_length=16, required=True)
        indicator = indicators.get(code)
        if indicator is None:
            raise Invalid(f"{where}.indicator: {code!r} is not an indicator of {rubric.code}")
        if code in seen:
            raise Invalid(f"{where}.indicator: {code} is also in rows[{seen[code]}]")
        seen[code] = i
        raw_phase = row.get("target_phase")
        if raw_phase is None or (isinstance(raw_phase, str) and not raw_phase.strip()):
            out.append(TargetInput(indicator, None, 0, Decimal(0)))
            continue
        phase = _int(raw_phase, f"{where}.target_phase (indicator {code})", range(1, 6))
        year = _int(row.get("target_year"), f"{where}.target_year (indicator {code})", YEARS)
        weight = _weight(row.get("weight"), f"{where}.weight (indicator {code})")
        out.append(TargetInput(indicator, phase, year, weight))
    return out


def set_targets(actor: Actor, country: Any, rubric_code: Any, rows: Any) -> list[str]:
    """Set (or, with an empty target phase, remove) the targets of the indicators named in ``rows``; the others stay.
    All or nothing; returns the codes whose target changed (empty: the same values again, nothing written)."""
    country = country_code(country)
    rubric = rubric_of(rubric_code)
    _require_write(actor, country)
    inputs = validate_targets(rubric, rows)
    existing = {t.indicator_id: t for t in Target.objects.filter(country=country, rubric=rubric)}
    changed: list[str] = []
    with transaction.atomic():
        for inp in inputs:
            current = existing.get(inp.indicator.pk)
            if inp.target_phase is None:
                if current is not None:
                    current.delete()
                    changed.append(inp.indicator.code)
                continue
            values = (inp.target_phase, inp.target_year, inp.weight)
            if current is not None and (current.target_phase, current.target_year, current.weight) == values:
                continue
            Target.objects.update_or_create(
                country=country,
                rubric=rubric,
                indicator=inp.indicator,
                defaults={
                    "target_phase": inp.target_phase,
                    "target_year": inp.target_year,
                    "weight": inp.weight,
                    "set_by_id": actor.user_id,
                },
            )
            changed.append(inp.indicator.code)
        if changed:
            record(
                actor,
                "planning.target.set",
                object_type="planning.roadmap",
                object_id=f"{country}/{rubric.code}",
                detail={"indicators": changed},
                permission=WRITE,
            )
    return changed


def _targets(country: str, rubric: Rubric) -> list[Target]:
    rows = Target.objects.filter(country=country, rubric=rubric).select_related("indicator")
    return sorted(rows, key=lambda t: code_key(t.indicator.code))


def targets(actor: Actor, country: Any, rubric_code: Any = DEFAULT_RUBRIC) -> list[Target]:
    """The country's targets on a rubric, in the rubric's order (404 unless ``actor`` may read them)."""
    country = country_code(country)
    rubric = rubric_of(rubric_code)
    _require_read(actor, country, rubric, "targets")
    return _targets(country, rubric)


def current_phases(country: str, rubric_code: str = DEFAULT_RUBRIC) -> tuple[dict[str, int], Any]:
    """Indicator code -> phase of the country's latest published assessment (-1 not available), and that
    publication (None: never published, every phase unknown)."""
    published = maturity.latest_published(country, rubric_code)
    if published is None:
        return {}, None
    return maturity.indicator_phases(published), published


def gaps(country: str, rubric_code: str = DEFAULT_RUBRIC) -> list[Gap]:
    """The country's gap list on a rubric (the contract other contexts use; no permission check): for each target,
    the current phase from the latest published assessment (not available or none: 0), the gap and its priority
    (gap x weight), highest priority first, then by code."""
    rubric = rubric_of(rubric_code)
    country = country_code(country)
    phases, _ = current_phases(country, rubric.code)
    rows = [
        {
            "code": t.indicator.code,
            "name": t.indicator.name,
            "target_phase": t.target_phase,
            "target_year": t.target_year,
            "weight": t.weight,
        }
        for t in _targets(country, rubric)
    ]
    return compute_gaps(rows, phases)


def gap_list(actor: Actor, country: Any, rubric_code: Any = DEFAULT_RUBRIC) -> list[Gap]:
    """:func:`gaps` for ``actor`` (404 unless it may read the country's planning; audited)."""
    country = country_code(country)
    rubric = rubric_of(rubric_code)
    _require_read(actor, country, rubric, "gaps")
    return gaps(country, rubric.code)


# --- suggestions ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectSuggestion:
    project: Project
    reach: str  # "country" | "region" | "other"
    matched: int  # how many of the indicator's concepts (or their equivalents) it is tagged with


@dataclass(frozen=True)
class ProductSuggestion:
    product: Product
    matched: int


@dataclass
class Suggestions:
    """What might close one indicator's gap: the strategy's proposed actions, published atlas projects (the
    country's first, then its WHO region's, then others) and products tagged with the indicator's concepts."""

    actions: list[ProposedAction] = field(default_factory=list)
    projects: list[ProjectSuggestion] = field(default_factory=list)
    products: list[ProductSuggestion] = field(default_factory=list)
    concepts: list[Concept] = field(default_factory=list)


def _actions_for(rubric_code: str, code: str) -> list[ProposedAction]:
    from dhnet.strategy import services as strategy

    return list(strategy.actions_for_indicator(rubric_code, code))


def suggest(country: str, rubric_code: str, code: str) -> Suggestions:
    """Suggestions for one indicator of ``country`` (no permission check: everything suggested is public)."""
    tags = indicator_tags(rubric_code, code)
    concepts = resolve_tags(tags["interventions"] + tags["system_categories"] + tags["challenges"])
    wide = equivalents(concepts)
    ids = {c.pk for c in wide}
    matched: dict[int, set[int]] = defaultdict(set)
    for through in (Project.interventions.through, Project.system_categories.through, Project.challenges.through):
        for pid, cid in through.objects.filter(concept_id__in=ids, project__status=ProjectStatus.PUBLISHED).values_list(
            "project_id", "concept_id"
        ):
            matched[pid].add(cid)
    region = who_region(country)
    order = {"country": 0, "region": 1, "other": 2}
    ranked = []  # plain rows first: a popular indicator matches thousands of projects, only the best are built
    keys = sorted(matched)
    rows = (
        row
        for i in range(0, len(keys), 2000)  # bounded IN lists (SQLite's variable limit)
        for row in Project.objects.filter(pk__in=keys[i : i + 2000]).values_list("id", "public_id", "name", "country")
    )
    for pk, public_id, name, where in rows:
        reach = "country" if where == country else "region" if region and who_region(where) == region else "other"
        ranked.append(((order[reach], -len(matched[pk]), name, public_id), pk, reach))
    ranked.sort()
    top = ranked[:MAX_SUGGESTIONS]
    built = Project.objects.in_bulk([pk for _, pk, _ in top])
    projects = [ProjectSuggestion(built[pk], reach, len(matched[pk])) for _, pk, reach in top]
    product_hits: dict[int, set[int]] = defaultdict(set)
    for through in (Product.interventions.through, Product.system_categories.through):
        for pid, cid in through.objects.filter(concept_id__in=ids).values_list("product_id", "concept_id"):
            product_hits[pid].add(cid)
    products = [
        ProductSuggestion(p, len(product_hits[p.pk]))
        for p in Product.objects.filter(pk__in=product_hits).only("id", "slug", "name")
    ]
    products.sort(key=lambda s: (-s.matched, s.product.name))
    return Suggestions(
        actions=_actions_for(rubric_code, code),
        projects=projects,
        products=products[:MAX_SUGGESTIONS],
        concepts=concepts,
    )


# --- the roadmap ----------------------------------------------------------------------------------------------------


def _roadmap(country: str, rubric: Rubric) -> Roadmap | None:
    return Roadmap.objects.filter(country=country, rubric=rubric).first()


def _ensure_roadmap(actor: Actor, country: str, rubric: Rubric) -> Roadmap:
    """The country's roadmap on ``rubric``, created (audited) on the first write; call inside a transaction."""
    found = _roadmap(country, rubric)
    if found is not None:
        return found
    roadmap = Roadmap.objects.create(
        country=country,
        rubric=rubric,
        title=f"Digital health roadmap of {timezones.countries().get(country, country)}"[:200],
        created_by_id=actor.user_id,
    )
    record(
        actor,
        "planning.roadmap.create",
        object_type="planning.roadmap",
        object_id=f"{country}/{rubric.code}",
        permission=WRITE,
    )
    return roadmap


def update_roadmap(actor: Actor, country: Any, rubric_code: Any, changes: Any) -> Roadmap:
    """Change the roadmap's ``title`` or ``shared`` flag (the roadmap is created if the country has none yet)."""
    country = country_code(country)
    rubric = rubric_of(rubric_code)
    _require_write(actor, country)
    if not isinstance(changes, dict):
        raise Invalid("expected an object with title and/or shared")
    unknown = sorted(set(changes) - {"title", "shared"})
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field (known: title, shared)")
    title = _text(changes["title"], "title", max_length=200, required=True) if "title" in changes else None
    shared = _bool(changes["shared"], "shared") if "shared" in changes else None
    with transaction.atomic():
        roadmap = _ensure_roadmap(actor, country, rubric)
        before = {"title": roadmap.title, "shared": roadmap.shared}
        if title is not None:
            roadmap.title = title
        if shared is not None:
            roadmap.shared = shared
        after = {"title": roadmap.title, "shared": roadmap.shared}
        if after != before:
            roadmap.save(update_fields=["title", "shared"])
            record(
                actor,
                "planning.roadmap.update",
                object_type="planning.roadmap",
                object_id=f"{country}/{rubric.code}",
                detail={"changed": sorted(k for k in after if after[k] != before[k]), "shared": roadmap.shared},
                permission=WRITE,
            )
    return roadmap


@dataclass(frozen=True)
class Summary:
    """Progress of a roadmap in a few numbers."""

    items: int
    by_status: dict[str, int]
    milestones: int
    done: int
    late: int
    share_done: float  # 0..100, percent of milestones done (0 for none)
    mean_progress: float  # 0..100, mean progress of the milestones (0 for none)


def summarise(items: Iterable[RoadmapItem], today: dt.date) -> Summary:
    """Counts of items by status, milestones done and late, share done and mean progress (prefetched items)."""
    rows = list(items)
    milestones = [m for item in rows for m in item.milestones.all()]
    done = sum(1 for m in milestones if m.done)
    statuses = Counter(i.status for i in rows)
    return Summary(
        items=len(rows),
        by_status={value: statuses.get(value, 0) for value, _ in ItemStatus.choices},
        milestones=len(milestones),
        done=done,
        late=sum(1 for m in milestones if m.late_on(today)),
        share_done=round(100 * done / len(milestones), 1) if milestones else 0.0,
        mean_progress=round(sum(m.progress for m in milestones) / len(milestones), 1) if milestones else 0.0,
    )


@dataclass
class RoadmapView:
    """Everything a roadmap page or export shows."""

    country: str
    rubric: Rubric
    roadmap: Roadmap | None
    items: list[RoadmapItem]
    gaps: list[Gap]
    summary: Summary
    today: dt.date
    published: Any  # maturity.PublishedScore | None: where the current phases come from


def _items(roadmap: Roadmap | None) -> list[RoadmapItem]:
    if roadmap is None:
        return []
    return list(
        roadmap.items.select_related("indicator", "need")
        .prefetch_related(
            "actions",
            "projects",
            "products",
            Prefetch(
                "milestones",
                queryset=Milestone.objects.select_related("owner_user", "owner_organisation").order_by(
                    "due_date", "id"
                ),
            ),
        )
        .order_by("position", "id")
    )


def roadmap_view(actor: Actor, country: Any, rubric_code: Any = DEFAULT_RUBRIC) -> RoadmapView:
    """The country's roadmap with its items, links, milestones, gap list and progress (404 unless readable)."""
    country = country_code(country)
    rubric = rubric_of(rubric_code)
    _require_read(actor, country, rubric, "roadmap")
    roadmap = _roadmap(country, rubric)
    items = _items(roadmap)
    today = timezone.localdate()
    _, published = current_phases(country, rubric.code)
    return RoadmapView(
        country=country,
        rubric=rubric,
        roadmap=roadmap,
        items=items,
        gaps=gaps(country, rubric.code),
        summary=summarise(items, today),
        today=today,
        published=published,
    )


# --- items ----------------------------------------------------------------------------------------------------------


def _bool(raw: Any, where: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if raw is None or raw == "":
        return False
    if isinstance(raw, str) and raw.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(raw, str) and raw.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise Invalid(f"{where}: expected true or false")


def _refs(raw: Any, where: str) -> list[str]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raw = [part for part in raw.replace(",", " ").split() if part]
    if not isinstance(raw, list | tuple):
        raise Invalid(f"{where}: expected a list")
    if len(raw) > MAX_LINKS:
        raise Invalid(f"{where}: more than {MAX_LINKS} links")
    return list(dict.fromkeys(_text(r, f"{where}[{i}]", max_length=80, required=True) for i, r in enumerate(raw)))


def _actions(raw: Any) -> list[ProposedAction]:
    keys = _refs(raw, "actions")
    found = {a.key: a for a in ProposedAction.objects.filter(key__in=keys)}
    for i, key in enumerate(keys):
        if key not in found:
            raise Invalid(f"actions[{i}]: no proposed action {key!r} (keys such as SO1-MS-01)")
    return [found[k] for k in keys]


def _projects(raw: Any) -> list[Project]:
    ids = _refs(raw, "projects")
    found = {p.public_id: p for p in Project.objects.filter(public_id__in=ids, status=ProjectStatus.PUBLISHED)}
    for i, ref in enumerate(ids):
        if ref not in found:
            raise Invalid(f"projects[{i}]: no published atlas project {ref!r}")
    return [found[r] for r in ids]


def _products(raw: Any) -> list[Product]:
    slugs = _refs(raw, "products")
    found = {p.slug: p for p in Product.objects.filter(slug__in=slugs)}
    for i, ref in enumerate(slugs):
        if ref not in found:
            raise Invalid(f"products[{i}]: no atlas product {ref!r}")
    return [found[r] for r in slugs]


def _status(raw: Any) -> str:
    value = _text(raw or ItemStatus.PLANNED, "status", max_length=20)
    allowed = list(ItemStatus.values)
    if value not in allowed:
        raise Invalid(f"status: {value!r} is not one of {', '.join(allowed)}")
    return value


def item_data(item: RoadmapItem) -> dict[str, Any]:
    """An item as JSON (API, export, idempotent retries); milestones apart (:func:`milestone_data`)."""
    return {
        "id": item.pk,
        "indicator": item.indicator.code,
        "indicator_name": item.indicator.name,
        "title": item.title,
        "description": item.description,
        "status": item.status,
        "position": item.position,
        "actions": sorted(a.key for a in item.actions.all()),
        "projects": sorted(p.public_id for p in item.projects.all()),
        "products": sorted(p.slug for p in item.products.all()),
        "need": item.need.public_id if item.need_id is not None else None,
    }


def _item_of(country: str, item_id: Any) -> RoadmapItem:
    if isinstance(item_id, bool) or not str(item_id).isdigit() or len(str(item_id)) > 18:
        raise NotFound(f"no roadmap item {str(item_id)[:20]!r}")
    item = (
        RoadmapItem.objects.select_related("roadmap", "roadmap__rubric", "indicator", "need")
        .filter(pk=int(item_id), roadmap__country=country)
        .first()
    )
    if item is None:
        raise NotFound(f"no roadmap item {item_id} of {country}")
    return item


def add_item(actor: Actor, country: Any, rubric_code: Any, data: Any) -> tuple[RoadmapItem, bool]:
    """Add an item about one indicator to the country's roadmap (created on the first item): ``(item, True)``.

    ``data``: ``indicator`` (code, required), ``title`` (default: the indicator's name), ``description``,
    ``status``, ``position`` (default: last), ``actions`` (proposed-action keys), ``projects`` (published atlas
    project ids), ``products`` (atlas product slugs). The same item again (same indicator and title, same values)
    is ``(item, False)`` and writes nothing; other values under that title are a 409.
    """
    country = country_code(country)
    rubric = rubric_of(rubric_code)
    _require_write(actor, country)
    if not isinstance(data, dict):
        raise Invalid("expected an object with the item's fields")
    unknown = sorted(set(data) - set(ITEM_FIELDS))
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field (known: {', '.join(ITEM_FIELDS)})")
    code = _text(data.get("indicator"), "indicator", max_length=16, required=True)
    indicator = _indicators(rubric).get(code)
    if indicator is None:
        raise Invalid(f"indicator: {code!r} is not an indicator of {rubric.code}")
    title = _text(data.get("title") or indicator.name[:200], "title", max_length=200, required=True)
    description = _text(data.get("description"), "description", max_length=MAX_TEXT)
    status = _status(data.get("status"))
    position = None if data.get("position") in (None, "") else _int(data.get("position"), "position", range(0, 10**6))
    actions, projects, products = (
        _actions(data.get("actions")),
        _projects(data.get("projects")),
        _products(data.get("products")),
    )
    wanted = {
        "indicator": code,
        "title": title,
        "description": description,
        "status": status,
        "actions": sorted(a.key for a in actions),
        "projects": sorted(p.public_id for p in projects),
        "products": sorted(p.slug for p in products),
    }
    roadmap = _roadmap(country, rubric)
    if roadmap is not None:
        existing = roadmap.items.filter(indicator=indicator, title=title).first()
        if existing is not None:
            have = item_data(existing)
            if all(have[k] == v for k, v in wanted.items()):
                return existing, False
            raise Conflict(f"title: the roadmap already has an item {title!r} for indicator {code}")
    try:
        with transaction.atomic():
            roadmap = _ensure_roadmap(actor, country, rubric)
            if position is None:
                last = roadmap.items.order_by("-position").values_list("position", flat=True).first()
                position = 0 if last is None else last + 1
            item = RoadmapItem.objects.create(
                roadmap=roadmap,
                indicator=indicator,
                title=title,
                description=description,
                status=status,
                position=position,
            )
            item.actions.set(actions)
            item.projects.set(projects)
            item.products.set(products)
            record(
                actor,
                "planning.item.create",
                object_type="planning.item",
                object_id=item.pk,
                detail={"country": country, "rubric": rubric.code, "indicator": code},
                permission=WRITE,
            )
    except IntegrityError:  # a concurrent identical request won the race
        raise Conflict(f"title: the roadmap already has an item {title!r} for indicator {code}") from None
    return item, True


def update_item(actor: Actor, country: Any, item_id: Any, changes: Any) -> RoadmapItem:
    """Change an item's title, description, status, position or links (lists replace); its indicator stays."""
    country = country_code(country)
    _require_write(actor, country)
    item = _item_of(country, item_id)
    if not isinstance(changes, dict):
        raise Invalid("expected an object with the fields to change")
    allowed = set(ITEM_FIELDS) - {"indicator"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        if unknown[0] == "indicator":
            raise Invalid("indicator: an item stays about its indicator; add a new item instead")
        raise Invalid(f"{unknown[0]}: unknown field (known: {', '.join(sorted(allowed))})")
    before = item_data(item)
    title = _text(changes["title"], "title", max_length=200, required=True) if "title" in changes else item.title
    description = (
        _text(changes["description"], "description", max_length=MAX_TEXT)
        if "description" in changes
        else item.description
    )
    status = _status(changes["status"]) if "status" in changes else item.status
    position = _int(changes["position"], "position", range(0, 10**6)) if "position" in changes else item.position
    actions = _actions(changes["actions"]) if "actions" in changes else None
    projects = _projects(changes["projects"]) if "projects" in changes else None
    products = _products(changes["products"]) if "products" in changes else None
    if title != item.title and item.roadmap.items.filter(indicator=item.indicator, title=title).exists():
        raise Conflict(f"title: the roadmap already has an item {title!r} for indicator {item.indicator.code}")
    with transaction.atomic():
        item.title, item.description, item.status, item.position = title, description, status, position
        item.save()
        if actions is not None:
            item.actions.set(actions)
        if projects is not None:
            item.projects.set(projects)
        if products is not None:
            item.products.set(products)
        after = item_data(item)
        changed = sorted(k for k in after if after[k] != before[k])
        if changed:
            record(
                actor,
                "planning.item.update",
                object_type="planning.item",
                object_id=item.pk,
                detail={"changed": changed, "status": item.status},
                permission=WRITE,
            )
    return item


def get_item(actor: Actor, country: Any, item_id: Any) -> RoadmapItem:
    """One item of the country's roadmap (404 unless ``actor`` may read the roadmap; audited)."""
    country = country_code(country)
    item = _item_of(country, item_id)
    _require_read(actor, country, item.roadmap.rubric, "roadmap item")
    return _items_by_id(item.roadmap, [item.pk])[0]


def _items_by_id(roadmap: Roadmap, ids: list[int]) -> list[RoadmapItem]:
    return [i for i in _items(roadmap) if i.pk in ids]


def open_need(actor: Actor, country: Any, item_id: Any) -> tuple[Need, bool]:
    """Record a ``needs.Need`` (``source="maturity_gap"``) for an item's gap through the needs services and link it:
    ``(need, True)``. It names the indicator's health-system challenges and is not public. An item that has a need
    already returns it: ``(need, False)``."""
    country = country_code(country)
    _require_write(actor, country)
    item = _item_of(country, item_id)
    if item.need_id is not None:
        return item.need, False
    rubric_code = item.roadmap.rubric.code
    code = item.indicator.code
    challenges = indicator_tags(rubric_code, code)["challenges"]
    if not challenges:
        raise Invalid(f"indicator: {code} names no health-system challenge to record a need with")
    data = {
        "country": country,
        "title": f"Maturity gap {code}: {item.title}"[:200],
        "description": (
            f"Roadmap item of {rubric_code} indicator {code} ({item.indicator.name})."
            + (f"\n\n{item.description}" if item.description else "")
        )[:MAX_TEXT],
        "challenges": challenges,
        "source": Source.MATURITY_GAP,
    }
    with transaction.atomic():
        need, created = needs.create_need(actor, data)
        item.need = need
        item.save(update_fields=["need"])
        record(
            actor,
            "planning.item.need",
            object_type="planning.item",
            object_id=item.pk,
            detail={"need": need.public_id, "created": created},
            permission=WRITE,
        )
    return need, True


# --- milestones -----------------------------------------------------------------------------------------------------


def milestone_data(m: Milestone, today: dt.date | None = None) -> dict[str, Any]:
    """A milestone as JSON; ``late`` derived on ``today`` (default: the server's date)."""
    today = today or timezone.localdate()
    return {
        "id": m.pk,
        "item": m.item_id,
        "title": m.title,
        "owner": m.owner,
        "owner_name": m.owner_name,
        "owner_user": m.owner_user.get_username() if m.owner_user_id is not None else None,
        "owner_organisation": m.owner_organisation.slug if m.owner_organisation_id is not None else None,
        "due_date": m.due_date.isoformat(),
        "progress": m.progress,
        "done": m.done,
        "done_at": m.done_at.isoformat() if m.done_at else None,
        "late": m.late_on(today),
        "note": m.note,
    }


@dataclass(frozen=True)
class MilestoneInput:
    title: str
    owner_name: str
    owner_user: User | None
    owner_organisation: Organisation | None
    due_date: dt.date
    progress: int
    done: bool
    note: str


def _date(raw: Any, where: str) -> dt.date:
    if isinstance(raw, dt.date):
        return raw
    text = _text(raw, where, max_length=10, required=True)
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{where}: {text!r} is not a date YYYY-MM-DD") from None
    if value.year not in YEARS:
        raise Invalid(f"{where}: {text!r} is not between 2000 and 2100")
    return value


def validate_milestone(data: Any) -> MilestoneInput:
    """Check a milestone's fields (errors name the field). An owner is required: a person's name, a user (by
    user name) or an organisation (by slug); ``done`` sets progress to 100."""
    if not isinstance(data, dict):
        raise Invalid("expected an object with the milestone's fields")
    unknown = sorted(set(data) - set(MILESTONE_FIELDS))
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field (known: {', '.join(MILESTONE_FIELDS)})")
    owner_user = None
    username = _text(data.get("owner_user"), "owner_user", max_length=150)
    if username:
        owner_user = User.objects.filter(username=username).first()
        if owner_user is None:
            raise Invalid(f"owner_user: no user {username!r}")
    organisation = None
    slug = _text(data.get("owner_organisation"), "owner_organisation", max_length=80)
    if slug:
        organisation = Organisation.objects.filter(slug=slug).first()
        if organisation is None:
            raise Invalid(f"owner_organisation: no organisation {slug!r}")
    owner_name = _text(data.get("owner_name"), "owner_name", max_length=200)
    if not (owner_name or owner_user or organisation):
        raise Invalid("owner_name: name an owner (a person's name, a user or an organisation)")
    done = _bool(data.get("done"), "done")
    progress = 0 if data.get("progress") in (None, "") else _int(data.get("progress"), "progress", range(0, 101))
    return MilestoneInput(
        title=_text(data.get("title"), "title", max_length=200, required=True),
        owner_name=owner_name,
        owner_user=owner_user,
        owner_organisation=organisation,
        due_date=_date(data.get("due_date"), "due_date"),
        progress=100 if done else progress,
        done=done,
        note=_text(data.get("note"), "note", max_length=MAX_TEXT),
    )


def _milestone_values(m: Milestone) -> dict[str, Any]:
    return {
        "title": m.title,
        "owner_name": m.owner_name,
        "owner_user": m.owner_user_id,
        "owner_organisation": m.owner_organisation_id,
        "due_date": m.due_date,
        "progress": m.progress,
        "done": m.done,
        "note": m.note,
    }


def _input_values(inp: MilestoneInput) -> dict[str, Any]:
    return {
        "title": inp.title,
        "owner_name": inp.owner_name,
        "owner_user": inp.owner_user.pk if inp.owner_user else None,
        "owner_organisation": inp.owner_organisation.pk if inp.owner_organisation else None,
        "due_date": inp.due_date,
        "progress": inp.progress,
        "done": inp.done,
        "note": inp.note,
    }


def _apply(m: Milestone, inp: MilestoneInput) -> None:
    m.title, m.owner_name, m.owner_user, m.owner_organisation = (
        inp.title,
        inp.owner_name,
        inp.owner_user,
        inp.owner_organisation,
    )
    m.due_date, m.progress, m.note = inp.due_date, inp.progress, inp.note
    if inp.done and m.done_at is None:
        m.done_at = timezone.now()
    elif not inp.done:
        m.done_at = None


def add_milestone(actor: Actor, country: Any, item_id: Any, data: Any) -> tuple[Milestone, bool]:
    """Add a milestone to an item: ``(milestone, True)``; the same again (same title and values) is
    ``(milestone, False)``; other values under a title the item uses are a 409."""
    country = country_code(country)
    _require_write(actor, country)
    item = _item_of(country, item_id)
    inp = validate_milestone(data)
    existing = item.milestones.filter(title=inp.title).first()
    if existing is not None:
        if _milestone_values(existing) == _input_values(inp):
            return existing, False
        raise Conflict(f"title: the item already has a milestone {inp.title!r}")
    try:
        with transaction.atomic():
            m = Milestone(item=item)
            _apply(m, inp)
            m.save()
            record(
                actor,
                "planning.milestone.create",
                object_type="planning.milestone",
                object_id=m.pk,
                detail={"item": item.pk, "due_date": m.due_date.isoformat(), "owner": m.owner},
                permission=WRITE,
            )
    except IntegrityError:
        raise Conflict(f"title: the item already has a milestone {inp.title!r}") from None
    return m, True


def update_milestone(actor: Actor, country: Any, milestone_id: Any, changes: Any) -> Milestone:
    """Change a milestone (progress, done, due date, owner, ...); marking it done sets progress 100 and the time."""
    country = country_code(country)
    _require_write(actor, country)
    if isinstance(milestone_id, bool) or not str(milestone_id).isdigit() or len(str(milestone_id)) > 18:
        raise NotFound(f"no milestone {str(milestone_id)[:20]!r}")
    m = (
        Milestone.objects.select_related("item", "owner_user", "owner_organisation")
        .filter(pk=int(milestone_id), item__roadmap__country=country)
        .first()
    )
    if m is None:
        raise NotFound(f"no milestone {milestone_id} of {country}")
    if not isinstance(changes, dict):
        raise Invalid("expected an object with the fields to change")
    current = milestone_data(m)
    merged = {
        "title": m.title,
        "owner_name": m.owner_name,
        "owner_user": current["owner_user"] or "",
        "owner_organisation": current["owner_organisation"] or "",
        "due_date": m.due_date.isoformat(),
        "progress": m.progress,
        "done": m.done,
        "note": m.note,
    } | changes
    inp = validate_milestone(merged)
    if inp.title != m.title and Milestone.objects.filter(item=m.item, title=inp.title).exists():
        raise Conflict(f"title: the item already has a milestone {inp.title!r}")
    before = _milestone_values(m)
    if before == _input_values(inp):
        return m
    with transaction.atomic():
        _apply(m, inp)
        m.save()
        after = _milestone_values(m)
        record(
            actor,
            "planning.milestone.update",
            object_type="planning.milestone",
            object_id=m.pk,
            detail={"changed": sorted(k for k in after if after[k] != before[k]), "progress": m.progress},
            permission=WRITE,
        )
    return m


# --- export ---------------------------------------------------------------------------------------------------------


def export_data(view: RoadmapView) -> dict[str, Any]:
    """The roadmap as one JSON document: the country, rubric, gap list, items with links and milestones, summary."""
    return {
        "country": view.country,
        "rubric": view.rubric.code,
        "title": view.roadmap.title if view.roadmap else None,
        "shared": view.roadmap.shared if view.roadmap else False,
        "as_of": view.today.isoformat(),
        "assessment": (
            {"public_id": view.published.assessment.public_id, "year": view.published.assessment.year}
            if view.published is not None
            else None
        ),
        "gaps": [
            {
                "indicator": g.code,
                "name": g.name,
                "current": g.current,
                "assessed": g.assessed,
                "target": g.target,
                "target_year": g.target_year,
                "weight": str(g.weight),
                "gap": g.gap,
                "priority": str(g.priority),
            }
            for g in view.gaps
        ],
        "items": [
            item_data(item) | {"milestones": [milestone_data(m, view.today) for m in item.milestones.all()]}
            for item in view.items
        ],
        "summary": vars(view.summary),
    }


CSV_COLUMNS = (
    "indicator",
    "item",
    "status",
    "actions",
    "projects",
    "products",
    "need",
    "milestone",
    "owner",
    "due_date",
    "progress",
    "done",
    "late",
)


def export_csv(view: RoadmapView) -> str:
    """The roadmap as CSV: one row per milestone (an item without milestones: one row with empty milestone
    columns), so that a spreadsheet can sort and filter by owner, date and lateness."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in view.items:
        data = item_data(item)
        base = [
            data["indicator"],
            _cell(data["title"]),
            data["status"],
            " ".join(data["actions"]),
            " ".join(data["projects"]),
            " ".join(data["products"]),
            data["need"] or "",
        ]
        milestones = list(item.milestones.all())
        if not milestones:
            writer.writerow(base + [""] * 6)
        for m in milestones:
            writer.writerow(
                [
                    *base,
                    _cell(m.title),
                    _cell(m.owner),
                    m.due_date.isoformat(),
                    m.progress,
                    "yes" if m.done else "no",
                    "yes" if m.late_on(view.today) else "no",
                ]
            )
    return out.getvalue()


def _cell(text: str) -> str:
    """A text cell that a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


__all__ = [
    "DEFAULT_RUBRIC",
    "WRITE",
    "Gap",
    "RoadmapView",
    "Suggestions",
    "Summary",
    "add_item",
    "add_milestone",
    "export_csv",
    "export_data",
    "gap_list",
    "gaps",
    "get_item",
    "indicator_tags",
    "may_read",
    "may_write",
    "open_need",
    "roadmap_view",
    "set_targets",
    "suggest",
    "targets",
    "update_item",
    "update_milestone",
    "update_roadmap",
    "visible_countries",
]
