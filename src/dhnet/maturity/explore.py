"""Where a country stands: its published maturity profile, the comparison with all countries, same-phase peers, its
WHO region and the map of phases. Public reading of published scores only (nothing here is audited: it is all
public, like the atlas).

What is read
    Only publications (:class:`~dhnet.maturity.models.PublishedScore`), never the answers of an assessment in
    progress: the newest version of each published year. Scores are recomputed from the publication's indicator
    phases (``services.indicator_phases``) with the scoring module (``scoring.score`` on ``services.structure``),
    so that the components, the overall score and the phase shown are the GDHM rule's and agree with the CLI.

Synthetic peers
    The demo loads a deterministic synthetic peer set so that the comparison, the region and the map have data; its
    publications carry ``"synthetic": true`` in their snapshot. Every row, table and chart built here says whether
    a country's score is synthetic, and the pages show it.

Parameters
    ``rubric`` is ``current`` or ``classic`` (or the rubric code ``gdhm-current`` / ``gdhm-classic``), ``year`` a
    year with publications, ``country`` an ISO 3166-1 alpha-2 code, ``region`` a WHO region code, ``phase`` 1–5,
    ``sort`` a column of the comparison. Anything else is :class:`~dhnet.platform.errors.Invalid` (400) naming the
    parameter; an unknown rubric or a year without publications is :class:`~dhnet.platform.errors.NotFound`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dhnet.maturity import charts, scoring, services
from dhnet.maturity.models import Indicator, PublishedScore, Rubric
from dhnet.network import services as network
from dhnet.network import timezones
from dhnet.platform.errors import Invalid, NotFound

#: The CLI's short rubric names and the rubric codes they stand for.
RUBRICS = {"current": "gdhm-current", "classic": "gdhm-classic"}
DEFAULT_RUBRIC = "gdhm-current"
#: Columns the comparison can be sorted by (a leading "-" sorts descending).
SORTS = ("score", "name", "phase", "region", "year", "country")
DEFAULT_SORT = "-score"
MIN_YEAR, MAX_YEAR = 1990, 2100


# --- parameters ------------------------------------------------------------------------------------------------------


def rubric_code_of(raw: str | None) -> str:
    """The rubric code named by ``current``/``classic`` or by its code; the current rubric when empty."""
    value = (raw or "").strip().lower()
    if not value:
        return DEFAULT_RUBRIC
    if value in RUBRICS:
        return RUBRICS[value]
    if value in RUBRICS.values():
        return value
    raise Invalid(f"rubric: {value[:40]!r} is not one of {', '.join(RUBRICS)}")


def short_rubric(code: str) -> str:
    """``gdhm-current`` -> ``current`` (the name used in links)."""
    return next((short for short, full in RUBRICS.items() if full == code), code)


def country_of(raw: str | None, name: str = "country") -> str:
    """An ISO 3166-1 alpha-2 code (any case) or :class:`Invalid` naming the parameter."""
    return timezones.country_code(raw, name)


def year_of(raw: str | None) -> int | None:
    """A year between 1990 and 2100, or None when empty."""
    value = (raw or "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 4 or not MIN_YEAR <= int(value) <= MAX_YEAR:
        raise Invalid(f"year: {value[:10]!r} is not a year between {MIN_YEAR} and {MAX_YEAR}")
    return int(value)


def phase_param(raw: str | None) -> int | None:
    """A phase 1–5, or None when empty."""
    value = (raw or "").strip()
    if not value:
        return None
    if value not in {"1", "2", "3", "4", "5"}:
        raise Invalid(f"phase: {value[:10]!r} is not a phase from 1 to 5")
    return int(value)


def region_of(raw: str | None) -> str | None:
    """A WHO region code (``EUR``; also accepted: its office or name, any case), or None when empty."""
    value = (raw or "").strip()
    if not value:
        return None
    members = network.countries_in_region(value)  # Invalid names the region and lists the known ones
    return next(code for code in network.who_regions() if network.countries_in_region(code) == members)


def sort_of(raw: str | None) -> str:
    value = (raw or "").strip().lower() or DEFAULT_SORT
    if value.lstrip("-") not in SORTS:
        raise Invalid(f"sort: {value[:20]!r} is not one of {', '.join(SORTS)} (a leading - sorts descending)")
    return value


# --- scores of countries ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountryScore:
    """A country's newest publication of one year: its components' and overall scores."""

    country: str
    name: str
    region: str  # WHO region code, "" for a country that is not a WHO Member State
    region_name: str
    year: int
    version: int
    published_at: str
    assessment: str  # public id
    score: float | None
    phase: int | None
    components: tuple[scoring.ComponentScore, ...]
    synthetic: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "name": self.name,
            "region": self.region,
            "year": self.year,
            "version": self.version,
            "published_at": self.published_at,
            "assessment": self.assessment,
            "score": self.score,
            "phase": self.phase,
            "synthetic": self.synthetic,
            "components": [{"name": c.name, "score": c.score, "phase": c.phase} for c in self.components],
        }


def _structure(rubric: Rubric) -> scoring.RubricStructure:
    """The scoring structure of a rubric, read once per rubric object (that is, once per request: a rubric's
    structure may still change by an import while no assessment uses it, so nothing is kept across requests)."""
    cached: scoring.RubricStructure | None = getattr(rubric, "_scoring_structure", None)
    if cached is None:
        cached = services.structure(rubric)
        rubric._scoring_structure = cached
    return cached


def rubric_of(code: str) -> Rubric:
    rubric = Rubric.objects.filter(code=code).first()
    if rubric is None:
        raise NotFound(f"rubric: no rubric {code!r} is installed")
    return rubric


def is_synthetic(published: PublishedScore) -> bool:
    return bool(isinstance(published.snapshot, dict) and published.snapshot.get("synthetic"))


def country_score(published: PublishedScore, rubric: Rubric) -> CountryScore:
    """The scores of one publication (computed from its indicator phases by the GDHM rule)."""
    result = scoring.score(_structure(rubric), services.indicator_phases(published))
    a = published.assessment
    region = network.who_region(a.country) or ""
    return CountryScore(
        country=a.country,
        name=network.country_name(a.country),
        region=region,
        region_name=network.who_regions().get(region, ""),
        year=a.year,
        version=published.version,
        published_at=published.published_at.date().isoformat(),
        assessment=a.public_id,
        score=result.score,
        phase=result.phase,
        components=result.components,
        synthetic=is_synthetic(published),
    )


def country_scores(rubric: Rubric, year: int | None = None) -> list[CountryScore]:
    """Every country's newest publication (of its newest year, or of ``year``), by country code."""
    published = services.published_scores(rubric.code, year)
    return sorted((country_score(p, rubric) for p in published), key=lambda s: s.country)


