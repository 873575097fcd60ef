"""The planning demo: Germany's targets on the current GDHM rubric and a roadmap with items and milestones.

Written through the services by ``demo-planner`` (DE's country administrator, appointed by the atlas demo) when that
user exists, else by the operator, after the maturity demo (so the gap list has DE's published phases to start
from). The targets, items and milestones are illustrative, our own choice for the demo, not a plan of Germany's.
Each item links the first two proposed actions suggested for its indicator, DE's suggested atlas projects (at
most two) and the first suggested product, when there are any. Milestone dates are relative to the day the demo is
first loaded: two milestones are done, one is late (its date passed and it is not done), the others lie ahead. The
roadmap is shared, so every signed-in demo user can read it.

Idempotent: targets set again change nothing, items and milestones are recognised by their titles (a milestone
already there is left as it is, so progress recorded since is kept), a need already opened is reused.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.planning import services
from dhnet.planning.models import Milestone, RoadmapItem
from dhnet.platform.access import Actor

PLANNER = "demo-planner"
COUNTRY = "DE"
RUBRIC = "gdhm-current"

TARGETS: list[dict[str, Any]] = [
    {"indicator": "15", "target_phase": 5, "target_year": 2027, "weight": "3"},  # architecture / exchange
    {"indicator": "16", "target_phase": 5, "target_year": 2027, "weight": "2"},  # standards
    {"indicator": "21", "target_phase": 4, "target_year": 2028, "weight": "2"},  # identification of persons
    {"indicator": "12", "target_phase": 4, "target_year": 2027, "weight": "1.5"},  # in-service training
    {"indicator": "22", "target_phase": 4, "target_year": 2028, "weight": "1"},  # patient feedback
    {"indicator": "3", "target_phase": 4, "target_year": 2028, "weight": "1"},  # emerging technologies
    {"indicator": "1", "target_phase": 5, "target_year": 2026, "weight": "0.5"},  # governance
]

#: (indicator, title, description, status, milestones: (title, owner, days from the first load, progress, done))
ITEMS: list[tuple[str, str, str, str, list[tuple[str, str, int, int, bool]]]] = [
    (
        "15",
        "Health information exchange for notifications and laboratory results",
        "Connect laboratories, local health offices and the national notification system through one exchange "
        "with FHIR profiles; retire fax. (Illustrative.)",
        "in_progress",
        [
            ("Architecture agreed with the states", "Federal Ministry of Health (demo)", -120, 100, True),
            ("Laboratory connection pilot in two states", "Demo planner", -10, 60, False),
            ("National roll-out", "Demo planner", 300, 0, False),
        ],
    ),
    (
        "16",
        "Mandatory FHIR profiles for public-health reporting",
        "Publish and maintain the profiles; conformance tests for vendors. (Illustrative.)",
        "in_progress",
        [
            ("Profiles published", "Standards body (demo)", -45, 100, True),
            ("Vendor conformance testing open", "Standards body (demo)", 90, 30, False),
        ],
    ),
    (
        "21",
        "Privacy-preserving person linkage for case reports",
        "Pseudonymous linkage of a person's reports across offices, keys kept apart from the data. (Illustrative.)",
        "planned",
        [("Data protection impact assessment", "Data protection officer (demo)", 150, 10, False)],
    ),
]


def _actor(operator: Actor) -> Actor:
    user = User.objects.filter(username=PLANNER).first()
    if user is None:
        return operator
    actor = accounts.actor_for_user(user, via="cli", mfa_verified=True)
    return actor if services.may_write(actor, COUNTRY) else operator


def load_demo(operator: Actor) -> str:
    """Set DE's demo targets and roadmap (once); a line saying what was done."""
    actor = _actor(operator)
    changed = services.set_targets(actor, COUNTRY, RUBRIC, TARGETS)
    services.update_roadmap(
        actor, COUNTRY, RUBRIC, {"title": "Germany's digital health roadmap (demo)", "shared": True}
    )
    today = timezone.localdate()
    items = milestones = 0
    for code, title, description, status, steps in ITEMS:
        existing = RoadmapItem.objects.filter(
            roadmap__country=COUNTRY, roadmap__rubric__code=RUBRIC, indicator__code=code, title=title
        ).first()
        if existing is None:
            suggested = services.suggest(COUNTRY, RUBRIC, code)  # link the top suggestions, as a planner would
            data = {
                "indicator": code,
                "title": title,
                "description": description,
                "status": status,
                "actions": [a.key for a in suggested.actions[:2]],
                "projects": [p.project.public_id for p in suggested.projects if p.reach == "country"][:2],
                "products": [p.product.slug for p in suggested.products[:1]],
            }
            existing, _ = services.add_item(actor, COUNTRY, RUBRIC, data)
            items += 1
        for name, owner, days, progress, done in steps:
            if Milestone.objects.filter(item=existing, title=name).exists():
                continue
            due = today + dt.timedelta(days=days)
            services.add_milestone(
                actor,
                COUNTRY,
                existing.pk,
                {"title": name, "owner_name": owner, "due_date": due, "progress": progress, "done": done},
            )
            milestones += 1
    need_item = RoadmapItem.objects.filter(roadmap__country=COUNTRY, roadmap__rubric__code=RUBRIC, indicator__code="21")
    first = need_item.first()
    if first is not None and first.need_id is None:
        services.open_need(actor, COUNTRY, first.pk)
    return (
        f"planning: DE's targets ({len(changed)} changed), roadmap items ({items} new) and milestones "
        f"({milestones} new), by {actor.username}"
    )
