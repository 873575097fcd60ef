"""Needs ↔ solutions: recording a country's needs, deciding on their matches, portfolio analytics.

Who may do what (the issue left it open; chosen here):

- Recording and editing a need (``needs:need:write``) is for the country's administrators
  (``atlas.CountryAdmin``) and for holders of ``atlas:registry:manage`` (any country): a need is a ministry's
  planning document, so a planner cannot write the needs of a country they do not administer.
- A need is visible to the same people and to its creator; once marked ``public`` it is visible to everyone,
  signed in or not. Anyone else gets 404 (existence is not revealed). Reading a need that is not public is
  audited (``needs.need.read``).
- Accepting, rejecting or annotating a match (``needs:match:decide``) is for those who may write the need.

Matching itself (ranked, explained scores) is in :mod:`dhnet.needs.matching`; this module re-exports
:func:`match`. Every write checks permission, runs in one transaction and records its audit entry in it.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from dhnet.atlas.models import BudgetLine, Coverage, Product, Project, ProjectStatus
from dhnet.atlas.services import administered_countries as atlas_administered_countries
from dhnet.atlas.services import currencies, languages, may_administer
from dhnet.audit.services import record
from dhnet.needs import matching
from dhnet.needs.matching import Match, Part
from dhnet.needs.models import (
    Connectivity,
    Decision,
    Level,
    MatchDecision,
    Need,
    NeedStatus,
    Source,
)
from dhnet.network.timezones import country_code as _country
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from dhnet.platform.validate import choice as _choice
from dhnet.platform.validate import text as _text
from dhnet.taxonomy.models import Concept
from dhnet.taxonomy.services import resolve_tags

NEED_WRITE = "needs:need:write"
DECIDE = "needs:match:decide"
REGISTRY_MANAGE = "atlas:registry:manage"

PUBLIC_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
PUBLIC_ID_RE = re.compile(r"^[A-Z]{2}-N[2-9A-HJ-NP-Z]{6}$")
MAX_TEXT = 20_000
MAX_LIST = 100
MAX_BUDGET = Decimal("99999999999999.99")
MAX_MATCHES = 200

FIELDS = (
    "country",
    "title",
    "description",
    "challenges",
    "level",
    "orgunits",
    "places",
    "languages",
    "connectivity",
    "standards",
    "budget",
    "currency",
    "source",
    "status",
    "public",
)


# --- who ------------------------------------------------------------------------------------------------------------


def administers(actor: Actor, country: str) -> bool:
    """Whether ``actor`` administers ``country``'s registry: a registry manager, or appointed its CountryAdmin."""
    return may_administer(actor, country)


def administered_countries(actor: Actor) -> set[str] | None:
    """The countries ``actor`` administers; ``None`` meaning every country (a registry manager)."""
    if actor.has(REGISTRY_MANAGE):
        return None
    return set(atlas_administered_countries(actor))


def visible_needs(actor: Actor) -> QuerySet[Need]:
    """The needs ``actor`` may read: public ones, those of countries it administers, those it created."""
    qs = Need.objects.all()
    countries = administered_countries(actor)
    if countries is None:
        return qs
    condition = Q(public=True) | Q(country__in=countries)
    if actor.user_id is not None:
        condition |= Q(created_by_id=actor.user_id)
    return qs.filter(condition)


def may_write(actor: Actor, need: Need) -> bool:
    return actor.has(NEED_WRITE) and administers(actor, need.country)


def may_decide(actor: Actor, need: Need) -> bool:
    return actor.has(DECIDE) and administers(actor, need.country)


def _require_write(actor: Actor, country: str) -> None:
    if not actor.has(NEED_WRITE):
        raise Forbidden(f"requires {NEED_WRITE}")
    if not administers(actor, country):
        raise Forbidden(
            f"country: you do not administer {country}'s registry (ask a registry manager to appoint you its "
            "country administrator)"
        )


# --- validation -----------------------------------------------------------------------------------------------------


@dataclass
class NeedInput:
    """A validated need: values ready to store, concepts and org units resolved."""

    country: str
    title: str
    description: str
    challenges: list[Concept]
    level: str
    orgunits: list[OrgUnit]
    places: list[str]
    languages: list[str]
    connectivity: str
    standards: list[Concept]
    budget: Decimal | None
    currency: str
    source: str
    status: str
    public: bool