def history(country: str, rubric: Rubric) -> list[PublishedScore]:
    """The newest publication of each published year of a country, oldest year first."""
    rows = (
        PublishedScore.objects.filter(assessment__country=country, assessment__rubric=rubric)
        .select_related("assessment")
        .order_by("assessment__year", "-version", "-published_at")
    )
    newest: dict[int, PublishedScore] = {}
    for row in rows:
        newest.setdefault(row.assessment.year, row)
    return [newest[y] for y in sorted(newest)]


def mean_components(scores: Iterable[CountryScore], names: Sequence[str]) -> list[float | None]:
    """Per component (by position), the mean of the countries' component scores that exist (None if none)."""
    sums = [0.0] * len(names)
    counts = [0] * len(names)
    for s in scores:
        for i, c in enumerate(s.components[: len(names)]):
            if c.score is not None:
                sums[i] += c.score
                counts[i] += 1
    return [sums[i] / counts[i] if counts[i] else None for i in range(len(names))]


def ranked(scores: Sequence[CountryScore]) -> list[tuple[int, CountryScore]]:
    """Countries by overall score, best first, with their competition rank (equal scores share a rank; countries
    without a score come last, unranked as 0)."""
    order = sorted(scores, key=lambda s: (s.score is None, -(s.score or 0.0), s.name))
    out: list[tuple[int, CountryScore]] = []
    previous: float | None = None
    rank = 0
    for i, s in enumerate(order, start=1):
        if s.score is None:
            out.append((0, s))
            continue
        if previous is None or not math.isclose(s.score, previous):
            rank = i
        previous = s.score
        out.append((rank, s))
    return out


def phase_counts(scores: Iterable[CountryScore]) -> dict[int, int]:
    counts = dict.fromkeys(range(1, 6), 0)
    for s in scores:
        if s.phase:
            counts[s.phase] += 1
    return counts


