"""Ranking products and deployments for a need, with a score whose every part is shown and explained.

A candidate is a software product (any), or a published project of the need's country or of a country in the
same WHO region. Its score is the sum over the parts of ``weight x value`` (each value in [0, 1], the weights in
``data/weights.json`` adding up to 1), times 100:

``interventions``
    the share of the need's challenges that the candidate addresses: it supports an intervention that addresses
    the challenge (``data/challenge_interventions.json``, written by the project, plus interventions tagged
    together with the challenge in at least ``co_occurrence_min`` published projects), crosswalk-equivalent
    CDHI v1 / 2023 codes counted alike; a project (or, for a product, one of its published deployments) tagged
    with the challenge itself addresses it too.
``standards``
    the share of the standards the need requires that the product supports (a project: its products' standards
    and those of its interoperability links); 1 when the need requires none.
``evidence``
    half for deployments at scale (``atlas.models.AT_SCALE``), half for outcome data: a product scores
    ``min(n, 3) / 3`` for each (n published deployments at scale; n with outcome metrics), a project 1 or 0.
``feedback``
    the mean user rating over the five dimensions, mapped from 1..5 to 0..1, only from deployments with at least
    ``FEEDBACK_MIN_RATINGS`` visible ratings (a product: over its deployments, weighted by their counts); absent,
    the neutral 0.5, and the reason says so.
``openness``
    0.5 for open source, plus 0.5 for a digital public good (0.25 for a nominee); a project: its best product.
``similar_countries``
    a product: ``min(n, 3) / 3`` for n countries of the need's WHO region with a published deployment of it; a
    project: 1 in the need's country, 0.5 elsewhere in the region.
``languages``
    the share of the need's languages the product's interface offers (1 when the need names none; 0.5 when the
    product states none).
``connectivity``
    for a need with no or intermittent connectivity, 1 when the product works offline, else 0; 1 otherwise.
``cost``
    1 when the observed cost (a project: its budget lines in the need's currency; a product: the median total of
    its published deployments' budgets in that currency) is within the need's budget, else budget / cost; 1 when
    the need states no budget, 0.5 when no cost in that currency is known.

Speed (the floor: p95 <= 300 ms on 10,000 projects). The published registry is read into a :class:`Snapshot` in a
fixed number of queries whatever the number of candidates, with per-product aggregates precomputed, and kept per
process until a cheap fingerprint (count, version sum and last update of projects and products, the crosswalk's
size) changes. Ratings are read fresh on every match. Every candidate is first scored by values only (a deployment
without building its parts); only the best are explained in words.
"""

from __future__ import annotations

import json
import statistics
import threading
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Sum

from dhnet.atlas.models import (
    AT_SCALE,
    BudgetLine,
    DpgStatus,
    InteropLink,
    MetricKind,
    MetricValue,
    Product,
    Project,
    ProjectStatus,
)
from dhnet.feedback.models import Rating, RatingStatus
from dhnet.feedback.services import min_ratings, summaries
from dhnet.needs.models import LOW_CONNECTIVITY, MatchDecision, Need
from dhnet.network import services as network
from dhnet.taxonomy.models import Concept, Mapping, Relation
from dhnet.taxonomy.services import equivalents as taxonomy_equivalents

DATA = Path(__file__).resolve().parent / "data"
PUBLISHED = ProjectStatus.PUBLISHED
#: The stages counted at scale, as stored values.
SCALE_STAGES: frozenset[str] = frozenset(str(s) for s in AT_SCALE)

LABELS = {
    "interventions": "Interventions for the challenges",
    "standards": "Standards required",
    "evidence": "Evidence (at scale, outcomes)",
    "feedback": "Users' feedback",
    "openness": "Licence and openness",
    "similar_countries": "Deployments in similar countries",
    "languages": "Languages",
    "connectivity": "Connectivity (offline)",
    "cost": "Cost vs. budget",
}


