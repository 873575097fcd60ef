# mypy: disallow-untyped-decorators=False
"""Pages to explore the registry: search (``/atlas/``), the deployment map (``/atlas/map/``) and a country's
portfolio (``/atlas/countries/<XX>/``).

Thin: the query string becomes :class:`dhnet.atlas.search.ProjectFilters`, one service call answers, the template
renders. Filters are plain GET forms and links (everything works without JavaScript). A malformed filter (an
unknown stage or tag, a country that is not two letters) is shown on the page with its 4xx, never a 500.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dhnet.atlas import maps, portfolio, search
from dhnet.atlas.models import ProjectStatus, Stage
from dhnet.platform.access import public, request_actor
from dhnet.platform.errors import Invalid, ServiceError

TITLES = {400: "Bad request", 403: "Forbidden", 404: "Not found"}
EXPORT_FORMATS = ("json", "csv", "dha")


def _list(params: QueryDict, name: str) -> tuple[str, ...]:
    """Every value of a repeated parameter, also split at commas (``country=KE,UG``)."""
    values = [part.strip() for raw in params.getlist(name) for part in raw.split(",")]
    return tuple(dict.fromkeys(v[:100] for v in values if v))[: search.MAX_VALUES + 1]


def _bool(params: QueryDict, name: str) -> bool | None:
    raw = params.get(name, "").strip().lower()
    if raw in ("", "any"):
        return None
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise Invalid(f"{name}: {raw[:10]!r} is not true or false")


def _int(params: QueryDict, name: str, default: int) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 6:
        raise Invalid(f"{name}: {raw[:10]!r} is not a whole number")
    return int(raw)


def filters_of(params: QueryDict) -> search.ProjectFilters:
    """The search filters of a query string (shared by the pages and the API's query parameters)."""
    return search.ProjectFilters(
        q=params.get("q", "")[: search.MAX_QUERY_CHARS + 1],
        countries=_list(params, "country"),
        interventions=_list(params, "intervention"),
        challenges=_list(params, "challenge"),
        stages=_list(params, "stage"),
        funders=_list(params, "funder"),
        products=_list(params, "product"),
        standards=_list(params, "standard"),
        licences=_list(params, "licence"),
        open_source=_bool(params, "open_source"),
        status=_list(params, "status"),
    )


def _toggle(filters: search.ProjectFilters, name: str, value: str, *, sort: str = "") -> str:
    """The query string with ``name=value`` added, or removed when it is there (a facet link); page 1."""
    pairs = filters.params()
    if (name, value) in pairs:
        pairs.remove((name, value))
    elif name == "open_source":
        pairs = [(k, v) for k, v in pairs if k != name] + [(name, value)]
    else:
        pairs.append((name, value))
    if sort and sort != "name":
        pairs.append(("sort", sort))
    return "?" + urlencode(pairs)


def _exports(country: str) -> list[tuple[str, str]]:
    """Links to the registry's export (``dhnet.atlas.io_urls``) of one country, or of every published project."""
    query = f"?country={country}" if country else ""
    return [(fmt, f"/atlas/export.{fmt}{query}") for fmt in EXPORT_FORMATS]


def _error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    context = {"title": TITLES.get(exc.status, "Error"), "message": exc.message}
    return render(request, "platform/error.html", context, status=exc.status)


def _common(request: HttpRequest) -> dict[str, object]:
    return {
        "stages": Stage.choices,
        "statuses": ProjectStatus.choices,
        "sorts": [(k, v[0]) for k, v in search.SORTS.items()],
        "may_unpublished": search.administered_countries(request_actor(request)) != frozenset(),
    }


@public
@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    """Search form, facets and results; each result links to the project, each country to its portfolio."""
    params = request.GET
    context = _common(request)
    status = 200
    try:
        filters = filters_of(params)
        sort = params.get("sort", "name")
        result = search.search_projects(
            request_actor(request),
            filters,
            page=_int(params, "page", 1),
            per_page=_int(params, "per_page", search.DEFAULT_PER_PAGE),
            sort=sort,
        )
    except ServiceError as exc:
        context.update(error=exc.message, filters=search.ProjectFilters(q=params.get("q", "")[:200]), result=None)
        status = exc.status
    else:
        pairs = result.filters.params()
        base = [*pairs, *([("sort", result.sort)] if result.sort != "name" else [])]
        facets = [
            (
                facet,
                [(v, _toggle(result.filters, facet.name, v.value, sort=result.sort)) for v in facet.values],
            )
            for facet in result.facets
        ]
        context.update(
            filters=result.filters,
            result=result,
            hits=result.hits,
            facets=facets,
            sort=result.sort,
            query=urlencode(pairs),
            prev_href="?" + urlencode([*base, ("page", result.page - 1)]) if result.page > 1 else "",
            next_href="?" + urlencode([*base, ("page", result.page + 1)]) if result.page < result.pages else "",
            # the export takes a country, not the search's other filters: offer what it does
            export_country=result.filters.countries[0] if len(result.filters.countries) == 1 else "",
            exports=_exports(result.filters.countries[0] if len(result.filters.countries) == 1 else ""),
        )
    return render(request, "atlas/explore/search.html", context, status=status)


@public
@require_GET
def map_page(request: HttpRequest) -> HttpResponse:
    """The world map of matching projects by country; for one country, the map by org unit."""
    params = request.GET
    try:
        filters = filters_of(params)
        data = maps.deployment_map(request_actor(request), filters, area=params.get("area", "").strip()[:64])
    except ServiceError as exc:
        return _error(request, exc)
    context = _common(request)
    context.update(m=data, filters=data.filters, query=urlencode(data.filters.params()))
    return render(request, "atlas/explore/map.html", context)


@public
@require_GET
def country_page(request: HttpRequest, country: str) -> HttpResponse:
    """A country's portfolio: projects by stage, products, coverage, funders, budget by phase and year, links."""
    try:
        unpublished = _bool(request.GET, "unpublished") is True
        p = portfolio.country_portfolio(request_actor(request), country, include_unpublished=unpublished)
    except ServiceError as exc:
        return _error(request, exc)
    context = _common(request)
    context.update(
        p=p,
        phases=portfolio.PHASES,
        phase_colours=portfolio.PHASE_COLOURS,
        exports=_exports(p.country),
    )
    return render(request, "atlas/explore/portfolio.html", context)
