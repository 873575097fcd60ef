# mypy: disallow-untyped-decorators=False
"""Public pages of where countries stand (``/maturity/…``): a country's profile, the comparison with all countries
(same-phase countries and a WHO region are filters of it), a region's page, the map of phases, and the
comparison table as CSV or JSON.

Thin: the query string is parsed by :mod:`dhnet.maturity.explore` (a bad parameter is a 400 page naming it, a
year without publications a 404), one call answers, the template renders. Everything works without JavaScript:
sorting and filtering are links and GET forms, charts and the map are inline SVG.
"""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dhnet.maturity import charts, explore
from dhnet.network import services as network
from dhnet.platform.access import public
from dhnet.platform.errors import Invalid, ServiceError

TITLES = {400: "Bad request", 403: "Forbidden", 404: "Not found"}
#: (phase, background, text colour) of the phase badges (``profile_style.html``).
PHASE_STYLES = [(n, colour, charts.PHASE_TEXT[n]) for n, colour in charts.PHASE_COLOURS.items()]


def _error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    context = {"title": TITLES.get(exc.status, "Error"), "message": exc.message}
    return render(request, "platform/error.html", context, status=exc.status)


def _comparison(request: HttpRequest, *, region: str | None = None) -> explore.Comparison:
    params = request.GET
    raw_country = params.get("country", "").strip()
    return explore.comparison(
        explore.rubric_code_of(params.get("rubric")),
        year=explore.year_of(params.get("year")),
        phase=explore.phase_param(params.get("phase")),
        region=region if region is not None else explore.region_of(params.get("region")),
        country=explore.country_of(raw_country) if raw_country else None,
        sort=explore.sort_of(params.get("sort")),
    )


def _query(c: explore.Comparison, **changes: object) -> str:
    """The comparison's query string with ``changes`` (None removes a parameter)."""
    values: dict[str, object] = {
        "rubric": c.rubric_short if c.rubric_short != "current" else None,
        "year": c.year,
        "phase": c.phase,
        "region": c.region,
        "country": c.country,
        "sort": c.sort if c.sort != explore.DEFAULT_SORT else None,
    }
    values.update(changes)
    pairs = [(k, str(v)) for k, v in values.items() if v not in (None, "")]
    return "?" + urlencode(pairs) if pairs else "?"


def _headers(c: explore.Comparison) -> list[tuple[str, str, str]]:
    """(label, link, aria-sort) of the sortable columns: a link sorts by the column, again reverses it."""
    out = []
    for column, label in (
        ("country", "Code"),
        ("name", "Country"),
        ("region", "WHO region"),
        ("year", "Year"),
        ("score", "Score"),
        ("phase", "Phase"),
    ):
        current = c.sort.lstrip("-") == column
        descending = c.sort.startswith("-")
        if current:
            next_sort = column if descending else f"-{column}"
            aria = "descending" if descending else "ascending"
        else:
            next_sort = f"-{column}" if column in ("score", "phase", "year") else column
            aria = ""
        out.append((label, _query(c, sort=next_sort), aria))
    return out


def _comparison_context(c: explore.Comparison) -> dict[str, object]:
    return {
        "c": c,
        "headers": _headers(c),
        "regions": network.who_regions(),
        "phase_styles": PHASE_STYLES,
        "downloads": [(fmt, reverse(f"maturity-explore:compare-{fmt}") + _query(c)) for fmt in ("csv", "json")],
        "clear_phase": _query(c, phase=None),
        "clear_region": _query(c, region=None),
        "phase_links": [(p, _query(c, phase=p)) for p in range(1, 6)],
    }


@public
@require_GET
def profile_page(request: HttpRequest, country: str) -> HttpResponse:
    """A country's profile: radar (with its region's mean), trend, indicator table, position and peers."""
    try:
        params = request.GET
        p = explore.country_profile(
            country, explore.rubric_code_of(params.get("rubric")), explore.year_of(params.get("year"))
        )
    except ServiceError as exc:
        return _error(request, exc)
    rubric_query = "" if p.rubric_short == "current" else f"rubric={p.rubric_short}"
    context = {
        "p": p,
        "rubric_query": rubric_query,
        "phase_styles": PHASE_STYLES,
        "component_rows": list(zip(p.current.components, p.region_mean, strict=False)) if p.current else [],
    }
    return render(request, "maturity/profile.html", context)


