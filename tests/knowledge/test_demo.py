"""The demo loader publishes the strategy texts with titles and tags, once."""

from __future__ import annotations

import pytest

from dhnet.knowledge import demo
from dhnet.knowledge.models import Chunk, Item
from dhnet.platform.access import Actor

pytestmark = pytest.mark.django_db


def test_load_demo_publishes_the_strategy_texts_once(operator: Actor) -> None:
    summary = demo.load_demo(operator)
    files = sorted(demo.STRATEGY_DIR.glob("*.txt"))
    assert len(files) == 5
    assert summary.startswith("knowledge: 5 strategy text(s) published")
    items = Item.objects.filter(status="published")
    assert items.count() == 5
    strategy = items.get(title="Global strategy on digital health 2020-2025")
    assert sorted(c.tag for c in strategy.tags.all()) == ["so:1", "so:2", "so:3", "so:4"]
    assert strategy.licence == "CC-BY-NC-SA-3.0-IGO"
    assert Chunk.objects.filter(text__icontains="pseudonymi").exists()
    assert Chunk.objects.filter(text__icontains="information centres").exists()
    before = Chunk.objects.count()
    assert demo.load_demo(operator).endswith("0 strategy text(s) published (0 chunks), 5 already there")
    assert Chunk.objects.count() == before
    assert Item.objects.count() == 5