@cache
def settings_data() -> dict[str, Any]:
    """``data/weights.json``: the weights and thresholds (read once)."""
    data: dict[str, Any] = json.loads((DATA / "weights.json").read_text(encoding="utf-8"))
    total = sum(data["weights"].values())
    if abs(total - 1.0) > 1e-9 or set(data["weights"]) != set(LABELS):
        raise ValueError(f"needs/data/weights.json: weights must name {sorted(LABELS)} and add up to 1 (got {total})")
    return data


def weights() -> dict[str, float]:
    return dict(settings_data()["weights"])


@cache
def _table_codes() -> dict[str, tuple[tuple[str, ...], str]]:
    data = json.loads((DATA / "challenge_interventions.json").read_text(encoding="utf-8"))
    return {code: (tuple(e["interventions"]), e["rationale"]) for code, e in data["challenges"].items()}


def challenge_table() -> dict[int, set[int]]:
    """Challenge concept id -> ids of the CDHI v1 interventions that the project's table says address it."""
    codes = _table_codes()
    wanted = {i for interventions, _ in codes.values() for i in interventions}
    rows = Concept.objects.filter(scheme__code__in=("hsc", "cdhi-v1")).values_list("id", "scheme__code", "code")
    hsc = {code: cid for cid, scheme, code in rows if scheme == "hsc"}
    v1 = {code: cid for cid, scheme, code in rows if scheme == "cdhi-v1" and code in wanted}
    return {hsc[c]: {v1[i] for i in interventions if i in v1} for c, (interventions, _) in codes.items() if c in hsc}


def rationale(challenge_code: str) -> str:
    """The table's few words on why its interventions address a challenge."""
    entry = _table_codes().get(challenge_code)
    return entry[1] if entry else ""


def equivalents(concepts: Iterable[Concept]) -> set[Concept]:
    """The concepts plus their crosswalk equivalents (``taxonomy.services.equivalents``)."""
    return taxonomy_equivalents(concepts)


def equivalence_classes() -> dict[int, frozenset[int]]:
    """Concept id -> the ids equivalent to it through the crosswalk (itself included); only mapped concepts appear.

    One query over ``taxonomy.Mapping``: used to count co-occurrence so that v1- and 2023-tagged projects count
    alike (the same relation as :func:`equivalents`, for many concepts at once)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in Mapping.objects.filter(relation=Relation.EQUIVALENT).order_by().values_list("source_id", "target_id"):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, set[int]] = defaultdict(set)
    for x in list(parent):
        groups[find(x)].add(x)
    return {x: frozenset(groups[find(x)]) for x in parent}


def who_region(country: str) -> str | None:
    """The WHO region of a country (``network.services.who_region``; None for a country in none)."""
    return network.who_region(country)


def countries_in_region(region: str) -> set[str]:
    return set(network.countries_in_region(region))


def feedback_means() -> dict[int, tuple[int, float]]:
    """Project id -> (visible ratings, mean of the five dimension means) for the published deployments whose
    summary (``feedback.services.summaries``) shows means, i.e. that have at least ``FEEDBACK_MIN_RATINGS`` visible
    ratings. The deployments that reach the minimum are found first in one grouped query over the ratings, so that
    the summaries are read for those only."""
    enough = (
        Rating.objects.filter(project__status=PUBLISHED, status=RatingStatus.VISIBLE)
        .order_by()
        .values("project_id")
        .annotate(n=Count("id"))
        .filter(n__gte=min_ratings())
        .values_list("project_id", flat=True)
    )
    return {
        pid: (summary.count, summary.overall)
        for pid, summary in summaries(list(enough)).items()
        if summary.overall is not None
    }


# --- results --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One part of a score: ``points = weight x value``; ``reason`` says in words why the value is what it is."""

    name: str
    label: str
    weight: float
    value: float
    points: float
    reason: str


@dataclass(frozen=True)
class Match:
    """A ranked candidate: a product (``ref`` its slug) or a project (``ref`` its public id)."""

    kind: str
    ref: str
    name: str
    score: float  # 0..100
    parts: list[Part]
    decision: MatchDecision | None = None
    country: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ref}"


def _part(name: str, value: float, reason: str) -> Part:
    weight = weights()[name]
    value = min(1.0, max(0.0, value))
    return Part(name, LABELS[name], weight, round(value, 4), _points(weight, value), reason)


