"""The search page, the API endpoint and ``dhnet knowledge search|reindex``: thin layers over the search service."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from django.test import Client

from dhnet.accounts.models import User
from dhnet.cli import main
from dhnet.knowledge.models import Chunk
from tests.knowledge.search.helpers import STRATEGY, make_item
from tests.platform.fixtures import login


@pytest.fixture
def corpus(users: dict[str, User]) -> dict[str, Any]:
    return {
        "strategy": make_item("Global strategy", STRATEGY, countries=["CH"]),
        "draft": make_item(
            "Draft plan",
            [("Plan > Secret", "Draft pseudonymization plan for the kappa registry <b>bold</b>.")],
            status="draft",
            created_by=users["district_officer"],
        ),
    }


# --- the page ---------------------------------------------------------------------------------------------------------


def test_page_without_query_shows_the_form(db: Any) -> None:
    response = Client().get("/knowledge/search")
    assert response.status_code == 200
    assert 'id="search-form"' in response.content.decode()
    assert 'id="search-hits"' not in response.content.decode()


def test_page_lists_hits_citing_their_source(corpus: dict[str, Any]) -> None:
    response = Client().get("/knowledge/search", {"q": "pseudonymization", "mode": "fulltext"})
    page = response.content.decode()
    assert response.status_code == 200
    chunk = Chunk.objects.get(section__path="Strategic Objectives > Governance")
    assert f'id="hit-{chunk.pk}"' in page
    assert "Strategic Objectives &gt; Governance" in page
    assert "page 2" in page
    assert "<mark>pseudonymization</mark>" in page
    href = f"/knowledge/documents/{chunk.document.public_id}/?chunk={chunk.pk}&amp;q=pseudonymization#chunk-{chunk.pk}"
    assert f'href="{href}"' in page
    assert "kappa" not in page  # the draft is not anyone's to see


def test_page_shows_a_draft_to_its_creator_escaped(corpus: dict[str, Any], users: dict[str, User]) -> None:
    client = login(Client(), users["district_officer"])
    page = client.get("/knowledge/search", {"q": "kappa registry", "mode": "fulltext"}).content.decode()
    assert "<mark>kappa</mark>" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page  # the chunk's own markup is text, never HTML
    assert "<b>bold</b>" not in page


def test_page_fallback_notice(corpus: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DHNET_SEMANTIC", "off")
    page = Client().get("/knowledge/search", {"q": "pseudonymization"}).content.decode()
    assert 'id="search-notice"' in page
    assert "Semantic search is unavailable" in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "health", "from": "yesterday"}, "from: &#x27;yesterday&#x27; is not a date"),
        ({"q": "health", "kind": "memo"}, "kind: unknown kind"),
        ({"q": "health", "limit": "500"}, "limit: a number between 1 and 50"),
        ({"q": "health", "mode": "magic"}, "mode: unknown mode"),
        ({"q": "health", "tag": "nope:1"}, "nope:1"),
    ],
)
def test_page_refuses_bad_filters_with_400(db: Any, params: dict[str, str], message: str) -> None:
    response = Client().get("/knowledge/search", params)
    assert response.status_code == 400
    assert message in response.content.decode()


# --- the API ----------------------------------------------------------------------------------------------------------


def test_api_answers_hits(corpus: dict[str, Any]) -> None:
    response = Client().get("/api/v1/knowledge/search", {"q": "pseudonymization", "mode": "fulltext", "limit": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["mode_used"] == "fulltext"
    assert [h["section"] for h in body["hits"]] == ["Strategic Objectives > Governance"]
    hit = body["hits"][0]
    assert set(hit) >= {"document", "section", "text", "score", "item", "page", "chunk", "url", "highlighted_html"}
    assert hit["document"] == "Global strategy"
    assert hit["item"] == str(corpus["strategy"].public_id)


def test_api_shows_drafts_only_to_who_may_see_them(corpus: dict[str, Any], users: dict[str, User]) -> None:
    params = {"q": "kappa registry", "mode": "fulltext"}
    assert Client().get("/api/v1/knowledge/search", params).json()["hits"] == []
    viewer = login(Client(), users["viewer"]).get("/api/v1/knowledge/search", params).json()
    assert viewer["hits"] == []
    creator = login(Client(), users["district_officer"]).get("/api/v1/knowledge/search", params).json()
    assert [h["item"] for h in creator["hits"]] == [str(corpus["draft"].public_id)]


@pytest.mark.parametrize(
    ("params", "status", "fragment"),
    [
        ({}, 422, "q"),
        ({"q": "x", "limit": 0}, 422, "limit"),
        ({"q": "x", "from": "2021-13-01"}, 422, "from"),
        ({"q": "x", "mode": "magic"}, 400, "mode: unknown mode 'magic'"),
        ({"q": "x", "country": "Kenya"}, 400, "country: 'Kenya'"),
        ({"q": "   "}, 400, "q: enter"),
    ],
)
def test_api_refuses_bad_input(db: Any, params: dict[str, Any], status: int, fragment: str) -> None:
    response = Client().get("/api/v1/knowledge/search", params)
    assert response.status_code == status
    assert fragment in json.dumps(response.json())


# --- the command line ---------------------------------------------------------------------------------------------


def test_cli_search_json(corpus: dict[str, Any]) -> None:
    result = CliRunner().invoke(main, ["knowledge", "search", "information centres", "--limit", "2", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert 1 <= len(hits) <= 2
    assert hits[0]["section"] == "Strategic Objectives > Collaboration and knowledge transfer"
    assert {"document", "section", "text", "score", "item", "page", "chunk"} <= set(hits[0])
    assert hits[0]["text"].startswith("Support countries in establishing information centres")
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_cli_search_published_only_unless_asked(corpus: dict[str, Any]) -> None:
    args = ["knowledge", "search", "kappa registry", "--mode", "fulltext", "--json"]
    assert json.loads(CliRunner().invoke(main, args).stdout) == []
    hits = json.loads(CliRunner().invoke(main, [*args, "--unpublished"]).stdout)
    assert [h["item"] for h in hits] == [str(corpus["draft"].public_id)]


def test_cli_search_fallback_notice_on_stderr(corpus: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DHNET_SEMANTIC", "off")
    result = CliRunner().invoke(main, ["knowledge", "search", "pseudonymization", "--json"])
    assert result.exit_code == 0
    assert "Semantic search is unavailable" in result.stderr
    assert json.loads(result.stdout)[0]["section"] == "Strategic Objectives > Governance"


def test_cli_search_text_and_errors(corpus: dict[str, Any]) -> None:
    result = CliRunner().invoke(main, ["knowledge", "search", "telemedicine distance", "--mode", "fulltext"])
    assert result.exit_code == 0
    assert "1. Global strategy > Glossary > Telemedicine (page 4)" in result.stdout
    bad = CliRunner().invoke(main, ["knowledge", "search", "x", "--country", "Kenya"])
    assert bad.exit_code == 1
    assert "country: 'Kenya' is not an ISO 3166-1 alpha-2 country code" in bad.stderr
    bad_date = CliRunner().invoke(main, ["knowledge", "search", "x", "--from", "soon"])
    assert bad_date.exit_code == 2
    assert "'soon' is not a date" in bad_date.stderr


def test_cli_reindex(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DHNET_SEMANTIC", "off")
    make_item("Strategy", STRATEGY)
    result = CliRunner().invoke(main, ["knowledge", "reindex"])
    assert result.exit_code == 0, result.output
    assert "4 chunk(s) in the full-text index, 0 embedded now" in result.stdout
    assert "DHNET_SEMANTIC=off" in result.stderr


def test_api_filters(corpus: dict[str, Any]) -> None:
    make_item(
        "Lesson from Kenya",
        [("Lessons", "Pseudonymization of the immunization register took two years.")],
        kind="lesson_learned",
        countries=["KE"],
    )
    base = {"q": "pseudonymization", "mode": "fulltext"}
    everything = Client().get("/api/v1/knowledge/search", base).json()["hits"]
    assert {h["item_title"] for h in everything} == {"Global strategy", "Lesson from Kenya"}
    for extra, titles in (
        ({"kind": ["lesson_learned"]}, {"Lesson from Kenya"}),
        ({"country": ["CH"]}, {"Global strategy"}),
        ({"kind": ["guideline", "lesson_learned"], "country": ["KE"]}, {"Lesson from Kenya"}),
        ({"from": "2030-01-01"}, set()),
    ):
        hits = Client().get("/api/v1/knowledge/search", {**base, **extra}).json()["hits"]
        assert {h["item_title"] for h in hits} == titles, extra
