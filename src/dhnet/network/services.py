"""Stakeholders and communities: the domain logic of the network context (see docs/knowledge-design.md)."""

from __future__ import annotations

from collections.abc import Iterable

from dhnet.network.models import Organisation
from dhnet.platform.errors import Invalid, NotFound


def organisation(slug: str) -> Organisation:
    """One organisation by slug (``NotFound`` naming it). Organisations are public (contact details are not)."""
    found = Organisation.objects.filter(slug=slug).first()
    if found is None:
        raise NotFound(f"no organisation {slug!r}")
    return found


def organisations_by_slug(slugs: Iterable[str]) -> list[Organisation]:
    """The organisations named, in the order given, without repeats; ``Invalid`` naming an unknown slug."""
    wanted = list(dict.fromkeys(s.strip() for s in slugs))
    found = {o.slug: o for o in Organisation.objects.filter(slug__in=wanted)}
    for slug in wanted:
        if slug not in found:
            raise Invalid(f"unknown organisation {slug!r}")
    return [found[s] for s in wanted]
