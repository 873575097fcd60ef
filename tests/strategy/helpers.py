"""The world of the strategy tests: people, published maturity scores created as rows, a few recorded values.

The digital health planner administers DE (``atlas.CountryAdmin``); the knowledge manager manages indicators and
registry-wide administers every country (``atlas:registry:manage``) but may not record values; the system
administrator holds everything.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from dhnet.accounts.models import User
from dhnet.atlas.models import CountryAdmin
from dhnet.maturity.models import Assessment, PublishedScore, Rubric
from dhnet.platform.access import Actor
from tests.platform.fixtures import actor_of


def people(users: dict[str, User]) -> dict[str, Actor]:
    CountryAdmin.objects.get_or_create(user=users["digital_health_planner"], country="DE")
    return {role: actor_of(user) for role, user in users.items()}


def published(
    country: str,
    year: int,
    phases: dict[str, int],
    overall: int | None,
    *,
    version: int = 1,
    rubric: str = "gdhm-current",
) -> PublishedScore:
    """A published assessment of ``country`` for ``year`` with the given indicator phases (a row, as publishing
    writes it: the snapshot's answers keyed by indicator code)."""
    assessment, _ = Assessment.objects.get_or_create(
        country=country,
        year=year,
        rubric=Rubric.objects.get(code=rubric),
        defaults={"public_id": f"MA-{country}{year % 100:02d}{version:02d}", "status": "published"},
    )
    return PublishedScore.objects.create(
        assessment=assessment,
        version=version,
        published_at=timezone.make_aware(dt.datetime(year, 12, 1)),
        snapshot={"answers": {code: {"phase": phase} for code, phase in phases.items()}},
        overall_score=None if overall is None else float(overall),
        overall_phase=overall,
    )


def rows(*items: tuple[str, str, int, Any]) -> list[dict[str, Any]]:
    return [{"indicator": i, "country": c, "period": p, "value": v} for i, c, p, v in items]
