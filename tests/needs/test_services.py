"""Recording needs (validation naming the field, idempotent retries, who may write and see), decisions and their
history, and the portfolio analytics (neglected challenges, duplication, unfunded needs) on hand-made data."""

from __future__ import annotations

from typing import Any

import pytest

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.needs import services
from dhnet.needs.models import MatchDecision, Need
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from tests.needs.helpers import NEED, appoint, make_registry, project, v2023_of
from tests.platform.fixtures import actor_of


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"country": "XX"}, "country: 'XX' is not an ISO 3166-1 alpha-2 country code"),
        ({"country": ""}, "country: required"),
        ({"title": "  "}, "title: required"),
        ({"title": "x" * 201}, "title: longer than 200 characters"),
        ({"challenges": []}, "challenges: name at least one health-system challenge"),
        ({"challenges": ["hsc:99.9"]}, "challenges: unknown tag 'hsc:99.9'"),
        ({"challenges": ["hsc:1"]}, "challenges[0]: hsc:1 is a group of challenges"),
        ({"challenges": ["cdhi-v1:1.1.1"]}, "challenges[0]: cdhi-v1:1.1.1 is not in the hsc scheme"),
        ({"standards": ["standard:nope"]}, "standards: unknown tag 'standard:nope'"),
        ({"level": "galactic"}, "level: 'galactic' is not one of national, subnational, facility, community"),
        ({"connectivity": "5g"}, "connectivity: '5g' is not one of none, intermittent, mobile, broadband"),
        ({"languages": ["english"]}, "languages[0]: 'english' is not an ISO 639-1 code"),
        ({"budget": "-5"}, "budget: '-5' is not a positive amount"),
        ({"budget": "lots"}, "budget: 'lots' is not an amount"),
        ({"budget": [1]}, "budget: expected an amount"),
        ({"currency": "dollars"}, "currency: longer than 3 characters"),
        ({"orgunits": ["NOPE"]}, "orgunits[0]: no org unit 'NOPE'"),
        ({"places": "Kisumu\n" + "y" * 201}, "places[1]: longer than 200 characters"),
        ({"public": "maybe"}, "public: expected true or false"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"description": "a\x00b"}, "description: contains a NUL character"),
    ],
)
def test_bad_input_names_the_field(db: Any, operator: Actor, change: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid) as caught:
        services.create_need(operator, NEED | change)
    assert caught.value.message.startswith(message), caught.value.message
    assert not Need.objects.exists()


def test_create_is_idempotent_and_a_different_need_under_the_same_title_conflicts(db: Any, operator: Actor) -> None:
    need, created = services.create_need(operator, NEED)
    assert created
    assert services.PUBLIC_ID_RE.match(need.public_id)
    assert need.public_id.startswith("KE-N")
    again, created = services.create_need(operator, dict(NEED))
    assert (again.pk, created) == (need.pk, False)
    with pytest.raises(Conflict, match="title: KE already has a need titled"):
        services.create_need(operator, NEED | {"budget": "5"})
    assert Need.objects.count() == 1
    assert AuditRecord.objects.filter(action="needs.need.create").count() == 1
    data = services.need_data(need)
    assert data["challenges"] == ["hsc:1.2", "hsc:2.1"]
    assert data["budget"] == "100000.00"
    assert data["places"] == ["Kisumu", "Siaya"]


def test_update_changes_fields_and_keeps_the_country(db: Any, operator: Actor, tree: dict[str, OrgUnit]) -> None:
    need, _ = services.create_need(operator, NEED)
    services.update_need(operator, need.public_id, {"orgunits": ["D11"], "status": "addressed", "public": True})
    need.refresh_from_db()
    assert services.need_data(need)["orgunits"] == ["D11"]
    assert (need.status, need.public) == ("addressed", True)
    services.update_need(operator, need.public_id, {"status": "addressed"})  # no change: no audit record
    assert AuditRecord.objects.filter(action="needs.need.update").count() == 1
    with pytest.raises(Invalid, match="country: a need stays in its country"):
        services.update_need(operator, need.public_id, {"country": "UG"})
    with pytest.raises(Invalid, match="level"):
        services.update_need(operator, need.public_id, {"level": "x"})