def _tags(ids: Iterable[int], tag_of: dict[int, str], limit: int = 4) -> str:
    tags = sorted({tag_of.get(i, str(i)) for i in ids})
    shown = ", ".join(tags[:limit])
    return shown + (f" and {len(tags) - limit} more" if len(tags) > limit else "")


def _money(amount: Decimal | float, currency: str) -> str:
    return f"{currency} {float(amount):,.0f}"


# --- the registry, read once per match ------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """The published part of the registry as matching reads it, built in a fixed number of queries and kept per
    process until the registry changes (see :func:`snapshot`). Treated as immutable once built, except for the
    budget totals per currency, filled on first use."""

    fingerprint: tuple[Any, ...]
    projects: dict[int, tuple[str, str, str, str]]  # id -> (public_id, name, country, stage)
    by_country: dict[str, list[int]]
    project_products: dict[int, frozenset[int]]
    product_projects: dict[int, frozenset[int]]
    project_interventions: dict[int, frozenset[int]]
    project_challenges: dict[int, frozenset[int]]
    challenge_projects: dict[int, list[int]]
    link_standards: dict[int, frozenset[int]]
    outcome_projects: frozenset[int]
    products: dict[int, dict[str, Any]]
    product_interventions: dict[int, frozenset[int]]
    product_standards: dict[int, frozenset[int]]
    #: per product, over its published deployments: challenges tagged, countries, how many at scale, with outcomes
    product_challenges: dict[int, frozenset[int]] = field(default_factory=dict)
    product_countries: dict[int, frozenset[str]] = field(default_factory=dict)
    product_scale: dict[int, int] = field(default_factory=dict)
    product_outcomes: dict[int, int] = field(default_factory=dict)
    #: crosswalk classes, the challenge table and concept tags (taxonomy data, counted in the fingerprint)
    classes: dict[int, frozenset[int]] = field(default_factory=dict)
    table: dict[int, set[int]] = field(default_factory=dict)
    tags: dict[int, str] = field(default_factory=dict)
    #: per deployment: the evidence value (half at scale, half outcome data), need-independent
    evidence: dict[int, float] = field(default_factory=dict)
    costs: dict[str, dict[int, Decimal]] = field(default_factory=dict)
    medians: dict[str, dict[int, tuple[int, Decimal]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for prod, deployments in self.product_projects.items():
            self.product_challenges[prod] = frozenset(
                c for pid in deployments for c in self.project_challenges.get(pid, ())
            )
            self.product_countries[prod] = frozenset(self.projects[pid][2] for pid in deployments)
            self.product_scale[prod] = sum(1 for pid in deployments if self.projects[pid][3] in SCALE_STAGES)
            self.product_outcomes[prod] = sum(1 for pid in deployments if pid in self.outcome_projects)
        for pid, (_, _, _, stage) in self.projects.items():
            self.evidence[pid] = 0.5 * (stage in SCALE_STAGES) + 0.5 * (pid in self.outcome_projects)

    def median_cost(self, currency: str) -> dict[int, tuple[int, Decimal]]:
        """Product id -> (deployments with a budget in ``currency``, the median of their totals)."""
        found = self.medians.get(currency)
        if found is None:
            costs = self.cost(currency)
            found = {}
            for prod, deployments in self.product_projects.items():
                spent = [costs[pid] for pid in deployments if pid in costs]
                if spent:
                    found[prod] = (len(spent), Decimal(statistics.median(spent)))
            self.medians[currency] = found
        return found

    def cost(self, currency: str) -> dict[int, Decimal]:
        """Project id -> the total of its budget lines in ``currency`` (one grouped query per currency)."""
        found = self.costs.get(currency)
        if found is None:
            found = {
                pid: Decimal(total)
                for pid, total in BudgetLine.objects.filter(project__status=PUBLISHED, currency=currency)
                .order_by()
                .values("project_id")
                .annotate(total=Sum("amount"))
                .values_list("project_id", "total")
                if pid in self.projects
            }
            self.costs[currency] = found
        return found


_SNAPSHOTS: dict[str, Snapshot] = {}
_SNAPSHOT_LOCK = threading.Lock()


def _fingerprint() -> tuple[Any, ...]:
    """What changes whenever anything matching reads from the registry changes: every write of a project goes
    through a save that bumps its ``version`` or ``updated_at`` (the workflow, edits replacing its budget lines,
    coverage and metrics, imports, the bulk loader), and likewise for products; the crosswalk is counted."""
    projects = Project.objects.order_by().aggregate(n=Count("id"), last=Max("updated_at"), versions=Sum("version"))
    products = Product.objects.order_by().aggregate(n=Count("id"), last=Max("updated_at"), versions=Sum("version"))
    mappings = Mapping.objects.filter(relation=Relation.EQUIVALENT).count()
    return (
        connection.settings_dict["NAME"],
        projects["n"],
        projects["last"],
        projects["versions"],
        products["n"],
        products["last"],
        products["versions"],
        mappings,
    )


def _group(rows: Iterable[tuple[int, int]]) -> dict[int, frozenset[int]]:
    grouped: dict[int, set[int]] = defaultdict(set)
    for key, value in rows:
        grouped[key].add(value)
    return {key: frozenset(values) for key, values in grouped.items()}


def snapshot() -> Snapshot:
    """The registry snapshot, rebuilt when :func:`_fingerprint` differs from the cached one's (three aggregate
    queries per call; nine more when rebuilding)."""
    key = f"{connection.alias}:{connection.settings_dict['NAME']}"
    fingerprint = _fingerprint()
    cached = _SNAPSHOTS.get(key)
    if cached is not None and cached.fingerprint == fingerprint:
        return cached
    with _SNAPSHOT_LOCK:
        published = Project.objects.filter(status=PUBLISHED).order_by()
        ids = published.values("id")
        projects: dict[int, tuple[str, str, str, str]] = {}
        by_country: dict[str, list[int]] = defaultdict(list)
        for pid, public_id, name, country, stage in published.values_list(
            "id", "public_id", "name", "country", "stage"
        ):
            projects[pid] = (public_id, name, country, stage)
            by_country[country].append(pid)
        project_products = _group(
            Project.products.through.objects.filter(project_id__in=ids)
            .order_by()
            .values_list("project_id", "product_id")
        )
        project_challenges = _group(
            Project.challenges.through.objects.filter(project_id__in=ids)
            .order_by()
            .values_list("project_id", "concept_id")
        )
        challenge_projects: dict[int, list[int]] = defaultdict(list)
        for pid, cids in project_challenges.items():
            for cid in cids:
                challenge_projects[cid].append(pid)
        built = Snapshot(
            fingerprint=fingerprint,
            projects=projects,
            by_country=dict(by_country),
            project_products=project_products,
            product_projects=_group((prod, pid) for pid, prods in project_products.items() for prod in prods),
            project_interventions=_group(
                Project.interventions.through.objects.filter(project_id__in=ids)
                .order_by()
                .values_list("project_id", "concept_id")
            ),
            project_challenges=project_challenges,
            challenge_projects=dict(challenge_projects),
            link_standards=_group(
                InteropLink.objects.filter(project_id__in=ids, standard__isnull=False)
                .order_by()
                .values_list("project_id", "standard_id")
            ),
            outcome_projects=frozenset(
                MetricValue.objects.filter(kind=MetricKind.OUTCOME, project_id__in=ids)
                .order_by()
                .values_list("project_id", flat=True)
                .distinct()
            ),
            products={
                p["id"]: p
                for p in Product.objects.order_by().values(
                    "id", "slug", "name", "open_source", "dpg_status", "languages", "offline", "licence"
                )
            },
            product_interventions=_group(
                Product.interventions.through.objects.order_by().values_list("product_id", "concept_id")
            ),
            product_standards=_group(
                Product.standards.through.objects.order_by().values_list("product_id", "concept_id")
            ),
            classes=equivalence_classes(),
            table=challenge_table(),
            tags={
                cid: f"{scheme}:{code}"
                for cid, scheme, code in Concept.objects.filter(
                    scheme__code__in=("cdhi-v1", "cdhi-2023", "hsc", "standard")
                ).values_list("id", "scheme__code", "code")
            },
        )
        _SNAPSHOTS[key] = built
    return built


def _co_occurrence(
    reg: Snapshot, challenge_ids: list[int], classes: dict[int, frozenset[int]], minimum: int
) -> dict[int, set[int]]:
    """Challenge id -> intervention ids tagged together with it in at least ``minimum`` published projects
    (crosswalk-equivalent interventions counted as one)."""
    found: dict[int, set[int]] = {}
    for cid in challenge_ids:
        counts: dict[int, int] = defaultdict(int)
        for pid in reg.challenge_projects.get(cid, ()):
            for rep in {min(classes.get(i, (i,))) for i in reg.project_interventions.get(pid, ())}:
                counts[rep] += 1
        found[cid] = set()
        for rep, n in counts.items():
            if n >= minimum:
                found[cid] |= set(classes.get(rep, (rep,)))
    return found


Explained = tuple[float, str]  # (value, reason: "" unless explaining)


def rank(need: Need, *, limit: int = 20, decided: dict[str, MatchDecision] | None = None) -> list[Match]:
    """The need's candidates, best first (ties by kind then name), at most ``limit``; see the module docstring.

    Every candidate is scored first without words (values only); the ``limit`` best are then scored again with their
    reasons (the same values), so that explaining costs nothing for the thousands of deployments ranked lower.
    """
    config = settings_data()
    neutral = float(config["neutral"])
    table_weights = weights()
    challenges = list(need.challenges.select_related("scheme").order_by("ordinal"))
    challenge_tags = {c.pk: c.tag for c in challenges}
    required = list(need.standards.select_related("scheme").order_by("ordinal"))
    reg = snapshot()
    classes = reg.classes
    challenge_ids = [c.pk for c in challenges]
    table = reg.table
    cooc = _co_occurrence(reg, challenge_ids, classes, int(config["co_occurrence_min"]))
    need_challenges = set(challenge_ids)
    listed_ids = {i for c in challenge_ids for i in table.get(c, ())}
    expanded = {c.pk for c in equivalents(Concept.objects.filter(pk__in=listed_ids))}
    targets: dict[int, set[int]] = {}
    from_table: dict[int, set[int]] = {}
    for cid in challenge_ids:
        # the challenge's own interventions and those of the equivalents found that belong to them
        own = table.get(cid, set())
        from_table[cid] = {i for i in expanded if i in own or not classes.get(i, frozenset()).isdisjoint(own)}
        targets[cid] = from_table[cid] | cooc[cid]
    every_target = set().union(*targets.values()) if targets else set()

    def tag_of() -> dict[int, str]:
        return reg.tags

    costs = reg.cost(need.currency)
    medians = reg.median_cost(need.currency)
    feedback_of = feedback_means()
    region = who_region(need.country)
    region_countries = countries_in_region(region) if region else {need.country}
    region_countries.add(need.country)
    required_ids = {c.pk for c in required}
    minimum = min_ratings()
    budget = need.budget
    low = need.connectivity in LOW_CONNECTIVITY
    need_languages = list(need.languages)
    saturation = int(config["evidence_saturation"])
    region_saturation = int(config["region_saturation"])

    products = reg.products
    empty: frozenset[int] = frozenset()

    def coverage(interventions: AbstractSet[int], tagged: AbstractSet[int], via: str, explain: bool) -> Explained:
        if not challenges:
            return 0.0, "the need names no challenge"
        hits_any = interventions & every_target
        covered_ids = [c for c in challenge_ids if (hits_any and interventions & targets[c]) or c in tagged]
        value = len(covered_ids) / len(challenge_ids)
        if not explain:
            return value, ""
        covered, missing = [], []
        for cid in challenge_ids:
            hits = interventions & targets[cid]
            if hits:
                source = "" if hits & from_table[cid] else " (tagged together in published projects)"
                covered.append(f"{challenge_tags[cid]} via {_tags(hits, tag_of(), 3)}{source}")
            elif cid in tagged:
                covered.append(f"{challenge_tags[cid]} ({via})")
            else:
                missing.append(challenge_tags[cid])
        reason = f"addresses {len(covered)} of {len(challenge_ids)} challenges"
        if covered:
            reason += ": " + "; ".join(covered)
        if missing:
            reason += f"; not {', '.join(missing)}"
        return value, reason

    def standards(supported: AbstractSet[int], explain: bool) -> Explained:
        if not required_ids:
            return 1.0, "the need requires no standard"
        met = required_ids & supported
        value = len(met) / len(required_ids)
        if not explain:
            return value, ""
        reason = f"supports {len(met)} of {len(required_ids)} required standards"
        if met:
            reason += f" ({_tags(met, tag_of())})"
        if required_ids - met:
            reason += f"; lacks {_tags(required_ids - met, tag_of())}"
        return value, reason

    def openness(product_ids: AbstractSet[int], explain: bool) -> Explained:
        best, why = 0.0, "no product named"
        for prod in sorted(product_ids):
            p = products[prod]
            value = (0.5 if p["open_source"] else 0.0) + {DpgStatus.DPG: 0.5, DpgStatus.NOMINEE: 0.25}.get(
                p["dpg_status"], 0.0
            )
            if value >= best:
                best = value
                if explain:
                    licence = p["licence"] or "licence not stated"
                    source = "open source" if p["open_source"] else "not open source"
                    dpg = {DpgStatus.DPG: "a digital public good", DpgStatus.NOMINEE: "a DPG nominee"}.get(
                        p["dpg_status"], "not a DPG"
                    )
                    why = f"{p['name']}: {source} ({licence}), {dpg}"
        return best, why if explain else ""

    def languages(product_ids: AbstractSet[int], explain: bool) -> Explained:
        if not need_languages:
            return 1.0, "the need names no language"
        offered = {lang for prod in product_ids for lang in (products[prod]["languages"] or [])}
        if not offered:
            return neutral, "languages of the interface not stated: neutral"
        met = [lang for lang in need_languages if lang in offered]
        value = len(met) / len(need_languages)
        if not explain:
            return value, ""
        reason = f"offers {len(met)} of {len(need_languages)} languages needed"
        if met:
            reason += f" ({', '.join(met)})"
        lacking = [lang for lang in need_languages if lang not in offered]
        if lacking:
            reason += f"; lacks {', '.join(lacking)}"
        return value, reason

    def connectivity(product_ids: AbstractSet[int], explain: bool) -> Explained:
        if not low:
            return 1.0, f"connectivity is {need.connectivity}: offline use not needed"
        if any(products[prod]["offline"] for prod in product_ids):
            return 1.0, f"works offline ({need.connectivity} connectivity)"
        return 0.0, f"does not work offline, and connectivity is {need.connectivity}"

    def cost(observed: Decimal | None, what: str, explain: bool) -> Explained:
        if budget is None:
            return 1.0, "the need states no budget"
        if observed is None:
            return neutral, f"no {need.currency} budget known for {what}: neutral" if explain else ""
        within = observed <= budget
        value = 1.0 if within else float(budget / observed)
        if not explain:
            return value, ""
        spent, limit_text = _money(observed, need.currency), _money(budget, need.currency)
        if within:
            return value, f"{what} cost {spent}, within the budget of {limit_text}"
        return value, f"{what} cost {spent}, above the budget of {limit_text}"

    def feedback(project_ids: Iterable[int], what: str, explain: bool) -> Explained:
        rated = [feedback_of[p] for p in project_ids if p in feedback_of]
        if not rated:
            return neutral, f"fewer than {minimum} ratings of {what}: neutral" if explain else ""
        n = sum(count for count, _ in rated)
        mean = sum(count * m for count, m in rated) / n
        if not explain:
            return (mean - 1) / 4, ""
        where = f" over {len(rated)} deployments" if len(rated) > 1 else ""
        return (mean - 1) / 4, f"mean rating {mean:.2f} of 5 from {n} users{where}"

    def product_parts(prod: int, explain: bool) -> list[Explained] | None:
        deployments = reg.product_projects.get(prod, empty)
        tagged = reg.product_challenges.get(prod, empty) & need_challenges
        fit = coverage(
            reg.product_interventions.get(prod, empty), tagged, "its deployments are tagged with it", explain
        )
        if fit[0] == 0:
            return None
        scale, outcomes = reg.product_scale.get(prod, 0), reg.product_outcomes.get(prod, 0)
        evidence = (
            0.5 * min(scale, saturation) / saturation + 0.5 * min(outcomes, saturation) / saturation,
            f"{scale} published deployments at scale, {outcomes} with outcome data",
        )
        countries = sorted(reg.product_countries.get(prod, frozenset()) & region_countries)
        similar = (
            min(len(countries), region_saturation) / region_saturation,
            f"deployed in {len(countries)} countries of the WHO region {region or '(unknown: the country only)'}"
            + (f" ({', '.join(countries[:6])})" if countries else ""),
        )
        spent, observed = medians.get(prod, (0, None))
        return [
            fit,
            standards(reg.product_standards.get(prod, empty), explain),
            evidence,
            feedback(deployments, "its deployments", explain),
            openness({prod}, explain),
            similar,
            languages({prod}, explain),
            connectivity({prod}, explain),
            cost(observed, f"the median of {spent} deployments'" if spent else "its deployments", explain),
        ]

    by_products: dict[frozenset[int], tuple[frozenset[int], Explained, Explained, Explained]] = {}

    def of_products(prods: frozenset[int]) -> tuple[frozenset[int], Explained, Explained, Explained]:
        """Standards supported, openness, languages, connectivity of a set of products (values only, memoised:
        thousands of deployments share a few sets of products)."""
        found = by_products.get(prods)
        if found is None:
            found = (
                frozenset(s for prod in prods for s in reg.product_standards.get(prod, empty)),
                openness(prods, False),
                languages(prods, False),
                connectivity(prods, False),
            )
            by_products[prods] = found
        return found

    def project_parts(pid: int, explain: bool) -> list[Explained] | None:
        fit = coverage(
            reg.project_interventions.get(pid, empty),
            reg.project_challenges.get(pid, empty) & need_challenges,
            "tagged with it",
            explain,
        )
        if fit[0] == 0:
            return None
        _, _, country, stage = reg.projects[pid]
        prods = reg.project_products.get(pid, empty)
        at_scale = stage in SCALE_STAGES
        has_outcomes = pid in reg.outcome_projects
        same = country == need.country
        if explain:
            supported = {s for prod in prods for s in reg.product_standards.get(prod, empty)}
            open_part, language_part, connectivity_part = (
                openness(prods, True),
                languages(prods, True),
                connectivity(prods, True),
            )
        else:
            product_standards, open_part, language_part, connectivity_part = of_products(prods)
            supported = set(product_standards)
        if required_ids:
            supported |= reg.link_standards.get(pid, empty)
        return [
            fit,
            standards(supported, explain),
            (
                0.5 * at_scale + 0.5 * has_outcomes,
                f"stage {stage} ({'at scale' if at_scale else 'not at scale'}); "
                + ("outcome data reported" if has_outcomes else "no outcome data")
                if explain
                else "",
            ),
            feedback([pid], "this deployment", explain),
            open_part,
            (
                1.0 if same else 0.5,
                f"in {country}, " + ("the need's country" if same else f"the need's WHO region {region}")
                if explain
                else "",
            ),
            language_part,
            connectivity_part,
            cost(costs.get(pid), "this deployment's", explain),
        ]

    names = list(table_weights)
    weight_list = [table_weights[n] for n in names]

    def raw(values: list[Explained]) -> float:
        """The weighted sum before rounding (within 0.05 points of the score shown, which sums rounded points)."""
        return sum(w * v for w, (v, _) in zip(weight_list, values, strict=True))

    def shown(values: list[Explained]) -> float:
        """The score shown: the sum of the parts' rounded points (as :func:`_match` makes it), x 100, rounded."""
        return round(100 * sum(round(w * v, 4) for w, (v, _) in zip(weight_list, values, strict=True)), 1)

    w_fit, w_std, w_ev, w_fb, w_open, w_sim, w_lang, w_conn, w_cost = weight_list
    feedback_value = {pid: (mean - 1) / 4 for pid, (_, mean) in feedback_of.items()}
    float_budget = float(budget) if budget is not None else None
    n_challenges, n_required = len(challenge_ids), len(required_ids)
    target_list = [(cid, targets[cid]) for cid in challenge_ids]

    def project_raw(pid: int, same: float) -> float | None:
        """``raw(project_parts(pid, False))`` without building the parts (the same values, for every deployment of
        the region); None when the deployment addresses none of the need's challenges."""
        ints = reg.project_interventions.get(pid, empty)
        tagged = reg.project_challenges.get(pid, empty)
        if ints.isdisjoint(every_target) and tagged.isdisjoint(need_challenges):
            return None
        covered = sum(1 for cid, t in target_list if not ints.isdisjoint(t) or cid in tagged)
        prods = reg.project_products.get(pid, empty)
        product_standards, (open_value, _), (language_value, _), (connectivity_value, _) = of_products(prods)
        if n_required:
            links = reg.link_standards.get(pid)
            supported = product_standards | links if links else product_standards
            standards_value = len(required_ids & supported) / n_required
        else:
            standards_value = 1.0
        if float_budget is None:
            cost_value = 1.0
        else:
            spent = costs.get(pid)
            cost_value = neutral if spent is None else (1.0 if spent <= budget else float_budget / float(spent))
        return (
            w_fit * covered / n_challenges
            + w_std * standards_value
            + w_ev * reg.evidence[pid]
            + w_fb * feedback_value.get(pid, neutral)
            + w_open * open_value
            + w_sim * same
            + w_lang * language_value
            + w_conn * connectivity_value
            + w_cost * cost_value
        )

    # 1. values only, every candidate: (raw score, kind, id)
    scored: list[tuple[float, str, int]] = []
    for prod in products:
        values = product_parts(prod, False)
        if values is not None:
            scored.append((raw(values), "product", prod))
    for country in region_countries:
        same = 1.0 if country == need.country else 0.5
        for pid in reg.by_country.get(country, ()):
            value = project_raw(pid, same)
            if value is not None:
                scored.append((value, "project", pid))
    if not scored:
        return []
    # 2. those that may be among the best once rounded (the raw sum is within 0.1 points of the score shown),
    #    ordered by the score shown, then kind, name and reference
    scored.sort(key=lambda row: -row[0])
    floor = scored[min(limit, len(scored)) - 1][0] - 0.002
    best: list[tuple[float, str, str, str, int, float]] = []
    for raw_score, kind, ident in scored:
        if raw_score < floor:
            break
        values = product_parts(ident, False) if kind == "product" else project_parts(ident, False)
        assert values is not None
        if kind == "product":
            ref, name = products[ident]["slug"], products[ident]["name"]
        else:
            ref, name = reg.projects[ident][0], reg.projects[ident][1]
        best.append((-shown(values), kind, name.lower(), ref, ident, raw_score))
    best.sort()
    # 3. words for the best
    results = []
    for _, kind, _, ref, ident, raw_score in best[:limit]:
        if kind == "product":
            explained = product_parts(ident, True)
            name, country = products[ident]["name"], ""
        else:
            explained = project_parts(ident, True)
            name, country = reg.projects[ident][1], reg.projects[ident][2]
        assert explained is not None
        parts = [_part(n, v, reason) for n, (v, reason) in zip(names, explained, strict=True)]
        match = _match(kind, ref, name, parts, decided, country)
        match.detail["raw"] = raw_score  # the values-only pass's sum (0..1), for checking it against the parts
        results.append(match)
    return results


def _points(weight: float, value: float) -> float:
    return round(weight * min(1.0, max(0.0, value)), 4)


def _match(
    kind: str, ref: str, name: str, parts: list[Part], decided: dict[str, MatchDecision] | None, country: str
) -> Match:
    score = round(100 * sum(p.points for p in parts), 1)
    decision = (decided or {}).get(f"{kind}:{ref}")
    return Match(kind, ref, name, score, parts, decision, country)
