"""``/api/v1/taxonomy``: the classifications (public reference data; thin handlers over the services)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from dhnet.platform.access import public
from dhnet.taxonomy import services
from dhnet.taxonomy.models import Concept, Scheme

router = Router(tags=["taxonomy"])


class SchemeOut(Schema):
    code: str
    name: str
    version: str
    source: str
    licence_note: str
    concepts: int


class ConceptOut(Schema):
    scheme: str
    code: str
    tag: str
    name: str
    parent: str | None
    level: int
    kind: str


def scheme_out(scheme: Scheme, count: int) -> SchemeOut:
    return SchemeOut(
        code=scheme.code,
        name=scheme.name,
        version=scheme.version,
        source=scheme.source,
        licence_note=scheme.licence_note,
        concepts=count,
    )


def concept_out(concept: Concept) -> ConceptOut:
    return ConceptOut(
        scheme=concept.scheme.code,
        code=concept.code,
        tag=concept.tag,
        name=concept.name,
        parent=concept.parent.code if concept.parent else None,
        level=concept.level,
        kind=concept.kind,
    )


@router.get("/taxonomy/schemes", auth=None, response=list[SchemeOut], summary="The classifications")
@public
def list_schemes(request: HttpRequest) -> list[SchemeOut]:
    return [scheme_out(s, s.concepts.count()) for s in services.schemes()]


@router.get("/taxonomy/schemes/{scheme}", auth=None, response=SchemeOut, summary="One classification")
@public
def get_scheme(request: HttpRequest, scheme: str) -> SchemeOut:
    found = services.scheme(scheme)
    return scheme_out(found, found.concepts.count())


@router.get(
    "/taxonomy/schemes/{scheme}/concepts",
    auth=None,
    response=list[ConceptOut],
    summary="The concepts of a classification, in its order (codes, names, hierarchy)",
)
@public
def list_concepts(request: HttpRequest, scheme: str) -> list[ConceptOut]:
    return [concept_out(c) for c in services.concepts(scheme)]


@router.get(
    "/taxonomy/schemes/{scheme}/concepts/{code}", auth=None, response=ConceptOut, summary="One concept of a scheme"
)
@public
def get_concept(request: HttpRequest, scheme: str, code: str) -> ConceptOut:
    return concept_out(services.concept(scheme, code))
