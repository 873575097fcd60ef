"""Pages of the disease catalogue: list, detail, and (national administrators) editing diseases and alert rules."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dhnet.diseases import services
from dhnet.diseases.models import ReportingFrequency, RuleKind
from dhnet.platform.access import request_actor, requires
from dhnet.platform.errors import Invalid, NotFound, ServiceError


def _can_write(request: HttpRequest) -> bool:
    return request_actor(request).has(services.WRITE)


def _found(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except NotFound as exc:
        raise Http404(exc.message) from None


@requires(services.READ)
def disease_list(request: HttpRequest) -> HttpResponse:
    diseases = services.list_diseases(request_actor(request))
    return render(request, "diseases/list.html", {"diseases": diseases, "can_write": _can_write(request)})


@requires(services.READ)
def disease_detail(request: HttpRequest, code: str) -> HttpResponse:
    disease = _found(services.get_disease, request_actor(request), code)
    return render(request, "diseases/detail.html", {"disease": disease, "can_write": _can_write(request)})


def _disease_data(post: Any) -> dict[str, Any]:
    return {
        "code": post.get("code", "").strip(),
        "name": post.get("name", ""),
        "icd11": post.get("icd11", ""),
        "icd10": post.get("icd10", ""),
        "case_definition": post.get("case_definition", ""),
        "reporting": post.get("reporting", ""),
        "active": post.get("active") == "on",
    }


def _disease_form(request: HttpRequest, code: str | None) -> HttpResponse:
    actor = request_actor(request)
    disease = _found(services.get_disease, actor, code) if code else None
    values: dict[str, Any] = {"reporting": ReportingFrequency.WEEKLY, "active": True}
    if disease is not None:
        values = {name: getattr(disease, name) for name in services.DISEASE_FIELDS}
    error, status = "", 200
    if request.method == "POST":
        values = _disease_data(request.POST)
        try:
            if disease is None:
                saved = services.create_disease(actor, values)
            else:
                saved = services.update_disease(actor, disease.code, values)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("diseases:detail", code=saved.code)
    context = {"disease": disease, "values": values, "error": error, "choices": ReportingFrequency.choices}
    return render(request, "diseases/disease_form.html", context, status=status)


@requires(services.WRITE)
@require_http_methods(["GET", "POST"])
def disease_create(request: HttpRequest) -> HttpResponse:
    return _disease_form(request, None)


@requires(services.WRITE)
@require_http_methods(["GET", "POST"])
def disease_edit(request: HttpRequest, code: str) -> HttpResponse:
    return _disease_form(request, code)


def _optional(post: Any, name: str, kind: type) -> Any:
    raw = post.get(name, "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise Invalid(f"{name}: expected {'a whole number' if kind is int else 'a number'}") from None


def _rule_data(post: Any) -> dict[str, Any]:
    raw_settings = post.get("settings", "").strip() or "{}"
    try:
        settings = json.loads(raw_settings)
    except json.JSONDecodeError as exc:
        raise Invalid(f"settings: not valid JSON ({exc.msg} at character {exc.pos})") from None
    return {
        "name": post.get("name", ""),
        "level": _optional(post, "level", int),
        "kind": post.get("kind", ""),
        "method": post.get("method", "").strip(),
        "settings": settings,
        "threshold": _optional(post, "threshold", int),
        "alert_rate": _optional(post, "alert_rate", float),
        "epidemic_rate": _optional(post, "epidemic_rate", float),
        "active": post.get("active") == "on",
    }


def _rule_form(request: HttpRequest, code: str, rule_id: int | None) -> HttpResponse:
    actor = request_actor(request)
    disease = _found(services.get_disease, actor, code)
    rule = _found(services.get_rule, actor, code, rule_id) if rule_id is not None else None
    values: dict[str, Any] = {"kind": RuleKind.DETECTOR, "active": True, "settings": {}}
    if rule is not None:
        values = {name: getattr(rule, name) for name in services.RULE_FIELDS}
    settings_text = json.dumps(values.get("settings") or {})
    error, status = "", 200
    if request.method == "POST":
        settings_text = request.POST.get("settings", "")
        values = {k: request.POST.get(k, "") for k in services.RULE_FIELDS}
        values["active"] = request.POST.get("active") == "on"
        try:
            data = _rule_data(request.POST)
            if rule is None:
                services.create_rule(actor, code, data)
            else:
                services.update_rule(actor, code, rule.pk, data)
        except NotFound as exc:
            raise Http404(exc.message) from None
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("diseases:detail", code=code)
    context = {
        "disease": disease,
        "rule": rule,
        "values": values,
        "settings_text": settings_text,
        "error": error,
        "kinds": RuleKind.choices,
    }
    return render(request, "diseases/rule_form.html", context, status=status)


@requires(services.WRITE)
@require_http_methods(["GET", "POST"])
def rule_create(request: HttpRequest, code: str) -> HttpResponse:
    return _rule_form(request, code, None)


@requires(services.WRITE)
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, code: str, rule_id: int) -> HttpResponse:
    return _rule_form(request, code, rule_id)


@requires(services.WRITE)
@require_POST
def rule_delete(request: HttpRequest, code: str, rule_id: int) -> HttpResponse:
    _found(services.delete_rule, request_actor(request), code, rule_id)
    return redirect("diseases:detail", code=code)