# --- the profile -----------------------------------------------------------------------------------------------------


@dataclass
class IndicatorRow:
    code: str
    name: str
    component: str
    sub: bool
    phase: int | None  # None: no answer in the publication; -1 not available
    definition: str  # the text of the chosen phase
    phases: list[tuple[int, str]]  # every phase's definition
    evidence: int
    note: str


@dataclass
class Profile:
    country: str
    name: str
    region: str
    region_name: str
    rubric: Rubric
    rubric_short: str
    rubrics: list[tuple[str, str]]  # (short name, rubric name) of the installed rubrics
    years: list[int]
    year: int | None
    current: CountryScore | None
    indicators: list[IndicatorRow]
    radar: str
    trend: str
    region_mean: list[float | None]
    region_count: int
    rank: int
    ranked_total: int
    same_phase: list[CountryScore]
    region_peers: list[tuple[int, CountryScore]]
    histogram: str
    history: list[CountryScore] = field(default_factory=list)


def _published_answers(published: PublishedScore) -> dict[str, dict[str, Any]]:
    """The snapshot's answers: code -> {"phase", "note", "evidence" (count)} (see ``maturity.services``)."""
    snapshot = published.snapshot if isinstance(published.snapshot, dict) else {}
    answers = snapshot.get("answers")
    if not isinstance(answers, dict):
        return {}
    return {str(code): a for code, a in answers.items() if isinstance(a, dict)}


def indicator_rows(published: PublishedScore, rubric: Rubric) -> list[IndicatorRow]:
    """The rubric's indicators (in order, sub-indicators after their parent) with the published phase, the text of
    that phase, every phase's definition and the number of evidence items."""
    phases = services.indicator_phases(published)
    answers = _published_answers(published)
    indicators = (
        Indicator.objects.filter(rubric=rubric)
        .select_related("component")
        .prefetch_related("phases")
        .order_by("component__position", "position")
    )
    rows = []
    for ind in indicators:
        definitions = sorted((p.phase, p.text) for p in ind.phases.all())
        chosen = phases.get(ind.code)
        text = dict(definitions).get(chosen, "") if chosen and chosen > 0 else ""
        rows.append(
            IndicatorRow(
                code=ind.code,
                name=ind.name,
                component=ind.component.name,
                sub=ind.parent_id is not None,
                phase=chosen,
                definition=text,
                phases=definitions,
                evidence=int(answers.get(ind.code, {}).get("evidence") or 0),
                note=str(answers.get(ind.code, {}).get("note") or ""),
            )
        )
    return rows


def installed_rubrics() -> list[tuple[str, str]]:
    return [(short_rubric(r.code), r.name) for r in Rubric.objects.filter(code__in=RUBRICS.values()).order_by("-code")]