def test_writers_must_administer_the_country(db: Any, users: dict[str, User]) -> None:
    planner = users["digital_health_planner"]
    with pytest.raises(Forbidden, match="country: you do not administer KE"):
        services.create_need(actor_of(planner), NEED)
    appoint(planner, "KE")
    need, _ = services.create_need(actor_of(planner), NEED)
    with pytest.raises(Forbidden, match="requires needs:need:write"):
        services.create_need(actor_of(users["knowledge_manager"]), NEED | {"title": "other"})
    with pytest.raises(Forbidden, match="UG"):
        services.create_need(actor_of(planner), NEED | {"country": "UG"})
    with pytest.raises(NotFound):  # not visible to the partner: not revealed
        services.update_need(actor_of(users["partner"]), need.public_id, {"title": "x"})


def test_visibility(db: Any, users: dict[str, User], operator: Actor) -> None:
    need, _ = services.create_need(operator, NEED)
    planner, manager, partner = users["digital_health_planner"], users["knowledge_manager"], users["partner"]
    assert services.list_needs(actor_of(manager)) == [need]  # registry manager
    assert services.list_needs(actor_of(planner)) == []
    with pytest.raises(NotFound):
        services.get_need(actor_of(planner), need.public_id)
    with pytest.raises(NotFound):
        services.get_need(Actor.anonymous(), need.public_id)
    appoint(planner, "KE")
    assert services.get_need(actor_of(planner), need.public_id) == need
    assert AuditRecord.objects.filter(action="needs.need.read", object_id=need.public_id).count() == 1
    services.update_need(operator, need.public_id, {"public": True})
    assert services.list_needs(actor_of(partner)) == [need]
    assert services.get_need(Actor.anonymous(), need.public_id) == need
    assert services.list_needs(Actor.anonymous(), services.NeedFilter(country="KE", challenge="hsc:2.1")) == [need]
    assert services.list_needs(Actor.anonymous(), services.NeedFilter(challenge="hsc:5.4")) == []
    with pytest.raises(Invalid, match="status"):
        services.list_needs(Actor.anonymous(), services.NeedFilter(status="x"))


def test_decisions_and_their_history(db: Any, operator: Actor, users: dict[str, User]) -> None:
    registry = make_registry()
    need, _ = services.create_need(operator, NEED)
    pid = need.public_id
    planner = actor_of(users["digital_health_planner"])
    with pytest.raises(NotFound):
        services.decide(planner, pid, "product", "dhis2", "accepted")
    appoint(users["digital_health_planner"], "KE")
    first, created = services.decide(planner, pid, "product", "dhis2", "accepted", score=68.3)
    assert created
    assert services.decide(planner, pid, "product", "dhis2", "accepted") == (first, False)  # a retry stores nothing
    with pytest.raises(Invalid, match="note: required to reject"):
        services.decide(planner, pid, "product", "dhis2", "rejected")
    services.decide(planner, pid, "product", "dhis2", "rejected", "licence costs of the hosting")
    services.decide(planner, pid, "project", "KE-AAAAAA", "annotated", "ask the county about the servers")
    with pytest.raises(Invalid, match="ref: no published project 'KE-EEEEEE'"):
        services.decide(planner, pid, "project", registry["draft"].public_id, "accepted")
    with pytest.raises(Invalid, match="ref: no product 'nope'"):
        services.decide(planner, pid, "product", "nope", "accepted")
    with pytest.raises(Invalid, match="kind: 'tool' is not one of product, project"):
        services.decide(planner, pid, "tool", "dhis2", "accepted")
    with pytest.raises(Invalid, match="decision: 'maybe'"):
        services.decide(planner, pid, "product", "dhis2", "maybe")
    with pytest.raises(Forbidden, match="requires needs:match:decide"):
        services.decide(actor_of(users["knowledge_manager"]), pid, "product", "dhis2", "accepted")
    history = services.decisions(need)
    assert [(services.decision_key(d), d.decision) for d in history] == [
        ("product:dhis2", "accepted"),
        ("product:dhis2", "rejected"),
        ("project:KE-AAAAAA", "annotated"),
    ]
    assert history[0].score == 68.3
    assert history[0].decided_by_name == "digital_health_planner"
    latest = services.latest_decisions(need)
    assert latest["product:dhis2"].decision == "rejected"
    matches = {m.key: m for m in services.match(planner, pid)}
    assert matches["product:dhis2"].decision.decision == "rejected"  # type: ignore[union-attr]
    assert matches["project:KE-AAAAAA"].decision.note == "ask the county about the servers"  # type: ignore[union-attr]
    assert matches["product:openlmis"].decision is None
    assert MatchDecision.objects.count() == 3
    assert AuditRecord.objects.filter(action__startswith="needs.match.").exclude(action="needs.match.read").count() == 3


