"""The crosswalk CDHI v1 (2018) -> CDISAH 2023 digital health interventions, computed from codes and names.

Pure (no Django): it reads the two scheme files of ``data/`` (and the list of interventions that smart-base marks as
new in 2023) and writes ``data/crosswalk_cdhi_v1_2023.json``, which the data migration loads into
``taxonomy.Mapping``. Run ``python -m dhnet.taxonomy.crosswalk`` to rebuild the file; a test checks that the file is
what this module computes, so the method below is the whole story.

Method (the 2023 edition kept most v1 codes and rewrote "client" as "person"):

1. Names are normalised: lower case, typographic quotes and hyphens unified, "(s)" and possessives dropped,
   client/individual/citizen/person-centred -> person, health worker -> healthcare provider, plurals folded, small
   function words removed. Similarity is the Jaccard index of the two token sets, taking the better of the v1 name
   and the v1 smart-base wording (``V1_ALTERNATIVE_NAMES``).
2. Same code (v1 groups ``1.0`` are 2023 ``1``) and similarity >= ``SIMILAR`` -> ``equivalent``.
3. A group or category with the same code whose children are mostly equivalent (at least half of its v1 children)
   -> ``equivalent`` (renamed, same scope: e.g. 4.3 Location mapping / Geospatial information management).
4. A v1 concept without an equivalent so far whose normalised name equals that of a 2023 concept of the same level
   under another code -> ``equivalent`` (renumbered).
5. ``REVIEWED``: pairs we read by hand where the rules above are wrong or silent (the CRVS interventions merged in
   2023, data exchange split); they take precedence over rules 2-4 for their source concept.
6. Same code, dissimilar name, no reviewed entry -> ``related`` (the code was reused for a different wording).

2023 concepts listed as new by smart-base (and the children of new categories) never get an ``equivalent``.
Relations are read from the v1 concept to the 2023 one, as SKOS mapping properties: ``broader`` means the 2023
concept is broader than the v1 one (skos:broadMatch), ``narrower`` that it is narrower.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
OUTPUT = DATA_DIR / "crosswalk_cdhi_v1_2023.json"
SOURCE_SCHEME = "cdhi-v1"
TARGET_SCHEME = "cdhi-2023"
SIMILAR = 0.5
RELATIONS = ("equivalent", "broader", "narrower", "related")

#: Interventions and categories smart-base marks as new in the 2023 edition (``new_in_v2_per_smart_base`` in
#: ../shared/data/digital-health-taxonomies/cdisah_v2_2023.json); children of a new category are new too.
NEW_IN_2023 = (
    "1.4.4",
    "1.6.2",
    "1.8",
    "2.5.6",
    "2.11",
    "3.1.5",
    "3.5.7",
    "3.5.8",
    "3.8",
    "4.3.5",
    "4.4.2",
    "4.4.3",
    "4.5",
)

#: The smart-base CDHIv1.fsh wording of v1 concepts where it differs from the DHA wording kept in cdhi_v1.json
#: (codes and names only; used for matching, not shown).
V1_ALTERNATIVE_NAMES = {
    "2.7": "Health worker activity planning and scheduling",
    "2.7.1": "Identify client(s) in need of services",
    "4.2.3": "Classify disease codes or cause of mortality",
    "3.1.4": "Record training credentials of health worker(s)",
    "2.2.1": "Longitudinal tracking of clients' health status and services",
}

#: Pairs read by hand: source v1 code -> list of (2023 code, relation, note).
REVIEWED: dict[str, list[tuple[str, str, str]]] = {
    "3.4.1": [("3.4.1", "broader", "2023 merges notify, register and certify birth event")],
    "3.4.2": [("3.4.1", "broader", "2023 merges notify, register and certify birth event")],
    "3.4.3": [("3.4.1", "broader", "2023 merges notify, register and certify birth event")],
    "3.4.4": [("3.4.2", "broader", "2023 merges notify, register and certify death event")],
    "3.4.5": [("3.4.2", "broader", "2023 merges notify, register and certify death event")],
    "3.4.6": [("3.4.2", "broader", "2023 merges notify, register and certify death event")],
    "4.4.1": [
        ("4.4.1", "narrower", "2023 splits data exchange across systems: point-to-point integration"),
        ("4.4.2", "narrower", "2023 splits data exchange across systems: standards-compliant interoperability"),
        ("4.4.3", "narrower", "2023 splits data exchange across systems: message routing"),
    ],
}

SYNONYMS = {
    "client": "person",
    "individual": "person",
    "citizen": "person",
    "people": "person",
    "centred": "",
    "worker": "provider",
}
STOP = {"the", "a", "an", "of", "to", "by", "and", "or", "for", "on", "in", "s", "based", "according", "with", "e", "g"}


@dataclass(frozen=True)
class Pair:
    """One mapping from a v1 concept to a 2023 concept, with the rule that made it (``method``)."""

    source: str
    target: str
    relation: str
    method: str
    note: str = ""


def _fold(token: str) -> str:
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        token = token[:-1]
    return SYNONYMS.get(token, token)


def normalise(name: str) -> tuple[str, ...]:
    """The comparable tokens of a name, in order (see the module docstring, step 1)."""
    text = name.lower().replace("\u2019", "'").replace("\u2010", "-").replace("\u2011", "-")
    text = text.replace("(s)", "").replace("'s", "").replace("s'", "s")
    text = text.replace("health worker", "healthcare provider").replace("health care", "healthcare")
    text = re.sub(r"[-/]", " ", text)
    tokens = (_fold(t) for t in re.findall(r"[a-z0-9]+", text))
    return tuple(t for t in tokens if t and t not in STOP)


def similarity(a: str, b: str) -> float:
    """Jaccard index of the normalised token sets of two names (0 when both are empty)."""
    left, right = set(normalise(a)), set(normalise(b))
    union = left | right
    return len(left & right) / len(union) if union else 0.0


def _read(name: str) -> list[dict[str, Any]]:
    concepts: list[dict[str, Any]] = json.loads((DATA_DIR / name).read_text(encoding="utf-8"))["concepts"]
    return concepts


def _v2_code(v1_code: str) -> str:
    return v1_code.removesuffix(".0")


def new_in_2023(v2: list[dict[str, Any]]) -> set[str]:
    """The 2023 codes that are new in that edition: the listed ones and every descendant of a listed one."""
    new = set(NEW_IN_2023)
    for concept in v2:  # parents come before children in the file
        if concept["parent"] in new:
            new.add(concept["code"])
    return new


def build(v1: list[dict[str, Any]] | None = None, v2: list[dict[str, Any]] | None = None) -> list[Pair]:
    """The crosswalk, in v1 order (see the module docstring for the method)."""
    v1 = _read("cdhi_v1.json") if v1 is None else v1
    v2 = _read("cdisah_2023.json") if v2 is None else v2
    v2_by_code = {c["code"]: c for c in v2}
    new = new_in_2023(v2)
    children: dict[str, list[str]] = {}
    depth: dict[str, int] = {}
    for concept in v1:  # parents come before children in the file
        parent = concept["parent"]
        depth[concept["code"]] = depth[parent] + 1 if parent else 0
        if parent:
            children.setdefault(parent, []).append(concept["code"])

    def best_similarity(concept: dict[str, Any], target: dict[str, Any]) -> float:
        names = [concept["name"], V1_ALTERNATIVE_NAMES.get(concept["code"], concept["name"])]
        return max(similarity(n, target["name"]) for n in names)

    equivalent: dict[str, Pair] = {}
    # Rule 2, leaves first so that rule 3 can count equivalent children (deepest levels first).
    for concept in sorted(v1, key=lambda c: -depth[c["code"]]):
        code, target = concept["code"], v2_by_code.get(_v2_code(concept["code"]))
        if code in REVIEWED or target is None or target["code"] in new or target["level"] != concept["level"]:
            continue
        score = best_similarity(concept, target)
        if score >= SIMILAR:
            method = "same code, same name" if score == 1.0 else f"same code, similar name ({score:.2f})"
            equivalent[code] = Pair(code, target["code"], "equivalent", method)
        elif code in children:
            kids = children[code]
            same = sum(1 for kid in kids if kid in equivalent)
            if same * 2 >= len(kids):
                method = f"same code, {same} of {len(kids)} children equivalent"
                equivalent[code] = Pair(code, target["code"], "equivalent", method)
    # Rule 4: renumbered, by identical normalised name at the same level.
    taken = {p.target for p in equivalent.values()}
    by_name: dict[tuple[str, tuple[str, ...]], str] = {}
    for target in v2:
        if target["code"] not in new:
            by_name.setdefault((target["level"], tuple(sorted(set(normalise(target["name"]))))), target["code"])
    for concept in v1:
        code = concept["code"]
        if code in equivalent or code in REVIEWED:
            continue
        names = {concept["name"], V1_ALTERNATIVE_NAMES.get(code, concept["name"])}
        for name in sorted(names):
            found = by_name.get((concept["level"], tuple(sorted(set(normalise(name))))))
            if found is not None and found not in taken:
                equivalent[code] = Pair(code, found, "equivalent", "renumbered, same normalised name")
                taken.add(found)
                break
    pairs: list[Pair] = []
    for concept in v1:
        code = concept["code"]
        if code in REVIEWED:
            pairs.extend(Pair(code, target, relation, "reviewed", note) for target, relation, note in REVIEWED[code])
        elif code in equivalent:
            pairs.append(equivalent[code])
        else:
            target = v2_by_code.get(_v2_code(code))
            if target is not None and target["level"] == concept["level"]:
                pairs.append(Pair(code, target["code"], "related", "same code, different name"))
    for pair in pairs:
        if pair.relation not in RELATIONS or pair.target not in v2_by_code:
            raise ValueError(f"crosswalk: bad pair {pair}")
        if pair.relation == "equivalent" and pair.target in new:
            raise ValueError(f"crosswalk: {pair.target} is new in 2023 and cannot have a v1 equivalent")
    return pairs


def document(pairs: list[Pair]) -> dict[str, Any]:
    """The data file's content: the two schemes, the method's reference and the pairs."""
    return {
        "source_scheme": SOURCE_SCHEME,
        "target_scheme": TARGET_SCHEME,
        "method": "dhnet.taxonomy.crosswalk (see data/README.md); relations read from the v1 concept, as SKOS",
        "pairs": [asdict(p) for p in pairs],
    }


def main() -> None:  # pragma: no cover - a maintenance command
    pairs = build()
    OUTPUT.write_text(json.dumps(document(pairs), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{OUTPUT.name}: {len(pairs)} pairs")


if __name__ == "__main__":  # pragma: no cover
    main()
