"""The review workflow of items: draft -> in review -> published -> archived, with its permissions and audit trail."""

from __future__ import annotations

from typing import Any

import pytest

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.knowledge import services
from dhnet.knowledge.models import Item, ItemReview
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from tests.platform.fixtures import actor_of

pytestmark = pytest.mark.django_db

DRAFT = services.ItemInput(
    kind="good_practice",
    title="  Weekly reporting   by SMS ",
    summary="District officers report weekly counts by SMS.",
    countries=("ke", "UG"),
    licence="CC-BY-4.0",
    tags=("so:1", "cdhi-v1:1.1.1"),
)


@pytest.fixture
def writer(users: dict[str, User]) -> Actor:
    return actor_of(users["district_officer"])


@pytest.fixture
def reviewer(users: dict[str, User]) -> Actor:
    return actor_of(users["knowledge_manager"])


def test_create_cleans_and_audits(writer: Actor) -> None:
    item = services.create_item(writer, DRAFT)
    assert item.status == "draft"
    assert item.title == "Weekly reporting by SMS"
    assert item.countries == ["KE", "UG"]
    assert sorted(c.tag for c in item.tags.all()) == ["cdhi-v1:1.1.1", "so:1"]
    assert item.created_by_name == "district_officer"
    record = AuditRecord.objects.get(action="knowledge.item.create")
    assert record.object_id == str(item.public_id)
    assert record.actor_username == "district_officer"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "rumour"}, "kind: unknown kind 'rumour'"),
        ({"title": "   "}, "title: required"),
        ({"title": "x" * 301}, "title: at most 300"),
        ({"countries": ("KE", "Kenya")}, "countries[1]: 'Kenya' is not an ISO 3166-1 alpha-2"),
        ({"countries": ("XX",)}, "countries[0]: 'XX' is not an ISO 3166-1 alpha-2"),
        ({"licence": "CC BY 4.0"}, "licence: 'CC BY 4.0' is not an SPDX"),
        ({"tags": ("so:9",)}, "unknown tag 'so:9'"),
        ({"tags": ("nonsense",)}, "tag 'nonsense' is not <scheme>:<code>"),
        ({"authors": ("no-such-org",)}, "unknown organisation 'no-such-org'"),
        ({"editors": ("nobody",)}, "editors[0]: no user 'nobody'"),
        ({"summary": "a\x00b"}, "summary: contains a NUL"),
        ({"tags": ("so:1", "so:\x002")}, "tags[1]: contains a NUL"),
        ({"authors": ("a\x00",)}, "authors[0]: contains a NUL"),
    ],
)
def test_bad_input_is_refused_naming_the_field(writer: Actor, change: dict[str, Any], message: str) -> None:
    data = services.ItemInput(**{**DRAFT.__dict__, **change})
    with pytest.raises(Invalid, match=message.replace("(", r"\(").replace("[", r"\[")):
        services.create_item(writer, data)
    assert not Item.objects.exists()
    assert not AuditRecord.objects.filter(action="knowledge.item.create").exists()


def test_authors_are_organisations(writer: Actor, operator: Actor) -> None:
    from dhnet.network.models import Organisation

    Organisation.objects.create(slug="moh-ke", name="Ministry of Health, Kenya (demo)", kind="member_state")
    item = services.create_item(writer, services.ItemInput(kind="guideline", title="t", authors=("moh-ke",)))
    assert [o.slug for o in item.authors.all()] == ["moh-ke"]


def test_creating_needs_write(users: dict[str, User]) -> None:
    with pytest.raises(Forbidden):
        services.create_item(actor_of(users["viewer"]), DRAFT)


