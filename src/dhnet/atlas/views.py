"""The registry's record pages: products (list, detail, create, edit, history), projects (detail, create, edit,
workflow buttons, team, history and the diff between any two versions), the review queue of a country's
administrator and the appointment of country administrators. Thin: parse the request, call one service, render.

The project form has HTML inputs for the main fields, space-separated slugs and tags for the lists, one
``name URL`` a line for links, and a JSON list in a textarea for each of coverage, interoperability links, budget
lines and metrics (the canonical shape's rows, pre-filled when editing): repeated form rows for four tables of up
to thousands of rows would be slower to use than editing their JSON, and the API takes the same rows.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dhnet.atlas import charts, services
from dhnet.atlas.models import CostPhase, DpgStatus, InteropLink, ProductMaturity, Stage
from dhnet.network import timezones
from dhnet.platform.access import public, request_actor, requires
from dhnet.platform.errors import Forbidden, Invalid, NotFound, ServiceError

JSON_FIELDS = ("coverage", "interop_links", "budget", "metrics")
LIST_FIELDS: tuple[str, ...] = ("products", "implementers", "funders", "interventions", "challenges")
LIST_FIELDS += ("system_categories", "health_areas")
PRODUCT_LIST_FIELDS = ("standards", "interventions", "system_categories", "languages")
WORKFLOW_STEPS = ("submit", "approve", "publish", "return", "archive")


def _found(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The service's result; its NotFound as a 404 page and its Forbidden as a 403 page."""
    try:
        return call(*args, **kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None


def _words(raw: str) -> list[str]:
    return [part for part in raw.replace(",", " ").split() if part]


def _json_rows(raw: str, name: str) -> list[Any]:
    text = raw.strip()
    if not text:
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, list):
        raise Invalid(f"{name}: expected a JSON list of rows [{{...}}, ...]")
    return value


def _links(raw: str) -> dict[str, str]:
    links: dict[str, str] = {}
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2:
            raise Invalid(f"links: line {number} is not 'name URL' (e.g. repository https://...)")
        links[parts[0].strip()] = parts[1].strip()
    return links


def _project_form(post: Any) -> dict[str, Any]:
    """The canonical project shape from the form (raises ``Invalid`` naming a field that cannot be parsed)."""
    data: dict[str, Any] = {
        "name": post.get("name", ""),
        "country": post.get("country", ""),
        "description": post.get("description", ""),
        "stage": post.get("stage", ""),
        "start_date": post.get("start_date", "") or None,
        "end_date": post.get("end_date", "") or None,
        "national_scale": post.get("national_scale") == "on",
        "contact_name": post.get("contact_name", ""),
        "contact_email": post.get("contact_email", ""),
        "links": _links(post.get("links", "")),
    }
    for name in LIST_FIELDS:
        data[name] = _words(post.get(name, ""))
    for name in JSON_FIELDS:
        data[name] = _json_rows(post.get(name, ""), name)
    return data


def _project_values(data: dict[str, Any]) -> dict[str, Any]:
    """Form values (text) of a canonical project shape."""
    values: dict[str, Any] = {k: data.get(k) for k in ("name", "country", "description", "stage")}
    values.update(
        start_date=data.get("start_date") or "",
        end_date=data.get("end_date") or "",
        national_scale=bool(data.get("national_scale")),
        contact_name=data.get("contact_name", ""),
        contact_email=data.get("contact_email", ""),
        links="\n".join(f"{k} {v}" for k, v in (data.get("links") or {}).items()),
    )
    for name in LIST_FIELDS:
        values[name] = " ".join(data.get(name) or [])
    for name in JSON_FIELDS:
        rows = data.get(name) or []
        values[name] = json.dumps(rows, indent=1, ensure_ascii=False) if rows else ""
    return values


def _form_context(values: dict[str, Any], error: str, **extra: Any) -> dict[str, Any]:
    return {
        "values": values,
        "error": error,
        "countries": sorted(timezones.countries().items(), key=lambda kv: kv[1]),
        "stages": Stage.choices,
        "phases": CostPhase.choices,
        "interop_kinds": InteropLink.Kind.choices,
        **extra,
    }


