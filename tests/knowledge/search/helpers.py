"""A small corpus for the search tests, stored the way the ingest service stores documents (rows and index)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from django.utils import timezone

from dhnet.accounts.models import User
from dhnet.knowledge import search
from dhnet.knowledge.models import Chunk, Document, Item, Section


def make_item(
    title: str,
    passages: Sequence[tuple[str, str]],
    *,
    status: str = "published",
    kind: str = "guideline",
    countries: Sequence[str] = (),
    published_on: dt.date | None = dt.date(2021, 5, 17),
    created_by: User | None = None,
    tags: Sequence[str] = (),
) -> Item:
    """An item with one document whose sections (``(path, text)``, one chunk each) are indexed for search."""
    item = Item.objects.create(
        kind=kind,
        title=title,
        status=status,
        countries=list(countries),
        published_on=published_on if status in ("published", "archived") else None,
        created_by=created_by,
        created_by_name=created_by.username if created_by else "cli:test",
        licence="CC-BY-4.0",
    )
    if tags:
        from dhnet.taxonomy.services import resolve_tags

        item.tags.set(resolve_tags(list(tags)))
    text = "\n\n".join(body for _, body in passages)
    document = Document.objects.create(
        item=item,
        filename=f"{title.lower().replace(' ', '-')}.txt",
        media_type="text/plain",
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        size=len(text.encode()),
        title=title,
        pages=len(passages),
        text=text,
        parsed_at=timezone.now(),
    )
    offset = 0
    for ordinal, (path, body) in enumerate(passages):
        section = Section.objects.create(
            document=document,
            ordinal=ordinal,
            level=path.count(" > ") + 1,
            heading=path.split(" > ")[-1],
            path=path,
            page=ordinal + 1,
            start=offset,
            end=offset + len(body),
        )
        Chunk.objects.create(
            document=document,
            section=section,
            ordinal=ordinal,
            text=body,
            tokens=len(body.split()),
            page=ordinal + 1,
            start=offset,
            end=offset + len(body),
        )
        offset += len(body) + 2
    search.index_document(document)
    return item


STRATEGY = [
    (
        "Strategic Objectives > Collaboration and knowledge transfer",
        "Support countries in establishing information centres for disease surveillance to manage and implement "
        "timely decisions during epidemics and other public health emergencies.",
    ),
    (
        "Strategic Objectives > Governance",
        "A set of recommendations is developed for pseudonymization and anonymization of health data.",
    ),
    (
        "Implementation > Financing",
        "Financing for implementation of the global strategy will require specific resource mobilization; "
        "Member States develop investment strategies to allow for new capital expenditures.",
    ),
    (
        "Glossary > Telemedicine",
        "The delivery of health care services, where distance is a critical factor, by all health-care "
        "professionals using information and communications technologies.",
    ),
]
