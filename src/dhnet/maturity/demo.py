"""The maturity demo: Germany's assessments of three years through the real workflow, and a synthetic peer set.

Germany (DE), 2023, 2024 and 2025 on the current GDHM rubric, each through the services as a ministry would do it:
``demo-planner`` (DE's country administrator, appointed by the atlas demo) opens the year (2024 and 2025 start as
a copy of the previous year), invites a focal point, who fills the answers with evidence through the link; the
planner submits; ``demo-expert`` comments; ``demo-admin`` (another administrator: four eyes) approves and
publishes. The answers are illustrative, our own judgement for the demo, not an official GDHM submission.

The synthetic peer set: :data:`PEERS`, 44 countries across the six WHO regions, each with a 2024 and a 2025
publication whose phases are drawn deterministically (:func:`synthetic_answers`, seeded by the country code) so
that the comparison, the same-phase countries, the regions and the map have data. They are *made up*: each
publication's snapshot says ``"synthetic": true``, every answer's note says so, and the pages mark them. They are
written directly (not through the workflow, which would audit 44 invented ministries' work as if it had happened),
with one audit record ``maturity.demo.synthetic`` naming what was written.

Idempotent: a year already published is left alone, an interrupted year continues from its state, and synthetic
publications that exist are not written again.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from django.db import transaction
from django.utils import timezone

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.atlas import services as atlas
from dhnet.audit.services import record
from dhnet.maturity import services
from dhnet.maturity.models import Answer, Assessment, Indicator, PublishedScore
from dhnet.platform.access import Actor

RUBRIC = "gdhm-current"
COUNTRY = "DE"
PLANNER, EXPERT, APPROVER = "demo-planner", "demo-expert", "demo-admin"
FOCAL_NAME, FOCAL_EMAIL = "Dr. Jana Fokus (demo focal point)", "focal.point@example.org"
SYNTHETIC_NOTE = "Synthetic demo data: made up for the comparison, not an assessment by this country."
SYNTHETIC_YEARS = (2024, 2025)


#: Germany's illustrative answers per year (indicator code -> phase; -1 not available) and what changed.
def _phases(text: str) -> dict[str, int]:
    """``"1=3 2a=-1"`` -> ``{"1": 3, "2a": -1}``."""
    return {code: int(phase) for code, phase in (item.split("=") for item in text.split())}


DE_YEARS: dict[int, dict[str, int]] = {
    2023: _phases(
        "1=3 2=2 2a=2 3=2 4=2 4a=1 5=2 5a=2 6=2 6a=-1 7=3 8=4 9=3 9a=3 10=2 11=2 12=2 13=3 14=2 15=2 16=2 17=4 18=3 "
        "19=3 20=2 21=2 21a=2 21b=3 21c=2 22=2 23=-1"
    ),
    2024: _phases("1=4 2=3 2a=3 5=3 6=3 15=3 16=3 20=3 23=2"),
    2025: _phases("3=3 4=3 4a=2 11=3 12=3 14=3 16=4 21=3 22=3 23=3"),
}  # 2024 and 2025 list what changed from the previous year (they start as its copy)

EVIDENCE: dict[int, list[tuple[str, str, str]]] = {
    2023: [
        ("1", "text", "The ministry's digital health department coordinates the federal digital health agency."),
        ("5", "link", "https://www.bundesgesundheitsministerium.de/themen/digitalisierung"),
        ("8", "text", "Data protection: the GDPR and the federal data protection act apply to health data."),
    ],
    2024: [("2", "text", "A digital health strategy was adopted; an implementation plan is being costed.")],
    2025: [
        ("11", "text", "Digital health is part of the curriculum of two medical faculties (illustrative)."),
        ("16", "link", "https://simplifier.net/organization/kassenarztlichebundesvereinigungkbv"),
    ],
}

REVIEW_COMMENTS: dict[int, tuple[str | None, str]] = {
    2023: ("8", "Please add the reference to the federal data protection act's health-data section."),
    2024: (None, "Evidence for the strategy's costing would help readers; otherwise consistent with 2023."),
    2025: ("16", "The link names one organisation's profiles; is interoperability national? Phase 4 looks right."),
}

#: The synthetic peer set: WHO region -> countries (DE is never among them).
PEERS: dict[str, tuple[str, ...]] = {
    "AFR": ("KE", "NG", "GH", "RW", "ZA", "ET", "SN", "UG"),
    "AMR": ("BR", "MX", "CA", "CL", "CO", "PE", "JM"),
    "SEAR": ("IN", "BD", "TH", "LK", "NP", "BT"),
    "EUR": ("FR", "PL", "IT", "ES", "NL", "SE", "EE", "UA", "TR"),
    "EMR": ("EG", "PK", "MA", "JO", "SA", "TN"),
    "WPR": ("AU", "JP", "PH", "VN", "MY", "NZ", "FJ", "ID"),
}
ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def _user_actor(username: str) -> Actor | None:
    user = User.objects.filter(username=username, is_active=True).first()
    return accounts.actor_for_user(user, via="cli", mfa_verified=True) if user is not None else None


def synthetic_answers(country: str, year: int, codes: list[str]) -> dict[str, int]:
    """Deterministic made-up phases of ``country`` for ``year``: a level drawn from the country code (0.6–4.4),
    each indicator around it (±0.6 before rounding), about one in twenty not available, the later year a little
    higher. Spread so that every phase has countries (phase 1 few, as in reality)."""
    seed = int(hashlib.sha256(f"dhnet-maturity-demo:{country}".encode()).hexdigest()[:12], 16)
    rng = random.Random(seed)
    level = 0.6 + rng.random() * 3.8
    out = {}
    for code in codes:
        draw = rng.random()
        step = rng.choice((-1, 0, 0, 1))
        if draw < 0.05:
            out[code] = -1
            continue
        value = round(level + 0.6 * step + (0.4 if year > SYNTHETIC_YEARS[0] and rng.random() < 0.5 else 0.0))
        out[code] = max(1, min(5, value))
    return out


def synthetic_public_id(country: str, year: int) -> str:
    """A stable public id of a synthetic assessment (``MA-`` and six characters of the usual alphabet)."""
    digest = hashlib.sha256(f"synthetic:{country}:{year}".encode()).digest()
    return "MA-" + "".join(ID_ALPHABET[b % len(ID_ALPHABET)] for b in digest[:6])


def _germany_year(year: int, planner: Actor, expert: Actor | None, approver: Actor) -> str:
    """Take DE's ``year`` through the workflow from wherever it stands; a word on what was done."""
    assessment, _ = services.open_assessment(planner, COUNTRY, year, RUBRIC, copy_previous=year > min(DE_YEARS))
    pid = assessment.public_id
    if assessment.status == services.PUBLISHED:
        return "already published"
    if assessment.status in services.EDITABLE:
        _link, token = services.invite(planner, pid, FOCAL_NAME, FOCAL_EMAIL, days=30)
        focal = services.link_actor(token)
        answers = {code: {"phase": phase, "note": f"Demo answer for {year}."} for code, phase in DE_YEARS[year].items()}
        services.answer(planner, pid, answers, focal=focal)
        for code, kind, value in EVIDENCE.get(year, []):
            if kind == "link":
                services.add_evidence(planner, pid, code, "link", url=value, focal=focal)
            else:
                services.add_evidence(planner, pid, code, "text", text=value, focal=focal)
        services.revoke(planner, pid, _link.pk)  # filled: the link is no longer needed
        services.submit(planner, pid)
        assessment.refresh_from_db()
    if assessment.status == services.SUBMITTED:
        if expert is not None:
            on, text = REVIEW_COMMENTS[year]
            services.comment(expert, pid, text, on)
        services.approve(approver, pid)
        assessment.refresh_from_db()
    if assessment.status == services.APPROVED:
        services.publish(approver, pid)
    return "published"


