"""Load the scheme files of ``data/`` into the database (from the data migration and ``dhnet taxonomy load``).

Idempotent: schemes and concepts are matched by code and updated in place; nothing is deleted, so a concept
referenced by a knowledge item or an organisation survives a reload. Works with the historical models of a
migration (passed in) as well as the real ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
FILES = (
    "cdhi_v1.json",
    "cdisah_2023.json",
    "system_categories_v1.json",
    "hsc_2023.json",
    "strategic_objectives.json",
    "standards.json",
    "health_areas.json",
    "service_apps_2023.json",
)
CROSSWALK = "crosswalk_cdhi_v1_2023.json"


def read_files() -> list[dict[str, Any]]:
    """The scheme files, parsed, with each concept's parent checked to come before it."""
    schemes = []
    for name in FILES:
        data = json.loads((DATA_DIR / name).read_text(encoding="utf-8"))
        seen: set[str] = set()
        for concept in data["concepts"]:
            parent = concept.get("parent")
            if parent is not None and parent not in seen:
                raise ValueError(f"{name}: concept {concept['code']} names parent {parent} before it is defined")
            if concept["code"] in seen:
                raise ValueError(f"{name}: concept {concept['code']} appears twice")
            seen.add(concept["code"])
        schemes.append(data)
    return schemes


def load(scheme_model: Any, concept_model: Any) -> dict[str, int]:
    """Create or update every scheme and concept; returns the number of concepts per scheme."""
    counts: dict[str, int] = {}
    for data in read_files():
        scheme, _ = scheme_model.objects.update_or_create(
            code=data["scheme"],
            defaults={
                "name": data["name"],
                "version": data.get("version", ""),
                "source": data.get("source", ""),
                "licence_note": data.get("licence_note", ""),
            },
        )
        by_code: dict[str, Any] = {}
        depth: dict[str, int] = {}
        for ordinal, item in enumerate(data["concepts"], start=1):
            parent_code = item.get("parent")
            level = depth[parent_code] + 1 if parent_code else 1
            depth[item["code"]] = level
            concept, _ = concept_model.objects.update_or_create(
                scheme=scheme,
                code=item["code"],
                defaults={
                    "name": item["name"],
                    "parent": by_code[parent_code] if parent_code else None,
                    "level": level,
                    "kind": item.get("level", ""),
                    "ordinal": ordinal,
                },
            )
            by_code[item["code"]] = concept
        counts[scheme.code] = len(by_code)
    return counts


def load_crosswalk(scheme_model: Any, concept_model: Any, mapping_model: Any) -> int:
    """Create or update the mappings of ``CROSSWALK`` and remove those between its two schemes that it no longer
    lists (the crosswalk is our derived work, rebuilt by ``dhnet.taxonomy.crosswalk``); returns the pair count."""
    data = json.loads((DATA_DIR / CROSSWALK).read_text(encoding="utf-8"))
    source = scheme_model.objects.get(code=data["source_scheme"])
    target = scheme_model.objects.get(code=data["target_scheme"])
    sources = {c.code: c for c in concept_model.objects.filter(scheme=source)}
    targets = {c.code: c for c in concept_model.objects.filter(scheme=target)}
    kept = []
    for pair in data["pairs"]:
        if pair["source"] not in sources or pair["target"] not in targets:
            raise ValueError(f"{CROSSWALK}: unknown concept in {pair}")
        mapping, _ = mapping_model.objects.update_or_create(
            source=sources[pair["source"]],
            target=targets[pair["target"]],
            defaults={"relation": pair["relation"], "method": pair["method"], "note": pair["note"]},
        )
        kept.append(mapping.pk)
    mapping_model.objects.filter(source__scheme=source, target__scheme=target).exclude(pk__in=kept).delete()
    return len(kept)
