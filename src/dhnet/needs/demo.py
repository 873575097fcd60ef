"""The needs demo: two of Germany's needs, recorded by the country's administrator, public, with their matches.

The needs are illustrative (our own wording of problems German public health has described in public: late
laboratory notifications to local health offices, and contact tracing that outgrows the offices' staff in an
outbreak); they are not an official statement. They are recorded by ``demo-planner`` (whom the atlas demo appoints
administrator of DE) when that user exists, else by the operator. Idempotent: running it again changes nothing.
"""

from __future__ import annotations

from typing import Any

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.needs import services
from dhnet.platform.access import Actor

PLANNER = "demo-planner"

NEEDS: list[dict[str, Any]] = [
    {
        "country": "DE",
        "title": "Laboratory notifications reach local health offices late",
        "description": (
            "Positive results of notifiable pathogens still travel partly by fax and are re-keyed by the local "
            "health office, so that outbreaks are seen days after the laboratory knew. Electronic notification "
            "from every laboratory, with the person's identity kept apart from the case, is wanted. (Illustrative.)"
        ),
        "challenges": ["hsc:1.2", "hsc:6.6", "hsc:1.3"],
        "level": "national",
        "languages": ["de"],
        "connectivity": "broadband",
        "standards": ["standard:hl7-fhir", "standard:loinc"],
        "budget": "2500000",
        "currency": "EUR",
        "public": True,
    },
    {
        "country": "DE",
        "title": "Contact tracing outgrows the local health offices' staff in an outbreak",
        "description": (
            "In a large outbreak the offices cannot call every contact in time; cases and contacts are followed in "
            "spreadsheets that cannot be shared between districts. Case and contact management that works across "
            "offices and exchanges data with the national notification system is wanted. (Illustrative.)"
        ),
        "challenges": ["hsc:5.4", "hsc:6.3", "hsc:2.4"],
        "level": "subnational",
        "languages": ["de", "en"],
        "connectivity": "mobile",
        "standards": ["standard:hl7-fhir"],
        "budget": "800000",
        "currency": "EUR",
        "public": True,
    },
]


def _actor(operator: Actor) -> Actor:
    user = User.objects.filter(username=PLANNER).first()
    if user is None:
        return operator
    actor = accounts.actor_for_user(user, via="cli", mfa_verified=True)
    return actor if services.administers(actor, "DE") else operator


def load_demo(operator: Actor) -> str:
    """Record the demo needs (once); a line saying what was done."""
    actor = _actor(operator)
    created = 0
    for data in NEEDS:
        _, new = services.create_need(actor, data)
        created += new
    return f"needs: {created} demo need(s) recorded for DE ({len(NEEDS) - created} already there), by {actor.username}"
