"""Search of the registry's projects: filters, free text, facets, sort and pages.

``search_projects(actor, filters, page=, per_page=, sort=)`` answers one :class:`SearchPage`: the projects of the
page, how many match, and *facets* — for each filter, its values with the number of matching projects.

Semantics
    Values of one filter are alternatives (``country=KE&country=UG``: either); different filters must all hold.
    Interventions match a project tagged with the concept, a concept below it (``cdhi-v1:1.1`` finds
    ``cdhi-v1:1.1.1``) or a crosswalk equivalent of either (``taxonomy.services.equivalents``: a 2023 code finds
    projects tagged in CDHI v1). Challenges match the concept or one below it. Funders are the project's
    funders; products, standards, licences and open source are those of the project's products (a standard
    matches a project one of whose products supports it; ``open_source=True`` a project with at least one
    open-source product, ``False`` a project with products of which none is open source). Free text: every word
    must occur (case-insensitive) in the project's name, description or public id, or in the name of one of its
    products, implementers or funders.

Facets are *disjunctive*: the counts of one filter's values are taken with every other filter applied but not
that filter itself, so that choosing Kenya still shows how many projects Uganda would add. Each facet lists at
most :data:`FACET_LIMIT` values (by count), plus any selected value.

Visibility
    Published projects, for anyone. A country administrator (``CountryAdmin`` with ``atlas:project:approve``) or
    a holder of ``atlas:registry:manage`` may ask for other statuses (``filters.status``); those are included
    for the countries they administer only, and the read is audited (``atlas.project.search``).

Speed
    Search reads a per-process index of the registry (:class:`_Index`: for every filter value the set of
    project ids, each project's relations and sort keys, the names and tags shown, the concept tree and the
    crosswalk), rebuilt when one query's *stamp* of the registry moves. Filters are unions and intersections of
    those sets; each facet value's count is one intersection; only the stamp, the free text (``LIKE`` on the
    database) and the page's projects are queries. :func:`filtered_projects` (the map, the portfolio) expresses the
    same filters as SQL semi-joins on the link tables; a test checks that both select the same projects.
"""

from __future__ import annotations

import heapq
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import connection, transaction
from django.db.models import Q, QuerySet, Subquery
from django.db.models.functions import Lower

from dhnet.atlas.models import CountryAdmin, Product, Project, ProjectStatus, RecordVersion, Stage
from dhnet.audit import services as audit
from dhnet.network.models import Organisation
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid
from dhnet.taxonomy import services as taxonomy
from dhnet.taxonomy.models import SHORT_CODES, Concept

REGISTRY_MANAGE = "atlas:registry:manage"
PROJECT_APPROVE = "atlas:project:approve"

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_VALUES = 50  # values of one filter
MAX_QUERY_CHARS = 200
MAX_WORDS = 8
FACET_LIMIT = 15

#: Sort keys -> ordering. ``stage`` runs from planning to institutionalised.
SORTS = {
    "name": ("Name", ("name_key", "id")),
    "country": ("Country", ("country", "name_key", "id")),
    "recent": ("Recently changed", ("-updated_at", "-id")),
    "stage": ("Stage (most advanced first)", ("-stage_rank", "name_key", "id")),
}
STAGE_ORDER: list[str] = list(Stage.values)
PUBLISHED = "published"
INTERVENTION_SCHEMES = ("cdhi-v1", "cdhi-2023")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class ProjectFilters:
    """What to look for (see the module docstring for the meaning of each filter)."""

    q: str = ""
    countries: tuple[str, ...] = ()
    interventions: tuple[str, ...] = ()  # tags, cdhi-v1:... or cdhi-2023:...
    challenges: tuple[str, ...] = ()  # tags hsc:...
    stages: tuple[str, ...] = ()
    funders: tuple[str, ...] = ()  # organisation slugs
    products: tuple[str, ...] = ()  # product slugs
    standards: tuple[str, ...] = ()  # tags standard:...
    licences: tuple[str, ...] = ()  # SPDX ids or "proprietary", case-insensitive
    open_source: bool | None = None
    status: tuple[str, ...] = ()  # empty: published only

    def params(self) -> list[tuple[str, str]]:
        """The filters as query-string pairs (for links: pages, facets, exports)."""
        pairs: list[tuple[str, str]] = []
        if self.q:
            pairs.append(("q", self.q))
        for name, values in (
            ("country", self.countries),
            ("intervention", self.interventions),
            ("challenge", self.challenges),
            ("stage", self.stages),
            ("funder", self.funders),
            ("product", self.products),
            ("standard", self.standards),
            ("licence", self.licences),
            ("status", self.status),
        ):
            pairs.extend((name, v) for v in values)
        if self.open_source is not None:
            pairs.append(("open_source", "true" if self.open_source else "false"))
        return pairs

    @property
    def empty(self) -> bool:
        return not self.params()


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass(frozen=True)
class Facet:
    name: str
    label: str
    values: list[FacetValue]
    more: int = 0  # values with a count left out (beyond FACET_LIMIT)


