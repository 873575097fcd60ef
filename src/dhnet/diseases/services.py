"""Disease catalogue services: reading, editing diseases and their alert rules, and turning a rule into engine settings.

Reading the catalogue needs ``diseases:disease:read`` (every role holds it; it is reference data, so reads are not
audited). Changing it needs ``diseases:disease:write`` (national administrators) and is audited. The catalogue is
global: the permission is not tied to an org unit.

Alert rules are validated against the engine (``dhnet.surveillance``): a ``detector`` rule names a registered method
and settings that build its control dataclass; ``count`` and ``rate`` rules are the engine's ``threshold`` method.
:func:`engine_control` gives the detection context the ``(method, control)`` pair of a rule.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from dhnet.audit import services as audit
from dhnet.diseases.models import AlertRule, Disease, ReportingFrequency, RuleKind
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound

READ = "diseases:disease:read"
WRITE = "diseases:disease:write"

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
RESERVED_CODES = frozenset({"new"})
DISEASE_FIELDS = ("code", "name", "icd11", "icd10", "case_definition", "reporting", "active")
RULE_FIELDS = ("name", "level", "kind", "method", "settings", "threshold", "alert_rate", "epidemic_rate", "active")
MAX_LEVEL = 32
#: The engine method behind ``count`` and ``rate`` rules.
THRESHOLD_METHOD = "threshold"


def _require(actor: Actor, permission: str) -> None:
    if not actor.has(permission):
        raise Forbidden(f"requires {permission}")


# --- reading --------------------------------------------------------------------------------------------------------


def list_diseases(actor: Actor, *, active: bool | None = None, reporting: str | None = None) -> list[Disease]:
    """The catalogue, by name, with each disease's rules prefetched (``disease.rules.all()``)."""
    _require(actor, READ)
    qs = Disease.objects.prefetch_related("rules").order_by("name")
    if active is not None:
        qs = qs.filter(active=active)
    if reporting:
        if reporting not in ReportingFrequency.values:
            raise Invalid(f"reporting: expected one of {', '.join(ReportingFrequency.values)}")
        qs = qs.filter(reporting=reporting)
    return list(qs)


def get_disease(actor: Actor, code: str) -> Disease:
    _require(actor, READ)
    disease = Disease.objects.prefetch_related("rules").filter(code=code).first()
    if disease is None:
        raise NotFound(f"disease {code!r} not found")
    return disease


def get_rule(actor: Actor, code: str, rule_id: int) -> AlertRule:
    _require(actor, READ)
    rule = AlertRule.objects.select_related("disease").filter(pk=rule_id, disease__code=code).first()
    if rule is None:
        raise NotFound(f"alert rule {rule_id} of disease {code!r} not found")
    return rule


# --- validation -----------------------------------------------------------------------------------------------------


def _text(data: Mapping[str, Any], name: str, *, max_length: int, required: bool = False) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid(f"{name}: expected text")
    value = value.strip()
    if required and not value:
        raise Invalid(f"{name}: required")
    if len(value) > max_length:
        raise Invalid(f"{name}: at most {max_length} characters")
    return value


