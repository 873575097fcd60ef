"""The feedback pages and API end to end through the Django test client: bad input named, verification refused with
a clear message, the threshold at exactly 4 and 5 ratings, hidden ratings excluded, codes shown once, expert reviews
apart from user ratings everywhere."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.feedback import services
from dhnet.feedback.models import ExpertReview, RaterInvitation, Rating
from dhnet.platform.access import Actor
from tests.feedback.helpers import SCORES, invited_rater, make_world, new_rater
from tests.platform.fixtures import actor_of, login

pytestmark = pytest.mark.django_db
P = "DE-AAAAAA"
JSON = "application/json"


@pytest.fixture
def world(operator: Actor, users: dict[str, User]) -> dict[str, Any]:
    return make_world(operator, users)


@pytest.fixture
def team_client(users: dict[str, User], world: dict[str, Any]) -> Client:
    return login(Client(), users["partner"])


def _put(client: Client, body: dict[str, Any], project: str = P) -> Any:
    return client.put(f"/api/v1/feedback/projects/{project}/rating", json.dumps(body), content_type=JSON)


def test_api_rating_is_created_then_updated(team_client: Client) -> None:
    first = _put(team_client, {**SCORES, "text": "fine"})
    assert first.status_code == 201
    assert first.json()["audience"] == "health_worker"  # a team member's default audience
    again = _put(team_client, {**SCORES, "text": "fine"})
    assert again.status_code == 200
    assert again.json()["edits"] == 0
    changed = _put(team_client, {**SCORES, "reliability": 1, "audience": "manager"})
    assert changed.status_code == 200
    assert changed.json()["edits"] == 1
    assert Rating.objects.count() == 1
    me = team_client.get(f"/api/v1/feedback/projects/{P}/me").json()
    assert me["verified"] is True
    assert me["via"] == "team"
    assert me["rating"]["reliability"] == 1


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"usability": 6}, 400, "usability: 6 is out of range (1-5)"),
        ({"data_value": 0}, 400, "data_value: 0 is out of range (1-5)"),
        ({"audience": "minister"}, 400, "audience: 'minister' is not one of"),
        ({"fit": "excellent"}, 422, "fit"),
    ],
)
def test_api_bad_input_is_named_and_nothing_stored(
    team_client: Client, change: dict[str, Any], status: int, needle: str
) -> None:
    response = _put(team_client, {**SCORES, **change})
    assert response.status_code == status
    assert needle in json.dumps(response.json())
    assert not Rating.objects.exists()


def test_api_missing_dimension_is_named(team_client: Client) -> None:
    body = dict(SCORES)
    del body["support"]
    response = _put(team_client, body)
    assert response.status_code == 422
    assert "support" in json.dumps(response.json()["detail"])


def test_api_not_invited_is_403_with_a_clear_message(users: dict[str, User], world: dict[str, Any]) -> None:
    response = _put(login(Client(), users["viewer"]), SCORES)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "not verified to rate DE-AAAAAA" in response.json()["detail"]
    assert "invitation code" in response.json()["detail"]


def test_api_redeem_expired_and_used_up(users: dict[str, User], world: dict[str, Any], operator: Actor) -> None:
    team = actor_of(users["partner"])
    one = services.issue_invitation(team, P, {"label": "one", "audience": "manager", "max_uses": 1}).code
    old = services.issue_invitation(team, P, {"label": "old", "audience": "manager"}).code
    RaterInvitation.objects.filter(label="old").update(expires_at=timezone.now() - dt.timedelta(days=1))
    viewer = login(Client(), users["viewer"])
    ok = viewer.post("/api/v1/feedback/redeem", json.dumps({"code": one}), content_type=JSON)
    assert ok.status_code == 201
    assert ok.json() == {"project": P, "audience": "manager"}
    assert viewer.post("/api/v1/feedback/redeem", json.dumps({"code": one}), content_type=JSON).status_code == 200
    district = login(Client(), users["district_officer"])
    used = district.post("/api/v1/feedback/redeem", json.dumps({"code": one}), content_type=JSON)
    assert used.status_code == 403
    assert "used up (1 of 1 uses)" in used.json()["detail"]
    expired = district.post("/api/v1/feedback/redeem", json.dumps({"code": old}), content_type=JSON)
    assert expired.status_code == 403
    assert "expired on" in expired.json()["detail"]
    assert _put(viewer, SCORES).status_code == 201  # the viewer is now verified, as a manager
    assert _put(district, SCORES).status_code == 403


def _rate_many(operator: Actor, team: Actor, n: int) -> None:
    for i in range(n):
        rater = invited_rater(operator, team, f"r{i}")
        services.rate(rater, P, {**SCORES, "text": f"opinion {i}"})


def test_threshold_at_exactly_four_and_five(users: dict[str, User], world: dict[str, Any], operator: Actor) -> None:
    team = actor_of(users["partner"])
    _rate_many(operator, team, 4)
    client = Client()
    four = client.get(f"/api/v1/feedback/projects/{P}/summary").json()
    assert four["count"] == 4
    assert four["means"] is None
    assert four["message"] == "not enough ratings yet (4 of 5)"
    page = client.get(f"/feedback/projects/{P}/").content.decode()
    assert "Not enough ratings yet (4 of 5)" in page
    assert 'class="ratings-chart"' not in page
    assert "opinion 3" in page  # the texts are shown even below the minimum
    services.rate(team, P, {**SCORES, "usability": 1})  # the team member's rating is the fifth
    five = client.get(f"/api/v1/feedback/projects/{P}/summary").json()
    assert five["count"] == 5
    assert five["means"]["usability"] == pytest.approx((4 * 4 + 1) / 5)
    assert five["means"]["fit"] == 5.0
    page = client.get(f"/feedback/projects/{P}/").content.decode()
    assert len(re.findall(r'<rect class="bar" data-dimension="', page)) == 5
    assert 'data-dimension="usability"' in page


def test_hidden_ratings_leave_the_aggregate_and_the_page(
    users: dict[str, User], world: dict[str, Any], operator: Actor
) -> None:
    team = actor_of(users["partner"])
    _rate_many(operator, team, 5)
    target = Rating.objects.get(text="opinion 2")
    viewer = login(Client(), users["viewer"])
    flagged = viewer.post(
        f"/feedback/ratings/{target.pk}/flag/", {"reason": "names a nurse", "back": f"/feedback/projects/{P}/"}
    )
    assert flagged.status_code == 302
    planner = login(Client(), users["digital_health_planner"])
    queue = planner.get("/feedback/moderation/").content.decode()
    assert "names a nurse" in queue
    assert "r2" in queue  # moderators see who rated
    refused = planner.post(f"/feedback/ratings/{target.pk}/moderate/", {"action": "hide", "reason": ""})
    assert refused.status_code == 400
    assert "reason: required" in refused.content.decode()
    api = planner.post(
        f"/api/v1/feedback/ratings/{target.pk}/moderation",
        json.dumps({"action": "hide", "reason": "identifies a health worker"}),
        content_type=JSON,
    )
    assert api.status_code == 200
    assert api.json()["status"] == "hidden"
    summary = Client().get(f"/api/v1/feedback/projects/{P}/summary").json()
    assert summary["count"] == 4
    assert summary["means"] is None
    assert "opinion 2" not in Client().get(f"/feedback/projects/{P}/").content.decode()
    texts = [r["text"] for r in Client().get(f"/api/v1/feedback/projects/{P}/ratings").json()]
    assert "opinion 2" not in texts
    assert len(texts) == 4
    hide = AuditRecord.objects.get(action="feedback.rating.hide")
    assert hide.actor_username == "digital_health_planner"
    assert hide.detail["reason"] == "identifies a health worker"


def test_public_ratings_never_name_the_rater(
    users: dict[str, User], world: dict[str, Any], team_client: Client
) -> None:
    _put(team_client, {**SCORES, "text": "ok"})
    body = Client().get(f"/api/v1/feedback/projects/{P}/ratings").content.decode()
    page = Client().get(f"/feedback/projects/{P}/").content.decode()
    assert "partner" not in body
    assert "partner" not in page.split("</header>", 1)[1]


def test_invitation_page_shows_the_code_once(team_client: Client) -> None:
    response = team_client.post(
        f"/feedback/projects/{P}/invitations/",
        {"label": "ward nurses", "audience": "health_worker", "max_uses": "5", "expires_in_days": "7"},
    )
    assert response.status_code == 200
    code = re.search(r'id="code">([A-Z0-9-]+)<', response.content.decode())
    assert code is not None
    assert services.code_hash(code.group(1)) == RaterInvitation.objects.get().code_hash
    listing = team_client.get(f"/feedback/projects/{P}/invitations/").content.decode()
    assert "ward nurses" in listing
    assert code.group(1) not in listing
    assert team_client.get(f"/api/v1/feedback/projects/{P}/invitations").json()[0]["code"] is None
    again = team_client.post(
        f"/feedback/projects/{P}/invitations/", {"label": "ward nurses", "audience": "health_worker"}
    )
    assert again.status_code == 409
    assert "already has a live invitation" in again.content.decode()
    assert RaterInvitation.objects.count() == 1
    bad = team_client.post(
        f"/feedback/projects/{P}/invitations/", {"label": "x", "audience": "health_worker", "max_uses": "0"}
    )
    assert bad.status_code == 400
    assert "max_uses: 0 is out of range" in bad.content.decode()


def test_the_rate_page_for_unverified_and_verified_users(
    users: dict[str, User], world: dict[str, Any], operator: Actor
) -> None:
    viewer = login(Client(), users["viewer"])
    page = viewer.get(f"/feedback/projects/{P}/").content.decode()
    assert 'id="not-verified"' in page
    assert 'name="code"' in page
    refused = viewer.post(f"/feedback/projects/{P}/rate/", {k: str(v) for k, v in SCORES.items()})
    assert refused.status_code == 403
    assert "not verified to rate DE-AAAAAA" in refused.content.decode()
    code = services.issue_invitation(actor_of(users["partner"]), P, {"label": "v", "audience": "manager"}).code
    redeemed = viewer.post("/feedback/redeem/", {"code": code})
    assert redeemed.status_code == 302
    assert redeemed["Location"] == f"/feedback/projects/{P}/"
    assert 'id="rate-form"' in viewer.get(f"/feedback/projects/{P}/").content.decode()
    bad = viewer.post(f"/feedback/projects/{P}/rate/", {**{k: str(v) for k, v in SCORES.items()}, "usability": "9"})
    assert bad.status_code == 400
    assert "usability: 9 is out of range (1-5)" in bad.content.decode()
    assert viewer.post(f"/feedback/projects/{P}/rate/", {k: str(v) for k, v in SCORES.items()}).status_code == 302
    assert Rating.objects.get().audience == "manager"
    unknown = viewer.post("/feedback/redeem/", {"code": "ZZZZ-ZZZZ-ZZZZ"})
    assert unknown.status_code == 404
    assert "no invitation has this code" in unknown.content.decode()


def test_expert_reviews_are_apart_from_user_ratings(users: dict[str, User], world: dict[str, Any]) -> None:
    expert = login(Client(), users["expert_reviewer"])
    scores = {c.code: 2 for c in services.rubric().criteria}
    created = expert.post("/api/v1/feedback/reviews", json.dumps({"project": P, "scores": scores}), content_type=JSON)
    assert created.status_code == 201
    assert created.json()["total"] == 50.0
    summary = Client().get(f"/api/v1/feedback/projects/{P}/summary").json()
    assert summary["count"] == 0
    assert "review" not in json.dumps(summary)
    reviews = Client().get(f"/api/v1/feedback/reviews?project={P}").json()
    assert [r["total"] for r in reviews] == [50.0]
    page = Client().get(f"/feedback/projects/{P}/").content.decode()
    users_section = page.split('id="user-ratings"', 1)[1].split('id="expert-reviews"', 1)[0]
    assert "50.0" not in users_section
    assert "mean weighted score 50.0 of 100" in page.split('id="expert-reviews"', 1)[1]
    bad_form = expert.post("/feedback/reviews/new/", {"project": P, "score_fit": "7"})
    assert bad_form.status_code == 400
    assert "scores.fit: 7 is out of range (0-4)" in bad_form.content.decode()
    bad_api = expert.post(
        "/api/v1/feedback/reviews", json.dumps({"product": "dhis2", "scores": {"x": 1}}), content_type=JSON
    )
    assert bad_api.status_code == 400
    assert "scores.x: not a criterion" in bad_api.json()["detail"]
    assert ExpertReview.objects.count() == 1
    detail = Client().get(f"/feedback/reviews/{created.json()['id']}/").content.decode()
    assert "Weighted score 50.0 of 100" in detail
    assert "Client-free" not in detail
    rubric = Client().get("/api/v1/feedback/rubric").json()
    assert all(len(c["anchors"]) == 5 for c in rubric["criteria"])


def test_moderation_restore_through_the_page(users: dict[str, User], world: dict[str, Any], operator: Actor) -> None:
    _, rater = new_rater(operator, "someone")
    services.redeem(
        rater, services.issue_invitation(actor_of(users["partner"]), P, {"label": "s", "audience": "other"}).code
    )
    rating = services.rate(rater, P, SCORES).rating
    manager = login(Client(), users["knowledge_manager"])
    assert (
        manager.post(f"/feedback/ratings/{rating.pk}/moderate/", {"action": "hide", "reason": "spam"}).status_code
        == 302
    )
    assert "spam" in manager.get("/feedback/moderation/").content.decode()
    assert manager.post(f"/feedback/ratings/{rating.pk}/moderate/", {"action": "restore"}).status_code == 302
    assert Rating.objects.get().status == "visible"
    again = manager.post(f"/feedback/ratings/{rating.pk}/moderate/", {"action": "restore"})
    assert again.status_code == 409
    assert [a.action for a in AuditRecord.objects.filter(action__startswith="feedback.rating.").order_by("seq")] == [
        "feedback.rating.create",
        "feedback.rating.hide",
        "feedback.rating.restore",
    ]


def test_home_lists_rated_deployments(users: dict[str, User], world: dict[str, Any], team_client: Client) -> None:
    _put(team_client, SCORES)
    page = Client().get("/feedback/").content.decode()
    assert "Deployment DE-AAAAAA" in page
    assert "not enough ratings yet (1 of 5)" in page
    assert "DE-DDDDDD" not in page


def test_nul_in_urls_is_a_404(world: dict[str, Any]) -> None:
    client = Client()
    assert client.get("/feedback/projects/DE-%00AAAAA/").status_code == 404
    assert client.get("/api/v1/feedback/projects/DE-%00AAAAA/summary").status_code == 404
    assert client.get("/api/v1/feedback/products/dh%00is2/summary").status_code == 404
    assert client.get("/api/v1/feedback/reviews?product=dh%00is2").status_code == 404