@dataclass
class SearchPage:
    projects: list[Project]
    hits: list[Hit]
    total: int
    facets: list[Facet]
    page: int
    per_page: int
    sort: str
    filters: ProjectFilters
    unpublished: bool = False  # whether statuses other than published were included

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.projects else 0

    @property
    def last(self) -> int:
        return self.first + len(self.projects) - 1 if self.projects else 0


# --- who sees what ------------------------------------------------------------------------------------------------


def administered_countries(actor: Actor) -> frozenset[str] | None:
    """The countries whose unpublished projects the actor may list: ``None`` for every country (registry
    managers), else those of their ``CountryAdmin`` appointments (which count with ``atlas:project:approve``)."""
    if actor.has(REGISTRY_MANAGE):
        return None
    if actor.user_id is None or not actor.has(PROJECT_APPROVE):
        return frozenset()
    return frozenset(CountryAdmin.objects.filter(user_id=actor.user_id).values_list("country", flat=True))


def visibility_q(actor: Actor, statuses: Iterable[str] = ()) -> tuple[Q, bool]:
    """The condition on projects for a listing (published, plus ``statuses`` where the actor administers the
    country), and whether anything unpublished was asked for. ``Forbidden`` when unpublished statuses are asked
    for by someone who administers no country."""
    statuses = tuple(statuses)
    wanted = [s for s in dict.fromkeys(statuses) if s != PUBLISHED]
    published_asked = not statuses or PUBLISHED in statuses
    q = Q(status=PUBLISHED) if published_asked else Q(pk__in=[])
    if not wanted:
        return q, False
    countries = administered_countries(actor)
    if countries is not None and not countries:
        raise Forbidden("status: only a country's registry administrators may include unpublished projects")
    extra = Q(status__in=wanted) if countries is None else Q(status__in=wanted, country__in=sorted(countries))
    return q | extra, True


# --- parsing and resolving ----------------------------------------------------------------------------------------


def _clean_list(values: Iterable[str], name: str) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    if len(out) > MAX_VALUES:
        raise Invalid(f"{name}: at most {MAX_VALUES} values")
    for v in out:
        if len(v) > 100:
            raise Invalid(f"{name}: {v[:20]!r}... is longer than 100 characters")
    return out


def _concepts(index: _Index, tags: Iterable[str], name: str, schemes: tuple[str, ...]) -> list[int]:
    """The concept ids of ``tags`` (``Invalid`` naming the filter and the tag: malformed, unknown, wrong scheme)."""
    found = []
    for tag in tags:
        try:
            scheme, code = taxonomy.parse_tag(tag)
        except Invalid as exc:
            raise Invalid(f"{name}: {exc.message}") from None
        pk = index.concept_ids.get((scheme, code))
        if pk is None:
            raise Invalid(f"{name}: unknown tag {tag!r}")
        if scheme not in schemes:
            raise Invalid(f"{name}: {tag!r} is not a tag of {' or '.join(schemes)}")
        found.append(pk)
    return found


def _with_descendants(index: _Index, ids: Iterable[int]) -> set[int]:
    """The concepts and every concept below them."""
    out = set(ids)
    frontier = list(out)
    while frontier:
        nxt = [c for pk in frontier for c in index.children.get(pk, ()) if c not in out]
        out.update(nxt)
        frontier = nxt
    return out


def equivalent_ids(index: _Index, ids: Iterable[int]) -> set[int]:
    """Concepts, those below them, their crosswalk equivalents and those below these: the relation of
    ``taxonomy.services.equivalents`` (``equivalent`` mappings in either direction), read from the index."""
    below = _with_descendants(index, ids)
    linked = {e for pk in below for e in index.equivalent.get(pk, ())}
    return below | _with_descendants(index, linked)