def country_profile(country: str, rubric_code: str = DEFAULT_RUBRIC, year: int | None = None) -> Profile:
    """A country's profile: the radar of the chosen (default: newest) published year with its region's mean, the
    trend across published years, the indicator table, its rank among all countries, same-phase countries and its
    region's countries. A country without publications gets an empty profile (not a 404: the page says so);
    a ``year`` it has not published is a 404."""
    code = country_of(country)
    rubric = rubric_of(rubric_code)
    past = history(code, rubric)
    years = [p.assessment.year for p in past]
    if year is not None and year not in years:
        raise NotFound(
            f"year: {network.country_name(code)} has no published {short_rubric(rubric.code)} assessment "
            f"for {year}" + (f" (published: {', '.join(map(str, years))})" if years else "")
        )
    chosen = next((p for p in past if p.assessment.year == year), past[-1] if past else None)
    region = network.who_region(code) or ""
    structure = _structure(rubric)
    names = [c.name for c in structure.components]
    all_scores = country_scores(rubric)  # every country's newest year
    current = country_score(chosen, rubric) if chosen is not None else None
    hist = [country_score(p, rubric) for p in past]
    # the comparison uses each country's newest year; the profile's chosen year replaces the country's own row
    others = [s for s in all_scores if s.country != code]
    field_ = [*others, current] if current is not None else others
    region_scores = [s for s in field_ if region and s.region == region]
    region_mean = mean_components(region_scores, names)
    ranks = ranked(field_)
    rank = next((r for r, s in ranks if s.country == code), 0)
    same = [s for s in others if current is not None and s.phase == current.phase]
    same.sort(key=lambda s: (-(s.score or 0.0), s.name))
    region_label = network.who_regions().get(region, "")
    radar = ""
    if current is not None:
        axes = [
            charts.Axis(c.name, c.score, region_mean[i] if i < len(region_mean) else None)
            for i, c in enumerate(current.components)
        ]
        radar = charts.radar_svg(
            axes,
            title=f"{network.country_name(code)} {current.year}: component scores"
            + (f" and the {region_label} mean" if region_scores else ""),
            compare_label=f"{region} mean" if region_scores else "",
        )
    trend = ""
    if hist:
        series = [charts.Series("Overall", tuple(s.score for s in hist), overall=True)]
        series += [
            charts.Series(name, tuple(s.components[i].score if i < len(s.components) else None for s in hist))
            for i, name in enumerate(names)
        ]
        trend = charts.trend_svg(years, series, title=f"{network.country_name(code)}: scores by year")
    histogram = charts.phase_histogram_svg(
        phase_counts(field_),
        title="Countries by phase (each country's newest published year)",
        highlight=current.phase if current else None,
    )
    return Profile(
        country=code,
        name=network.country_name(code),
        region=region,
        region_name=region_label,
        rubric=rubric,
        rubric_short=short_rubric(rubric.code),
        rubrics=installed_rubrics(),
        years=years,
        year=current.year if current else None,
        current=current,
        indicators=indicator_rows(chosen, rubric) if chosen is not None else [],
        radar=radar,
        trend=trend,
        region_mean=region_mean,
        region_count=len(region_scores),
        rank=rank,
        ranked_total=sum(1 for r, _ in ranks if r),
        same_phase=same,
        region_peers=[(r, s) for r, s in ranks if region and s.region == region],
        histogram=histogram,
        history=hist,
    )


# --- the comparison --------------------------------------------------------------------------------------------------


@dataclass
class Comparison:
    rubric: Rubric
    rubric_short: str
    rubrics: list[tuple[str, str]]
    year: int | None
    years: list[int]
    sort: str
    phase: int | None
    region: str | None
    region_name: str
    country: str | None  # the country whose position is shown
    components: list[str]
    rows: list[tuple[int, CountryScore]]  # (rank among all, score), filtered and sorted
    total: int  # countries with a publication (before the filters)
    position: tuple[int, CountryScore] | None
    histogram: str
    counts: dict[int, int]
    synthetic: int  # rows that are synthetic


def _sort_key(sort: str) -> Any:
    column = sort.lstrip("-")
    if column == "score":
        return lambda rs: (rs[1].score is None, rs[1].score or 0.0, rs[1].name)
    if column == "phase":
        return lambda rs: (rs[1].phase is None, rs[1].phase or 0, rs[1].score or 0.0, rs[1].name)
    if column == "region":
        return lambda rs: (rs[1].region, rs[1].name)
    if column == "year":
        return lambda rs: (rs[1].year, rs[1].name)
    if column == "country":
        return lambda rs: rs[1].country
    return lambda rs: rs[1].name


def comparison(
    rubric_code: str = DEFAULT_RUBRIC,
    *,
    year: int | None = None,
    phase: int | None = None,
    region: str | None = None,
    country: str | None = None,
    sort: str = DEFAULT_SORT,
) -> Comparison:
    """All countries' newest publications (or of ``year``), ranked by overall score; filtered to a ``phase`` (the
    same-phase countries) or a WHO ``region``; ``country``'s position among all countries; the histogram of
    phases of all countries."""
    rubric = rubric_of(rubric_code)
    scores = country_scores(rubric, year)
    if year is not None and not scores:
        raise NotFound(f"year: no country has a published {short_rubric(rubric.code)} assessment for {year}")
    ranks = ranked(scores)
    position = next(((r, s) for r, s in ranks if s.country == country), None) if country else None
    rows = [(r, s) for r, s in ranks if (phase is None or s.phase == phase) and (region is None or s.region == region)]
    descending = sort.startswith("-")
    rows.sort(key=_sort_key(sort), reverse=descending)
    if sort.lstrip("-") == "score" and descending:  # best first, countries without a score still last
        rows.sort(key=lambda rs: rs[1].score is None)
    structure = _structure(rubric)
    counts = phase_counts(scores)
    years = sorted(
        set(
            PublishedScore.objects.filter(assessment__rubric=rubric)
            .values_list("assessment__year", flat=True)
            .distinct()
        ),
        reverse=True,
    )
    title = "Countries by phase" + (f" ({year})" if year else " (each country's newest published year)")
    return Comparison(
        rubric=rubric,
        rubric_short=short_rubric(rubric.code),
        rubrics=installed_rubrics(),
        year=year,
        years=years,
        sort=sort,
        phase=phase,
        region=region,
        region_name=network.who_regions().get(region or "", ""),
        country=country,
        components=[c.name for c in structure.components],
        rows=rows,
        total=len(scores),
        position=position,
        histogram=charts.phase_histogram_svg(counts, title=title, highlight=position[1].phase if position else None),
        counts=counts,
        synthetic=sum(1 for _, s in rows if s.synthetic),
    )