def _list(raw: Any, where: str) -> list[Any]:
    """A list from a list, or from text split on commas, semicolons and white space (forms)."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raw = [part for part in re.split(r"[\s,;]+", raw) if part]
    if not isinstance(raw, list | tuple):
        raise Invalid(f"{where}: expected a list")
    if len(raw) > MAX_LIST:
        raise Invalid(f"{where}: more than {MAX_LIST} items")
    return list(raw)


def _concepts(raw: Any, where: str, scheme: str) -> list[Concept]:
    tags = []
    for i, item in enumerate(_list(raw, where)):
        if not isinstance(item, str) or not item.strip():
            raise Invalid(f"{where}[{i}]: expected a tag such as {scheme}:1.2")
        tag = item.strip()
        tags.append(tag if ":" in tag else f"{scheme}:{tag}")
    try:
        concepts = resolve_tags(tags)
    except Invalid as exc:
        raise Invalid(f"{where}: {exc.message}") from None
    for i, concept in enumerate(concepts):
        if concept.scheme.code != scheme:
            raise Invalid(f"{where}[{i}]: {concept.tag} is not in the {scheme} scheme")
        if scheme == "hsc" and concept.level != 2:
            raise Invalid(f"{where}[{i}]: {concept.tag} is a group of challenges; name a challenge (e.g. hsc:1.2)")
    return concepts


def _orgunits(raw: Any) -> list[OrgUnit]:
    codes = [_text(c, f"orgunits[{i}]", max_length=50, required=True) for i, c in enumerate(_list(raw, "orgunits"))]
    found = {u.code: u for u in OrgUnit.objects.filter(code__in=codes)}
    for i, code in enumerate(codes):
        if code not in found:
            raise Invalid(f"orgunits[{i}]: no org unit {code[:50]!r} in this node's hierarchy")
    return list(dict.fromkeys(found[c] for c in codes))


def _places(raw: Any) -> list[str]:
    if isinstance(raw, str):  # forms: one place per line (names contain spaces)
        raw = [line for line in raw.splitlines() if line.strip()]
    places = [_text(p, f"places[{i}]", max_length=200, required=True) for i, p in enumerate(_list(raw, "places"))]
    return list(dict.fromkeys(places))


def _languages(raw: Any) -> list[str]:
    codes: list[str] = []
    for i, item in enumerate(_list(raw, "languages")):
        code = _text(item, f"languages[{i}]", max_length=8, required=True).lower()
        if code not in languages():
            raise Invalid(f"languages[{i}]: {code[:8]!r} is not an ISO 639-1 code (two letters, e.g. fr)")
        codes.append(code)
    return list(dict.fromkeys(codes))


def _budget(raw: Any) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise Invalid("budget: expected an amount such as 250000.00")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise Invalid(f"budget: {str(raw)[:30]!r} is not an amount") from None
    if not value.is_finite() or value < 0:
        raise Invalid(f"budget: {str(raw)[:30]!r} is not a positive amount")
    if value > MAX_BUDGET:
        raise Invalid(f"budget: {str(raw)[:30]!r} is too large")
    return value.quantize(Decimal("0.01"))


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


def validate_need(data: dict[str, Any]) -> NeedInput:
    """Check and resolve a need's data (every error names the field); pure apart from reading reference data."""
    if not isinstance(data, dict):
        raise Invalid("expected an object with the need's fields")
    unknown = sorted(set(data) - set(FIELDS) - {"public_id"})
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field (known: {', '.join(FIELDS)})")
    challenges = _concepts(data.get("challenges"), "challenges", "hsc")
    if not challenges:
        raise Invalid("challenges: name at least one health-system challenge (e.g. hsc:1.2)")
    currency = _text(data.get("currency") or "USD", "currency", max_length=3).upper()
    if currency not in currencies():
        raise Invalid(f"currency: {currency!r} is not an ISO 4217 code")
    return NeedInput(
        country=_country(data.get("country")),
        title=_text(data.get("title"), "title", max_length=200, required=True),
        description=_text(data.get("description"), "description", max_length=MAX_TEXT),
        challenges=challenges,
        level=_choice(data.get("level") or Level.NATIONAL, Level, "level"),
        orgunits=_orgunits(data.get("orgunits")),
        places=_places(data.get("places")),
        languages=_languages(data.get("languages")),
        connectivity=_choice(data.get("connectivity") or Connectivity.MOBILE, Connectivity, "connectivity"),
        standards=_concepts(data.get("standards"), "standards", "standard"),
        budget=_budget(data.get("budget")),
        currency=currency,
        source=_choice(data.get("source") or Source.MANUAL, Source, "source"),
        status=_choice(data.get("status") or NeedStatus.OPEN, NeedStatus, "status"),
        public=_bool(data.get("public"), "public"),
    )


