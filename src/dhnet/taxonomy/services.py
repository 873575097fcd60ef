"""The taxonomy service API used by other contexts (network focus areas, knowledge tags) and the API.

Classifications are public reference data: reading them needs no permission and is not audited.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from dhnet.platform.errors import Invalid, NotFound
from dhnet.taxonomy.models import INVERSE, SHORT_CODES, Concept, Mapping, Relation, Scheme

#: Short scheme name in a tag -> scheme code.
ALIASES = {short: code for code, short in SHORT_CODES.items()}
MAX_TAGS = 200


def scheme_code_of(name: str) -> str:
    """The scheme code for a scheme name as written in a tag or URL (``so`` -> ``strategic-objective``)."""
    return ALIASES.get(name, name)


def schemes() -> QuerySet[Scheme]:
    return Scheme.objects.order_by("code")


def scheme(scheme_code: str) -> Scheme:
    if "\x00" in scheme_code:  # no scheme has one (and PostgreSQL refuses NUL in text): no such scheme
        raise NotFound(f"no taxonomy scheme {scheme_code!r}")
    found = Scheme.objects.filter(code=scheme_code_of(scheme_code)).first()
    if found is None:
        raise NotFound(f"no taxonomy scheme {scheme_code!r}")
    return found


def concepts(scheme_code: str) -> QuerySet[Concept]:
    """The concepts of a scheme in the source's order (``NotFound`` naming an unknown scheme)."""
    return Concept.objects.filter(scheme=scheme(scheme_code)).select_related("scheme", "parent").order_by("ordinal")


def concept(scheme_code: str, code: str) -> Concept:
    """One concept (``NotFound`` naming the scheme and code)."""
    found = None if "\x00" in code else concepts(scheme_code).filter(code=code).first()
    if found is None:
        raise NotFound(f"no concept {code!r} in taxonomy scheme {scheme_code!r}")
    return found


def parse_tag(tag: str) -> tuple[str, str]:
    """``"cdhi-v1:1.1.1"`` -> ``("cdhi-v1", "1.1.1")``; ``Invalid`` naming a tag without a scheme."""
    scheme_name, sep, code = tag.strip().partition(":")
    if not sep or not scheme_name or not code:
        raise Invalid(f"tag {tag!r} is not <scheme>:<code> (e.g. cdhi-v1:1.1.1, hsc:2.1, so:1)")
    if "\x00" in tag:
        raise Invalid(f"tag {tag!r} contains a NUL character")
    return scheme_code_of(scheme_name.strip()), code.strip()


def resolve_tags(tags: Iterable[str]) -> list[Concept]:
    """The concepts named by tags ``<scheme>:<code>``, in the order given, without repeats.

    An unknown scheme or code is ``Invalid`` naming the tag (all tags are checked before anything is returned).
    """
    wanted: list[tuple[str, str]] = []
    tag_of: dict[tuple[str, str], str] = {}
    for tag in tags:
        key = parse_tag(tag)
        if key not in tag_of:
            tag_of[key] = tag
            wanted.append(key)
    if len(wanted) > MAX_TAGS:
        raise Invalid(f"too many tags ({len(wanted)}; at most {MAX_TAGS})")
    if not wanted:
        return []
    scheme_codes = {s for s, _ in wanted}
    rows = Concept.objects.filter(scheme__code__in=scheme_codes, code__in={c for _, c in wanted}).select_related(
        "scheme"
    )
    found = {(c.scheme.code, c.code): c for c in rows}
    unknown = [tag_of[key] for key in wanted if key not in found]
    if unknown:
        raise Invalid(f"unknown tag {unknown[0]!r}" + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
    return [found[key] for key in wanted]


def equivalents(concepts: Iterable[Concept]) -> set[Concept]:
    """The concepts themselves plus every concept mapped to one of them as ``equivalent``, in either direction.

    Search filters and matching use it so that a need tagged in CDISAH 2023 codes finds projects tagged in CDHI v1
    and the other way round. At most two queries whatever the number of concepts.
    """
    given = set(concepts)
    ids = {c.pk for c in given}
    if not ids:
        return set()
    rows = Mapping.objects.filter(relation=Relation.EQUIVALENT).filter(Q(source_id__in=ids) | Q(target_id__in=ids))
    linked = {m.target_id if m.source_id in ids else m.source_id for m in rows.only("source_id", "target_id")}
    linked -= ids
    if linked:
        given.update(Concept.objects.filter(pk__in=linked).select_related("scheme"))
    return given


def mappings_of(found: Concept) -> list[tuple[Concept, str, Mapping]]:
    """The concepts mapped to or from ``found``, each with the relation read from ``found`` and the mapping row."""
    rows = Mapping.objects.filter(Q(source=found) | Q(target=found)).select_related(
        "source__scheme", "source__parent", "target__scheme", "target__parent"
    )
    out = []
    for m in rows:
        if m.source_id == found.pk:
            out.append((m.target, m.relation, m))
        else:
            out.append((m.source, INVERSE[m.relation], m))
    out.sort(key=lambda item: (item[0].scheme.code, item[0].ordinal))
    return out


def crosswalk(scheme_code: str, code: str) -> list[tuple[Concept, str]]:
    """The concepts of other schemes mapped to ``scheme_code:code``, each with the relation of that concept to it
    read from the given one (``broader``: the other concept is broader), in the other scheme's order.

    ``NotFound`` names an unknown scheme or code; a concept without mappings (new in 2023) gives ``[]``.
    """
    return [(other, relation) for other, relation, _ in mappings_of(concept(scheme_code, code))]


def crosswalk_table(
    from_scheme: str = "cdhi-v1", to_scheme: str = "cdhi-2023"
) -> list[tuple[Concept, Concept, str, Mapping]]:
    """Every mapping between two schemes, oriented as asked: ``(from concept, to concept, relation of the second to
    the first, row)`` in the first scheme's order (the stored direction or the derived reverse one)."""
    first, second = scheme(from_scheme), scheme(to_scheme)
    rows = Mapping.objects.filter(
        Q(source__scheme=first, target__scheme=second) | Q(source__scheme=second, target__scheme=first)
    ).select_related("source__scheme", "target__scheme")
    out = [
        (m.source, m.target, m.relation, m)
        if m.source.scheme_id == first.pk
        else (m.target, m.source, INVERSE[m.relation], m)
        for m in rows
    ]
    out.sort(key=lambda row: (row[0].ordinal, row[1].ordinal))
    return out
