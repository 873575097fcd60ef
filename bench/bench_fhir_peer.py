"""Peer benchmark: dhnet's generic FHIR R4 validation against HL7's Java reference validator.

On HL7's test material (``tests/fhir/data``: 29 validator cases with the reference validator's OperationOutcome,
and 72 R4 example resources that an R4 server should accept), measures how often ``dhnet.fhir.validation.validate``
agrees with the reference on *whether a resource has errors*, for

* the resource types ``/fhir`` accepts now (``Bundle``, ``MeasureReport``),
* the case-based types a later issue adds (``Patient``, ``Condition``, ``Encounter``, ``Observation``,
  ``Consent``),
* every resource.

Reference errors are classified by their text: **terminology** (needs a terminology server: wrong displays,
unknown codes, a system that is a value set), **profile** (needs profiles, packages or a validation context:
extension definitions, experimental content), **core** (FHIR R4 itself). Resources whose
only reference errors are terminology/profile ones are counted separately: a structural validator cannot find them.
For core reference errors, "located" counts those for which we report an error at the same element (or one inside
or around it; the reference's ``/*Type/id*/`` annotations removed).

Prints one Markdown section to stdout. Run: ``.venv/bin/python bench/bench_fhir_peer.py``.
The floors asserted in ``tests/fhir/test_peer.py`` come from this measurement.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "fhir" / "data"
ACCEPTED = frozenset({"Bundle", "MeasureReport"})
CASE_BASED = frozenset({"Patient", "Condition", "Encounter", "Observation", "Consent"})
TERMINOLOGY_RE = re.compile(
    r"Wrong Display Name|Unknown code|not in the value ?set|was not found in the value set|"
    r"references a value set, not a code system",
    re.I,
)
PROFILE_RE = re.compile(r"could not be found so is not allowed|Profile reference|Experimental content", re.I)
ANNOTATION_RE = re.compile(r"/\*.*?\*/")


@dataclass
class Case:
    name: str
    source: str  # validator | example
    resource_type: str
    reference: Counter[str] = field(default_factory=Counter)  # terminology / profile / core -> error count
    reference_core_paths: list[str] = field(default_factory=list)
    ours: list[str] = field(default_factory=list)  # our error expressions
    located: int = 0

    @property
    def reference_errors(self) -> int:
        return sum(self.reference.values())

    @property
    def agree(self) -> bool:
        return (self.reference_errors > 0) == bool(self.ours)

    @property
    def out_of_scope(self) -> bool:
        """The reference finds errors, all of which need a terminology server or profiles."""
        return self.reference_errors > 0 and self.reference["core"] == 0


def classify(issue: dict[str, Any]) -> str:
    text = (issue.get("details") or {}).get("text") or issue.get("diagnostics") or ""
    if TERMINOLOGY_RE.search(text):
        return "terminology"
    if PROFILE_RE.search(text):
        return "profile"
    return "core"


def normalise(path: str) -> str:
    return ANNOTATION_RE.sub("", path).replace("..", ".")


def related(a: str, b: str) -> bool:
    return a == b or a.startswith((b + ".", b + "[")) or b.startswith((a + ".", a + "["))


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dhnet.platform.settings")
    import django

    django.setup()


def measure(data_dir: Path = DATA) -> list[Case]:
    """Validate every resource of ``data_dir`` and compare with the reference."""
    from dhnet.fhir.validation import validate

    cases = []
    manifest = json.loads((data_dir / "validator" / "manifest.json").read_text())
    for entry in manifest:
        resource = json.loads((data_dir / "validator" / entry["file"]).read_text())
        outcome_file = data_dir / "validator" / (Path(entry["file"]).stem + ".java-outcome.json")
        outcome = json.loads(outcome_file.read_text())
        case = Case(entry["name"], "validator", str(resource.get("resourceType")))
        for issue in outcome.get("issue", []):
            if issue.get("severity") in ("error", "fatal"):
                kind = classify(issue)
                case.reference[kind] += 1
                if kind == "core":
                    case.reference_core_paths.extend(normalise(p) for p in issue.get("expression") or [""])
        cases.append(case)
    for file in sorted((data_dir / "r4-examples").glob("*.json")):
        resource = json.loads(file.read_text())
        cases.append(Case(file.stem, "example", str(resource.get("resourceType"))))
    files = [data_dir / "validator" / e["file"] for e in manifest] + sorted((data_dir / "r4-examples").glob("*.json"))
    for case, file in zip(cases, files, strict=True):
        result = validate(json.loads(file.read_text()))
        case.ours = [i.expression or "" for i in result.issues if i.is_error]
        case.located = sum(any(related(ref, mine) for mine in case.ours) for ref in case.reference_core_paths)
    return cases


@dataclass(frozen=True)
class Rate:
    label: str
    resources: int
    agree: int
    in_scope: int
    agree_in_scope: int
    out_of_scope: int

    @property
    def rate(self) -> float:
        return self.agree / self.resources if self.resources else float("nan")

    @property
    def rate_in_scope(self) -> float:
        return self.agree_in_scope / self.in_scope if self.in_scope else float("nan")


def rate(cases: list[Case], label: str, types: frozenset[str] | None = None) -> Rate:
    chosen = [c for c in cases if types is None or c.resource_type in types]
    scope = [c for c in chosen if not c.out_of_scope]
    return Rate(
        label,
        len(chosen),
        sum(c.agree for c in chosen),
        len(scope),
        sum(c.agree for c in scope),
        len(chosen) - len(scope),
    )


def rates(cases: list[Case]) -> list[Rate]:
    return [
        rate(cases, "types /fhir accepts (Bundle, MeasureReport)", ACCEPTED),
        rate(cases, "case-based types to come (Patient, Condition, Encounter, Observation, Consent)", CASE_BASED),
        rate(cases, "every resource", None),
        rate([c for c in cases if c.source == "validator"], "validator cases only", None),
    ]


def markdown(cases: list[Case]) -> str:
    lines = [
        "## FHIR R4 validation vs HL7's Java reference validator",
        "",
        f"{sum(c.source == 'validator' for c in cases)} validator cases (reference OperationOutcome) and "
        f"{sum(c.source == 'example' for c in cases)} R4 examples (no errors expected), from HL7's "
        "fhir-test-cases (`tests/fhir/data`). Agreement: both find errors, or both find none. "
        "*In scope*: leaving out resources whose reference errors all need a terminology server or profiles.",
        "",
        "| resources | n | agree | agreement | n in scope | agreement in scope | terminology/profile-only |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rates(cases):
        lines.append(
            f"| {r.label} | {r.resources} | {r.agree} | {r.rate:.1%} | {r.in_scope} | {r.rate_in_scope:.1%} "
            f"| {r.out_of_scope} |"
        )
    kinds: Counter[str] = Counter()
    for c in cases:
        kinds.update(c.reference)
    core = sum(len(c.reference_core_paths) for c in cases)
    located = sum(c.located for c in cases)
    lines += [
        "",
        f"Reference error issues: {sum(kinds.values())} — terminology server {kinds['terminology']}, "
        f"profiles/context {kinds['profile']}, core R4 {kinds['core']}. Of the {core} core errors we report "
        f"{located} ({located / core:.0%}) at the same element (or one inside or around it).",
        "",
        "| case | type | reference errors (terminology/profile/core) | ours | agree |",
        "|---|---|---:|---:|:---:|",
    ]
    for c in cases:
        if c.source == "example" and c.agree:
            continue
        ref = f"{c.reference_errors} ({c.reference['terminology']}/{c.reference['profile']}/{c.reference['core']})"
        lines.append(f"| {c.name} | {c.resource_type} | {ref} | {len(c.ours)} | {'yes' if c.agree else 'no'} |")
    agreeing_examples = sum(c.source == "example" and c.agree for c in cases)
    lines += ["", f"(R4 examples where both find no error, not listed: {agreeing_examples}.)", ""]
    return "\n".join(lines)


def main() -> None:
    _setup_django()
    print(markdown(measure()))


if __name__ == "__main__":
    main()
