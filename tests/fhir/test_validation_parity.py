"""Parity: whatever the ``fhir.resources`` R4B models reject, :func:`dhnet.fhir.validation.validate` rejects too.

The validation walks the raw JSON and no longer builds the pydantic model of each resource (that was most of the
intake's validation time), so the models are the oracle here: on HL7's R4 examples and validator cases, on
generated case reports, and on thousands of mutations of both (a value replaced by a tricky one, an element
dropped, a list unwrapped, a primitive turned into an extension, a null in an array), a model error without an
error of ours fails the test and prints the resource. The converse does not hold, by design: the walk checks more
than the models (required bindings, empty values, reference formats, Bundle invariants...).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dhnet.cases.generate import CaseGenerator
from dhnet.fhir.structure import is_resource_type
from dhnet.fhir.validation import format_error, validate

DATA = Path(__file__).parent / "data"


def _corpus() -> list[dict[str, Any]]:
    files = sorted((DATA / "r4-examples").glob("*.json")) + sorted(
        f for f in (DATA / "validator").glob("*.json") if not f.name.endswith(".java-outcome.json")
    )
    out = [json.loads(f.read_text()) for f in files]
    generator = CaseGenerator(7, districts=["BX-001", "BX-002"], start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31))
    out.extend(generator.bundle(i) for i in range(6))
    return [d for d in out if isinstance(d, dict) and is_resource_type(str(d.get("resourceType")))]


CORPUS = _corpus()


def model_rejects(data: Any) -> str | None:
    """The first error of the R4B model of ``data`` (any exception counts), or None when the model accepts it."""
    try:
        get_fhir_model_class(data["resourceType"]).model_validate(data)
    except Exception as exc:  # the oracle: KeyError & co on malformed input count as a rejection
        return f"{type(exc).__name__}: {str(exc)[:400]}"
    return None


def assert_parity(data: Any) -> None:
    rejected = model_rejects(data)
    if rejected is not None:
        result = validate(data)
        assert not result.ok, (
            f"the R4B model rejects this resource but validate() finds no error:\n{rejected}\n{json.dumps(data)[:3000]}"
        )


@pytest.mark.parametrize("index", range(len(CORPUS)), ids=lambda i: f"{CORPUS[i]['resourceType']}-{i}")
def test_corpus(index: int) -> None:
    assert_parity(CORPUS[index])


def test_corpus_is_hl7_material_and_generated_case_reports() -> None:
    kinds = {d["resourceType"] for d in CORPUS}
    assert len(CORPUS) >= 100
    assert {"Bundle", "Patient", "Observation", "Condition"} <= kinds


# --- mutations ------------------------------------------------------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in a JSON tree (keys and list indexes), the root's resourceType aside."""
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if prefix == () and key == "resourceType":
                continue
            out.append((*prefix, key))
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.append((*prefix, i))
            out.extend(_paths(item, (*prefix, i)))
    return out


TRICKY_STRINGS = [
    "", " ", "\n", "x\n", " x", "x  y", "a\tb", "\x0b", "\u00a0", "\ud800", "é", "final", "Final", "male", "unknown",
    "2024", "2024-02", "2024-13", "2024-02-30", "2023-02-29", "2024-02-29", "2024-06-01T12:00:00",
    "2024-06-01T12:00:00Z", "2024-06-01T12:00:00+14:00", "2024-06-01T12:00:00+15:00", "2024-06-01T24:00:00Z",
    "2024-06-01T23:59:60Z", "2024-06-01T12:00Z", "2024-06-01 12:00:00Z", "0000", "12:00:00", "25:00:00", "12:00",
    "http://example.org/x", "http://", "urn:uuid:c757873d-ec9a-4326-a141-556f43239520", "urn:oid:1.2.3",
    "urn:oid:3.2", "urn:uuid:zzz", "Patient/1", "Patient/", "#p1", "/Patient/1", "a b", "1.5", "-0", "01", "true",
    "x" * 65, "QUJD", "QUJ", "dGVzdA==\n",
]  # fmt: skip
SCALARS = (
    st.sampled_from(TRICKY_STRINGS)
    | st.text(max_size=10)
    | st.none()
    | st.booleans()
    | st.integers(min_value=-(2**33), max_value=2**33)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e300 * 10, 0.5, 1.0, -1, 0, 2**31, 2**31 - 1, -(2**31) - 1])
)


def _get(tree: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        tree = tree[part]
    return tree


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = _get(data, path[:-1]), path[-1]
        current = parent[last]
        action = draw(st.sampled_from(["replace", "replace", "replace", "drop", "unwrap", "wrap", "extension", "null"]))
        if action == "replace":
            parent[last] = draw(SCALARS | st.just({}) | st.just([]) | st.just({"x": 1}))
        elif action == "drop":
            del parent[last]
        elif action == "unwrap" and isinstance(current, list) and current:
            parent[last] = current[0]
        elif action == "wrap":
            parent[last] = [current]
        elif action == "extension" and isinstance(parent, dict) and isinstance(last, str):
            # a primitive as an extension only, or an extension without content
            del parent[last]
            parent[f"_{last}"] = draw(
                st.sampled_from([{"id": "a"}, {"extension": [{"url": "http://e.org/x", "valueBoolean": True}]}])
            )
        elif action == "null" and isinstance(current, list):
            current.insert(draw(st.integers(min_value=0, max_value=len(current))), None)
    return data


@given(mutated())
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_mutations(data: Any) -> None:
    assert_parity(data)


@pytest.mark.parametrize(
    ("kind", "value", "ok"),
    [
        ("date", "2024-02-29", True),
        ("date", "2023-02-29", False),
        ("date", "2024-13", False),
        ("dateTime", "2024-06-01T12:00:00", False),  # a time needs a time zone
        ("dateTime", "2024-06-01T12:00:00+01:00", True),
        ("dateTime", "2016-12-31T23:59:60Z", True),  # a leap second
        ("instant", "2024-06-01", False),
        ("time", "24:00:00", False),
        ("code", "a  b", False),
        ("code", "in-progress", True),
        ("oid", "urn:oid:1.2.3", True),
        ("oid", "urn:oid:3.2", False),
        ("string", "anything", True),  # no model validator of its own beyond the walk's checks
    ],
)
def test_format_error(kind: str, value: str, ok: bool) -> None:
    assert (format_error(kind, value) is None) is ok
