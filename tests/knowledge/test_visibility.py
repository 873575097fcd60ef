"""Who sees which items: published to everyone, drafts and items in review to their creator, editors and reviewers,
archived items to reviewers and the creator; to anyone else they do not exist (404), also in lists."""

from __future__ import annotations

import pytest

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.knowledge import services
from dhnet.knowledge.models import Item
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid, NotFound
from tests.platform.fixtures import ROLES, actor_of

pytestmark = pytest.mark.django_db

REVIEWERS = {"system_admin", "national_epidemiologist", "knowledge_manager"}


@pytest.fixture
def items(users: dict[str, User], operator: Actor) -> dict[str, Item]:
    """One item in each state, created by a writer outside the matrix (``author``), with ``editor`` named."""
    author, _ = accounts.create_user(operator, "author", role="district_officer", orgunit_code="D21")
    accounts.create_user(operator, "editor", role="partner", orgunit_code="DE")
    reviewer = actor_of(users["knowledge_manager"])
    out = {}
    for state in ("draft", "in_review", "published", "archived"):
        item = services.create_item(
            actor_of(author),
            services.ItemInput(kind="lesson_learned", title=f"{state} item", countries=("KE",), editors=("editor",)),
        )
        if state != "draft":
            services.submit_item(actor_of(author), item.public_id)
        if state in ("published", "archived"):
            services.review_item(reviewer, item.public_id, "approve")
        if state == "archived":
            services.archive_item(reviewer, item.public_id)
        out[state] = Item.objects.get(pk=item.pk)
    return out


def _sees(actor: Actor, item: Item) -> bool:
    try:
        services.get_item(actor, item.public_id)
    except NotFound:
        return False
    return True


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_what_it_may(role: str, users: dict[str, User], items: dict[str, Item]) -> None:
    actor = actor_of(users[role])
    reviewer = role in REVIEWERS
    assert _sees(actor, items["published"])
    for state in ("draft", "in_review", "archived"):
        assert _sees(actor, items[state]) == reviewer, state
    total, listed = services.list_items(actor, services.ItemQuery())
    expected = {"published"} | ({"draft", "in_review", "archived"} if reviewer else set())
    assert {i.status for i in listed} == expected
    assert total == len(expected)


def test_anonymous_sees_published_only(items: dict[str, Item]) -> None:
    anonymous = Actor.anonymous()
    assert _sees(anonymous, items["published"])
    assert not any(_sees(anonymous, items[s]) for s in ("draft", "in_review", "archived"))
    assert [i.status for i in services.list_items(anonymous, services.ItemQuery())[1]] == ["published"]


def test_creator_and_editor(items: dict[str, Item]) -> None:
    author = actor_of(User.objects.get(username="author"))
    editor = actor_of(User.objects.get(username="editor"))
    assert all(_sees(author, items[s]) for s in items)  # the creator: also the archived item
    assert _sees(editor, items["draft"])
    assert _sees(editor, items["in_review"])
    assert not _sees(editor, items["archived"])  # archived: reviewers and the creator only


def test_status_filter_stays_within_what_one_may_see(users: dict[str, User], items: dict[str, Item]) -> None:
    viewer = actor_of(users["viewer"])
    assert services.list_items(viewer, services.ItemQuery(statuses=("draft",))) == (0, [])
    reviewer = actor_of(users["knowledge_manager"])
    total, listed = services.list_items(reviewer, services.ItemQuery(statuses=("draft", "in_review")))
    assert {i.status for i in listed} == {"draft", "in_review"}
    assert total == 2
    with pytest.raises(Invalid, match="status: unknown status 'secret'"):
        services.list_items(reviewer, services.ItemQuery(statuses=("secret",)))


def test_filters(users: dict[str, User], items: dict[str, Item]) -> None:
    reviewer = actor_of(users["knowledge_manager"])
    other = services.create_item(
        reviewer, services.ItemInput(kind="guideline", title="Other", countries=("UG",), tags=("so:2",))
    )
    assert [i.pk for i in services.list_items(reviewer, services.ItemQuery(countries=("ug",)))[1]] == [other.pk]
    assert [i.pk for i in services.list_items(reviewer, services.ItemQuery(tags=("so:2",)))[1]] == [other.pk]
    assert [i.pk for i in services.list_items(reviewer, services.ItemQuery(kinds=("guideline",)))[1]] == [other.pk]
    assert services.list_items(reviewer, services.ItemQuery(q="other"))[0] == 1
    with pytest.raises(Invalid, match="country: 'Uganda' is not an ISO"):
        services.list_items(reviewer, services.ItemQuery(countries=("Uganda",)))
    with pytest.raises(Invalid, match="unknown tag 'so:7'"):
        services.list_items(reviewer, services.ItemQuery(tags=("so:7",)))
    mine = services.list_items(actor_of(User.objects.get(username="author")), services.ItemQuery(mine=True))
    assert mine[0] == 4


def test_reading_an_unpublished_item_is_audited(users: dict[str, User], items: dict[str, Item]) -> None:
    reviewer = actor_of(users["knowledge_manager"])
    services.get_item(reviewer, items["published"].public_id)
    assert not AuditRecord.objects.filter(action="knowledge.item.read").exists()
    services.get_item(reviewer, items["draft"].public_id)
    record = AuditRecord.objects.get(action="knowledge.item.read")
    assert record.object_id == str(items["draft"].public_id)


def test_a_writer_cannot_act_on_a_draft_they_cannot_see(users: dict[str, User], items: dict[str, Item]) -> None:
    writer = actor_of(users["regional_officer"])
    with pytest.raises(NotFound):
        services.submit_item(writer, items["draft"].public_id)
    with pytest.raises(NotFound):
        services.attach_document(writer, items["draft"].public_id, b"# Title\n\ntext\n", "a.md")
    with pytest.raises(Forbidden):  # visible (published) but not editable
        services.attach_document(writer, items["published"].public_id, b"# Title\n\ntext\n", "a.md")


def test_published_items_first_newest_first_then_the_rest(users: dict[str, User], items: dict[str, Item]) -> None:
    import datetime as dt

    Item.objects.filter(pk=items["archived"].pk).update(published_on=dt.date(2020, 1, 1))
    Item.objects.filter(pk=items["published"].pk).update(published_on=dt.date(2024, 1, 1))
    listed = services.list_items(actor_of(users["knowledge_manager"]), services.ItemQuery())[1]
    assert [i.status for i in listed][:2] == ["published", "archived"]
    assert {i.status for i in listed[2:]} == {"draft", "in_review"}
