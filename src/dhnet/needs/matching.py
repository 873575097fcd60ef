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

All registry-wide aggregates are read in a fixed number of queries whatever the number of candidates.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.db.models import Sum

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

    for a, b in Mapping.objects.filter(relation=Relation.EQUIVALENT).values_list("source_id", "target_id"):
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


def feedback_means(project_ids: Iterable[int]) -> dict[int, tuple[int, float]]:
    """Project id -> (visible ratings, mean of the five dimension means) for the deployments whose summary
    (``feedback.services.summaries``) shows means, i.e. that have at least ``FEEDBACK_MIN_RATINGS`` visible ratings."""
    return {
        pid: (summary.count, summary.overall)
        for pid, summary in summaries(project_ids).items()
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
    return Part(name, LABELS[name], weight, round(value, 4), round(weight * value, 4), reason)


def _tags(ids: Iterable[int], tag_of: dict[int, str], limit: int = 4) -> str:
    tags = sorted({tag_of.get(i, str(i)) for i in ids})
    shown = ", ".join(tags[:limit])
    return shown + (f" and {len(tags) - limit} more" if len(tags) > limit else "")


def _money(amount: Decimal | float, currency: str) -> str:
    return f"{currency} {float(amount):,.0f}"


# --- the registry, read once per match ------------------------------------------------------------------------------


@dataclass
class _Registry:
    """Registry-wide facts read in a fixed number of queries."""

    projects: dict[int, tuple[str, str, str, str]]  # id -> (public_id, name, country, stage)
    project_products: dict[int, set[int]]
    product_projects: dict[int, set[int]]
    outcome_projects: set[int]
    cost: dict[int, Decimal]  # project id -> total budget in the need's currency
    feedback: dict[int, tuple[int, float]]


def _read_registry(currency: str) -> _Registry:
    published = Project.objects.filter(status=PUBLISHED)
    projects = {
        pid: (public_id, name, country, stage)
        for pid, public_id, name, country, stage in published.values_list("id", "public_id", "name", "country", "stage")
    }
    project_products: dict[int, set[int]] = defaultdict(set)
    product_projects: dict[int, set[int]] = defaultdict(set)
    for pid, prod in Project.products.through.objects.filter(project__status=PUBLISHED).values_list(
        "project_id", "product_id"
    ):
        project_products[pid].add(prod)
        product_projects[prod].add(pid)
    outcome = set(
        MetricValue.objects.filter(kind=MetricKind.OUTCOME, project__status=PUBLISHED)
        .values_list("project_id", flat=True)
        .distinct()
    )
    cost = {
        r["project_id"]: r["total"]
        for r in BudgetLine.objects.filter(project__status=PUBLISHED, currency=currency)
        .values("project_id")
        .annotate(total=Sum("amount"))
    }
    return _Registry(projects, project_products, product_projects, outcome, cost, feedback_means(projects))


def _co_occurrence(
    challenge_ids: list[int], classes: dict[int, frozenset[int]], minimum: int
) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """(challenge id -> intervention ids tagged with it in >= minimum published projects, project id -> the
    need's challenges it is tagged with)."""
    tagged = Project.challenges.through.objects.filter(concept_id__in=challenge_ids, project__status=PUBLISHED)
    project_challenges: dict[int, set[int]] = defaultdict(set)
    for pid, cid in tagged.values_list("project_id", "concept_id"):
        project_challenges[pid].add(cid)
    interventions: dict[int, set[int]] = defaultdict(set)
    for pid, iid in Project.interventions.through.objects.filter(
        project_id__in=tagged.values("project_id")
    ).values_list("project_id", "concept_id"):
        interventions[pid].add(min(classes.get(iid, (iid,))))
    counts: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for pid, challenges in project_challenges.items():
        for rep in interventions.get(pid, ()):
            for cid in challenges:
                counts[cid][rep] += 1
    found: dict[int, set[int]] = {}
    for cid in challenge_ids:
        found[cid] = set()
        for rep, n in counts.get(cid, {}).items():
            if n >= minimum:
                found[cid] |= set(classes.get(rep, (rep,)))
    return found, project_challenges


def rank(need: Need, *, limit: int = 20, decided: dict[str, MatchDecision] | None = None) -> list[Match]:
    """The need's candidates, best first (ties by kind then name), at most ``limit``; see the module docstring."""
    config = settings_data()
    neutral = float(config["neutral"])
    challenges = list(need.challenges.select_related("scheme").order_by("ordinal"))
    required = list(need.standards.select_related("scheme").order_by("ordinal"))
    classes = equivalence_classes()
    challenge_ids = [c.pk for c in challenges]
    table = challenge_table()
    cooc, project_challenges = _co_occurrence(challenge_ids, classes, int(config["co_occurrence_min"]))
    concept_by_id = {
        c.pk: c for c in Concept.objects.filter(pk__in={i for c in challenge_ids for i in table.get(c, ())})
    }
    targets: dict[int, set[int]] = {}
    from_table: dict[int, set[int]] = {}
    for cid in challenge_ids:
        listed = [concept_by_id[i] for i in table.get(cid, ()) if i in concept_by_id]
        from_table[cid] = {c.pk for c in equivalents(listed)}
        targets[cid] = from_table[cid] | cooc[cid]
    tag_of = {
        cid: f"{scheme}:{code}"
        for cid, scheme, code in Concept.objects.filter(
            scheme__code__in=("cdhi-v1", "cdhi-2023", "hsc", "standard")
        ).values_list("id", "scheme__code", "code")
    }
    reg = _read_registry(need.currency)
    region = who_region(need.country)
    region_countries = countries_in_region(region) if region else {need.country}
    region_countries.add(need.country)
    required_ids = {c.pk for c in required}
    minimum = min_ratings()
    budget = need.budget
    low = need.connectivity in LOW_CONNECTIVITY
    need_languages = list(need.languages)

    products = {
        p["id"]: p
        for p in Product.objects.values(
            "id", "slug", "name", "open_source", "dpg_status", "languages", "offline", "licence"
        )
    }
    product_interventions: dict[int, set[int]] = defaultdict(set)
    for prod, cid in Product.interventions.through.objects.values_list("product_id", "concept_id"):
        product_interventions[prod].add(cid)
    product_standards: dict[int, set[int]] = defaultdict(set)
    for prod, cid in Product.standards.through.objects.values_list("product_id", "concept_id"):
        product_standards[prod].add(cid)

    def coverage(interventions: set[int], tagged: set[int], via: str) -> Part:
        covered, missing = [], []
        for c in challenges:
            hits = interventions & targets[c.pk]
            if hits:
                source = "" if hits & from_table[c.pk] else " (tagged together in published projects)"
                covered.append(f"{c.tag} via {_tags(hits, tag_of, 3)}{source}")
            elif c.pk in tagged:
                covered.append(f"{c.tag} ({via})")
            else:
                missing.append(c.tag)
        value = len(covered) / len(challenges) if challenges else 0.0
        reason = f"addresses {len(covered)} of {len(challenges)} challenges"
        if covered:
            reason += ": " + "; ".join(covered)
        if missing:
            reason += f"; not {', '.join(missing)}"
        return _part("interventions", value, reason)

    def standards(supported: set[int]) -> Part:
        if not required_ids:
            return _part("standards", 1.0, "the need requires no standard")
        met = required_ids & supported
        reason = f"supports {len(met)} of {len(required_ids)} required standards"
        if met:
            reason += f" ({_tags(met, tag_of)})"
        if required_ids - met:
            reason += f"; lacks {_tags(required_ids - met, tag_of)}"
        return _part("standards", len(met) / len(required_ids), reason)

    def openness(product_ids: set[int]) -> Part:
        best, why = 0.0, "no product named"
        for prod in product_ids:
            p = products[prod]
            value = (0.5 if p["open_source"] else 0.0) + {DpgStatus.DPG: 0.5, DpgStatus.NOMINEE: 0.25}.get(
                p["dpg_status"], 0.0
            )
            if value >= best:
                licence = p["licence"] or "licence not stated"
                source = "open source" if p["open_source"] else "not open source"
                dpg = {DpgStatus.DPG: "a digital public good", DpgStatus.NOMINEE: "a DPG nominee"}.get(
                    p["dpg_status"], "not a DPG"
                )
                best, why = value, f"{p['name']}: {source} ({licence}), {dpg}"
        return _part("openness", best, why)

    def languages(product_ids: set[int]) -> Part:
        if not need_languages:
            return _part("languages", 1.0, "the need names no language")
        offered = {lang for prod in product_ids for lang in (products[prod]["languages"] or [])}
        if not offered:
            return _part("languages", neutral, "languages of the interface not stated: neutral")
        met = [lang for lang in need_languages if lang in offered]
        reason = f"offers {len(met)} of {len(need_languages)} languages needed"
        if met:
            reason += f" ({', '.join(met)})"
        lacking = [lang for lang in need_languages if lang not in offered]
        if lacking:
            reason += f"; lacks {', '.join(lacking)}"
        return _part("languages", len(met) / len(need_languages), reason)

    def connectivity(product_ids: set[int]) -> Part:
        if not low:
            return _part("connectivity", 1.0, f"connectivity is {need.connectivity}: offline use not needed")
        if any(products[prod]["offline"] for prod in product_ids):
            return _part("connectivity", 1.0, f"works offline ({need.connectivity} connectivity)")
        return _part("connectivity", 0.0, f"does not work offline, and connectivity is {need.connectivity}")

    def cost(observed: Decimal | None, what: str) -> Part:
        if budget is None:
            return _part("cost", 1.0, "the need states no budget")
        if observed is None:
            return _part("cost", neutral, f"no {need.currency} budget known for {what}: neutral")
        if observed <= budget:
            return _part(
                "cost",
                1.0,
                f"{what} cost {_money(observed, need.currency)}, within the budget of {_money(budget, need.currency)}",
            )
        return _part(
            "cost",
            float(budget / observed),
            f"{what} cost {_money(observed, need.currency)}, above the budget of {_money(budget, need.currency)}",
        )

    def feedback(project_ids: Iterable[int], what: str) -> Part:
        rated = [reg.feedback[p] for p in project_ids if p in reg.feedback]
        if not rated:
            return _part("feedback", neutral, f"fewer than {minimum} ratings of {what}: neutral")
        n = sum(count for count, _ in rated)
        mean = sum(count * m for count, m in rated) / n
        where = f" over {len(rated)} deployments" if len(rated) > 1 else ""
        return _part("feedback", (mean - 1) / 4, f"mean rating {mean:.2f} of 5 from {n} users{where}")

    results: list[Match] = []
    saturation = int(config["evidence_saturation"])
    region_saturation = int(config["region_saturation"])
    for prod, p in products.items():
        deployments = reg.product_projects.get(prod, set())
        tagged = {c for pid in deployments for c in project_challenges.get(pid, ())}
        fit = coverage(product_interventions.get(prod, set()), tagged, "its deployments are tagged with it")
        if fit.value == 0:
            continue
        scale = sum(1 for pid in deployments if reg.projects[pid][3] in SCALE_STAGES)
        outcomes = sum(1 for pid in deployments if pid in reg.outcome_projects)
        evidence = _part(
            "evidence",
            0.5 * min(scale, saturation) / saturation + 0.5 * min(outcomes, saturation) / saturation,
            f"{scale} published deployments at scale, {outcomes} with outcome data",
        )
        countries = sorted({reg.projects[pid][2] for pid in deployments} & region_countries)
        similar = _part(
            "similar_countries",
            min(len(countries), region_saturation) / region_saturation,
            f"deployed in {len(countries)} countries of the WHO region {region or '(unknown: the country only)'}"
            + (f" ({', '.join(countries[:6])})" if countries else ""),
        )
        costs = [reg.cost[pid] for pid in deployments if pid in reg.cost]
        observed = Decimal(statistics.median(costs)) if costs else None
        parts = [
            fit,
            standards(product_standards.get(prod, set())),
            evidence,
            feedback(deployments, "its deployments"),
            openness({prod}),
            similar,
            languages({prod}),
            connectivity({prod}),
            cost(observed, f"the median of {len(costs)} deployments'" if costs else "its deployments"),
        ]
        results.append(_match("product", p["slug"], p["name"], parts, decided, ""))

    candidates = [pid for pid, row in reg.projects.items() if row[2] in region_countries]
    project_interventions: dict[int, set[int]] = defaultdict(set)
    in_region = Project.objects.filter(status=PUBLISHED, country__in=region_countries).values("id")
    for pid, cid in Project.interventions.through.objects.filter(project_id__in=in_region).values_list(
        "project_id", "concept_id"
    ):
        project_interventions[pid].add(cid)
    link_standards: dict[int, set[int]] = defaultdict(set)
    for pid, cid in InteropLink.objects.filter(project_id__in=in_region, standard__isnull=False).values_list(
        "project_id", "standard_id"
    ):
        link_standards[pid].add(cid)
    for pid in candidates:
        public_id, name, country, stage = reg.projects[pid]
        fit = coverage(project_interventions.get(pid, set()), project_challenges.get(pid, set()), "tagged with it")
        if fit.value == 0:
            continue
        prods = reg.project_products.get(pid, set())
        at_scale = stage in SCALE_STAGES
        has_outcomes = pid in reg.outcome_projects
        evidence = _part(
            "evidence",
            0.5 * at_scale + 0.5 * has_outcomes,
            f"stage {stage} ({'at scale' if at_scale else 'not at scale'}); "
            + ("outcome data reported" if has_outcomes else "no outcome data"),
        )
        same = country == need.country
        similar = _part(
            "similar_countries",
            1.0 if same else 0.5,
            f"in {country}, " + ("the need's country" if same else f"the need's WHO region {region}"),
        )
        supported = {s for prod in prods for s in product_standards.get(prod, set())} | link_standards.get(pid, set())
        parts = [
            fit,
            standards(supported),
            evidence,
            feedback([pid], "this deployment"),
            openness(prods),
            similar,
            languages(prods),
            connectivity(prods),
            cost(reg.cost.get(pid), "this deployment's"),
        ]
        results.append(_match("project", public_id, name, parts, decided, country))
    results.sort(key=lambda m: (-m.score, m.kind, m.name.lower(), m.ref))
    return results[:limit]


def _match(
    kind: str, ref: str, name: str, parts: list[Part], decided: dict[str, MatchDecision] | None, country: str
) -> Match:
    score = round(100 * sum(p.points for p in parts), 1)
    decision = (decided or {}).get(f"{kind}:{ref}")
    return Match(kind, ref, name, score, parts, decision, country)