@dataclass(frozen=True)
class _Resolved:
    words: tuple[str, ...]
    countries: tuple[str, ...]
    stages: tuple[str, ...]
    intervention_ids: frozenset[int] | None
    challenge_ids: frozenset[int] | None
    standard_ids: frozenset[int] | None
    funder_ids: frozenset[int] | None
    product_ids: frozenset[int] | None
    licences: tuple[str, ...]
    open_source: bool | None


def normalise(filters: ProjectFilters) -> ProjectFilters:
    """Checked and normalised filters (``Invalid`` naming the filter and value at fault)."""
    q = " ".join((filters.q or "").split())
    if len(q) > MAX_QUERY_CHARS:
        raise Invalid(f"q: at most {MAX_QUERY_CHARS} characters")
    countries = tuple(c.upper() for c in _clean_list(filters.countries, "country"))
    for c in countries:
        if not _COUNTRY_RE.match(c):
            raise Invalid(f"country: {c!r} is not an ISO 3166-1 alpha-2 code (two letters, e.g. KE)")
    stages = _clean_list(filters.stages, "stage")
    for s in stages:
        if s not in STAGE_ORDER:
            raise Invalid(f"stage: {s!r} is not one of {', '.join(STAGE_ORDER)}")
    statuses = _clean_list(filters.status, "status")
    for s in statuses:
        if s not in ProjectStatus.values:
            raise Invalid(f"status: {s!r} is not one of {', '.join(ProjectStatus.values)}")
    return replace(
        filters,
        q=q,
        countries=countries,
        interventions=_clean_list(filters.interventions, "intervention"),
        challenges=_clean_list(filters.challenges, "challenge"),
        stages=stages,
        funders=_clean_list(filters.funders, "funder"),
        products=_clean_list(filters.products, "product"),
        standards=_clean_list(filters.standards, "standard"),
        licences=tuple(dict.fromkeys(v.lower() for v in _clean_list(filters.licences, "licence"))),
        status=statuses,
    )


def _slug_ids(ids_by_slug: dict[str, int], slugs: tuple[str, ...], name: str) -> frozenset[int] | None:
    if not slugs:
        return None
    unknown = [slug for slug in slugs if slug not in ids_by_slug]
    if unknown:
        raise Invalid(f"{name}: no {name} {unknown[0]!r} in the registry")
    return frozenset(ids_by_slug[slug] for slug in slugs)


def _resolve(index: _Index, f: ProjectFilters) -> _Resolved:
    words = tuple(f.q.split())[:MAX_WORDS] if f.q else ()
    interventions = _concepts(index, f.interventions, "intervention", INTERVENTION_SCHEMES)
    challenges = _concepts(index, f.challenges, "challenge", ("hsc",))
    standards = _concepts(index, f.standards, "standard", ("standard",))
    return _Resolved(
        words=words,
        countries=f.countries,
        stages=f.stages,
        intervention_ids=frozenset(equivalent_ids(index, interventions)) if interventions else None,
        challenge_ids=frozenset(_with_descendants(index, challenges)) if challenges else None,
        standard_ids=frozenset(standards) if standards else None,
        funder_ids=_slug_ids({slug: pk for pk, (slug, _) in index.orgs.items()}, f.funders, "funder"),
        product_ids=_slug_ids({slug: pk for pk, (slug, _) in index.products.items()}, f.products, "product"),
        licences=f.licences,
        open_source=f.open_source,
    )


# --- the query ------------------------------------------------------------------------------------------------------

_Interventions = Project.interventions.through
_Challenges = Project.challenges.through
_Funders = Project.funders.through
_Implementers = Project.implementers.through
_Products = Project.products.through
_Standards = Product.standards.through


def _ids(qs: QuerySet[Any], column: str = "project_id") -> Subquery:
    return Subquery(qs.order_by().values(column))


def _text_q(word: str) -> Q:
    return (
        Q(name__icontains=word)
        | Q(description__icontains=word)
        | Q(public_id__iexact=word)
        | Q(pk__in=_ids(_Products.objects.filter(product__name__icontains=word)))
        | Q(pk__in=_ids(_Implementers.objects.filter(organisation__name__icontains=word)))
        | Q(pk__in=_ids(_Funders.objects.filter(organisation__name__icontains=word)))
    )