# --- the canonical shape --------------------------------------------------------------------------------------------


def need_data(need: Need) -> dict[str, Any]:
    """The need as JSON (API, CLI, comparisons for idempotent retries)."""
    return {
        "public_id": need.public_id,
        "country": need.country,
        "title": need.title,
        "description": need.description,
        "challenges": sorted(c.tag for c in need.challenges.all()),
        "level": need.level,
        "orgunits": sorted(u.code for u in need.orgunits.all()),
        "places": list(need.places),
        "languages": list(need.languages),
        "connectivity": need.connectivity,
        "standards": sorted(c.tag for c in need.standards.all()),
        "budget": None if need.budget is None else f"{need.budget:.2f}",
        "currency": need.currency,
        "source": need.source,
        "status": need.status,
        "public": need.public,
    }


def _input_data(inp: NeedInput) -> dict[str, Any]:
    return {
        "country": inp.country,
        "title": inp.title,
        "description": inp.description,
        "challenges": sorted(c.tag for c in inp.challenges),
        "level": inp.level,
        "orgunits": sorted(u.code for u in inp.orgunits),
        "places": inp.places,
        "languages": inp.languages,
        "connectivity": inp.connectivity,
        "standards": sorted(c.tag for c in inp.standards),
        "budget": None if inp.budget is None else f"{inp.budget:.2f}",
        "currency": inp.currency,
        "source": inp.source,
        "status": inp.status,
        "public": inp.public,
    }


def _new_public_id(country: str) -> str:
    for _ in range(20):
        candidate = f"{country}-N" + "".join(secrets.choice(PUBLIC_ID_ALPHABET) for _ in range(6))
        if not Need.objects.filter(public_id=candidate).exists():
            return candidate
    raise Conflict("could not draw a free public identifier; try again")  # pragma: no cover (32^6 ids per country)


def _save(need: Need, inp: NeedInput) -> None:
    for name in ("country", "title", "description", "level", "places", "languages", "connectivity", "budget"):
        setattr(need, name, getattr(inp, name))
    need.currency, need.source, need.status, need.public = inp.currency, inp.source, inp.status, inp.public
    need.save()
    need.challenges.set(inp.challenges)
    need.orgunits.set(inp.orgunits)
    need.standards.set(inp.standards)


# --- needs ----------------------------------------------------------------------------------------------------------


def create_need(actor: Actor, data: dict[str, Any]) -> tuple[Need, bool]:
    """Record a need; ``(need, True)``. The same data again (same country and title) is ``(need, False)`` and writes
    nothing; a different need under a title the country already uses is a 409."""
    inp = validate_need(data)
    _require_write(actor, inp.country)
    existing = Need.objects.filter(country=inp.country, title=inp.title).first()
    if existing is not None:
        if need_data(existing) | {"public_id": None} == _input_data(inp) | {"public_id": None}:
            return existing, False
        raise Conflict(f"title: {inp.country} already has a need titled {inp.title!r} ({existing.public_id})")
    try:
        with transaction.atomic():
            need = Need(public_id=_new_public_id(inp.country), created_by_id=actor.user_id)
            _save(need, inp)
            record(
                actor,
                "needs.need.create",
                object_type="needs.need",
                object_id=need.public_id,
                detail={"country": need.country, "challenges": sorted(c.tag for c in inp.challenges)},
                permission=NEED_WRITE,
            )
    except IntegrityError:  # a concurrent identical request won the race
        existing = Need.objects.filter(country=inp.country, title=inp.title).first()
        if existing is not None and need_data(existing) | {"public_id": None} == _input_data(inp) | {"public_id": None}:
            return existing, False
        raise Conflict(f"title: {inp.country} already has a need titled {inp.title!r}") from None
    return need, True