@public
@require_GET
def compare_page(request: HttpRequest) -> HttpResponse:
    """All countries ranked by score (sortable), the histogram of phases, a country's position; ``phase=`` shows the
    same-phase countries, ``region=`` a WHO region's."""
    try:
        c = _comparison(request)
    except ServiceError as exc:
        return _error(request, exc)
    return render(request, "maturity/compare.html", _comparison_context(c))


@public
@require_GET
def region_page(request: HttpRequest, region: str) -> HttpResponse:
    """A WHO region: its countries ranked, the mean of their component scores against all countries' mean, and
    the region's part of the map."""
    try:
        code = explore.region_of(region)
        if code is None:
            raise Invalid("region: required")
        c = _comparison(request, region=code)
        m = explore.phase_map(explore.rubric_code_of(request.GET.get("rubric")), year=c.year, region=code)
        everyone = explore.comparison(c.rubric.code, year=c.year)
    except ServiceError as exc:
        return _error(request, exc)
    in_region = [s for _, s in c.rows]
    mean = explore.mean_components(in_region, c.components)
    world_mean = explore.mean_components([s for _, s in everyone.rows], c.components)
    radar = charts.radar_svg(
        [charts.Axis(name, mean[i], world_mean[i]) for i, name in enumerate(c.components)],
        title=f"{c.region_name}: mean component scores of {len(in_region)} countries, and all countries' mean",
        value_label="mean",
        compare_label="all countries",
    )
    context = _comparison_context(c)
    context.update(m=m, radar=radar if in_region else "", region_count=len(in_region))
    return render(request, "maturity/compare_region.html", context)


@public
@require_GET
def map_page(request: HttpRequest) -> HttpResponse:
    """The world map of phases (``region=`` crops it to a WHO region)."""
    try:
        params = request.GET
        m = explore.phase_map(
            explore.rubric_code_of(params.get("rubric")),
            year=explore.year_of(params.get("year")),
            region=explore.region_of(params.get("region")),
        )
    except ServiceError as exc:
        return _error(request, exc)
    return render(
        request, "maturity/map.html", {"m": m, "phase_styles": PHASE_STYLES, "regions": network.who_regions()}
    )


@public
@require_GET
def compare_csv(request: HttpRequest) -> HttpResponse:
    """The comparison table (same parameters as the page) as CSV, one row per country."""
    try:
        c = _comparison(request)
    except ServiceError as exc:
        return HttpResponse(f"{exc.message}\n", status=exc.status, content_type="text/plain; charset=utf-8")
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(explore.comparison_csv_rows(c))
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="maturity-{c.rubric_short}-comparison.csv"'
    return response


@public
@require_GET
def compare_json(request: HttpRequest) -> HttpResponse:
    """The comparison table as JSON (the API's shape: ``/api/v1/maturity/compare``)."""
    try:
        c = _comparison(request)
    except ServiceError as exc:
        return HttpResponse(
            json.dumps({"detail": exc.message, "code": exc.code}), status=exc.status, content_type="application/json"
        )
    response = HttpResponse(
        json.dumps(comparison_json(c), ensure_ascii=False, indent=1), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="maturity-{c.rubric_short}-comparison.json"'
    return response


def comparison_json(c: explore.Comparison) -> dict[str, object]:
    """The comparison as plain data (download and API)."""
    return {
        "rubric": c.rubric.code,
        "year": c.year,
        "phase": c.phase,
        "region": c.region,
        "sort": c.sort,
        "total": c.total,
        "components": c.components,
        "phase_counts": {str(k): v for k, v in c.counts.items()},
        "position": None if c.position is None else {"rank": c.position[0], **c.position[1].as_json()},
        "countries": [{"rank": rank, **s.as_json()} for rank, s in c.rows],
    }
