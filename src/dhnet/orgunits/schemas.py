"""API schemas of the org-unit context."""

from __future__ import annotations

from typing import Any

from ninja import Schema


class OrgUnitOut(Schema):
    code: str
    uid: str
    name: str
    level: int
    parent: str | None
    population: int | None


class OrgUnitDetail(OrgUnitOut):
    children: list[str]
    geometry: dict[str, Any] | None


class OrgUnitPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[OrgUnitOut]