def _synthetic(operator: Actor) -> int:
    """Write the synthetic peer set's publications that are missing; the number written."""
    rubric = services.rubric(RUBRIC)
    indicators = list(Indicator.objects.filter(rubric=rubric).order_by("position"))
    codes = [i.code for i in indicators]
    # any assessment of that country and year (synthetic or a real one opened meanwhile) is left alone
    existing = set(Assessment.objects.filter(rubric=rubric).values_list("country", "year"))
    written: list[str] = []
    now = timezone.now()
    with transaction.atomic():
        for _region, countries in PEERS.items():
            for country in countries:
                for year in SYNTHETIC_YEARS:
                    if (country, year) in existing:
                        continue
                    assessment = Assessment.objects.create(
                        public_id=synthetic_public_id(country, year),
                        country=country,
                        year=year,
                        rubric=rubric,
                        status=services.PUBLISHED,
                    )
                    answers = synthetic_answers(country, year, codes)
                    Answer.objects.bulk_create(
                        [
                            Answer(
                                assessment=assessment,
                                indicator=ind,
                                phase=answers[ind.code],
                                note=SYNTHETIC_NOTE,
                                answered_by="synthetic demo data",
                            )
                            for ind in indicators
                        ]
                    )
                    data, result = services.snapshot(assessment)
                    data["synthetic"] = True
                    PublishedScore.objects.create(
                        assessment=assessment,
                        version=assessment.version,
                        published_at=now,
                        published_by=None,
                        snapshot=data,
                        overall_score=result.score,
                        overall_phase=result.phase,
                    )
                    Assessment.objects.filter(pk=assessment.pk).update(
                        status=services.PUBLISHED, published_at=now, approved_at=now, submitted_at=now
                    )
                    written.append(f"{country}-{year}")
        if written:
            record(
                operator,
                "maturity.demo.synthetic",
                object_type="maturity.assessment",
                detail={"rubric": RUBRIC, "publications": len(written), "first": written[0], "last": written[-1]},
            )
    return len(written)


def load_demo(operator: Actor) -> str:
    """Germany's three years through the workflow and the synthetic peer set; a line saying what was done."""
    planner = _user_actor(PLANNER)
    if planner is not None and not services.administers(planner, COUNTRY):
        atlas.appoint_country_admin(operator, PLANNER, COUNTRY)  # the atlas demo does it; without it, here
        planner = _user_actor(PLANNER)
    approver = _user_actor(APPROVER)
    expert = _user_actor(EXPERT)
    if planner is None or approver is None:
        # without the demo users the operator plays both parts; it has no user, so four eyes do not stop it
        planner, approver = operator, operator
    done: dict[str, Any] = {}
    for year in sorted(DE_YEARS):
        done[str(year)] = _germany_year(year, planner, expert, approver)
    synthetic = _synthetic(operator)
    years = ", ".join(f"{y} {state}" for y, state in done.items())
    peers = sum(len(c) for c in PEERS.values())
    return (
        f"maturity: {COUNTRY} {years} (by {planner.username}, approved by {approver.username}); "
        f"synthetic peers: {synthetic} publication(s) written for {peers} countries"
    )
