"""Loading the strategy's framework (``data/strategy.json``) into the database.

The loader takes the model classes as arguments so that the data migration can pass its historical models and
tests the real ones. It is idempotent: objectives, outputs and actions are matched on their number, code and key
and updated in place, so running it twice (or after a corrected transcription) never duplicates a row.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
ACTORS = ("member_states", "secretariat", "partners")
TERMS = ("short", "medium", "long", "all")


@cache
def strategy_data() -> dict[str, Any]:
    """The transcribed strategy, validated (fails loudly on a malformed file: it ships with the code)."""
    data: dict[str, Any] = json.loads((DATA / "strategy.json").read_text(encoding="utf-8"))
    numbers = [o["number"] for o in data["objectives"]]
    if numbers != [1, 2, 3, 4]:
        raise ValueError(f"strategy.json: objectives must be numbered 1..4, found {numbers}")
    keys: set[str] = set()
    for action in data["actions"]:
        if action["key"] in keys:
            raise ValueError(f"strategy.json: action key {action['key']} appears twice")
        keys.add(action["key"])
        if action["actor"] not in ACTORS or action["term"] not in TERMS or action["objective"] not in numbers:
            raise ValueError(f"strategy.json: action {action['key']} has an unknown actor, term or objective")
    return data


def load_framework(objective_model: Any, output_model: Any, action_model: Any) -> dict[str, int]:
    """Create or update the objectives, outputs and proposed actions; return how many of each the file holds."""
    data = strategy_data()
    objectives = {}
    for o in data["objectives"]:
        obj, _ = objective_model.objects.update_or_create(
            number=o["number"], defaults={"title": o["title"], "summary": o["summary"]}
        )
        objectives[o["number"]] = obj
        for out in o["outputs"]:
            output_model.objects.update_or_create(code=out["code"], defaults={"objective": obj, "text": out["text"]})
    for position, a in enumerate(data["actions"], start=1):
        action_model.objects.update_or_create(
            key=a["key"],
            defaults={
                "objective": objectives[a["objective"]],
                "actor": a["actor"],
                "term": a["term"],
                "position": position,
                "text": a["text"],
            },
        )
    return {
        "objectives": len(data["objectives"]),
        "outputs": sum(len(o["outputs"]) for o in data["objectives"]),
        "actions": len(data["actions"]),
    }


def indicator_data() -> list[dict[str, Any]]:
    """The starting set of monitoring indicators (``data/indicators.json``)."""
    data: dict[str, Any] = json.loads((DATA / "indicators.json").read_text(encoding="utf-8"))
    return list(data["indicators"])


def load_indicators(objective_model: Any, output_model: Any, indicator_model: Any) -> int:
    """Create the starting indicators that do not exist yet (matched by code; an indicator already defined, perhaps
    changed by the indicator manager, is left as it is). Returns how many were created."""
    created = 0
    for i in indicator_data():
        if indicator_model.objects.filter(code=i["code"]).exists():
            continue
        indicator_model.objects.create(
            code=i["code"],
            name=i["name"],
            definition=i["definition"],
            objective=objective_model.objects.get(number=i["objective"]),
            output=output_model.objects.get(code=i["output"]) if i.get("output") else None,
            unit=i.get("unit", ""),
            direction=i.get("direction", "up"),
            aggregation=i["aggregation"],
            source=i.get("source", "manual"),
            maturity_rule=i.get("maturity_rule"),
            source_text=i.get("source_text", ""),
            position=i.get("position", 0),
        )
        created += 1
    return created