def _visible(actor: Actor, public_id: str) -> Need:
    if not isinstance(public_id, str) or not PUBLIC_ID_RE.match(public_id):
        raise NotFound(f"no need {str(public_id)[:20]!r}")
    need = visible_needs(actor).filter(public_id=public_id).first()
    if need is None:
        raise NotFound(f"no need {public_id!r}")
    return need


def get_need(actor: Actor, public_id: str) -> Need:
    """One need (404 unless visible to ``actor``); reading one that is not public is audited."""
    need = _visible(actor, public_id)
    if not need.public:
        with transaction.atomic():
            record(actor, "needs.need.read", object_type="needs.need", object_id=need.public_id)
    return need


def update_need(actor: Actor, public_id: str, changes: dict[str, Any]) -> Need:
    """Change some fields of a need (lists replace). The country of a need does not change."""
    need = _visible(actor, public_id)
    _require_write(actor, need.country)
    if not isinstance(changes, dict):
        raise Invalid("expected an object with the fields to change")
    if "country" in changes and str(changes["country"]).strip().upper() != need.country:
        raise Invalid("country: a need stays in its country; record a new need instead")
    before = need_data(need)
    merged = {k: v for k, v in before.items() if k != "public_id"} | {
        k: v for k, v in changes.items() if k != "public_id"
    }
    inp = validate_need(merged)
    if _input_data(inp) == {k: v for k, v in before.items() if k != "public_id"}:
        return need
    if inp.title != need.title and Need.objects.filter(country=need.country, title=inp.title).exists():
        raise Conflict(f"title: {need.country} already has a need titled {inp.title!r}")
    with transaction.atomic():
        _save(need, inp)
        after = need_data(need)
        record(
            actor,
            "needs.need.update",
            object_type="needs.need",
            object_id=need.public_id,
            detail={"changed": sorted(k for k in after if after[k] != before[k])},
            permission=NEED_WRITE,
        )
    return need


@dataclass(frozen=True)
class NeedFilter:
    country: str = ""
    status: str = ""
    challenge: str = ""


def list_needs(actor: Actor, query: NeedFilter = NeedFilter()) -> list[Need]:
    """The needs ``actor`` may see, by country, newest first; filters by country, status and challenge tag."""
    qs = visible_needs(actor).prefetch_related("challenges__scheme")
    if query.country:
        qs = qs.filter(country=_country(query.country))
    if query.status:
        qs = qs.filter(status=_choice(query.status, NeedStatus, "status"))
    if query.challenge:
        qs = qs.filter(challenges__in=_concepts([query.challenge], "challenge", "hsc")).distinct()
    return list(qs.order_by("country", "-created_at", "id")[:500])


# --- decisions ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A product (by slug) or a project (by public id)."""

    kind: str  # "product" | "project"
    ref: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ref}"


def _candidate(kind: Any, ref: Any) -> tuple[Product | None, Project | None]:
    ref = _text(ref, "ref", max_length=80, required=True)
    if kind == "product":
        product = Product.objects.filter(slug=ref).first()
        if product is None:
            raise Invalid(f"ref: no product {ref!r}")
        return product, None
    if kind == "project":
        project = Project.objects.filter(public_id=ref, status=ProjectStatus.PUBLISHED).first()
        if project is None:
            raise Invalid(f"ref: no published project {ref!r}")
        return None, project
    raise Invalid(f"kind: {str(kind)[:20]!r} is not one of product, project")