def clean_disease(data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validate disease fields (all of them, or those present when ``partial``); messages name the field."""
    unknown = sorted(set(data) - set(DISEASE_FIELDS))
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field (known: {', '.join(DISEASE_FIELDS)})")
    clean: dict[str, Any] = {}
    if not partial or "code" in data:
        code = data.get("code")
        if not isinstance(code, str) or not CODE_RE.match(code):
            raise Invalid("code: expected lower-case letters, digits, '_' or '-' (at most 64), e.g. 'yellow_fever'")
        if code in RESERVED_CODES:
            raise Invalid(f"code: {code!r} is reserved (a page address)")
        clean["code"] = code
    if not partial or "name" in data:
        clean["name"] = _text(data, "name", max_length=255, required=True)
    for name, length in (("icd11", 32), ("icd10", 32), ("case_definition", 10_000)):
        if not partial or name in data:
            clean[name] = _text(data, name, max_length=length)
    if not partial or "reporting" in data:
        reporting = data.get("reporting", ReportingFrequency.WEEKLY)
        if reporting not in ReportingFrequency.values:
            raise Invalid(f"reporting: expected one of {', '.join(ReportingFrequency.values)}")
        clean["reporting"] = reporting
    if not partial or "active" in data:
        active = data.get("active", True)
        if not isinstance(active, bool):
            raise Invalid("active: expected true or false")
        clean["active"] = active
    return clean


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise Invalid(f"{name}: expected a number")
    return float(value)


def _engine_settings(method: str, settings: Any) -> dict[str, Any]:
    """Check ``settings`` (a JSON object: fields of the method's control dataclass, plus ``preset``) by building
    the control; returns them unchanged. Errors name ``settings.<field>``."""
    from dhnet.surveillance import make_control, registry

    try:
        spec = registry.get(method)
    except ValueError as exc:
        raise Invalid(f"method: {exc}") from None
    if not isinstance(settings, dict):
        raise Invalid("settings: expected a JSON object of the method's settings")
    options = dict(settings)
    preset = options.pop("preset", None)
    if preset is not None and not isinstance(preset, str):
        raise Invalid("settings.preset: expected a preset name")
    fields = {f.name: f for f in dataclasses.fields(spec.control_type)}
    for key in options:
        if key not in fields:
            raise Invalid(f"settings.{key}: not a setting of method {method!r} (settings: {', '.join(fields)})")
    for key, value in options.items():
        if isinstance(value, list):  # JSON has no tuples (e.g. farrington-flexible's limit54)
            options[key] = tuple(value)
    try:
        make_control(method, preset, **options)
    except ValueError as exc:
        message = str(exc)
        head, sep, rest = message.partition(": ")
        field = head.replace("-", "_")
        if sep and field in fields:
            raise Invalid(f"settings.{field}: {rest}") from None
        if preset is not None and "preset" in message:
            raise Invalid(f"settings.preset: {message}") from None
        raise Invalid(f"settings: {message}") from None
    except TypeError as exc:  # a value of the wrong kind that the dataclass could not take
        raise Invalid(f"settings: {exc}") from None
    return dict(settings)


def clean_rule(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a complete rule (every field of :data:`RULE_FIELDS`, missing ones at their defaults) against the
    engine; returns the field values to store. Fields that do not apply to the kind are cleared."""
    unknown = sorted(set(data) - set(RULE_FIELDS))
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field (known: {', '.join(RULE_FIELDS)})")
    clean: dict[str, Any] = {"name": _text(data, "name", max_length=255, required=True)}
    level = data.get("level")
    if level is not None and (isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= MAX_LEVEL):
        raise Invalid(f"level: expected an org-unit level between 1 (national) and {MAX_LEVEL}, or null (every level)")
    clean["level"] = level
    kind = data.get("kind")
    if kind not in RuleKind.values:
        raise Invalid(f"kind: expected one of {', '.join(RuleKind.values)}")
    clean["kind"] = kind
    active = data.get("active", True)
    if not isinstance(active, bool):
        raise Invalid("active: expected true or false")
    clean["active"] = active
    clean.update(method="", settings={}, threshold=None, alert_rate=None, epidemic_rate=None)
    if kind == RuleKind.COUNT:
        threshold = data.get("threshold")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise Invalid("threshold: a count rule needs a whole number of cases >= 1")
        clean["threshold"] = threshold
        _engine_settings(THRESHOLD_METHOD, {"alert_count": threshold})
    elif kind == RuleKind.RATE:
        if data.get("alert_rate") is None:
            raise Invalid("alert_rate: a rate rule needs an alert threshold per 100,000 population")
        alert = _number(data.get("alert_rate"), "alert_rate")
        if alert <= 0:
            raise Invalid("alert_rate: must be > 0 (cases per 100,000 population per week)")
        epidemic = data.get("epidemic_rate")
        if epidemic is not None:
            epidemic = _number(epidemic, "epidemic_rate")
            if epidemic < alert:
                raise Invalid("epidemic_rate: must not be below alert_rate")
        clean.update(alert_rate=alert, epidemic_rate=epidemic)
        _engine_settings(THRESHOLD_METHOD, {"alert_rate": alert, "epidemic_rate": epidemic})
    else:
        method = data.get("method")
        if not isinstance(method, str) or not method.strip():
            raise Invalid("method: a detector rule names a method of the engine (e.g. 'ears')")
        clean["method"] = method.strip()
        clean["settings"] = _engine_settings(clean["method"], data.get("settings") or {})
    return clean


def engine_control(rule: AlertRule) -> tuple[str, Any]:
    """The engine method and settings object (``dhnet.surveillance.detect(panel, method, control)``) of ``rule``.

    ``count`` -> ``threshold`` with ``alert_count``; ``rate`` -> ``threshold`` with ``alert_rate``/``epidemic_rate``
    (needs a weekly panel with population); ``detector`` -> its method with its settings (``preset`` applied first).
    Raises :class:`Invalid` when stored settings no longer fit the engine.
    """
    from dhnet.surveillance import make_control

    if rule.kind == RuleKind.COUNT:
        return THRESHOLD_METHOD, make_control(THRESHOLD_METHOD, alert_count=rule.threshold)
    if rule.kind == RuleKind.RATE:
        return THRESHOLD_METHOD, make_control(
            THRESHOLD_METHOD, alert_rate=rule.alert_rate, epidemic_rate=rule.epidemic_rate
        )
    _engine_settings(rule.method, rule.settings)
    options = dict(rule.settings)
    preset = options.pop("preset", None)
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    return rule.method, make_control(rule.method, preset, **options)


# --- writing --------------------------------------------------------------------------------------------------------


def create_disease(actor: Actor, data: Mapping[str, Any]) -> Disease:
    _require(actor, WRITE)
    clean = clean_disease(data)
    try:
        with transaction.atomic():
            disease = Disease.objects.create(**clean)
            audit.record(
                actor,
                "diseases.disease.create",
                object_type="diseases.disease",
                object_id=disease.code,
                detail={k: v for k, v in clean.items() if k != "case_definition"},
                permission=WRITE,
            )
    except IntegrityError:
        raise Conflict(f"code: disease {clean['code']!r} exists already") from None
    return disease


def update_disease(actor: Actor, code: str, changes: Mapping[str, Any]) -> Disease:
    """Change the given fields of disease ``code`` (its code may change too; data keep referring to it)."""
    _require(actor, WRITE)
    clean = clean_disease(changes, partial=True)
    try:
        with transaction.atomic():
            disease = Disease.objects.select_for_update().filter(code=code).first()
            if disease is None:
                raise NotFound(f"disease {code!r} not found")
            changed = {k: v for k, v in clean.items() if getattr(disease, k) != v}
            if changed:
                for name, value in changed.items():
                    setattr(disease, name, value)
                disease.save(update_fields=[*changed, "updated_at"])
                audit.record(
                    actor,
                    "diseases.disease.update",
                    object_type="diseases.disease",
                    object_id=code,
                    detail={"changed": sorted(changed), "code": disease.code},
                    permission=WRITE,
                )
    except IntegrityError:
        raise Conflict(f"code: disease {clean.get('code')!r} exists already") from None
    return disease


def _rule_detail(rule: AlertRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in RULE_FIELDS}


def create_rule(actor: Actor, code: str, data: Mapping[str, Any]) -> AlertRule:
    _require(actor, WRITE)
    clean = clean_rule(data)
    try:
        with transaction.atomic():
            disease = Disease.objects.filter(code=code).first()
            if disease is None:
                raise NotFound(f"disease {code!r} not found")
            rule = AlertRule.objects.create(disease=disease, **clean)
            audit.record(
                actor,
                "diseases.rule.create",
                object_type="diseases.alertrule",
                object_id=rule.pk,
                detail={"disease": code, **_rule_detail(rule)},
                permission=WRITE,
            )
    except IntegrityError:
        raise Conflict(f"name: disease {code!r} has a rule named {clean['name']!r} already") from None
    return rule


def update_rule(actor: Actor, code: str, rule_id: int, changes: Mapping[str, Any]) -> AlertRule:
    """Change the given fields of a rule; the whole rule is validated again (e.g. a new method with its settings)."""
    _require(actor, WRITE)
    unknown = sorted(set(changes) - set(RULE_FIELDS))
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field (known: {', '.join(RULE_FIELDS)})")
    try:
        with transaction.atomic():
            rule = (
                AlertRule.objects.select_for_update().select_related("disease").filter(pk=rule_id, disease__code=code)
            ).first()
            if rule is None:
                raise NotFound(f"alert rule {rule_id} of disease {code!r} not found")
            merged = {**_rule_detail(rule), **changes}
            if "kind" in changes and "settings" not in changes and changes["kind"] != rule.kind:
                merged["settings"] = {}
            clean = clean_rule(merged)
            changed = {k: v for k, v in clean.items() if getattr(rule, k) != v}
            if changed:
                for name, value in changed.items():
                    setattr(rule, name, value)
                rule.save(update_fields=[*changed, "updated_at"])
                audit.record(
                    actor,
                    "diseases.rule.update",
                    object_type="diseases.alertrule",
                    object_id=rule.pk,
                    detail={"disease": code, "changed": sorted(changed), **_rule_detail(rule)},
                    permission=WRITE,
                )
    except IntegrityError:
        raise Conflict(f"name: disease {code!r} has a rule named {changes.get('name')!r} already") from None
    return rule


def delete_rule(actor: Actor, code: str, rule_id: int) -> None:
    _require(actor, WRITE)
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update().filter(pk=rule_id, disease__code=code).first()
        if rule is None:
            raise NotFound(f"alert rule {rule_id} of disease {code!r} not found")
        detail = {"disease": code, **_rule_detail(rule)}
        rule.delete()
        audit.record(
            actor,
            "diseases.rule.delete",
            object_type="diseases.alertrule",
            object_id=rule_id,
            detail=detail,
            permission=WRITE,
        )