CSV_COLUMNS = ("rank", "country", "name", "region", "year", "version", "score", "phase", "synthetic")


def comparison_csv_rows(c: Comparison) -> list[list[str]]:
    """The comparison table as CSV rows: a header, then one row per country with each component's score."""
    header = [*CSV_COLUMNS, *c.components]
    out = [header]
    for rank, s in c.rows:
        out.append(
            [
                str(rank or ""),
                s.country,
                s.name,
                s.region,
                str(s.year),
                str(s.version),
                "" if s.score is None else f"{s.score:.4f}".rstrip("0").rstrip("."),
                "" if s.phase is None else str(s.phase),
                "true" if s.synthetic else "false",
                *("" if comp.score is None else f"{comp.score:.4f}".rstrip("0").rstrip(".") for comp in s.components),
            ]
        )
    return out


# --- the map ---------------------------------------------------------------------------------------------------------


@dataclass
class PhaseMap:
    rubric: Rubric
    rubric_short: str
    rubrics: list[tuple[str, str]]
    year: int | None
    region: str | None
    region_name: str
    regions: dict[str, str]
    markup: str
    legend: list[tuple[str, str, str]]
    scores: list[CountryScore]  # the countries shown (the region's, or all)
    missing: list[tuple[str, str]]  # the region's Member States without a publication (code, name)
    off_map: list[str]  # countries with a publication that the 1:110m map does not draw
    synthetic: int = 0  # countries shown whose score is synthetic
    notice: str = ""


def phase_map(rubric_code: str = DEFAULT_RUBRIC, *, year: int | None = None, region: str | None = None) -> PhaseMap:
    """The world map (or a WHO region's part of it) with each country coloured by its phase."""
    from django.urls import reverse

    from dhnet.atlas import maps

    rubric = rubric_of(rubric_code)
    scores = country_scores(rubric, year)
    members = frozenset(network.countries_in_region(region)) if region else None
    shown = [s for s in scores if members is None or s.country in members]
    phases = {s.country: s.phase for s in shown if s.phase}
    world = maps.world()
    short = short_rubric(rubric.code)
    markup, drawn = "", set()
    if world is not None:
        drawn = {o.code for o in world.outlines}
        query = "" if short == "current" else f"?rubric={short}"
        label = network.who_regions().get(region or "", "")
        markup = charts.phase_map_svg(
            world.width,
            world.height,
            world.outlines,
            phases,
            title=f"Digital health maturity phase by country{f' ({label})' if label else ''}",
            names={code: network.country_name(code) for code in drawn if code},
            href=lambda code: str(reverse("maturity-explore:country", args=[code])) + query,
            focus=members,
        )
    published = {s.country for s in shown}
    return PhaseMap(
        rubric=rubric,
        rubric_short=short,
        rubrics=installed_rubrics(),
        year=year,
        region=region,
        region_name=network.who_regions().get(region or "", ""),
        regions=network.who_regions(),
        markup=markup,
        legend=charts.phase_legend(),
        scores=sorted(shown, key=lambda s: s.name),
        missing=sorted(
            ((c, network.country_name(c)) for c in (members or ()) if c not in published), key=lambda cn: cn[1]
        ),
        off_map=sorted(s.country for s in shown if world is not None and s.country not in drawn),
        synthetic=sum(1 for s in shown if s.synthetic),
        notice="" if markup else "The world map is not installed on this server (bin/assets copies it).",
    )
