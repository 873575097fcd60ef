"""API schemas of the disease catalogue."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import Field


class RuleOut(Schema):
    id: int
    name: str
    level: int | None = Field(description="org-unit level (1 = national); null: every level")
    kind: str = Field(description="count | rate | detector")
    method: str = Field(description="engine method of a detector rule, e.g. 'ears'")
    settings: dict[str, Any] = Field(description="settings of the method (control fields, optional 'preset')")
    threshold: int | None = Field(description="cases, for a count rule")
    alert_rate: float | None = Field(description="alert threshold per 100,000 per week, for a rate rule")
    epidemic_rate: float | None = Field(description="epidemic threshold per 100,000 per week, for a rate rule")
    active: bool


class DiseaseOut(Schema):
    code: str
    name: str
    icd11: str
    icd10: str
    case_definition: str
    reporting: str = Field(description="immediate | weekly | monthly")
    active: bool
    rules: list[RuleOut]


class DiseaseIn(Schema):
    code: str = Field(max_length=64)
    name: str = Field(max_length=255)
    icd11: str = ""
    icd10: str = ""
    case_definition: str = ""
    reporting: str = "weekly"
    active: bool = True


class DiseasePatch(Schema):
    code: str | None = None
    name: str | None = None
    icd11: str | None = None
    icd10: str | None = None
    case_definition: str | None = None
    reporting: str | None = None
    active: bool | None = None


class RuleIn(Schema):
    name: str = Field(max_length=255)
    level: int | None = None
    kind: str
    method: str = ""
    settings: dict[str, Any] = Field(default_factory=dict)
    threshold: int | None = None
    alert_rate: float | None = None
    epidemic_rate: float | None = None
    active: bool = True


class RulePatch(Schema):
    name: str | None = None
    level: int | None = None
    kind: str | None = None
    method: str | None = None
    settings: dict[str, Any] | None = None
    threshold: int | None = None
    alert_rate: float | None = None
    epidemic_rate: float | None = None
    active: bool | None = None