def _conditions(r: _Resolved) -> dict[str, Q]:
    """One condition per active filter (keyed by facet name; ``q`` for the text)."""
    c: dict[str, Q] = {}
    if r.words:
        text = Q()
        for word in r.words:
            text &= _text_q(word)
        c["q"] = text
    if r.countries:
        c["country"] = Q(country__in=r.countries)
    if r.stages:
        c["stage"] = Q(stage__in=r.stages)
    if r.intervention_ids is not None:
        c["intervention"] = Q(pk__in=_ids(_Interventions.objects.filter(concept_id__in=sorted(r.intervention_ids))))
    if r.challenge_ids is not None:
        c["challenge"] = Q(pk__in=_ids(_Challenges.objects.filter(concept_id__in=sorted(r.challenge_ids))))
    if r.funder_ids is not None:
        c["funder"] = Q(pk__in=_ids(_Funders.objects.filter(organisation_id__in=sorted(r.funder_ids))))
    if r.product_ids is not None:
        c["product"] = Q(pk__in=_ids(_Products.objects.filter(product_id__in=sorted(r.product_ids))))
    if r.standard_ids is not None:
        supporting = _Standards.objects.filter(concept_id__in=sorted(r.standard_ids)).values("product_id")
        c["standard"] = Q(pk__in=_ids(_Products.objects.filter(product_id__in=Subquery(supporting))))
    if r.licences:
        products = Product.objects.annotate(lic=Lower("licence")).filter(lic__in=r.licences).values("pk")
        c["licence"] = Q(pk__in=_ids(_Products.objects.filter(product_id__in=Subquery(products))))
    if r.open_source is True:
        c["open_source"] = Q(pk__in=_ids(_Products.objects.filter(product__open_source=True)))
    elif r.open_source is False:
        c["open_source"] = Q(pk__in=_ids(_Products.objects.all())) & ~Q(
            pk__in=_ids(_Products.objects.filter(product__open_source=True))
        )
    return c


def matching(visible: Q, conditions: dict[str, Q], *, without: str = "") -> QuerySet[Project]:
    qs = Project.objects.order_by().filter(visible)
    for name, cond in conditions.items():
        if name != without:
            qs = qs.filter(cond)
    return qs


def filtered_projects(actor: Actor, filters: ProjectFilters) -> QuerySet[Project]:
    """The projects matching ``filters`` that the actor may list (for the map, the portfolio and exports)."""
    f = normalise(filters)
    visible, _ = visibility_q(actor, f.status)
    return matching(visible, _conditions(_resolve(project_index(), f)))


# --- facets ---------------------------------------------------------------------------------------------------------


def _top(counts: dict[Any, int], selected: Iterable[Any]) -> tuple[list[Any], int]:
    chosen = set(selected)
    ranked = sorted(counts, key=lambda k: (-counts[k], str(k)))
    kept = ranked[:FACET_LIMIT]
    kept += [k for k in ranked[FACET_LIMIT:] if k in chosen]
    return kept, len(counts) - len(kept)


def country_names() -> dict[str, str]:
    from dhnet.network.timezones import countries

    return countries()


def country_name(code: str) -> str:
    return country_names().get(code, code)