def test_full_workflow(writer: Actor, reviewer: Actor) -> None:
    item = services.create_item(writer, DRAFT)
    services.update_item(writer, item.public_id, services.ItemInput(**{**DRAFT.__dict__, "title": "SMS reporting"}))
    services.submit_item(writer, item.public_id)
    item.refresh_from_db()
    assert item.status == "in_review"
    with pytest.raises(Forbidden):  # the creator no longer edits while it is in review
        services.update_item(writer, item.public_id, DRAFT)
    services.review_item(reviewer, item.public_id, "comment", "Which districts?")
    services.review_item(reviewer, item.public_id, "request_changes", "Name the districts.")
    item.refresh_from_db()
    assert item.status == "draft"
    services.update_item(writer, item.public_id, DRAFT)
    services.submit_item(writer, item.public_id)
    services.review_item(reviewer, item.public_id, "approve")
    item.refresh_from_db()
    assert item.status == "published"
    assert item.published_on is not None
    assert list(ItemReview.objects.filter(item=item).values_list("decision", flat=True)) == [
        "comment",
        "request_changes",
        "approve",
    ]
    services.archive_item(reviewer, item.public_id)
    item.refresh_from_db()
    assert item.status == "archived"
    actions = list(
        AuditRecord.objects.filter(object_id=str(item.public_id)).order_by("seq").values_list("action", flat=True)
    )
    assert actions == [
        "knowledge.item.create",
        "knowledge.item.update",
        "knowledge.item.submit",
        "knowledge.item.comment",
        "knowledge.item.request_changes",
        "knowledge.item.update",
        "knowledge.item.submit",
        "knowledge.item.publish",
        "knowledge.item.archive",
    ]


def test_transitions_out_of_order_conflict(writer: Actor, reviewer: Actor) -> None:
    item = services.create_item(writer, DRAFT)
    with pytest.raises(Conflict, match="not in review"):
        services.review_item(reviewer, item.public_id, "approve")
    with pytest.raises(Conflict, match="not published"):
        services.archive_item(reviewer, item.public_id)
    services.submit_item(writer, item.public_id)
    with pytest.raises(Conflict, match="not a draft"):
        services.submit_item(writer, item.public_id)
    with pytest.raises(Invalid, match="comment: say which changes"):
        services.review_item(reviewer, item.public_id, "request_changes", "")
    with pytest.raises(Invalid, match="decision: unknown decision 'maybe'"):
        services.review_item(reviewer, item.public_id, "maybe")


def test_only_reviewers_review_and_archive(writer: Actor, users: dict[str, User]) -> None:
    item = services.create_item(writer, DRAFT)
    services.submit_item(writer, item.public_id)
    with pytest.raises(Forbidden):
        services.review_item(writer, item.public_id, "approve")
    with pytest.raises(Forbidden):
        services.archive_item(writer, item.public_id)
    national = actor_of(users["national_epidemiologist"])
    services.review_item(national, item.public_id, "approve")
    assert Item.objects.get(pk=item.pk).status == "published"


def test_editors_edit_others_do_not_see(writer: Actor, operator: Actor, users: dict[str, User]) -> None:
    colleague, _ = accounts.create_user(operator, "colleague", role="district_officer", orgunit_code="D12")
    stranger, _ = accounts.create_user(operator, "stranger", role="district_officer", orgunit_code="D21")
    shared = services.ItemInput(**{**DRAFT.__dict__, "editors": ("colleague",)})
    item = services.create_item(writer, shared)
    services.update_item(actor_of(colleague), item.public_id, shared)
    services.submit_item(actor_of(colleague), item.public_id)
    with pytest.raises(NotFound):
        services.update_item(actor_of(stranger), item.public_id, DRAFT)
    with pytest.raises(NotFound):
        services.get_item(actor_of(stranger), item.public_id)


def test_unknown_or_malformed_ids_are_404(writer: Actor) -> None:
    with pytest.raises(NotFound, match="item 'not-a-uuid' not found"):
        services.get_item(writer, "not-a-uuid")
    with pytest.raises(NotFound):
        services.submit_item(writer, "6f1c2b6e-8f0e-4d8c-9a51-0c3c8a3b1e11")


def test_review_queue(writer: Actor, reviewer: Actor) -> None:
    first = services.create_item(writer, DRAFT)
    services.create_item(writer, DRAFT)  # stays a draft
    services.submit_item(writer, first.public_id)
    assert [i.pk for i in services.review_queue(reviewer)] == [first.pk]
    with pytest.raises(Forbidden):
        services.review_queue(writer)


def test_actions_follow_the_state(writer: Actor, reviewer: Actor) -> None:
    item = services.create_item(writer, DRAFT)
    assert services.get_item(writer, item.public_id).actions == ("edit", "upload", "submit")
    services.submit_item(writer, item.public_id)
    assert services.get_item(writer, item.public_id).actions == ()
    assert services.get_item(reviewer, item.public_id).actions == (
        "edit",
        "upload",
        "comment",
        "request_changes",
        "approve",
    )