def _labelled(data: dict[str, Any], fields: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    """Each tag field of a record as (tag, concept name) pairs."""
    names = services.tag_names(t for name in fields for t in data[name])
    return {name: [(t, names.get(t, "")) for t in data[name]] for name in fields}


# --- products -------------------------------------------------------------------------------------------------------


@public
def product_list(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    q = request.GET.get("q", "")[:100]
    error, status = "", 200
    try:
        products = services.list_products(actor, q)
    except ServiceError as exc:
        products, error, status = [], exc.message, exc.status
    context = {"products": products, "q": q, "error": error, "can_write": actor.has(services.PRODUCT_WRITE)}
    return render(request, "atlas/registry/products.html", context, status=status)


@public
def product_detail(request: HttpRequest, ref: str) -> HttpResponse:
    actor = request_actor(request)
    product = _found(services.get_product, actor, ref)
    data = services.product_data(product)
    deployments = services.visible_projects(actor).filter(products=product).order_by("country", "name")
    context = {
        "product": product,
        "data": data,
        "labelled": _labelled(data, services.PRODUCT_TAG_FIELDS),
        "deployments": list(deployments[:200]),
        "deployment_count": deployments.count(),
        "can_write": actor.has(services.PRODUCT_WRITE),
        "can_delete": actor.has(services.REGISTRY_MANAGE),
    }
    return render(request, "atlas/registry/product.html", context)


def _product_form(post: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        name: post.get(name, "")
        for name in ("slug", "name", "description", "website", "repository", "licence", "dpg_status", "maturity")
    }
    data["open_source"] = post.get("open_source") == "on"
    data["offline"] = post.get("offline") == "on"
    data["owner"] = post.get("owner", "").strip() or None
    for name in PRODUCT_LIST_FIELDS:
        data[name] = _words(post.get(name, ""))
    return data


def _product_values(data: dict[str, Any]) -> dict[str, Any]:
    values = dict(data)
    for name in PRODUCT_LIST_FIELDS:
        values[name] = " ".join(data.get(name) or [])
    values["owner"] = data.get("owner") or ""
    return values


def _product_choices() -> dict[str, Any]:
    return {"dpg_choices": DpgStatus.choices, "maturity_choices": ProductMaturity.choices}


@requires(services.PRODUCT_WRITE)
@require_http_methods(["GET", "POST"])
def product_create(request: HttpRequest) -> HttpResponse:
    values: dict[str, Any] = {"dpg_status": "none", "maturity": "emerging"}
    error, status = "", 200
    if request.method == "POST":
        values = dict(request.POST.items())
        try:
            product, _ = services.create_product(request_actor(request), _product_form(request.POST))
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("atlas:product", ref=product.public_id)
    context = {"values": values, "error": error, "editing": None, **_product_choices()}
    return render(request, "atlas/registry/product_form.html", context, status=status)


@requires(services.PRODUCT_WRITE)
@require_http_methods(["GET", "POST"])
def product_edit(request: HttpRequest, ref: str) -> HttpResponse:
    actor = request_actor(request)
    product = _found(services.get_product, actor, ref)
    values = _product_values(services.product_data(product))
    error, status = "", 200
    if request.method == "POST":
        values = dict(request.POST.items())
        try:
            services.update_product(
                actor, product.public_id, _product_form(request.POST), request.POST.get("summary", "")
            )
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("atlas:product", ref=product.public_id)
    context = {"values": values, "error": error, "editing": product, **_product_choices()}
    return render(request, "atlas/registry/product_form.html", context, status=status)


@requires(services.REGISTRY_MANAGE)
@require_POST
def product_delete(request: HttpRequest, ref: str) -> HttpResponse:
    try:
        services.delete_product(request_actor(request), ref)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        return render(request, "atlas/registry/error.html", {"message": exc.message}, status=exc.status)
    return redirect("atlas:products")


# --- projects -------------------------------------------------------------------------------------------------------


@requires(services.PROJECT_WRITE)
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    values: dict[str, Any] = {"stage": "planning", "country": request.GET.get("country", "")[:2].upper()}
    error, status = "", 200
    if request.method == "POST":
        values = dict(request.POST.items())
        values["national_scale"] = request.POST.get("national_scale") == "on"
        try:
            project = services.create_project(actor, _project_form(request.POST))
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("atlas:project", pid=project.public_id)
    return render(
        request, "atlas/registry/project_form.html", _form_context(values, error, editing=None), status=status
    )


@requires(services.PROJECT_WRITE)
@require_http_methods(["GET", "POST"])
def project_edit(request: HttpRequest, pid: str) -> HttpResponse:
    actor = request_actor(request)
    view = _found(services.project_view, actor, pid)
    if not view.can_edit:
        raise PermissionDenied(f"project {view.project.public_id} is {view.project.status}: you may not edit it now")
    values = _project_values(view.data)
    error, status = "", 200
    if request.method == "POST":
        values = dict(request.POST.items())
        values["national_scale"] = request.POST.get("national_scale") == "on"
        try:
            project = services.update_project(
                actor, view.project.public_id, _project_form(request.POST), request.POST.get("summary", "")
            )
        except NotFound as exc:
            raise Http404(exc.message) from None
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("atlas:project", pid=project.public_id)
    context = _form_context(values, error, editing=view.project)
    return render(request, "atlas/registry/project_form.html", context, status=status)


@public
def project_detail(request: HttpRequest, pid: str) -> HttpResponse:
    actor = request_actor(request)
    view = _found(services.project_view, actor, pid)
    data = view.data
    standards = services.tag_names(link["standard"] for link in data["interop_links"] if link["standard"])
    org_names = services.organisation_names(
        [*data["implementers"], *data["funders"], *(b["funder"] for b in data["budget"] if b["funder"])]
    )
    products = services.product_names(data["products"])
    units = services.orgunit_names([row["orgunit"] for row in data["coverage"] if row["orgunit"]])
    kinds, phases = dict(InteropLink.Kind.choices), dict(CostPhase.choices)
    context = {
        "view": view,
        "project": view.project,
        "data": data,
        "country_name": timezones.countries().get(data["country"], data["country"]),
        "stage_label": dict(Stage.choices).get(data["stage"], data["stage"]),
        "labelled": _labelled(data, services.PROJECT_TAG_FIELDS),
        "products": [(slug, *products.get(slug, (slug, ""))) for slug in data["products"]],
        "implementers": [(slug, org_names.get(slug, slug)) for slug in data["implementers"]],
        "funders": [(slug, org_names.get(slug, slug)) for slug in data["funders"]],
        "coverage": [{**row, "unit_name": units.get(row["orgunit"] or "", "")} for row in data["coverage"]],
        "coverage_totals": {
            key: sum(row[key] or 0 for row in data["coverage"]) for key in ("clients", "health_workers", "facilities")
        },
        "interop": [
            {
                **link,
                "kind_label": kinds.get(link["kind"], link["kind"]),
                "standard_name": standards.get(link["standard"] or "", ""),
            }
            for link in data["interop_links"]
        ],
        "budget_lines": [
            {
                **line,
                "phase_label": phases.get(line["phase"], line["phase"]),
                "funder_name": org_names.get(line["funder"] or "", ""),
            }
            for line in data["budget"]
        ],
        "budget_tables": charts.budget_tables(data["budget"], CostPhase.choices),
        "series": charts.metric_series(data["metrics"]),
        "team": services.team(actor, view.project.public_id) if view.current and actor.is_authenticated else [],
        "workflow": _workflow_buttons(view),
    }
    return render(request, "atlas/registry/project.html", context)


def _workflow_buttons(view: services.ProjectView) -> list[tuple[str, str, bool]]:
    """The workflow actions ``view``'s actor may take now: (action, label, needs a note)."""
    status = view.project.status
    buttons: list[tuple[str, str, bool]] = []
    if view.can_submit:
        buttons.append(("submit", "Submit for approval", False))
    if view.can_administer:
        if status == "submitted":
            buttons.append(("approve", "Approve", False))
        if status == "approved":
            buttons.append(("publish", "Publish", False))
        if status in ("submitted", "approved", "published", "archived"):
            buttons.append(("return", "Return to draft", True))
        if status != "archived":
            buttons.append(("archive", "Archive", True))
    return buttons


@requires(services.PROJECT_WRITE)
@require_POST
def project_workflow(request: HttpRequest, pid: str) -> HttpResponse:
    actor = request_actor(request)
    step = request.POST.get("action", "")
    note = request.POST.get("note", "")
    calls = {
        "submit": lambda: services.submit(actor, pid),
        "approve": lambda: services.approve(actor, pid, note),
        "publish": lambda: services.publish(actor, pid),
        "return": lambda: services.return_to_draft(actor, pid, note),
        "archive": lambda: services.archive(actor, pid, note),
    }
    if step not in calls:
        return render(
            request,
            "atlas/registry/error.html",
            {"message": f"action: {step[:20]!r} is not one of {', '.join(WORKFLOW_STEPS)}"},
            status=400,
        )
    try:
        project = calls[step]()
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        back = f"/atlas/projects/{pid}/"
        return render(request, "atlas/registry/error.html", {"message": exc.message, "back": back}, status=exc.status)
    if request.POST.get("next") == "review":
        return redirect("atlas:review")
    return redirect("atlas:project", pid=project.public_id)


@requires(services.PROJECT_WRITE)
@require_POST
def project_team(request: HttpRequest, pid: str) -> HttpResponse:
    try:
        services.set_team(request_actor(request), pid, _words(request.POST.get("usernames", "")))
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ServiceError as exc:
        back = f"/atlas/projects/{pid}/"
        return render(request, "atlas/registry/error.html", {"message": exc.message, "back": back}, status=exc.status)
    return redirect("atlas:project", pid=pid)


# --- history --------------------------------------------------------------------------------------------------------


def _history(request: HttpRequest, kind: str, ref: str, *, diff: bool) -> HttpResponse:
    actor = request_actor(request)
    rows = _found(services.versions, actor, kind, ref)
    if not rows:
        raise Http404(f"no versions of {ref[:20]}")
    public_id = rows[0].public_id
    title = rows[-1].snapshot.get("name", public_id)
    context: dict[str, Any] = {"kind": kind, "public_id": public_id, "title": title, "versions": rows}
    status = 200
    if diff:
        try:
            a, b = int(request.GET.get("a", "")), int(request.GET.get("b", ""))
        except ValueError:
            context["error"] = "a, b: give two version numbers"
            return render(request, "atlas/registry/history.html", context, status=400)
        changes = _found(services.diff, actor, kind, public_id, a, b)
        if not actor.is_authenticated:
            changes = [c for c in changes if c.field != "contact_email"]
        context.update(a=a, b=b, changes=changes, diffing=True)
    else:
        context.update(a=rows[-2].version if len(rows) > 1 else rows[0].version, b=rows[-1].version)
    return render(request, "atlas/registry/history.html", context, status=status)


@public
def project_history(request: HttpRequest, pid: str) -> HttpResponse:
    return _history(request, "project", pid, diff=False)


@public
def project_diff(request: HttpRequest, pid: str) -> HttpResponse:
    return _history(request, "project", pid, diff=True)


@public
def product_history(request: HttpRequest, ref: str) -> HttpResponse:
    return _history(request, "product", ref, diff=False)


@public
def product_diff(request: HttpRequest, ref: str) -> HttpResponse:
    return _history(request, "product", ref, diff=True)


# --- review and country administrators ------------------------------------------------------------------------------


@requires(services.PROJECT_APPROVE)
def review(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    context = {
        "projects": services.review_queue(actor),
        "countries": services.administered_countries(actor),
        "manager": actor.has(services.REGISTRY_MANAGE),
        "country_names": timezones.countries(),
    }
    return render(request, "atlas/registry/review.html", context)


@requires(services.PROJECT_WRITE)
def mine(request: HttpRequest) -> HttpResponse:
    context = {"projects": services.my_projects(request_actor(request)), "country_names": timezones.countries()}
    return render(request, "atlas/registry/mine.html", context)


@requires(services.REGISTRY_MANAGE)
@require_http_methods(["GET", "POST"])
def country_admins(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    error, status, values = "", 200, {"username": "", "country": ""}
    if request.method == "POST":
        values = {"username": request.POST.get("username", "")[:150], "country": request.POST.get("country", "")[:2]}
        try:
            if request.POST.get("remove"):
                services.remove_country_admin(actor, values["username"], values["country"])
            else:
                services.appoint_country_admin(actor, values["username"], values["country"])
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("atlas:country-admins")
    context = {
        "admins": services.country_admins(actor),
        "error": error,
        "values": values,
        "countries": sorted(timezones.countries().items(), key=lambda kv: kv[1]),
        "country_names": timezones.countries(),
    }
    return render(request, "atlas/registry/country_admins.html", context, status=status)