def _facets(
    index: _Index, visible: set[int], sets: dict[str, set[int]], f: ProjectFilters, r: _Resolved
) -> list[Facet]:
    """Every facet, each counted over the projects matching every *other* filter (see the module docstring)."""

    def candidates(without: str) -> set[int]:
        return _intersect([visible, *(v for k, v in sets.items() if k != without)])

    plain = visible is index.published  # the public listing: counts without other filters are cached

    def count(postings: dict[Any, set[int]], without: str) -> dict[Any, int]:
        unfiltered = plain and not any(k != without for k in sets)
        if unfiltered and without in index.published_counts:
            return index.published_counts[without]
        cand = candidates(without)
        out = {}
        for key, pids in postings.items():
            n = len(pids & cand) if len(pids) < len(cand) else len(cand & pids)
            if n:
                out[key] = n
        if unfiltered:
            index.published_counts[without] = out
        return out

    facets: list[Facet] = []
    names = country_names()
    counts = count(index.by_country, "country")
    keys, more = _top(counts, f.countries) if len(counts) > 60 else (sorted(counts, key=lambda k: (-counts[k], k)), 0)
    facets.append(
        Facet(
            "country",
            "Country",
            [FacetValue(k, f"{names.get(k, k)} ({k})", counts[k], k in f.countries) for k in keys],
            more,
        )
    )
    counts = count(index.by_stage, "stage")
    facets.append(
        Facet(
            "stage",
            "Stage",
            [FacetValue(s, STAGE_LABELS[s], counts[s], s in f.stages) for s in STAGE_ORDER if s in counts],
        )
    )
    concept_counts = {
        "intervention": count(index.by_intervention, "intervention"),
        "challenge": count(index.by_challenge, "challenge"),
        "standard": count(index.by_standard, "standard"),
    }
    labels = index.labels
    facets.append(
        _concept_facet("intervention", "Intervention (CDHI)", concept_counts["intervention"], labels, f.interventions)
    )
    facets.append(
        _concept_facet("challenge", "Health-system challenge", concept_counts["challenge"], labels, f.challenges)
    )
    counts = count(index.by_funder, "funder")
    keys, more = _top(counts, r.funder_ids or ())
    orgs = index.orgs
    facets.append(
        Facet(
            "funder",
            "Funder",
            [FacetValue(orgs[k][0], orgs[k][1], counts[k], orgs[k][0] in f.funders) for k in keys if k in orgs],
            more,
        )
    )
    counts = count(index.by_product, "product")
    keys, more = _top(counts, r.product_ids or ())
    products = index.products
    facets.append(
        Facet(
            "product",
            "Product",
            [
                FacetValue(products[k][0], products[k][1], counts[k], products[k][0] in f.products)
                for k in keys
                if k in products
            ],
            more,
        )
    )
    facets.append(_concept_facet("standard", "Standard", concept_counts["standard"], labels, f.standards))
    counts = count(index.by_licence, "licence")
    keys, more = _top(counts, f.licences)
    facets.append(Facet("licence", "Licence", [FacetValue(k, k, counts[k], k in f.licences) for k in keys], more))
    cand = candidates("open_source")
    open_count = len(cand & index.open_products)
    closed_count = len(cand & index.with_products) - open_count
    values = []
    if open_count:
        values.append(FacetValue("true", "Open source", open_count, f.open_source is True))
    if closed_count:
        values.append(FacetValue("false", "Proprietary only", closed_count, f.open_source is False))
    facets.append(Facet("open_source", "Open source", values))
    return facets


def _concept_facet(
    name: str, label: str, counts: dict[int, int], labels: dict[int, tuple[str, str]], selected: tuple[str, ...]
) -> Facet:
    keys, more = _top(counts, [k for k in counts if k in labels and labels[k][0] in selected])
    values = [FacetValue(labels[k][0], labels[k][1], counts[k], labels[k][0] in selected) for k in keys if k in labels]
    shown = {v.value for v in values}
    # a selected tag without matches still shows, so that it can be removed
    values += [FacetValue(tag, tag, 0, True) for tag in selected if tag not in shown]
    return Facet(name, label, values, more)


# --- the in-memory index ----------------------------------------------------------------------------------------------


@dataclass
class _Index:
    """Who has what, for every project: the postings (value -> project ids) of each filter, each project's
    relations, the sort keys, and the names and tags shown (organisations, products, concepts, the crosswalk).

    Built from the database in a few queries and kept per process while the registry's *stamp* stays the same:
    counts and latest changes of projects, products, organisations, their link tables, concepts and mappings (every
    write of the registry's services saves the project or product, which moves ``updated_at`` and ``version``).
    Filters and facets are then set intersections in memory; only the stamp, the free text and the page's projects
    go to the database.
    """

    stamp: tuple[Any, ...]
    by_status: dict[str, set[int]] = field(default_factory=dict)
    by_country: dict[str, set[int]] = field(default_factory=dict)
    by_stage: dict[str, set[int]] = field(default_factory=dict)
    by_intervention: dict[int, set[int]] = field(default_factory=dict)
    by_challenge: dict[int, set[int]] = field(default_factory=dict)
    by_funder: dict[int, set[int]] = field(default_factory=dict)
    by_product: dict[int, set[int]] = field(default_factory=dict)
    by_standard: dict[int, set[int]] = field(default_factory=dict)
    by_licence: dict[str, set[int]] = field(default_factory=dict)
    open_products: set[int] = field(default_factory=set)  # projects with an open-source product
    open_product_ids: set[int] = field(default_factory=set)  # the open-source products
    with_products: set[int] = field(default_factory=set)
    name_key: dict[int, str] = field(default_factory=dict)
    country: dict[int, str] = field(default_factory=dict)
    stage_rank: dict[int, int] = field(default_factory=dict)
    updated: dict[int, float] = field(default_factory=dict)
    text: dict[int, str] = field(default_factory=dict)  # name, description and public id, lower case
    published: set[int] = field(default_factory=set)
    published_counts: dict[str, dict[Any, int]] = field(default_factory=dict)  # facets of the plain listing
    by_implementer: dict[int, set[int]] = field(default_factory=dict)
    products_of: dict[int, list[int]] = field(default_factory=dict)
    funders_of: dict[int, list[int]] = field(default_factory=dict)
    implementers_of: dict[int, list[int]] = field(default_factory=dict)
    interventions_of: dict[int, list[int]] = field(default_factory=dict)
    challenges_of: dict[int, list[int]] = field(default_factory=dict)
    orgs: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (slug, name)
    products: dict[int, tuple[str, str]] = field(default_factory=dict)
    labels: dict[int, tuple[str, str]] = field(default_factory=dict)  # concept id -> (tag, "code name")
    concept_ids: dict[tuple[str, str], int] = field(default_factory=dict)  # (scheme, code) -> id
    children: dict[int, list[int]] = field(default_factory=dict)
    equivalent: dict[int, set[int]] = field(default_factory=dict)


