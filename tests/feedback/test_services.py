"""The feedback services: one rating per person, verification, aggregation threshold, moderation, expert reviews."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.feedback import services
from dhnet.feedback.models import ExpertReview, Flag, RaterInvitation, Rating, RatingEdit, Verification
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from tests.feedback.helpers import SCORES, invite, invited_rater, make_world, new_rater
from tests.platform.fixtures import actor_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(operator: Actor, users: dict[str, User]) -> dict[str, Any]:
    return make_world(operator, users)


@pytest.fixture
def team(users: dict[str, User]) -> Actor:
    return actor_of(users["partner"])


def test_a_team_member_rates_and_a_second_rating_is_an_update(world: dict[str, Any], team: Actor) -> None:
    first = services.rate(team, "DE-AAAAAA", {**SCORES, "audience": "manager", "text": "Works offline."})
    assert first.created
    assert first.rating.audience == "manager"
    again = services.rate(team, "DE-AAAAAA", {**SCORES, "audience": "manager", "text": "Works offline."})
    assert not again.created
    assert not again.changed
    edited = services.rate(team, "DE-AAAAAA", {**SCORES, "usability": 2, "audience": "manager", "text": "Slower."})
    assert not edited.created
    assert edited.changed
    assert Rating.objects.count() == 1
    rating = Rating.objects.get()
    assert rating.usability == 2
    assert rating.edits == 1
    assert rating.text == "Slower."
    (history,) = RatingEdit.objects.filter(rating=rating)
    assert history.previous["usability"] == 4
    assert history.previous["text"] == "Works offline."
    update = AuditRecord.objects.get(action="feedback.rating.update")
    assert update.detail["before"]["usability"] == 4
    assert update.detail["after"]["usability"] == 2
    assert AuditRecord.objects.filter(action__startswith="feedback.rating.").count() == 2


def test_not_invited_is_refused_with_a_clear_message(world: dict[str, Any], operator: Actor) -> None:
    _, stranger = new_rater(operator, "stranger")
    with pytest.raises(Forbidden, match=r"not verified to rate DE-AAAAAA.*invitation code"):
        services.rate(stranger, "DE-AAAAAA", SCORES)
    assert not Rating.objects.exists()


def test_drafts_and_unknown_deployments_take_no_feedback(world: dict[str, Any], team: Actor) -> None:
    with pytest.raises(NotFound):
        services.rate(team, "DE-DDDDDD", SCORES)
    with pytest.raises(NotFound):
        services.rate(team, "XX-NOPE00", SCORES)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"usability": 6}, "usability: 6 is out of range"),
        ({"reliability": 0}, "reliability: 0 is out of range"),
        ({"fit": "great"}, "fit: expected a whole number"),
        ({"support": True}, "support: expected a whole number"),
        ({"data_value": 2.5}, "data_value: expected a whole number"),
        ({"data_value": None}, "data_value: required"),
        ({"audience": "minister"}, "audience: 'minister' is not one of"),
        ({"text": "x" * 4001}, "text: 4001 characters"),
        ({"text": "a\x00b"}, "text: contains a NUL"),
        ({"speed": 3}, "speed: not a field of a rating"),
        ({"audience": "patient"}, "audience: team members rate as"),
    ],
)
def test_bad_input_names_the_field(world: dict[str, Any], team: Actor, change: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        services.rate(team, "DE-AAAAAA", {**SCORES, **change})
    assert not Rating.objects.exists()


def test_invitation_codes_verify_with_their_audience(world: dict[str, Any], team: Actor, operator: Actor) -> None:
    issued = services.issue_invitation(team, "DE-AAAAAA", {"label": "nurses", "audience": "health_worker"})
    stored = RaterInvitation.objects.get()
    assert issued.code not in stored.code_hash
    assert len(stored.code_hash) == 64
    _, nurse = new_rater(operator, "nurse")
    verification, created = services.redeem(nurse, issued.code.lower().replace("-", " "))  # case, separators ignored
    assert created
    assert verification.audience == "health_worker"
    assert services.redeem(nurse, issued.code) == (verification, False)  # again: the same verification, no use counted
    assert RaterInvitation.objects.get().uses == 1
    result = services.rate(nurse, "DE-AAAAAA", SCORES)
    assert result.rating.audience == "health_worker"
    with pytest.raises(Invalid, match="your invitation verifies you as health_worker"):
        services.rate(nurse, "DE-AAAAAA", {**SCORES, "audience": "manager"})
    with pytest.raises(Forbidden, match="not verified to rate KE-BBBBBB"):  # verified for one deployment only
        services.rate(nurse, "KE-BBBBBB", SCORES)


def test_a_retried_invitation_is_not_issued_twice(world: dict[str, Any], team: Actor) -> None:
    services.issue_invitation(team, "DE-AAAAAA", {"label": "nurses", "audience": "health_worker"})
    with pytest.raises(Conflict, match="label: DE-AAAAAA already has a live invitation 'nurses'"):
        services.issue_invitation(team, "DE-AAAAAA", {"label": "nurses", "audience": "health_worker"})
    assert RaterInvitation.objects.count() == 1


def test_expired_used_up_revoked_and_unknown_codes(world: dict[str, Any], team: Actor, operator: Actor) -> None:
    code = invite(team, "DE-AAAAAA", label="one use", max_uses=1)
    _, first = new_rater(operator, "first")
    _, second = new_rater(operator, "second")
    services.redeem(first, code)
    with pytest.raises(Forbidden, match=r"used up \(1 of 1 uses\)"):
        services.redeem(second, code)
    expired = invite(team, "DE-AAAAAA", label="old")
    RaterInvitation.objects.filter(label="old").update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    with pytest.raises(Forbidden, match="expired on"):
        services.redeem(second, expired)
    revoked = services.issue_invitation(team, "DE-AAAAAA", {"label": "gone", "audience": "manager"})
    services.revoke_invitation(team, revoked.invitation.pk)
    with pytest.raises(Forbidden, match="was revoked"):
        services.redeem(second, revoked.code)
    with pytest.raises(NotFound, match="no invitation has this code"):
        services.redeem(second, "ABCD-EFGH-JKMN")
    with pytest.raises(Invalid, match="code: required"):
        services.redeem(second, " - ")
    assert not Verification.objects.filter(user__username="second").exists()


def test_patients_only_where_the_deployment_allows(world: dict[str, Any], team: Actor, operator: Actor) -> None:
    with pytest.raises(Forbidden, match="does not take ratings from patients"):
        invite(team, "DE-AAAAAA", audience="patient")
    services.set_allow_patients(team, "DE-AAAAAA", True)
    code = invite(team, "DE-AAAAAA", audience="patient", max_uses=5)
    _, patient = new_rater(operator, "patient")
    services.redeem(patient, code)
    services.set_allow_patients(team, "DE-AAAAAA", False)  # the team changes its mind
    with pytest.raises(Forbidden, match="DE-AAAAAA does not take ratings from patients"):
        services.rate(patient, "DE-AAAAAA", SCORES)
    _, late = new_rater(operator, "late")
    with pytest.raises(Forbidden, match="no longer takes ratings from patients"):
        services.redeem(late, code)
    services.set_allow_patients(team, "DE-AAAAAA", True)
    assert services.rate(patient, "DE-AAAAAA", SCORES).rating.audience == "patient"


def test_who_issues_invitations(world: dict[str, Any], users: dict[str, User], operator: Actor) -> None:
    planner = actor_of(users["digital_health_planner"])  # country admin of DE, not of KE
    invite(planner, "DE-AAAAAA", label="by the admin")
    with pytest.raises(Forbidden, match="only the team of KE-BBBBBB and the registry administrators of KE"):
        invite(planner, "KE-BBBBBB")
    invite(actor_of(users["knowledge_manager"]), "KE-BBBBBB")  # atlas:registry:manage: anywhere
    with pytest.raises(Forbidden):
        invite(actor_of(users["viewer"]), "DE-AAAAAA")
    with pytest.raises(Forbidden):
        services.set_allow_patients(actor_of(users["viewer"]), "DE-AAAAAA", True)


def _rate_n(operator: Actor, inviter: Actor, n: int, start: int = 0) -> list[Actor]:
    raters = []
    for i in range(start, start + n):
        rater = invited_rater(operator, inviter, f"rater{i}")
        services.rate(rater, "DE-AAAAAA", {**SCORES, "usability": 1 + i % 5})
        raters.append(rater)
    return raters


def test_aggregates_only_from_the_minimum_count(world: dict[str, Any], team: Actor, operator: Actor) -> None:
    _rate_n(operator, team, 4)
    four = services.summary(world["de"])
    assert four.count == 4
    assert four.means is None
    assert four.min_required == 5
    assert four.message == "not enough ratings yet (4 of 5)"
    _rate_n(operator, team, 1, start=4)
    five = services.summary(world["de"])
    assert five.count == 5
    assert five.means is not None
    assert five.means["usability"] == 3.0
    assert five.means["fit"] == 5.0
    assert five.means["support"] == 2.0
    assert services.summaries([world["de"], world["ke"]]) == {
        world["de"].pk: five,
        world["ke"].pk: services.summary(world["ke"]),
    }


def test_a_products_summary_pools_its_published_deployments(
    world: dict[str, Any], team: Actor, operator: Actor, users: dict[str, User]
) -> None:
    product = world["product"]
    world["de"].products.add(product)
    world["ke"].products.add(product)
    world["draft"].products.add(product)
    _rate_n(operator, team, 3)  # on DE-AAAAAA
    ke_inviter = actor_of(users["knowledge_manager"])
    for i in range(2):
        rater = invited_rater(operator, ke_inviter, f"ke{i}", project="KE-BBBBBB")
        services.rate(rater, "KE-BBBBBB", {**SCORES, "usability": 5})
    pooled = services.product_summary(product)
    assert pooled.count == 5
    assert pooled.means is not None
    assert pooled.means["usability"] == pytest.approx((1 + 2 + 3 + 5 + 5) / 5)
    assert services.summary(world["de"]).means is None  # each deployment alone is below the minimum


@override_settings(FEEDBACK_MIN_RATINGS=2)
def test_the_minimum_is_a_setting(world: dict[str, Any], team: Actor, operator: Actor) -> None:
    _rate_n(operator, team, 2)
    assert services.summary(world["de"]).means is not None
    assert services.summary(world["de"]).min_required == 2


def test_hidden_ratings_are_excluded_and_moderation_is_audited(
    world: dict[str, Any], team: Actor, operator: Actor, users: dict[str, User]
) -> None:
    raters = _rate_n(operator, team, 5)
    rating = Rating.objects.get(user__username="rater0")
    flagger = actor_of(users["viewer"])
    flag, created = services.flag(flagger, rating.pk, "Names a patient.")
    assert created
    assert services.flag(flagger, rating.pk, "Names a patient.") == (flag, False)  # a retry: no second flag
    moderator = actor_of(users["knowledge_manager"])
    queue = services.moderation_queue(moderator)
    assert [item.rating.pk for item in queue] == [rating.pk]
    assert queue[0].flags == [flag]
    with pytest.raises(Invalid, match="reason: required"):
        services.moderate(moderator, rating.pk, "hide", "  ")
    services.moderate(moderator, rating.pk, "hide", "identifies a patient")
    after = services.summary(world["de"])
    assert after.count == 4
    assert after.means is None
    assert not services.visible_ratings(world["de"]).filter(pk=rating.pk).exists()
    assert Flag.objects.get().resolution == "hidden"
    with pytest.raises(Conflict):
        services.moderate(moderator, rating.pk, "hide", "again")
    # an edit by its author keeps it hidden
    services.rate(raters[0], "DE-AAAAAA", {**SCORES, "text": "edited"})
    assert Rating.objects.get(pk=rating.pk).status == "hidden"
    services.moderate(moderator, rating.pk, "restore", "anonymised by its author")
    assert services.summary(world["de"]).count == 5
    actions = list(
        AuditRecord.objects.filter(
            action__in=["feedback.flag.create", "feedback.rating.hide", "feedback.rating.restore"]
        )
        .order_by("seq")
        .values_list("action", "detail")
    )
    assert [a for a, _ in actions] == ["feedback.flag.create", "feedback.rating.hide", "feedback.rating.restore"]
    assert actions[1][1]["reason"] == "identifies a patient"
    assert actions[1][1]["flags_resolved"] == 1
    assert AuditRecord.objects.filter(action="feedback.moderation.read").count() == 1
    with pytest.raises(Forbidden):
        services.moderate(actor_of(users["viewer"]), rating.pk, "hide", "no")
    with pytest.raises(Forbidden):
        services.moderation_queue(actor_of(users["partner"]))


def test_dismissing_flags(world: dict[str, Any], team: Actor, users: dict[str, User]) -> None:
    rating = services.rate(team, "DE-AAAAAA", SCORES).rating
    services.flag(actor_of(users["viewer"]), rating.pk, "I disagree")
    planner = actor_of(users["digital_health_planner"])
    services.moderate(planner, rating.pk, "dismiss", "an opinion, not abuse")
    assert Rating.objects.get().status == "visible"
    assert Flag.objects.get().resolution == "dismissed"
    assert services.moderation_queue(planner) == []
    with pytest.raises(Conflict, match="no open flags"):
        services.moderate(planner, rating.pk, "dismiss")
    with pytest.raises(Invalid, match="action: 'delete' is not one of"):
        services.moderate(planner, rating.pk, "delete", "x")


def test_expert_reviews_are_kept_apart(world: dict[str, Any], team: Actor, users: dict[str, User]) -> None:
    expert = actor_of(users["expert_reviewer"])
    scores = {c.code: 4 for c in services.rubric().criteria}
    result = services.write_review(expert, {"project": "DE-AAAAAA", "scores": scores, "comment": "Exemplary."})
    assert result.created
    assert result.review.total == 100.0
    assert not services.write_review(
        expert, {"project": "DE-AAAAAA", "scores": scores, "comment": "Exemplary."}
    ).changed
    scores["evidence"] = 0
    updated = services.write_review(expert, {"project": "DE-AAAAAA", "scores": scores, "comment": "No evaluation."})
    book = services.rubric()
    weights = {c.code: c.weight for c in book.criteria}
    expected = round(100 * (sum(weights.values()) * 4 - weights["evidence"] * 4) / (sum(weights.values()) * 4), 1)
    assert updated.changed
    assert updated.review.total == expected
    assert updated.review.version == 2
    services.write_review(expert, {"product": "dhis2", "scores": scores})
    assert ExpertReview.objects.count() == 2
    # user ratings do not see the review, and the review summary does not see user ratings
    services.rate(team, "DE-AAAAAA", SCORES)
    assert services.summary(world["de"]).count == 1
    assert services.review_summary(world["de"]).count == 1
    assert [r.pk for r in services.reviews(project="DE-AAAAAA")] == [updated.review.pk]
    with pytest.raises(Forbidden):
        services.write_review(team, {"project": "DE-AAAAAA", "scores": scores})


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ({"project": "DE-AAAAAA", "scores": {"fit": 5}}, Invalid, r"scores.fit: 5 is out of range \(0-4\)"),
        ({"project": "DE-AAAAAA", "scores": {"fit": 2}}, Invalid, "scores.data_protection: required"),
        ({"project": "DE-AAAAAA", "scores": {"beauty": 2}}, Invalid, "scores.beauty: not a criterion"),
        ({"project": "DE-AAAAAA", "scores": [1, 2]}, Invalid, "scores: expected an object"),
        ({"scores": {}}, Invalid, "name exactly one subject"),
        ({"project": "DE-AAAAAA", "product": "dhis2", "scores": {}}, Invalid, "name exactly one subject"),
        ({"project": "DE-DDDDDD", "scores": {}}, NotFound, "no published deployment"),
        ({"product": "nope", "scores": {}}, NotFound, "product: no product 'nope'"),
    ],
)
def test_bad_reviews_name_the_field(
    world: dict[str, Any], users: dict[str, User], data: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        services.write_review(actor_of(users["expert_reviewer"]), data)
    assert not ExpertReview.objects.exists()


@pytest.mark.parametrize("value", ["²", "9" * 5000, "٣", "3.5", ""])
def test_odd_numbers_in_form_fields_are_named(world: dict[str, Any], team: Actor, value: str) -> None:
    with pytest.raises(Invalid, match="usability: "):
        services.rate(team, "DE-AAAAAA", {**SCORES, "usability": value})


def test_nul_characters_in_references_are_no_such_object(world: dict[str, Any], team: Actor) -> None:
    with pytest.raises(NotFound):
        services.rate(team, "DE-\x00AAAAA", SCORES)
    with pytest.raises(NotFound):
        services.reviews(product="dh\x00is2")
