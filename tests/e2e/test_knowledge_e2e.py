"""In a real browser: search the knowledge repository in plain words, open a hit, land on the cited passage of the
document with the query's words highlighted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.e2e.conftest import ROOT, Server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "e2e"
SEEDS = sorted(str(p) for p in (ROOT / "data" / "demo" / "knowledge" / "strategy").glob("*.txt"))


def test_search_open_a_hit_and_see_the_highlighted_passage(server: Server, browser: Any) -> None:
    server.dhnet("knowledge", "ingest", *SEEDS)  # idempotent: nothing new when the demo ingested them already
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    page.goto(f"{server.url}/knowledge/search")
    page.fill("#search-q", "pseudonymization of health data")
    page.click("#search-submit")
    page.wait_for_selector("#search-hits li.hit")
    first = page.locator("#search-hits li.hit").first
    assert first.locator("blockquote.passage mark").count() >= 1
    cite = first.locator(".cite").inner_text()
    assert "Global strategy on digital health" in cite
    assert "page" in cite
    marked = [m.lower() for m in first.locator("blockquote.passage mark").all_inner_texts()]
    assert "pseudonymization" in marked
    chunk = first.get_attribute("data-chunk")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "knowledge-search.png"), full_page=True)

    first.locator("a.hit-link").click()
    page.wait_for_url(re.compile(rf"/knowledge/documents/[0-9a-f-]+/\?chunk={chunk}&q=.*#chunk-{chunk}$"))
    passage = page.locator(f"#chunk-{chunk}")
    assert "cited" in (passage.get_attribute("class") or "")
    assert passage.is_visible()
    terms = [t.lower() for t in passage.locator("mark").all_inner_texts()]
    assert any("pseudonymization" in t for t in terms), terms
    assert page.evaluate(f"document.getElementById('chunk-{chunk}').getBoundingClientRect().top") < 844  # on screen
    page.screenshot(path=str(SCREENSHOTS / "knowledge-document.png"))
    context.close()