_INDEX: _Index | None = None
_INDEX_LOCK = threading.Lock()


def _stamp() -> tuple[Any, ...]:
    """One query: what moves whenever the registry, its organisations or the classifications change."""

    def table(model: Any) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    # Every write of the registry's services (and of its import and generator) stores a RecordVersion: its
    # largest id moves with every change of a project or product; the counts catch deletions.
    parts = [
        f"(SELECT MAX(id) FROM {table(RecordVersion)})",
        # and when it was written: on SQLite a rolled-back id is handed out again (tests), its time is not
        f"(SELECT changed_at FROM {table(RecordVersion)} ORDER BY id DESC LIMIT 1)",
        f"(SELECT COUNT(*) FROM {table(Project)})",
        f"(SELECT COUNT(*) FROM {table(Product)})",
        f"(SELECT MAX(updated_at) FROM {table(Product)})",
        f"(SELECT COUNT(*) FROM {table(Organisation)})",
        f"(SELECT MAX(updated_at) FROM {table(Organisation)})",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts))
        row = cursor.fetchone()
    return (connection.alias, connection.settings_dict.get("NAME"), *row)


def _postings(rows: Iterable[tuple[Any, Any]], of: dict[int, list[int]] | None = None) -> dict[Any, set[int]]:
    out: dict[Any, set[int]] = {}
    for pid, key in rows:
        out.setdefault(key, set()).add(pid)
        if of is not None:
            of.setdefault(pid, []).append(key)
    return out


def _links(model: Any, column: str) -> Any:
    return model.objects.order_by("id").values_list("project_id", column)


def _build(stamp: tuple[Any, ...]) -> _Index:
    from dhnet.taxonomy.models import Mapping, Relation

    index = _Index(stamp)
    rank = {s: i for i, s in enumerate(STAGE_ORDER[:-1])}  # discontinued ranks last
    for pid, status, country, stage, name, updated, public_id, description in (
        Project.objects.order_by()
        .annotate(name_key=Lower("name"))
        .values_list("id", "status", "country", "stage", "name_key", "updated_at", "public_id", "description")
    ):
        index.text[pid] = f"{name}\n{description.lower()}\n{public_id.lower()}"
        index.by_status.setdefault(status, set()).add(pid)
        index.by_country.setdefault(country, set()).add(pid)
        index.by_stage.setdefault(stage, set()).add(pid)
        index.name_key[pid] = name
        index.country[pid] = country
        index.stage_rank[pid] = rank.get(stage, -1)
        index.updated[pid] = updated.timestamp() if updated else 0.0
    index.by_intervention = _postings(_links(_Interventions, "concept_id"), index.interventions_of)
    index.by_challenge = _postings(_links(_Challenges, "concept_id"), index.challenges_of)
    index.by_funder = _postings(_links(_Funders, "organisation_id"), index.funders_of)
    index.by_implementer = _postings(_links(_Implementers, "organisation_id"), index.implementers_of)
    index.by_product = _postings(_links(_Products, "product_id"), index.products_of)
    standards = _postings(_Standards.objects.order_by().values_list("concept_id", "product_id"))  # product -> concepts
    licence: dict[int, str] = {}
    for pk, slug, name, lic, is_open in Product.objects.order_by().values_list(
        "pk", "slug", "name", "licence", "open_source"
    ):
        index.products[pk] = (slug, name)
        licence[pk] = (lic or "").lower()
        if is_open:
            index.open_product_ids.add(pk)
            index.open_products |= index.by_product.get(pk, set())
    index.published = index.by_status.get(PUBLISHED, set())
    for product_id, pids in index.by_product.items():
        index.with_products |= pids
        for concept_id in standards.get(product_id, ()):
            index.by_standard.setdefault(concept_id, set()).update(pids)
        if licence.get(product_id):
            index.by_licence.setdefault(licence[product_id], set()).update(pids)
    index.orgs = {
        pk: (slug, name) for pk, slug, name in Organisation.objects.order_by().values_list("pk", "slug", "name")
    }
    for pk, scheme, code, name, parent in Concept.objects.order_by("ordinal").values_list(
        "pk", "scheme__code", "code", "name", "parent_id"
    ):
        index.labels[pk] = (f"{SHORT_CODES.get(scheme, scheme)}:{code}", f"{code} {name}")
        index.concept_ids[(scheme, code)] = pk
        if parent is not None:
            index.children.setdefault(parent, []).append(pk)
    for source, target in (
        Mapping.objects.order_by().filter(relation=Relation.EQUIVALENT).values_list("source_id", "target_id")
    ):
        index.equivalent.setdefault(source, set()).add(target)
        index.equivalent.setdefault(target, set()).add(source)
    return index