def decide(
    actor: Actor, public_id: str, kind: str, ref: str, decision: str, note: str = "", *, score: float | None = None
) -> tuple[MatchDecision, bool]:
    """Accept, reject or annotate one candidate of a need (a note is required to annotate or reject):
    ``(decision, True)``. The same decision with the same note as the candidate's latest is not stored again (a
    retried request): ``(latest, False)``."""
    need = _visible(actor, public_id)
    if not actor.has(DECIDE):
        raise Forbidden(f"requires {DECIDE}")
    if not administers(actor, need.country):
        raise Forbidden(f"country: you do not administer {need.country}'s registry")
    decision = _choice(decision, Decision, "decision")
    note = _text(note, "note", max_length=MAX_TEXT)
    if decision in ("annotated", "rejected") and not note:
        raise Invalid(f"note: required to {'annotate' if decision == 'annotated' else 'reject'} a match")
    product, project = _candidate(kind, ref)
    latest = (
        MatchDecision.objects.filter(need=need, product=product, project=project).order_by("-decided_at", "-id").first()
    )
    if latest is not None and latest.decision == decision and latest.note == note:
        return latest, False
    with transaction.atomic():
        row = MatchDecision.objects.create(
            need=need,
            product=product,
            project=project,
            decision=decision,
            note=note,
            score=score,
            decided_by_id=actor.user_id,
            decided_by_name=actor.username[:150],
        )
        record(
            actor,
            f"needs.match.{decision}",
            object_type="needs.need",
            object_id=need.public_id,
            detail={"candidate": f"{kind}:{ref}", "score": score},
            permission=DECIDE,
        )
    return row, True


def decision_key(row: MatchDecision) -> str:
    if row.product_id is not None:
        return f"product:{row.product.slug}"
    return f"project:{row.project.public_id}"


def decisions(need: Need) -> list[MatchDecision]:
    """Every decision on a need's matches, oldest first (the history)."""
    return list(need.decisions.select_related("product", "project").order_by("decided_at", "id"))


def latest_decisions(need: Need) -> dict[str, MatchDecision]:
    """Candidate key (``product:<slug>``, ``project:<public id>``) -> its latest decision."""
    latest: dict[str, MatchDecision] = {}
    for row in decisions(need):
        latest[decision_key(row)] = row
    return latest


# --- analytics ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Neglected:
    challenge: Concept
    needs: tuple[str, ...]  # public ids of the country's open needs naming it


@dataclass(frozen=True)
class Duplication:
    intervention: Concept
    place: str  # org unit code or place name, or "national"
    place_name: str
    projects: tuple[tuple[str, str], ...]  # (public id, name)


@dataclass(frozen=True)
class Unfunded:
    need: Need
    reason: str


@dataclass(frozen=True)
class Gaps:
    """Portfolio analytics of one country (see :func:`portfolio_gaps`)."""

    country: str
    projects: int
    neglected: list[Neglected] = field(default_factory=list)
    duplication: list[Duplication] = field(default_factory=list)
    unfunded: list[Unfunded] = field(default_factory=list)


def _equivalent_ids(concepts: Iterable[Concept]) -> dict[int, set[int]]:
    """Concept id -> ids of it and its crosswalk equivalents."""
    classes = matching.equivalence_classes()
    return {c.pk: set(classes.get(c.pk, (c.pk,))) for c in concepts}


