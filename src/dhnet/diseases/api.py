"""``/api/v1/diseases``: the disease catalogue and alert rules (thin handlers over :mod:`dhnet.diseases.services`)."""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dhnet.diseases import services
from dhnet.diseases.models import AlertRule, Disease
from dhnet.diseases.schemas import DiseaseIn, DiseaseOut, DiseasePatch, RuleIn, RuleOut, RulePatch
from dhnet.platform.access import request_actor, requires

router = Router(tags=["diseases"])


class DiseaseFilter(Schema):
    active: bool | None = Field(None, description="only active (true) or inactive (false) diseases")
    reporting: str = Field("", max_length=16, description="immediate | weekly | monthly")


def rule_out(rule: AlertRule) -> RuleOut:
    return RuleOut(
        id=rule.pk,
        name=rule.name,
        level=rule.level,
        kind=rule.kind,
        method=rule.method,
        settings=rule.settings,
        threshold=rule.threshold,
        alert_rate=rule.alert_rate,
        epidemic_rate=rule.epidemic_rate,
        active=rule.active,
    )


def disease_out(disease: Disease) -> DiseaseOut:
    return DiseaseOut(
        code=disease.code,
        name=disease.name,
        icd11=disease.icd11,
        icd10=disease.icd10,
        case_definition=disease.case_definition,
        reporting=disease.reporting,
        active=disease.active,
        rules=[rule_out(r) for r in disease.rules.all()],
    )


def _changes(payload: Any) -> dict[str, Any]:
    return dict(payload.model_dump(exclude_unset=True))


@router.get("/diseases", response=list[DiseaseOut], summary="The disease catalogue with alert rules")
@requires("diseases:disease:read")
def list_diseases(request: HttpRequest, filters: Query[DiseaseFilter]) -> list[DiseaseOut]:
    diseases = services.list_diseases(request_actor(request), active=filters.active, reporting=filters.reporting)
    return [disease_out(d) for d in diseases]


@router.post("/diseases", response={201: DiseaseOut}, summary="Add a disease (national administrators)")
@requires("diseases:disease:write")
def create_disease(request: HttpRequest, payload: DiseaseIn) -> Status[DiseaseOut]:
    disease = services.create_disease(request_actor(request), payload.model_dump())
    return Status(201, disease_out(disease))


@router.get("/diseases/{code}", response=DiseaseOut, summary="One disease with its alert rules")
@requires("diseases:disease:read")
def get_disease(request: HttpRequest, code: str) -> DiseaseOut:
    return disease_out(services.get_disease(request_actor(request), code))


@router.patch("/diseases/{code}", response=DiseaseOut, summary="Change a disease (the fields given)")
@requires("diseases:disease:write")
def update_disease(request: HttpRequest, code: str, payload: DiseasePatch) -> DiseaseOut:
    actor = request_actor(request)
    disease = services.update_disease(actor, code, _changes(payload))
    return disease_out(services.get_disease(actor, disease.code))


@router.get("/diseases/{code}/rules", response=list[RuleOut], summary="Alert rules of a disease")
@requires("diseases:disease:read")
def list_rules(request: HttpRequest, code: str) -> list[RuleOut]:
    disease = services.get_disease(request_actor(request), code)
    return [rule_out(r) for r in disease.rules.all()]


@router.post("/diseases/{code}/rules", response={201: RuleOut}, summary="Add an alert rule (validated by the engine)")
@requires("diseases:disease:write")
def create_rule(request: HttpRequest, code: str, payload: RuleIn) -> Status[RuleOut]:
    rule = services.create_rule(request_actor(request), code, payload.model_dump())
    return Status(201, rule_out(rule))


@router.patch("/diseases/{code}/rules/{rule_id}", response=RuleOut, summary="Change an alert rule")
@requires("diseases:disease:write")
def update_rule(request: HttpRequest, code: str, rule_id: int, payload: RulePatch) -> RuleOut:
    return rule_out(services.update_rule(request_actor(request), code, rule_id, _changes(payload)))


@router.delete("/diseases/{code}/rules/{rule_id}", response={204: None}, summary="Delete an alert rule")
@requires("diseases:disease:write")
def delete_rule(request: HttpRequest, code: str, rule_id: int) -> Status[None]:
    services.delete_rule(request_actor(request), code, rule_id)
    return Status(204, None)