def project_index() -> _Index:
    """The index of the registry as it is now (rebuilt when the stamp moved)."""
    global _INDEX
    current = _INDEX
    stamp = _stamp()
    if current is not None and current.stamp == stamp:
        return current
    with _INDEX_LOCK:
        if _INDEX is None or _INDEX.stamp != stamp:
            _INDEX = _build(stamp)
        return _INDEX


def _union(postings: dict[Any, set[int]], keys: Iterable[Any]) -> set[int]:
    out: set[int] = set()
    for key in keys:
        out |= postings.get(key, set())
    return out


def _intersect(sets: list[set[int]]) -> set[int]:
    ordered = sorted(sets, key=len)
    result = set(ordered[0])
    for other in ordered[1:]:
        result &= other
        if not result:
            break
    return result


def _visible_ids(index: _Index, actor: Actor, statuses: tuple[str, ...]) -> tuple[set[int], bool]:
    wanted = [s for s in dict.fromkeys(statuses) if s != PUBLISHED]
    if not wanted:
        return (index.published if not statuses or PUBLISHED in statuses else set()), False
    ids = set(index.published) if PUBLISHED in statuses else set()
    countries = administered_countries(actor)
    if countries is not None and not countries:
        raise Forbidden("status: only a country's registry administrators may include unpublished projects")
    extra = _union(index.by_status, wanted)
    if countries is not None:
        extra &= _union(index.by_country, countries)
    return ids | extra, True


def _sets(index: _Index, r: _Resolved) -> dict[str, set[int]]:
    """One set of project ids per active filter."""
    c: dict[str, set[int]] = {}
    if r.words:
        c["q"] = _text_ids(index, r.words)
    if r.countries:
        c["country"] = _union(index.by_country, r.countries)
    if r.stages:
        c["stage"] = _union(index.by_stage, r.stages)
    if r.intervention_ids is not None:
        c["intervention"] = _union(index.by_intervention, r.intervention_ids)
    if r.challenge_ids is not None:
        c["challenge"] = _union(index.by_challenge, r.challenge_ids)
    if r.funder_ids is not None:
        c["funder"] = _union(index.by_funder, r.funder_ids)
    if r.product_ids is not None:
        c["product"] = _union(index.by_product, r.product_ids)
    if r.standard_ids is not None:
        c["standard"] = _union(index.by_standard, r.standard_ids)
    if r.licences:
        c["licence"] = _union(index.by_licence, r.licences)
    if r.open_source is True:
        c["open_source"] = index.open_products
    elif r.open_source is False:
        c["open_source"] = index.with_products - index.open_products
    return c


def _text_ids(index: _Index, words: tuple[str, ...]) -> set[int]:
    """Projects where every word occurs (case-insensitive) in the name, description or public id, or in the name
    of one of their products, implementers or funders — the same as the SQL of :func:`_text_q`."""
    result: set[int] | None = None
    for word in words:
        w = word.lower()
        hits = {pid for pid, text in index.text.items() if w in text}
        hits |= _union(index.by_product, [pk for pk, (_, name) in index.products.items() if w in name.lower()])
        orgs = [pk for pk, (_, name) in index.orgs.items() if w in name.lower()]
        hits |= _union(index.by_funder, orgs) | _union(index.by_implementer, orgs)
        result = hits if result is None else result & hits
        if not result:
            break
    return result or set()


