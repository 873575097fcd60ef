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


class CrosswalkOut(Schema):
    """A concept of another scheme mapped to the one asked, with its relation to it (SKOS reading: ``broader`` =
    the other concept is broader), the rule that made the mapping and a reviewer's note."""

    concept: ConceptOut
    relation: str
    method: str
    note: str


class ConceptMappingOut(Schema):
    source: ConceptOut
    target: ConceptOut
    relation: str
    method: str
    note: str


@router.get(
    "/taxonomy/schemes/{scheme}/concepts/{code}/crosswalk",
    auth=None,
    response=list[CrosswalkOut],
    summary="The concepts of other schemes mapped to one concept (CDHI v1 <-> CDISAH 2023), with their relation",
)
@public
def concept_crosswalk(request: HttpRequest, scheme: str, code: str) -> list[CrosswalkOut]:
    found = services.concept(scheme, code)
    return [
        CrosswalkOut(concept=concept_out(other), relation=relation, method=m.method, note=m.note)
        for other, relation, m in services.mappings_of(found)
    ]


@router.get(
    "/taxonomy/crosswalk",
    auth=None,
    response=list[ConceptMappingOut],
    summary="The whole crosswalk between two schemes (default cdhi-v1 -> cdhi-2023), oriented as asked",
)
@public
def crosswalk_table(
    request: HttpRequest, source: str = "cdhi-v1", target: str = "cdhi-2023"
) -> list[ConceptMappingOut]:
    return [
        ConceptMappingOut(source=concept_out(a), target=concept_out(b), relation=relation, method=m.method, note=m.note)
        for a, b, relation, m in services.crosswalk_table(source, target)
    ]
