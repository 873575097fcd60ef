"""Generic R4 validation of any resource: the checks of the ``fhir.resources`` R4B models plus the R4 rules they do
not enforce, in one walk of the raw JSON.

:func:`validate` answers the issues of one resource (a ``Bundle`` with everything in it), each naming its element
by a FHIRPath-like expression. The walk is guided by the R4B model metadata (:mod:`dhnet.fhir.structure`) and
checks:

* what the models check: JSON types of primitives (a number must be a JSON number), the primitive formats (the
  models' own validators for ``code``, ``date``, ``dateTime``, ``instant``, ``time``, ``url``, ``uuid`` and
  ``oid``, one value at a time and remembered, so a repeated date or code is checked once; valid Unicode in
  strings; finite decimals), unknown elements, nulls in arrays, cardinality (a required primitive may stand as an
  extension with content, as the models allow), choice elements (``value[x]``: one at most; required ones
  present with a value);
* what they do not: empty or null values, ``1..1`` vs ``0..*`` as list or not, codes of required bindings, ids
  (``[A-Za-z0-9\\-.]{1,64}``, no trailing newline), strict base64, absolute ``Coding``/``Identifier``/``Quantity``
  systems (and not a ``ValueSet`` URL), absolute canonicals, reference formats, contained resources (dom-2,
  dom-3, dom-4, ref-1), and the ``Bundle`` invariants (bdl-1..5, 7..12, absolute and consistent ``fullUrl``\\ s,
  search result ids, link relations).

Building the pydantic model of a resource is not needed for any of this, and it was six sevenths of the validation
time: the models are the oracle of ``tests/fhir/test_validation_parity.py`` instead, which asserts on HL7's
examples and validator cases and on thousands of generated mutations of them that whatever a model rejects,
:func:`validate` rejects too.

No terminology server and no profiles: code displays, code-system membership beyond required bindings, and
extension definitions are not checked (see ``bench/bench_fhir_peer.py`` for how this compares with HL7's Java
validator). Limits: R4 resources that R4B removed (e.g. ``MedicinalProduct``) are reported as unknown types.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from fhir_core import types as fhir_types
from pydantic import TypeAdapter, ValidationError

from dhnet.fhir.outcome import FhirError, Issue, Severity
from dhnet.fhir.structure import NUMBER_TYPES, Element, elements, is_resource_type, model_class

# \Z, not $: a $ also matches before a final newline
ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}\Z")
SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+\Z")
RELATIVE_REF_RE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/_history/[A-Za-z0-9\-.]{1,64})?\Z")
CONDITIONAL_REF_RE = re.compile(r"^[A-Z][A-Za-z]+\?\S*\Z")
BASE64_RE = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")
VALUESET_BASE = "http://hl7.org/fhir/ValueSet/"
SYSTEM_TYPES = ("Coding", "Identifier", "Quantity", "Age", "Count", "Distance", "Duration", "Money", "MoneyQuantity")
PAGING_RELATIONS = frozenset({"first", "previous", "prev", "next", "last"})
#: Code elements whose R4 binding is *required* and whose codes the R4B models list as in R4: only these are
#: checked against the model's list (the models also list codes of extensible bindings, and R4B changed some).
REQUIRED_BINDINGS: dict[str, frozenset[str]] = {
    "MeasureReport": frozenset({"status", "type"}),
    "Bundle": frozenset({"type"}),
    "BundleEntryRequest": frozenset({"method"}),
    "BundleEntrySearch": frozenset({"mode"}),
    "Patient": frozenset({"gender"}),
    "Observation": frozenset({"status"}),
    "Encounter": frozenset({"status"}),
    "Consent": frozenset({"status"}),
    "Location": frozenset({"status", "mode"}),
    "Narrative": frozenset({"status"}),
    "Identifier": frozenset({"use"}),
    "HumanName": frozenset({"use"}),
    "ContactPoint": frozenset({"system", "use"}),
    "Address": frozenset({"use", "type"}),
    "Quantity": frozenset({"comparator"}),
    "Age": frozenset({"comparator"}),
    "Count": frozenset({"comparator"}),
    "Distance": frozenset({"comparator"}),
    "Duration": frozenset({"comparator"}),
    "OperationOutcomeIssue": frozenset({"severity", "code"}),
}
MAX_DEPTH = 48
MAX_ISSUES = 200
MAX_BODY = 10 * 1024 * 1024


@dataclass
class Validated:
    """The outcome of :func:`validate`: the resource (JSON) and its issues."""

    data: Any
    resource_type: str | None
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(i.is_error for i in self.issues)


def parse_json(body: bytes) -> Any:
    """The JSON of a request body, or :class:`FhirError` 400 (code ``structure``) saying why it is not JSON."""
    if len(body) > MAX_BODY:
        raise FhirError.one(413, "too-costly", f"the body exceeds {MAX_BODY} bytes")
    if not body.strip():
        raise FhirError.one(400, "required", "the body is empty: expected a FHIR resource in JSON")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FhirError.one(400, "structure", f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise FhirError.one(
            400, "structure", f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise FhirError.one(400, "structure", f"invalid JSON: {exc}") from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def validate(data: Any, *, root: str | None = None, expected: Collection[str] | None = None) -> Validated:
    """Validate one resource (JSON value) against R4; ``root`` prefixes the expressions (``Bundle.entry[2].resource``).

    ``expected``: the resource types acceptable here (else an issue ``not-supported``... at the root).
    """
    resource_type = data.get("resourceType") if isinstance(data, dict) else None
    result = Validated(data, resource_type if isinstance(resource_type, str) else None)
    walker = _Walker()
    where = root or (resource_type if isinstance(resource_type, str) and resource_type else "Resource")
    if expected is not None and isinstance(resource_type, str) and resource_type not in expected:
        shown = ", ".join(sorted(expected))
        result.issues.append(
            Issue("not-supported", f"resource type {resource_type!r} is not accepted here (expected {shown})", where)
        )
        return result
    walker.resource(data, where, depth=0)
    result.issues.extend(walker.issues[:MAX_ISSUES])
    return result


# --- the walk ------------------------------------------------------------------------------------------


@dataclass
class _Root:
    """A resource that is not contained: the references and contained ids of its tree (ref-1, dom-3)."""

    contained_ids: dict[str, str] = field(default_factory=dict)  # id -> path
    local_refs: list[tuple[str, str]] = field(default_factory=list)  # (path, "#id")


#: The ``fhir_core`` annotations of the primitives whose format the models check with a validator of their own.
_FORMATS: dict[str, Any] = {
    "code": fhir_types.CodeType,
    "date": fhir_types.DateType,
    "dateTime": fhir_types.DateTimeType,
    "instant": fhir_types.InstantType,
    "time": fhir_types.TimeType,
    "url": fhir_types.UrlType,
    "uuid": fhir_types.UuidType,
    "oid": fhir_types.OidType,
}


@functools.cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    return TypeAdapter(_FORMATS[kind])


@functools.lru_cache(maxsize=65536)
def format_error(kind: str, value: str) -> str | None:
    """Why the models' validator of primitive ``kind`` refuses the string ``value``, or None when it accepts it.

    Remembered per value: a day's case reports repeat the same dates, statuses and codes many times."""
    if kind not in _FORMATS:
        return None
    try:
        _adapter(kind).validate_python(value)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        message = str(errors[0].get("msg", "invalid")) if errors else "invalid"
        return message.removeprefix("Value error, ")
    except ValueError as exc:  # raised as such by some of the models' validators
        return str(exc) or "invalid"
    return None


