# mypy: warn-return-any=False
"""Event-based surveillance: any signed-in user reports an event or a rumour; it enters the signal queue at once.

The report names an org unit where the reporter may see org units (their home and below), optionally a free-text
place, the date of the event, the hazard (what happened: "deaths of poultry", "cluster of bloody diarrhoea") and a
description, and optionally a disease of the catalogue. It becomes a :class:`Signal` with ``source=event`` and
status ``new``; the same report submitted again by the same person within a day returns the first one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from dhnet.audit import services as audit
from dhnet.diseases.models import Disease
from dhnet.orgunits.models import OrgUnit
from dhnet.orgunits.services import READ as ORGUNIT_READ
from dhnet.orgunits.services import UnitQuery, list_units, require_in_jurisdiction
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid, NotFound
from dhnet.signals.models import Signal, SignalEvent, SignalSource, SignalStatus
from dhnet.signals.services import READ, REPORT, notify_changed, require, visible_signals

MAX_DESCRIPTION = 10_000
MAX_AGE = dt.timedelta(days=366)


@dataclass(frozen=True)
class EventReport:
    orgunit: str  # code
    date: dt.date
    hazard: str
    description: str
    place: str = ""
    disease: str = ""  # code, optional


def clean(report: EventReport, *, today: dt.date) -> tuple[str, str, str]:
    hazard = (report.hazard or "").strip()
    description = (report.description or "").strip()
    place = (report.place or "").strip()
    if not hazard:
        raise Invalid("hazard: required (what happened, e.g. 'unexplained deaths of poultry')")
    if len(hazard) > 255:
        raise Invalid("hazard: at most 255 characters")
    if not description:
        raise Invalid("description: required (who, what, when, how many)")
    if len(description) > MAX_DESCRIPTION:
        raise Invalid(f"description: at most {MAX_DESCRIPTION} characters")
    if len(place) > 255:
        raise Invalid("place: at most 255 characters")
    if report.date > today:
        raise Invalid("date: must not be in the future")
    if report.date < today - MAX_AGE:
        raise Invalid("date: more than a year ago")
    return hazard, description, place


def report_event(actor: Actor, report: EventReport) -> tuple[Signal, bool]:
    """Create the signal of an event report; ``(signal, created)`` (False: the same report was made already)."""
    require(actor, REPORT)
    if not actor.is_authenticated:
        raise Forbidden("reporting an event needs a signed-in user")
    hazard, description, place = clean(report, today=timezone.localdate())
    with transaction.atomic():
        unit = OrgUnit.objects.filter(code=report.orgunit).defer("geometry").first()
        if unit is None:
            raise NotFound(f"orgunit: org unit {report.orgunit!r} not found")
        require_in_jurisdiction(actor, ORGUNIT_READ, unit)
        disease = None
        if report.disease:
            disease = Disease.objects.filter(code=report.disease).first()
            if disease is None:
                raise NotFound(f"disease: disease {report.disease!r} not found")
        duplicate = Signal.objects.filter(
            source=SignalSource.EVENT,
            orgunit=unit,
            first_period=report.date,
            hazard=hazard,
            description=description,
            reported_by=actor.username[:150],
            created_at__gte=timezone.now() - dt.timedelta(days=1),
        ).first()
        if duplicate is not None:
            return duplicate, False
        signal = Signal.objects.create(
            source=SignalSource.EVENT,
            status=SignalStatus.NEW,
            disease=disease,
            orgunit=unit,
            first_period=report.date,
            last_period=report.date,
            title=f"{hazard} ({place or unit.name})"[:255],
            description=description,
            hazard=hazard,
            place=place,
            reported_by=actor.username[:150],
        )
        SignalEvent.objects.create(
            signal=signal,
            actor_username=actor.username[:150],
            kind="created",
            text=description,
            data={"source": "event", "date": report.date.isoformat(), "place": place, "hazard": hazard},
        )
        audit.record(
            actor,
            "signals.event.report",
            object_type="signals.signal",
            object_id=signal.pk,
            detail={"orgunit": unit.code, "date": report.date.isoformat(), "disease": report.disease},
            permission=REPORT,
        )
        notify_changed(signal.pk, "created", actor.username)
    return signal, True


def can_read(actor: Actor, signal: Signal) -> bool:
    """Whether the reporter may see the signal they reported (to show it to them)."""
    return actor.has(READ) and visible_signals(actor).filter(pk=signal.pk).exists()


def disease_choices() -> list[tuple[str, str]]:
    """(code, name) of the active diseases of the catalogue (reference data)."""
    return list(Disease.objects.filter(active=True).order_by("name").values_list("code", "name"))


@dataclass(frozen=True)
class FormChoices:
    units: list[OrgUnit]
    more_units: bool
    diseases: list[tuple[str, str]]
    today: dt.date


def form_choices(actor: Actor, *, limit: int = 1000) -> FormChoices:
    """What the report form offers: the org units the reporter may see (up to ``limit``), the diseases."""
    total, units = list_units(actor, UnitQuery(limit=limit))
    return FormChoices(units, total > len(units), disease_choices(), timezone.localdate())
