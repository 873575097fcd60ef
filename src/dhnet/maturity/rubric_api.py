"""``/api/v1/maturity/rubrics/import`` and ``/api/v1/maturity/rubrics/{code}/export``: rubric files in and out.

Thin handlers over :mod:`dhnet.maturity.rubrics`. The import takes the rubric file (shape in
``maturity/data/README.md``) as the JSON request body; a faulty file is a 400 naming every element at fault and
nothing is stored; a structural change to a rubric that assessments use is a 409. The export is public, like the
rubrics themselves.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from pydantic import Field

from dhnet.maturity import rubrics, services
from dhnet.platform.access import public, request_actor, requires
from dhnet.platform.errors import Invalid

router = Router(tags=["maturity"])

#: A rubric file is some 60 kB; anything beyond this is not one.
MAX_BYTES = 2 * 1024 * 1024


class MaturityRubricImportOut(Schema):
    code: str = Field(description="the rubric's code, e.g. gdhm-current")
    created: bool = Field(description="a new rubric was created")
    rebuilt: bool = Field(description="the structure changed (allowed only while no assessment uses the rubric)")
    changed: int = Field(description="names, questions, phase texts and rows changed (0: the same file again)")
    official_texts: bool
    indicators: int = Field(description="indicators and sub-indicators of the rubric")


@router.post(
    "/maturity/rubrics/import",
    response=MaturityRubricImportOut,
    summary="Import a rubric file: a new rubric, or the (official) texts of an existing one",
    description="The body is the rubric file as JSON. 400 names every element at fault (e.g. "
    "`components[2].indicators[0].phases.3: missing`) and nothing is stored; 409 when the file would change the "
    "structure of a rubric that assessments use. The rubric is marked `official_texts` unless the file says "
    '`"official_texts": false`. Importing the same file again changes nothing.',
)
@requires(rubrics.PERMISSION)
def import_rubric(request: HttpRequest) -> MaturityRubricImportOut:
    body = request.body
    if len(body) > MAX_BYTES:
        raise Invalid(f"rubric: {len(body)} bytes is more than the {MAX_BYTES // (1024 * 1024)} MiB accepted")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid(f"rubric: the body is not JSON ({exc})") from None
    result = rubrics.import_rubric(request_actor(request), data)
    return MaturityRubricImportOut(
        code=result.rubric.code,
        created=result.created,
        rebuilt=result.rebuilt,
        changed=result.changed,
        official_texts=result.official_texts,
        indicators=result.rubric.indicators.count(),
    )


@router.get(
    "/maturity/rubrics/{code}/export",
    auth=None,
    summary="A rubric as a file (the import's shape): components, indicators, questions, phase definitions",
    openapi_extra={
        "responses": {"200": {"description": "The rubric file", "content": {"application/json": {"schema": {}}}}}
    },
)
@public
def export_rubric(request: HttpRequest, code: str) -> HttpResponse:
    rubric = services.rubric(code)
    text = json.dumps(rubrics.export_rubric(rubric), ensure_ascii=False, indent=1)
    response = HttpResponse(text, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rubric-{rubric.code}.json"'
    return response
