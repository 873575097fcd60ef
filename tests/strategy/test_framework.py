"""The strategy's framework as loaded by migration 0002, and the indicator -> proposed actions map."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dhnet.platform.errors import Invalid, NotFound
from dhnet.strategy import services
from dhnet.strategy.framework import DATA, load_framework, strategy_data
from dhnet.strategy.models import Objective, Output, ProposedAction

pytestmark = pytest.mark.django_db

RUBRICS = Path(__file__).resolve().parents[2] / "src" / "dhnet" / "maturity" / "data"


def test_the_four_objectives_their_outputs_and_the_annex_are_loaded() -> None:
    assert [o.number for o in services.objectives()] == [1, 2, 3, 4]
    assert [o.code for o in Output.objects.all()] == ["1.1", "1.2", "1.3", "2.1", "2.2"] + [
        f"{o}.{n}" for o in (3, 4) for n in range(1, 5)
    ]
    assert Output.objects.get(code="2.2").text.startswith("A dynamic digital health maturity model assessment")
    assert ProposedAction.objects.count() == len(strategy_data()["actions"]) == 150


def test_actions_by_objective_actor_and_term_match_the_reconstructed_columns() -> None:
    """The counts per table and column as reconstructed (data/README.md); a change in the transcription shows here."""
    counts = Counter((a.objective.number, a.actor, a.term) for a in services.actions(actor=None))
    assert counts[(1, "member_states", "short")] == 5
    assert counts[(1, "member_states", "medium")] == 5
    assert counts[(1, "member_states", "long")] == 5
    assert counts[(2, "member_states", "short")] == 10
    assert counts[(2, "partners", "all")] == 6
    assert sum(n for (o, actor, _), n in counts.items() if actor == "member_states") == 55
    assert sum(n for (o, actor, _), n in counts.items() if actor == "secretariat") == 67


def test_actions_default_to_member_states_and_filter() -> None:
    ms = services.actions()
    assert ms
    assert {a.actor for a in ms} == {"member_states"}
    short2 = services.actions(objective=2, term="short")
    assert "SO2-MS-04" in [a.key for a in short2]
    assert all(a.objective.number == 2 and a.term == "short" for a in short2)
    ddmm = services.actions(objective="2", actor="secretariat", term="long")
    assert "Integrate the template business case in the Dynamic Digital Maturity Model." in [a.text for a in ddmm]
    # the order is the annex's: within an objective short before medium before long
    terms = [a.term for a in services.actions(objective=1)]
    assert terms == sorted(terms, key=["short", "medium", "long", "all"].index)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"actor": "ministers"}, "actor"), ({"term": "soon"}, "term"), ({"objective": "x"}, "objective")],
)
def test_bad_filters_name_the_field(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        services.actions(**kwargs)


def test_an_objective_that_does_not_exist_is_404() -> None:
    with pytest.raises(NotFound):
        services.actions(objective=5)


def test_loading_again_changes_nothing() -> None:
    before = list(ProposedAction.objects.values_list("key", "term", "position", "text"))
    assert load_framework(Objective, Output, ProposedAction) == {"objectives": 4, "outputs": 13, "actions": 150}
    assert list(ProposedAction.objects.values_list("key", "term", "position", "text")) == before


def test_action_texts_keep_the_strategy_wording() -> None:
    continued = ProposedAction.objects.get(key="SO2-MS-07")  # cut over a page in the source
    assert continued.text == (
        "Expand the digital health workforce and promote capacity-building to develop, update and implement "
        "national strategies and investment plans for digital health."
    )
    split = re.compile(r"\w- \w")  # a word the PDF extraction split at a line end ("cutting- edge")
    assert [a.key for a in ProposedAction.objects.all() if split.search(a.text)] == []


def _rubric_codes(name: str) -> list[str]:
    """Indicator codes (sub-indicators included) of a rubric file shipped with maturity: GDHM's codes."""
    data = json.loads((RUBRICS / name).read_text(encoding="utf-8"))
    codes = []
    for component in data["components"]:
        for ind in component["indicators"]:
            codes.append(ind["code"])
            codes.extend(sub["code"] for sub in ind.get("sub_indicators", []))
    return codes


@pytest.mark.parametrize(
    ("rubric", "filename"), [("gdhm-classic", "rubric_classic.json"), ("gdhm-current", "rubric_current.json")]
)
def test_every_gdhm_indicator_has_member_state_actions_that_resolve(rubric: str, filename: str) -> None:
    mapping = json.loads((DATA / "indicator_actions.json").read_text(encoding="utf-8"))["rubrics"][rubric]
    codes = _rubric_codes(filename)
    assert len([c for c in codes if c.isdigit()]) == (19 if rubric == "gdhm-classic" else 23)
    assert sorted(mapping) == sorted(codes)
    for code in codes:
        found = services.actions_for_indicator(rubric, code)
        assert found, f"{rubric} {code}: no action"
        assert [a.key for a in found] == mapping[code]["actions"], f"{rubric} {code}: a key does not resolve"
        assert all(a.actor == "member_states" for a in found)
        assert mapping[code]["why"]


def test_the_codes_follow_the_maturity_rubrics_shipped_with_the_platform() -> None:
    """Same indicator codes as the rubrics that maturity loads (so planning finds actions for every gap)."""
    from dhnet.maturity.models import Indicator

    for rubric in ("gdhm-classic", "gdhm-current"):
        codes = set(Indicator.objects.filter(rubric__code=rubric).values_list("code", flat=True))
        for code in codes:
            assert services.actions_for_indicator(rubric, code)


def test_actions_for_indicator_examples_and_errors() -> None:
    assert next(a.key for a in services.actions_for_indicator("current", "5")) == "SO2-MS-04"
    assert next(a.key for a in services.actions_for_indicator("gdhm-classic", "3")) == "SO2-MS-04"
    with pytest.raises(Invalid, match="rubric"):
        services.actions_for_indicator("gdhm-2099", "1")
    with pytest.raises(NotFound, match="99"):
        services.actions_for_indicator("gdhm-current", "99")