def test_portfolio_gaps(db: Any, operator: Actor, tree: dict[str, OrgUnit]) -> None:
    registry = make_registry()
    need, _ = services.create_need(operator, NEED)
    follow_up, _ = services.create_need(
        operator, NEED | {"title": "Lost to follow-up", "challenges": ["hsc:5.4"], "budget": None}
    )
    funded, _ = services.create_need(operator, NEED | {"title": "Reports", "challenges": ["hsc:1.2"]})
    elsewhere, _ = services.create_need(operator, NEED | {"title": "Other", "challenges": ["hsc:1.3"]})
    services.create_need(operator, NEED | {"title": "Old", "challenges": ["hsc:9.1"], "status": "closed"})
    services.decide(operator, funded.public_id, "project", "KE-AAAAAA", "accepted")
    services.decide(operator, elsewhere.public_id, "project", "UG-CCCCCC", "accepted")
    # duplication: 2.2.4 in Kisumu by KE-A and by a project tagged with its 2023 equivalent; 3.2.1 in Kisumu by KE-B
    # only; 2.2.4 in D11 by one project only
    project("KE-HHHHHH", "KE", "pilot", [], [v2023_of("cdhi-v1:2.2.4")], [], places=[" kisumu "])
    project("KE-JJJJJJ", "KE", "pilot", [], ["cdhi-v1:2.2.4"], [], orgunits=[tree["D11"]])
    gaps = services.portfolio_gaps(operator, "ke")
    assert gaps.country == "KE"
    assert gaps.projects == 4
    # addressed: tagged 1.2, 2.1; 2.2.4 addresses 1.2, 1.3, 6.6, 8.5; 3.2.1 addresses 2.1, 2.3, 6.6, 8.4
    neglected = [n.challenge.code for n in gaps.neglected]
    assert len(neglected) == 43 - 7
    assert not {"1.2", "2.1", "1.3", "6.6", "8.5", "2.3", "8.4"} & set(neglected)
    assert neglected[0] == "5.4"  # named by an open need: first, with the need
    assert gaps.neglected[0].needs == (follow_up.public_id,)
    assert "9.1" in neglected
    assert next(n for n in gaps.neglected if n.challenge.code == "9.1").needs == ()  # closed needs do not count
    assert [(d.intervention.tag, d.place, [p for p, _ in d.projects]) for d in gaps.duplication] == [
        ("cdhi-v1:2.2.4", "kisumu", ["KE-AAAAAA", "KE-HHHHHH"])
    ]
    assert gaps.duplication[0].place_name == "Kisumu"
    unfunded = {u.need.public_id: u.reason for u in gaps.unfunded}
    assert unfunded == {
        need.public_id: "no accepted match",
        follow_up.public_id: "no accepted match",
        elsewhere.public_id: "accepted matches have no budget lines in this country",
    }
    assert registry["ke_a"].budget_lines.exists()
    with pytest.raises(Invalid, match="country"):
        services.portfolio_gaps(operator, "Kenya")


def test_gaps_show_only_the_needs_the_actor_sees(db: Any, operator: Actor, users: dict[str, User]) -> None:
    make_registry()
    services.create_need(operator, NEED | {"challenges": ["hsc:5.4"]})
    gaps = services.portfolio_gaps(actor_of(users["partner"]), "KE")
    assert gaps.unfunded == []
    assert next(n for n in gaps.neglected if n.challenge.code == "5.4").needs == ()