def _sort_key(index: _Index, sort: str) -> Callable[[int], Any]:
    if sort == "country":
        return lambda pid: (index.country[pid], index.name_key[pid], pid)
    if sort == "recent":
        return lambda pid: (-index.updated[pid], -pid)
    if sort == "stage":
        return lambda pid: (-index.stage_rank[pid], index.name_key[pid], pid)
    return lambda pid: (index.name_key[pid], pid)


# --- the service ----------------------------------------------------------------------------------------------------


def _parse_sort(sort: str) -> str:
    sort = (sort or "name").strip()
    if sort not in SORTS:
        raise Invalid(f"sort: {sort!r} is not one of {', '.join(SORTS)}")
    return sort


def _page_projects(ids: list[int]) -> list[Project]:
    """The projects ``ids`` in that order (one query; their relations are read by :func:`hits`)."""
    by_id = {p.pk: p for p in Project.objects.filter(pk__in=ids)}
    return [by_id[pk] for pk in ids if pk in by_id]


def search_projects(
    actor: Actor,
    filters: ProjectFilters,
    *,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    sort: str = "name",
    facets: bool = True,
) -> SearchPage:
    """The page ``page`` of the projects matching ``filters`` that the actor may list, with facets."""
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise Invalid(f"per_page: a number between 1 and {MAX_PER_PAGE}")
    if page < 1 or page > 10_000:
        raise Invalid("page: a number from 1 to 10000")
    sort = _parse_sort(sort)
    f = normalise(filters)
    index = project_index()
    resolved = _resolve(index, f)
    visible, unpublished = _visible_ids(index, actor, f.status)
    sets = _sets(index, resolved)
    matched = _intersect([visible, *sets.values()])
    total = len(matched)
    offset = (page - 1) * per_page
    key = _sort_key(index, sort)
    ordered = (
        heapq.nsmallest(offset + per_page, matched, key=key) if offset + per_page < total else sorted(matched, key=key)
    )
    projects = _page_projects(ordered[offset : offset + per_page])
    result = SearchPage(
        projects=projects,
        hits=hits(projects, index),
        total=total,
        facets=_facets(index, visible, sets, f, resolved) if facets else [],
        page=page,
        per_page=per_page,
        sort=sort,
        filters=f,
        unpublished=unpublished,
    )
    if unpublished:
        with transaction.atomic():
            audit.record(
                actor,
                "atlas.project.search",
                object_type="atlas.project",
                detail={"filters": dict(_group(f.params())), "total": total, "page": page},
                permission=PROJECT_APPROVE,
            )
    return result


def _group(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in pairs:
        out.setdefault(k, []).append(v)
    return out


# --- the shape of a hit -------------------------------------------------------------------------------------------


@dataclass
class Hit:
    """A project as search results, the map and the portfolio show it (no contact details)."""

    public_id: str
    name: str
    country: str
    country_name: str
    status: str
    stage: str
    stage_label: str
    products: list[dict[str, str]] = field(default_factory=list)
    implementers: list[dict[str, str]] = field(default_factory=list)
    funders: list[dict[str, str]] = field(default_factory=list)
    interventions: list[str] = field(default_factory=list)
    challenges: list[str] = field(default_factory=list)
    national_scale: bool = False
    description: str = ""

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


STAGE_LABELS: dict[str, str] = {str(k): str(v) for k, v in Stage.choices}


def hits(projects: list[Project], index: _Index | None = None) -> list[Hit]:
    """The summaries of ``projects``, their relations and names read from the index (the one just used, or the
    current one)."""
    index = index if index is not None else project_index()

    def named(table: dict[int, list[int]], names: dict[int, tuple[str, str]], pid: int) -> list[dict[str, str]]:
        rows = [names[k] for k in table.get(pid, ()) if k in names]
        return [{"slug": slug, "name": name} for slug, name in sorted(rows, key=lambda r: r[1].lower())]

    def tags(table: dict[int, list[int]], pid: int) -> list[str]:
        return [index.labels[k][0] for k in table.get(pid, ()) if k in index.labels]

    return [
        Hit(
            public_id=p.public_id,
            name=p.name,
            country=p.country,
            country_name=country_name(p.country),
            status=p.status,
            stage=p.stage,
            stage_label=STAGE_LABELS.get(p.stage, p.stage),
            products=named(index.products_of, index.products, p.pk),
            implementers=named(index.implementers_of, index.orgs, p.pk),
            funders=named(index.funders_of, index.orgs, p.pk),
            interventions=tags(index.interventions_of, p.pk),
            challenges=tags(index.challenges_of, p.pk),
            national_scale=p.national_scale,
            description=p.description[:300],
        )
        for p in projects
    ]
