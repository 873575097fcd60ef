"""``/api/v1/orgunits``: thin handlers over :mod:`dhnet.orgunits.services`."""

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from dhnet.orgunits import services
from dhnet.orgunits.models import OrgUnit
from dhnet.orgunits.schemas import OrgUnitDetail, OrgUnitOut, OrgUnitPage
from dhnet.platform.access import request_actor, requires

router = Router(tags=["orgunits"])


class UnitFilter(Schema):
    parent: str = Field("", max_length=64, description="code of the parent: its direct children")
    level: int | None = Field(None, ge=1, le=100)
    q: str = Field("", max_length=100, description="part of the code or name")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=services.MAX_OFFSET)


def _out(unit: OrgUnit) -> OrgUnitOut:
    return OrgUnitOut(
        code=unit.code,
        uid=unit.uid,
        name=unit.name,
        level=unit.level,
        parent=unit.parent.code if unit.parent else None,
        population=unit.population,
    )


@router.get("/orgunits", response=OrgUnitPage, summary="Org units within my jurisdiction")
@requires("orgunits:orgunit:read")
def list_orgunits(request: HttpRequest, filters: Query[UnitFilter]) -> OrgUnitPage:
    query = services.UnitQuery(
        parent=filters.parent, level=filters.level, search=filters.q, limit=filters.limit, offset=filters.offset
    )
    total, units = services.list_units(request_actor(request), query)
    return OrgUnitPage(count=total, limit=filters.limit, offset=filters.offset, items=[_out(u) for u in units])


@router.get("/orgunits/{code}", response=OrgUnitDetail, summary="One org unit, with its polygon and children")
@requires("orgunits:orgunit:read")
def get_orgunit(request: HttpRequest, code: str) -> OrgUnitDetail:
    unit = services.get_unit(request_actor(request), code)
    return OrgUnitDetail(**_out(unit).model_dump(), children=services.children_codes(unit), geometry=unit.geometry)