def _required_present(element: Element, data: dict[str, Any]) -> bool:
    """Whether a required element is there: a value, or for a primitive an extension with content in its place
    (``_status: {"extension": [...]}``; an id alone does not make the element present)."""
    if data.get(element.key) is not None:
        return True
    extension = data.get(f"_{element.key}") if element.primitive else None
    return isinstance(extension, dict) and bool(extension.get("extension"))


@functools.cache
def _cardinality(cls: Any) -> tuple[tuple[Element, ...], dict[str, bool]]:
    """The required elements of a type (not choices), and its choice elements with whether each is required:
    worked out once per type, not for every object of the type a request holds."""
    known = elements(cls)
    required = tuple(e for e in known.values() if e.required and e.choice is None)
    choices: dict[str, bool] = {}
    for element in known.values():
        if element.choice:
            choices[element.choice] = choices.get(element.choice, False) or element.choice_required
    return required, choices


class _Walker:
    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.too_deep = False
        self.roots: list[_Root] = []

    def issue(self, code: str, diagnostics: str, expression: str, severity: Severity = "error") -> None:
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(Issue(code, diagnostics, expression, severity))

    # resources

    def resource(self, data: Any, path: str, *, depth: int, contained: bool = False) -> None:
        if not isinstance(data, dict):
            self.issue("structure", f"expected a resource (a JSON object), got {_json_type(data)}", path)
            return
        rtype = data.get("resourceType")
        if rtype is None:
            self.issue("required", "resourceType is missing", path)
            return
        if not isinstance(rtype, str) or not is_resource_type(rtype):
            self.issue("not-supported", f"unknown resource type {rtype!r}", path)
            return
        cls = model_class(rtype)
        if not contained:
            self.roots.append(_Root())
        self.object(cls, data, path, depth=depth, is_resource=True)
        rid = data.get("id")
        if contained:
            self._contained_rules(data, path)
            if isinstance(rid, str):
                self.roots[-1].contained_ids.setdefault(rid, path)
        else:
            self._close_root(data, path)
        if rtype == "Bundle":
            self._bundle_rules(data, path)

    def _contained_rules(self, data: dict[str, Any], path: str) -> None:
        if "contained" in data:
            self.issue("invariant", "dom-2: a contained resource must not contain resources", f"{path}.contained")
        meta = data.get("meta")
        if isinstance(meta, dict):
            for key in ("versionId", "lastUpdated", "security"):
                if key in meta:
                    self.issue("invariant", f"dom-4/5: a contained resource must not have meta.{key}", f"{path}.meta")
        if "id" not in data:
            self.issue("required", "a contained resource must have an id", path)

    def _close_root(self, data: dict[str, Any], path: str) -> None:
        root = self.roots.pop()
        for ref_path, ref in root.local_refs:
            if ref != "#" and ref[1:] not in root.contained_ids:
                self.issue(
                    "invariant", f"ref-1: no contained resource with id {ref[1:]!r} for the local reference", ref_path
                )
        if root.contained_ids:
            used = set(_hash_strings(data))
            refers_to_container = "#" in used
            for cid, cpath in root.contained_ids.items():
                if f"#{cid}" not in used and not refers_to_container:
                    self.issue(
                        "invariant",
                        f"dom-3: the contained resource {cid!r} is not referenced from elsewhere in the resource",
                        cpath,
                    )

    # elements

    def object(self, cls: Any, data: dict[str, Any], path: str, *, depth: int, is_resource: bool = False) -> None:
        if depth > MAX_DEPTH:
            self.too_deep = True
            self.issue("too-costly", f"nested deeper than {MAX_DEPTH} levels", path)
            return
        if not data:
            self.issue("structure", "an element must have content (ele-1): empty object", path)
            return
        if cls is None:
            return
        known = elements(cls)
        present: dict[str, list[str]] = {}
        for key, value in data.items():
            if key == "resourceType" and is_resource:
                continue
            if key.startswith("_"):
                element = known.get(key[1:])
                if element is None or not element.extensible:
                    self.issue("structure", f"unrecognized property {key!r}", f"{path}.{key}")
                    continue
                self._primitive_extension(element, value, element.path(path), depth)
                if element.choice:
                    present.setdefault(element.choice, []).append(key[1:])
                continue
            element = known.get(key)
            if element is None:
                self.issue("structure", f"unrecognized property {key!r}", f"{path}.{key}")
                continue
            if element.choice:
                present.setdefault(element.choice, []).append(key)
            self.element(cls, element, value, data, element.path(path), depth)
        required_elements, choices = _cardinality(cls)
        for element in required_elements:
            if element.key not in data and f"_{element.key}" not in data:
                self.issue("required", f"{element.name} is required (minimum cardinality 1)", f"{path}.{element.name}")
            elif not _required_present(element, data):
                self.issue(
                    "required",
                    f"{element.name} is required: a value, or an extension in its place (minimum cardinality 1)",
                    f"{path}.{element.name}",
                )
        for choice, required in choices.items():
            keys = sorted(set(present.get(choice, [])))
            if len(keys) > 1:
                self.issue("structure", f"{choice}[x]: only one of {', '.join(keys)} is allowed", f"{path}.{choice}")
            elif required and not keys:
                self.issue("required", f"{choice}[x] is required (minimum cardinality 1)", f"{path}.{choice}")
            elif required and not any(data.get(k) is not None for k in keys):
                self.issue("required", f"{choice}[x] is required: a value, not only an extension", f"{path}.{choice}")
        self._type_rules(cls, data, path)

    def element(self, cls: Any, element: Element, value: Any, parent: dict[str, Any], path: str, depth: int) -> None:
        if element.is_list:
            if not isinstance(value, list):
                self.issue("structure", f"{element.name} repeats: expected a JSON array", path)
                return
            if not value:
                self.issue("structure", "an array must not be empty", path)
                return
            extensions = parent.get(f"_{element.key}") if element.primitive else None
            for i, item in enumerate(value):
                if item is None and isinstance(extensions, list) and i < len(extensions) and extensions[i]:
                    continue  # a null aligned with a primitive extension
                self.item(element, item, f"{path}[{i}]", depth, cls.__name__)
        else:
            if isinstance(value, list):
                self.issue("structure", f"{element.name} does not repeat: expected a single value, not an array", path)
                return
            self.item(element, value, path, depth, cls.__name__)

    def item(self, element: Element, value: Any, path: str, depth: int, owner: str = "") -> None:
        if value is None:
            self.issue("structure", "null is not allowed (leave the element out)", path)
            return
        if element.primitive:
            self.primitive(element, value, path, owner)
            return
        if not isinstance(value, dict):
            self.issue("structure", f"expected an object ({element.type}), got {_json_type(value)}", path)
            return
        if element.type == "Resource":
            self.resource(value, path, depth=depth + 1, contained=element.key == "contained")
            return
        self.object(model_class(element.type), value, path, depth=depth + 1)

    def _primitive_extension(self, element: Element, value: Any, path: str, depth: int) -> None:
        if element.is_list and not isinstance(value, list):
            self.issue("structure", f"_{element.key}: {element.name} repeats, so expected a JSON array", path)
            return
        if not element.is_list and isinstance(value, list):
            self.issue("structure", f"_{element.key}: {element.name} does not repeat, so expected an object", path)
            return
        items = value if element.is_list else [value]
        for i, item in enumerate(items):
            if item is None and element.is_list:
                continue
            where = f"{path}[{i}]" if element.is_list else path
            if not isinstance(item, dict):
                self.issue("structure", f"expected an object (the id and extensions of {element.name})", where)
            else:
                self.object(model_class("Element"), item, where, depth=depth + 1)

    def primitive(self, element: Element, value: Any, path: str, owner: str = "") -> None:
        kind = element.type
        if kind == "boolean":
            if not isinstance(value, bool):
                self.issue("structure", f"expected a JSON boolean, got {_json_type(value)}", path)
            return
        if kind in NUMBER_TYPES:
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.issue("structure", f"expected a JSON number ({kind}), got {_json_type(value)}", path)
                return
            if kind != "decimal" and (isinstance(value, float) and not value.is_integer()):
                self.issue("value", f"{kind}: {value!r} is not a whole number", path)
            elif kind == "positiveInt" and value < 1:
                self.issue("value", f"positiveInt: {value!r} is not positive", path)
            elif kind == "unsignedInt" and value < 0:
                self.issue("value", f"unsignedInt: {value!r} is negative", path)
            elif kind in ("integer", "positiveInt", "unsignedInt") and not -(2**31) <= value < 2**31:
                self.issue("value", f"{kind}: {value!r} is out of the 32-bit range", path)
            elif kind == "integer64" and not -(2**63) < value < 2**63:
                self.issue("value", f"{kind}: {value!r} is out of the 64-bit range", path)
            elif isinstance(value, float) and not math.isfinite(value):
                self.issue("value", f"{kind}: {value!r} is not a finite number", path)
            return
        if not isinstance(value, str):
            self.issue("structure", f"expected a JSON string ({kind}), got {_json_type(value)}", path)
            return
        if not value.strip():
            self.issue("value", "a value must not be empty or only whitespace", path)
            return
        if not value.isascii() and not _encodable(value):
            self.issue("value", "not valid Unicode (a lone surrogate escape such as \\ud800)", path)
            return
        before = len(self.issues)
        if kind == "code":
            if value != value.strip() or "  " in value:
                self.issue("value", f"code {value!r}: no leading, trailing or repeated spaces", path)
            elif element.codes and element.key in REQUIRED_BINDINGS.get(owner, ()) and value not in element.codes:
                allowed = " | ".join(element.codes) if len(element.codes) <= 12 else f"{len(element.codes)} codes"
                self.issue("code-invalid", f"{value!r} is not in the required value set ({allowed})", path)
        elif kind == "id":
            if len(value) > 64:
                self.issue("value", f"invalid id: too long ({len(value)} characters, at most 64)", path)
            elif not ID_RE.match(value):
                self.issue("value", f"invalid id {value!r}: only A-Z a-z 0-9 - . allowed", path)
        elif kind == "base64Binary":
            if not BASE64_RE.match(re.sub(r"\s+", "", value)) or not _b64ok(value):
                self.issue("value", "not valid base64", path)
        elif kind == "canonical" and not value.startswith("#") and not SCHEME_RE.match(value):
            self.issue("value", f"canonical {value!r}: should be an absolute URL or a #fragment", path, "warning")
        if kind in _FORMATS and len(self.issues) == before and (error := format_error(kind, value)) is not None:
            self.issue("value", f"invalid {kind} {value[:80]!r}: {error}", path)

    # rules of particular types

    def _type_rules(self, cls: Any, data: dict[str, Any], path: str) -> None:
        name = cls.__name__
        if name in SYSTEM_TYPES:
            system = data.get("system")
            if isinstance(system, str) and system.strip():
                if not SCHEME_RE.match(system):
                    self.issue(
                        "value",
                        f"{name}.system {system!r} must be an absolute URI, not a local reference",
                        path + ".system",
                    )
                elif name == "Coding" and system.startswith(VALUESET_BASE):
                    self.issue(
                        "value", f"Coding.system {system!r} names a value set, not a code system", path + ".system"
                    )
        elif name == "Reference":
            ref = data.get("reference")
            if isinstance(ref, str) and ref.strip():
                if ref.startswith("#"):
                    if self.roots:
                        self.roots[-1].local_refs.append((path + ".reference", ref))
                elif not (SCHEME_RE.match(ref) or RELATIVE_REF_RE.match(ref) or CONDITIONAL_REF_RE.match(ref)):
                    self.issue(
                        "value",
                        f"reference {ref!r}: a relative reference must be [ResourceType]/[id]",
                        path + ".reference",
                    )
                else:
                    m = RELATIVE_REF_RE.match(ref)
                    if m and not is_resource_type(m.group(1)):
                        self.issue(
                            "value", f"reference {ref!r}: unknown resource type {m.group(1)!r}", path + ".reference"
                        )

    def _bundle_rules(self, data: dict[str, Any], path: str) -> None:
        btype = data.get("type")
        btype = btype if isinstance(btype, str) else ""
        entries: list[Any] = data["entry"] if isinstance(data.get("entry"), list) else []
        if "total" in data and btype not in ("searchset", "history"):
            self.issue("invariant", "bdl-1: total only when a search or history", f"{path}.total")
        links: list[Any] = data["link"] if isinstance(data.get("link"), list) else []
        if btype not in ("searchset", "history"):
            for i, link in enumerate(links):
                if isinstance(link, dict) and link.get("relation") in PAGING_RELATIONS:
                    self.issue(
                        "invalid",
                        f"link relation {link.get('relation')!r} is for search and history bundles only",
                        f"{path}.link[{i}].relation",
                    )
        seen: dict[tuple[str, Any], int] = {}
        search_type = _search_type(links) if btype == "searchset" else None
        for i, entry in enumerate(entries):
            where = f"{path}.entry[{i}]"
            if not isinstance(entry, dict):
                continue
            resource = entry.get("resource")
            if "search" in entry and btype != "searchset":
                self.issue("invariant", "bdl-2: entry.search only when a search", f"{where}.search")
            if btype in ("batch", "transaction", "history"):
                if "request" not in entry:
                    self.issue("invariant", f"bdl-3: entry.request is required in a {btype} bundle", where)
            elif "request" in entry:
                self.issue(
                    "invariant", f"bdl-3: entry.request is not allowed in a {btype or 'bundle'}", f"{where}.request"
                )
            if btype in ("batch-response", "transaction-response", "history"):
                if "response" not in entry:
                    self.issue("invariant", f"bdl-4: entry.response is required in a {btype} bundle", where)
            elif "response" in entry:
                self.issue(
                    "invariant", f"bdl-4: entry.response is not allowed in a {btype or 'bundle'}", f"{where}.response"
                )
            if resource is None and "request" not in entry and "response" not in entry:
                self.issue("invariant", "bdl-5: an entry must have a resource, a request or a response", where)
            full_url = entry.get("fullUrl")
            rtype = resource.get("resourceType") if isinstance(resource, dict) else None
            rid = resource.get("id") if isinstance(resource, dict) else None
            if isinstance(full_url, str) and full_url.strip():
                if not SCHEME_RE.match(full_url):
                    self.issue("invalid", f"fullUrl {full_url!r} must be an absolute URL", f"{where}.fullUrl")
                elif "/_history/" in full_url:
                    self.issue("invariant", "bdl-8: fullUrl cannot be a version-specific reference", f"{where}.fullUrl")
                elif full_url.startswith(("http://", "https://")) and isinstance(rtype, str) and isinstance(rid, str):
                    parts = full_url.rstrip("/").split("/")
                    if len(parts) >= 2 and is_resource_type(parts[-2]) and (parts[-2], parts[-1]) != (rtype, rid):
                        self.issue(
                            "invalid",
                            f"fullUrl {full_url!r} looks like a RESTful URL, so it must end with {rtype}/{rid}",
                            f"{where}.fullUrl",
                        )
                if btype != "history":
                    version = None
                    if isinstance(resource, dict) and isinstance(resource.get("meta"), dict):
                        version = resource["meta"].get("versionId")
                    if not isinstance(version, str | None):  # malformed (reported as such): a key all the same
                        version = json.dumps(version, sort_keys=True)
                    key = (full_url, version)
                    if key in seen:
                        self.issue(
                            "invariant",
                            f"bdl-7: fullUrl {full_url!r} repeats entry[{seen[key]}] (with the same versionId)",
                            f"{where}.fullUrl",
                        )
                    seen.setdefault(key, i)
            search: dict[str, Any] = entry["search"] if isinstance(entry.get("search"), dict) else {}
            default_mode = "outcome" if rtype == "OperationOutcome" else "match"
            if btype == "searchset" and isinstance(resource, dict) and search.get("mode", default_mode) == "match":
                if not rid:
                    self.issue("invalid", "search results must have ids", f"{where}.resource")
                if search_type and rtype != search_type:
                    self.issue(
                        "invalid",
                        f"{rtype} is not a match for a search of {search_type} (see link self)",
                        f"{where}.resource",
                    )
        first = entries[0].get("resource") if entries and isinstance(entries[0], dict) else None
        first_type = first.get("resourceType") if isinstance(first, dict) else None
        if btype == "document":
            ident = data.get("identifier")
            if not (isinstance(ident, dict) and ident.get("system") and ident.get("value")):
                self.issue("invariant", "bdl-9: a document must have an identifier with a system and a value", path)
            if "timestamp" not in data:
                self.issue("invariant", "bdl-10: a document must have a date (timestamp)", path)
            if first_type != "Composition":
                self.issue("invariant", "bdl-11: a document must have a Composition as the first resource", path)
        if btype == "message" and first_type != "MessageHeader":
            self.issue("invariant", "bdl-12: a message must have a MessageHeader as the first resource", path)


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _b64ok(value: str) -> bool:
    try:
        base64.b64decode(re.sub(r"\s+", "", value), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _search_type(links: list[Any]) -> str | None:
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "self" and isinstance(link.get("url"), str):
            head = link["url"].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            return head if is_resource_type(head) else None
    return None


def _hash_strings(value: Any) -> Iterator[str]:
    """Every string value starting with ``#`` in a JSON tree (references, canonicals, uris), narrative aside."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key != "div":
                yield from _hash_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _hash_strings(item)
    elif isinstance(value, str) and value.startswith("#"):
        yield value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
