"""The feedback test world: published deployments in DE and KE (the partner on the DE one's team), a draft
deployment, a product, and the digital health planner appointed registry administrator of DE."""

from __future__ import annotations

from typing import Any

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.atlas.models import CountryAdmin, Product, Project, ProjectStatus
from dhnet.feedback import services
from dhnet.platform.access import Actor
from tests.platform.fixtures import actor_of

SCORES = {"usability": 4, "reliability": 3, "fit": 5, "support": 2, "data_value": 4}


def make_project(public_id: str, country: str = "DE", status: str = ProjectStatus.PUBLISHED, **kw: Any) -> Project:
    return Project.objects.create(
        public_id=public_id, name=f"Deployment {public_id}", country=country, status=status, **kw
    )


def make_world(operator: Actor, users: dict[str, User]) -> dict[str, Any]:
    de = make_project("DE-AAAAAA", stage="scale")
    de.team.add(users["partner"])
    ke = make_project("KE-BBBBBB", country="KE")
    draft = make_project("DE-DDDDDD", status=ProjectStatus.DRAFT)
    draft.team.add(users["partner"])
    product = Product.objects.create(public_id="SW-AAAAAA", slug="dhis2", name="DHIS2")
    CountryAdmin.objects.create(user=users["digital_health_planner"], country="DE")
    return {"de": de, "ke": ke, "draft": draft, "product": product}


def new_rater(operator: Actor, name: str, role: str = "viewer") -> tuple[User, Actor]:
    user, _ = accounts.create_user(operator, name, role=role, orgunit_code="D21")
    return user, actor_of(user)


def invite(inviter: Actor, project: str, audience: str = "health_worker", **kw: Any) -> str:
    data = {"label": kw.pop("label", f"group {audience}"), "audience": audience, **kw}
    return services.issue_invitation(inviter, project, data).code


def invited_rater(operator: Actor, inviter: Actor, name: str, project: str = "DE-AAAAAA") -> Actor:
    """A new user who redeemed an invitation to rate ``project`` as a health worker."""
    _, actor = new_rater(operator, name)
    services.redeem(actor, invite(inviter, project, label=f"for {name}"))
    return actor