def portfolio_gaps(actor: Actor, country: str) -> Gaps:
    """Where a country's portfolio falls short, from its published projects and the needs ``actor`` may see.

    - neglected: health-system challenges that no published project of the country addresses (tagged with the
      challenge, or with an intervention that the challenge→intervention table says addresses it); challenges named
      by the country's open needs come first, then the others of the list;
    - duplication: the same intervention (crosswalk-equivalents counted as one) deployed by two or more published
      projects in one place (an org unit or named place of their coverage, or nationwide);
    - unfunded: open needs with no accepted match that has budget lines (an accepted product counts when a
      published project of the country using it is funded).
    """
    country = _country(country)
    projects = list(
        Project.objects.filter(country=country, status=ProjectStatus.PUBLISHED).values("id", "public_id", "name")
    )
    ids = [p["id"] for p in projects]
    names = {p["id"]: (p["public_id"], p["name"]) for p in projects}
    interventions = defaultdict(set)
    for pid, cid in Project.interventions.through.objects.filter(project_id__in=ids).values_list(
        "project_id", "concept_id"
    ):
        interventions[pid].add(cid)
    tagged_challenges = set(
        Project.challenges.through.objects.filter(project_id__in=ids).values_list("concept_id", flat=True)
    )
    table = matching.challenge_table()
    all_challenges = list(
        Concept.objects.filter(scheme__code="hsc", level=2).select_related("scheme").order_by("ordinal")
    )
    deployed = {cid for cids in interventions.values() for cid in cids}
    deployed_expanded = {c.pk for c in matching.equivalents(Concept.objects.filter(pk__in=deployed))}
    needs = list(visible_needs(actor).filter(country=country).prefetch_related("challenges"))
    open_needs = [n for n in needs if n.status == NeedStatus.OPEN]
    named: dict[int, list[str]] = defaultdict(list)
    for need in open_needs:
        for c in need.challenges.all():
            named[c.pk].append(need.public_id)
    neglected = []
    for challenge in all_challenges:
        if challenge.pk in tagged_challenges:
            continue
        addressing = table.get(challenge.pk, set())
        if addressing & deployed_expanded:
            continue
        neglected.append(Neglected(challenge, tuple(named.get(challenge.pk, ()))))
    neglected.sort(key=lambda n: (not n.needs, n.challenge.ordinal))

    # duplication: group (equivalence class of intervention, place) -> projects
    canonical: dict[int, int] = {}
    concepts = {c.pk: c for c in Concept.objects.filter(pk__in=deployed).select_related("scheme")}
    for cid, group in _equivalent_ids(concepts.values()).items():
        canonical[cid] = min(group)
    places: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for pid, national in Project.objects.filter(id__in=ids).values_list("id", "national_scale"):
        if national:
            places[pid].add(("national", "nationwide"))
    for pid, code, uname, place in Coverage.objects.filter(project_id__in=ids).values_list(
        "project_id", "orgunit__code", "orgunit__name", "place"
    ):
        if code:
            places[pid].add((code, uname))
        elif place:
            places[pid].add((place.strip().lower(), place.strip()))
    groups: dict[tuple[int, str], set[int]] = defaultdict(set)
    place_names: dict[str, str] = {}
    for pid in ids:
        for cid in interventions.get(pid, ()):
            for key, label in places.get(pid, ()):
                groups[(canonical[cid], key)].add(pid)
                place_names.setdefault(key, label)
    duplication = [
        Duplication(
            concepts[cid],
            key,
            place_names[key],
            tuple(sorted(names[p] for p in pids)),
        )
        for (cid, key), pids in groups.items()
        if len(pids) >= 2
    ]
    duplication.sort(key=lambda d: (-len(d.projects), d.intervention.tag, d.place))

    # unfunded: open needs without an accepted match that has money
    funded_projects = set(
        BudgetLine.objects.filter(project_id__in=ids, amount__gt=0).values_list("project_id", flat=True).distinct()
    )
    funded_products = set(
        Project.products.through.objects.filter(project_id__in=funded_projects).values_list("product_id", flat=True)
    )
    unfunded = []
    for need in open_needs:
        accepted = [d for d in latest_decisions(need).values() if d.decision == Decision.ACCEPTED]
        if not accepted:
            unfunded.append(Unfunded(need, "no accepted match"))
            continue
        if any(
            (d.project_id is not None and d.project_id in funded_projects)
            or (d.product_id is not None and d.product_id in funded_products)
            for d in accepted
        ):
            continue
        unfunded.append(Unfunded(need, "accepted matches have no budget lines in this country"))
    return Gaps(country, len(ids), neglected, duplication, unfunded)


def match(actor: Actor, public_id: str, *, limit: int = 20) -> list[Match]:
    """The need's candidates ranked and explained (see :mod:`dhnet.needs.matching`), each with its latest decision.

    404 unless ``actor`` may see the need; matching a need that is not public is audited (``needs.match.read``).
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_MATCHES:
        raise Invalid(f"limit: expected a whole number from 1 to {MAX_MATCHES}")
    need = _visible(actor, public_id)
    ranked = matching.rank(need, limit=limit, decided=latest_decisions(need))
    if not need.public:
        with transaction.atomic():
            record(
                actor,
                "needs.match.read",
                object_type="needs.need",
                object_id=need.public_id,
                detail={"candidates": len(ranked)},
            )
    return ranked


__all__ = [
    "Gaps",
    "Match",
    "Part",
    "create_need",
    "decide",
    "decisions",
    "get_need",
    "list_needs",
    "match",
    "portfolio_gaps",
    "update_need",
]
