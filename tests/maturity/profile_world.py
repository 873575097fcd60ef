"""Published assessments for the tests of the public views (profile, comparison, region, map), on the shipped
GDHM current rubric, through the real services (opened, answered, submitted, approved and published by the
operator, who has no user and so passes the four-eyes rule), with hand-computed scores.

Components of ``gdhm-current`` and their top-level indicators: C1 1-4 (sub-indicators 2a, 4a), C2 5-6 (5a, 6a),
C3 7-10 (9a), C4 11-14, C5 15-16, C6 17-18, C7 19-23 (21a-c).
"""

from __future__ import annotations

from dhnet.maturity import services
from dhnet.maturity.models import Assessment
from dhnet.platform.access import Actor

COMPONENTS = {
    1: ("1", "2", "3", "4"),
    2: ("5", "6"),
    3: ("7", "8", "9", "10"),
    4: ("11", "12", "13", "14"),
    5: ("15", "16"),
    6: ("17", "18"),
    7: ("19", "20", "21", "22", "23"),
}
SUBS = ("2a", "4a", "5a", "6a", "9a", "21a", "21b", "21c")


def phases_by_component(values: dict[int, list[int]], subs: int = 5) -> dict[str, int]:
    """Answers from per-component phase lists (in indicator order); every sub-indicator answered ``subs``."""
    out = {code: value for c, codes in COMPONENTS.items() for code, value in zip(codes, values[c], strict=True)}
    out.update(dict.fromkeys(SUBS, subs))
    return out


def uniform(phase: int) -> dict[str, int]:
    return phases_by_component({c: [phase] * len(codes) for c, codes in COMPONENTS.items()})


def publish(actor: Actor, country: str, year: int, answers: dict[str, int], evidence: int = 0) -> Assessment:
    """Open, answer, add ``evidence`` text items to indicator 1, submit, approve and publish."""
    assessment, _ = services.open_assessment(actor, country, year, "gdhm-current")
    services.answer(actor, assessment.public_id, answers)
    for n in range(evidence):
        services.add_evidence(actor, assessment.public_id, "1", "text", text=f"Decree no. {n + 1} of {year}")
    services.submit(actor, assessment.public_id)
    services.approve(actor, assessment.public_id)
    services.publish(actor, assessment.public_id)
    assessment.refresh_from_db()
    return assessment


#: DE 2025: C1 (3,4,2,3) = 3.0; C2 (-1,-1) no score; C3 (2,3,3,2) = 2.5; C4 (4,4,4,3) = 3.75; C5 (1,2) = 1.5;
#: C6 (5,5) = 5.0; C7 (2,2,3,3,2) = 2.4. Overall (3 + 2.5 + 3.75 + 1.5 + 5 + 2.4) / 6 = 18.15 / 6 = 3.025
#: -> 3.0 (half-even) -> phase 3. Sub-indicators at 5 change nothing.
DE_2025 = phases_by_component(
    {1: [3, 4, 2, 3], 2: [-1, -1], 3: [2, 3, 3, 2], 4: [4, 4, 4, 3], 5: [1, 2], 6: [5, 5], 7: [2, 2, 3, 3, 2]}
)
DE_2025_COMPONENTS = [3.0, None, 2.5, 3.75, 1.5, 5.0, 2.4]
DE_2025_SCORE = 3.025


def world(actor: Actor) -> dict[str, Assessment]:
    """DE 2023 (all 2), 2024 (all 3: shows as phase 3, score 3.0) and 2025 (above); FR 2025 all 4, PL 2025 all 3
    (EUR, same phase as DE), KE 2025 all 1 (AFR)."""
    return {
        "DE-2023": publish(actor, "DE", 2023, uniform(2)),
        "DE-2024": publish(actor, "DE", 2024, uniform(3)),
        "DE-2025": publish(actor, "DE", 2025, DE_2025, evidence=2),
        "FR-2025": publish(actor, "FR", 2025, uniform(4)),
        "PL-2025": publish(actor, "PL", 2025, uniform(3)),
        "KE-2025": publish(actor, "KE", 2025, uniform(1)),
    }
