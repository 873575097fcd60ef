"""Rubric files: validate them, read the packaged ones, load them into the database, import official texts, export.

A rubric file (``maturity/data/rubric_*.json``, shape in ``maturity/data/README.md``) is checked by :func:`validate`,
which names the element at fault (``components[2].indicators[0].phases.3: missing``) so that whoever wrote the file
can fix it. The file part of this module is pure Python (Django is imported inside the database functions only):
``dhnet maturity score`` reads the packaged rubrics without a database.

The database part: :func:`write_rubric` creates a rubric from a validated file (used by the data migration
``0002_rubrics`` with the historical models, and by the import); :func:`import_rubric` is the service behind
``dhnet maturity rubric import`` and ``POST /api/v1/maturity/rubrics/import`` (``maturity:rubric:manage``,
audited): it creates a new rubric, or replaces the names, questions and phase texts of an existing one; the
structure may change only while no assessment uses the rubric. :func:`export_rubric` writes a stored rubric back in
the file shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from dhnet.maturity.scoring import RubricStructure
from dhnet.platform.errors import Conflict, Forbidden, Invalid

if TYPE_CHECKING:
    from dhnet.maturity.models import Rubric
    from dhnet.platform.access import Actor

__all__ = [
    "PACKAGED",
    "ImportResult",
    "RubricError",
    "export_rubric",
    "import_rubric",
    "packaged",
    "parse",
    "structure_of",
    "validate",
    "write_rubric",
]

#: The CLI's ``--rubric`` names -> (rubric code, packaged file).
PACKAGED: dict[str, tuple[str, str]] = {
    "classic": ("gdhm-classic", "rubric_classic.json"),
    "current": ("gdhm-current", "rubric_current.json"),
}
PHASE_KEYS = ("1", "2", "3", "4", "5")
PERMISSION = "maturity:rubric:manage"
#: Errors listed in one message at most (a file written the wrong way round would otherwise give hundreds).
MAX_ERRORS = 20

_RUBRIC_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_TOP_CODE = re.compile(r"^[1-9][0-9]{0,3}$")
_SUB_CODE = re.compile(r"^([1-9][0-9]{0,3})([a-z])$")
_TOP_KEYS = {"code", "name", "source", "licence_note", "official_texts", "components"}
_COMPONENT_KEYS = {"position", "name", "indicators"}
_INDICATOR_KEYS = {"code", "name", "question", "phases", "sub_indicators"}
_SUB_KEYS = _INDICATOR_KEYS - {"sub_indicators"}
_LIMITS = {"rubric name": 200, "component name": 200, "indicator name": 300, "text": 5000}


class RubricError(Invalid):
    """A rubric file that cannot be used; ``errors`` lists each fault as ``<element path>: <what is wrong>``."""

    def __init__(self, errors: list[str]) -> None:
        shown = errors[:MAX_ERRORS]
        more = f" (and {len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
        super().__init__("rubric file: " + "; ".join(shown) + more)
        self.errors = errors


class _Checker:
    """Collects the faults of one file with the path of the element at fault."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def keys(self, path: str, value: Mapping[str, Any], allowed: set[str]) -> None:
        for key in sorted(set(value) - allowed, key=str):
            self.fail(f"{path}.{key}" if path else str(key), "unknown field")

    def text(self, path: str, value: Any, limit: int, *, required: bool = True) -> str:
        if value is None and not required:
            return ""
        if value is None:
            self.fail(path, "missing")
            return ""
        if not isinstance(value, str):
            self.fail(path, f"must be a string, not {type(value).__name__}")
            return ""
        cleaned = " ".join(value.split())
        if required and not cleaned:
            self.fail(path, "empty")
        elif len(cleaned) > limit:
            self.fail(path, f"longer than {limit} characters")
        return cleaned

    def listing(self, path: str, value: Any, *, required: bool = True) -> list[Any]:
        if value is None:
            if required:
                self.fail(path, "missing")
            return []
        if not isinstance(value, list):
            self.fail(path, f"must be a list, not {type(value).__name__}")
            return []
        if required and not value:
            self.fail(path, "empty")
        return value

    def obj(self, path: str, value: Any) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.fail(path, f"must be an object, not {type(value).__name__}")
            return None
        return value


def _indicator(check: _Checker, path: str, raw: Any, *, parent: str | None, seen: dict[str, str]) -> dict[str, Any]:
    """One indicator (or sub-indicator, when ``parent`` is its parent's code), cleaned; faults go to ``check``."""
    data = check.obj(path, raw)
    if data is None:
        return {}
    check.keys(path, data, _SUB_KEYS if parent else _INDICATOR_KEYS)
    code = data.get("code")
    if code is None:
        check.fail(f"{path}.code", "missing")
        code = ""
    elif not isinstance(code, str):
        check.fail(f"{path}.code", f"must be a string, not {type(code).__name__}")
        code = ""
    else:
        code = code.strip()
        if parent is None and not _TOP_CODE.match(code):
            check.fail(f"{path}.code", f"{code!r} is not an indicator code (a number such as '7')")
        elif parent is not None:
            match = _SUB_CODE.match(code)
            if not match:
                check.fail(f"{path}.code", f"{code!r} is not a sub-indicator code (a number and a letter such as '9a')")
            elif match.group(1) != parent:
                check.fail(f"{path}.code", f"sub-indicator {code!r} does not belong to indicator {parent!r}")
        if code and code in seen:
            check.fail(f"{path}.code", f"{code!r} appears twice (first at {seen[code]})")
        elif code:
            seen[code] = path
    out: dict[str, Any] = {
        "code": code,
        "name": check.text(f"{path}.name", data.get("name"), _LIMITS["indicator name"]),
        "question": check.text(f"{path}.question", data.get("question"), _LIMITS["text"]),
    }
    phases_raw = data.get("phases")
    phases: dict[str, str] = {}
    if phases_raw is None:
        check.fail(f"{path}.phases", "missing")
    elif (phase_map := check.obj(f"{path}.phases", phases_raw)) is not None:
        # GDHM's own files carry "-1": "Not Available"; that label is the platform's, so it is accepted and dropped.
        check.keys(f"{path}.phases", phase_map, {*PHASE_KEYS, "-1"})
        for key in PHASE_KEYS:
            if key not in phase_map:
                check.fail(f"{path}.phases.{key}", "missing")
            else:
                phases[key] = check.text(f"{path}.phases.{key}", phase_map[key], _LIMITS["text"])
    out["phases"] = phases
    if parent is None:
        subs = check.listing(f"{path}.sub_indicators", data.get("sub_indicators"), required=False)
        out["sub_indicators"] = [
            _indicator(check, f"{path}.sub_indicators[{j}]", sub, parent=code or "?", seen=seen)
            for j, sub in enumerate(subs)
        ]
    return out


def validate(data: Any) -> dict[str, Any]:
    """The rubric file ``data`` checked and cleaned (whitespace of texts collapsed), or :class:`RubricError`.

    Every fault is reported with its element path, e.g. ``components[2].indicators[0].phases.3: missing``.
    """
    check = _Checker()
    top = check.obj("rubric", data)
    if top is None:
        raise RubricError(check.errors)
    check.keys("", top, _TOP_KEYS)
    code = top.get("code")
    if not isinstance(code, str) or not _RUBRIC_CODE.match(code.strip()):
        check.fail("code", "missing" if code is None else f"{code!r} is not a rubric code (a-z, 0-9, '-', 1-40)")
        code = ""
    official = top.get("official_texts")
    if official is not None and not isinstance(official, bool):
        check.fail("official_texts", "must be true or false")
    out: dict[str, Any] = {
        "code": str(code).strip(),
        "name": check.text("name", top.get("name"), _LIMITS["rubric name"]),
        "source": check.text("source", top.get("source"), _LIMITS["text"], required=False),
        "licence_note": check.text("licence_note", top.get("licence_note"), _LIMITS["text"], required=False),
        "official_texts": official if isinstance(official, bool) else None,
    }
    seen: dict[str, str] = {}
    positions: dict[int, str] = {}
    names: dict[str, str] = {}
    components = []
    for i, raw in enumerate(check.listing("components", top.get("components"))):
        path = f"components[{i}]"
        comp = check.obj(path, raw)
        if comp is None:
            continue
        check.keys(path, comp, _COMPONENT_KEYS)
        position = comp.get("position")
        if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= 100:
            check.fail(f"{path}.position", "missing" if position is None else f"{position!r} is not a number 1..100")
            position = 0
        elif position in positions:
            check.fail(f"{path}.position", f"{position} appears twice (first at {positions[position]})")
        else:
            positions[position] = path
        name = check.text(f"{path}.name", comp.get("name"), _LIMITS["component name"])
        if name and name in names:
            check.fail(f"{path}.name", f"{name!r} appears twice (first at {names[name]})")
        names.setdefault(name, path)
        indicators = [
            _indicator(check, f"{path}.indicators[{j}]", ind, parent=None, seen=seen)
            for j, ind in enumerate(check.listing(f"{path}.indicators", comp.get("indicators")))
        ]
        components.append({"position": position, "name": name, "indicators": indicators})
    if check.errors:
        raise RubricError(check.errors)
    out["components"] = sorted(components, key=lambda c: c["position"])
    return out


def parse(text: str | bytes) -> dict[str, Any]:
    """A rubric file's text, parsed and validated (:class:`RubricError` for JSON that is not JSON, too)."""
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RubricError([f"rubric: not JSON ({exc})"]) from None
    return validate(data)


def packaged(name: str) -> dict[str, Any]:
    """The rubric shipped with dhnet: ``classic``/``current`` or its code ``gdhm-classic``/``gdhm-current``."""
    for short, (code, filename) in PACKAGED.items():
        if name in (short, code):
            text = resources.files("dhnet.maturity").joinpath("data", filename).read_text(encoding="utf-8")
            return validate(json.loads(text))
    raise KeyError(name)


def structure_of(data: Mapping[str, Any]) -> RubricStructure:
    """What scoring needs of a (validated) rubric file."""
    return RubricStructure.from_dict(data)


# --- database ---------------------------------------------------------------------------------------------------


def _models() -> SimpleNamespace:
    from dhnet.maturity import models

    return SimpleNamespace(
        Rubric=models.Rubric,
        Component=models.Component,
        Indicator=models.Indicator,
        PhaseDefinition=models.PhaseDefinition,
    )


def _flat(data: Mapping[str, Any]) -> list[tuple[int, dict[str, Any], str | None]]:
    """(component position, indicator, parent code) in rubric order: each indicator followed by its sub-indicators."""
    rows: list[tuple[int, dict[str, Any], str | None]] = []
    for comp in data["components"]:
        for ind in comp["indicators"]:
            rows.append((comp["position"], ind, None))
            rows.extend((comp["position"], sub, ind["code"]) for sub in ind.get("sub_indicators", ()))
    return rows


def write_rubric(data: Mapping[str, Any], models: Any = None, *, official: bool = False) -> Any:
    """Create the rubric of the validated file ``data`` (its code must not exist) with its whole structure.

    ``models`` has the attributes ``Rubric``, ``Component``, ``Indicator``, ``PhaseDefinition`` (the data
    migration passes the historical models; by default the current ones).
    """
    m = models or _models()
    rubric = m.Rubric.objects.create(
        code=data["code"],
        name=data["name"],
        source=data.get("source", ""),
        licence_note=data.get("licence_note", ""),
        official_texts=official,
    )
    components = {
        c["position"]: m.Component.objects.create(rubric=rubric, position=c["position"], name=c["name"])
        for c in data["components"]
    }
    created: dict[str, Any] = {}
    phases: list[Any] = []
    for position, (component, ind, parent) in enumerate(_flat(data), 1):
        row = m.Indicator.objects.create(
            rubric=rubric,
            component=components[component],
            code=ind["code"],
            parent=created.get(parent) if parent else None,
            position=position,
            name=ind["name"],
            question=ind["question"],
        )
        created[ind["code"]] = row
        phases.extend(m.PhaseDefinition(indicator=row, phase=int(k), text=t) for k, t in ind["phases"].items())
    m.PhaseDefinition.objects.bulk_create(phases)
    return rubric


def _shape(data: Mapping[str, Any]) -> dict[str, tuple[int, str | None, int]]:
    """The structure of a file: code -> (component position, parent code, order in the rubric)."""
    return {ind["code"]: (component, parent, n) for n, (component, ind, parent) in enumerate(_flat(data))}


def _stored_shape(rubric: Rubric) -> dict[str, tuple[int, str | None, int]]:
    rows = rubric.indicators.select_related("component", "parent").order_by("position", "id")
    return {i.code: (i.component.position, i.parent.code if i.parent else None, n) for n, i in enumerate(rows)}


def _structure_change(old: dict[str, tuple[int, str | None, int]], new: dict[str, tuple[int, str | None, int]]) -> str:
    """The first structural difference, worded for the person importing, or ``""`` if the structure is the same."""
    for code in sorted(set(new) - set(old), key=_code_key):
        return f"indicator {code!r} would be added"
    for code in sorted(set(old) - set(new), key=_code_key):
        return f"indicator {code!r} would be removed"
    for code in sorted(old, key=_code_key):
        (oc, op, on), (nc, np, nn) = old[code], new[code]
        if oc != nc:
            return f"indicator {code!r} would move from component {oc} to component {nc}"
        if op != np:
            return f"indicator {code!r} would change its parent from {op!r} to {np!r}"
        if on != nn:
            return f"indicator {code!r} would change its place in the rubric"
    return ""


def _code_key(code: str) -> tuple[int, str]:
    digits = re.match(r"\d*", code).group(0)  # type: ignore[union-attr]
    return (int(digits) if digits else 0, code)


@dataclass(frozen=True)
class ImportResult:
    """What an import did: the rubric, whether it was created or its structure rebuilt, and the texts changed."""

    rubric: Rubric
    created: bool
    rebuilt: bool
    changed: int
    official_texts: bool


def import_rubric(actor: Actor, data: Any) -> ImportResult:
    """Import a rubric file (parsed JSON): create the rubric, or replace the texts of the one with that code.

    Needs ``maturity:rubric:manage``. The file is validated first (nothing is stored from a faulty file). An
    existing rubric gets the file's rubric, component and indicator names, questions and phase texts; its structure
    (codes, components, parents, order) may change only while no assessment uses it, otherwise 409 naming the
    indicator. The rubric is marked ``official_texts`` unless the file says ``"official_texts": false`` (the
    packaged files do). Importing the same file again changes nothing (but is audited again).
    """
    from django.db import transaction

    from dhnet.audit.services import record
    from dhnet.maturity.models import Assessment, Rubric

    if not actor.has(PERMISSION):
        raise Forbidden(f"importing a rubric needs the permission {PERMISSION}")
    clean = validate(data)
    official = True if clean["official_texts"] is None else bool(clean["official_texts"])
    with transaction.atomic():
        rubric = Rubric.objects.select_for_update().filter(code=clean["code"]).first()
        created = rebuilt = False
        changed = 0
        if rubric is None:
            rubric = write_rubric(clean, official=official)
            created = True
        else:
            change = _structure_change(_stored_shape(rubric), _shape(clean))
            if change:
                used = Assessment.objects.filter(rubric=rubric).count()
                if used:
                    raise Conflict(
                        f"rubric {rubric.code!r}: {change}, but {used} assessment(s) use this rubric; once "
                        "assessments exist only names, questions and phase texts may be imported"
                    )
                rebuilt = True
            changed = _upsert(rubric, clean)
            fields = {
                "name": clean["name"],
                "source": clean["source"],
                "licence_note": clean["licence_note"],
                "official_texts": official,
            }
            dirty = [f for f, v in fields.items() if getattr(rubric, f) != v]
            for f in dirty:
                setattr(rubric, f, fields[f])
            if dirty:
                rubric.save(update_fields=dirty)
            changed += len(dirty)
        record(
            actor,
            "maturity.rubric.import",
            object_type="maturity.Rubric",
            object_id=rubric.code,
            detail={
                "code": rubric.code,
                "created": created,
                "rebuilt": rebuilt,
                "changed": changed,
                "official_texts": official,
                "indicators": len(_flat(clean)),
            },
            permission=PERMISSION,
        )
    return ImportResult(rubric, created, rebuilt, changed, official)


def _upsert(rubric: Rubric, clean: Mapping[str, Any]) -> int:
    """Make the stored rubric equal to the file: components, indicators (matched by code), texts; count changes.

    Rows are updated in place (their ids stay, so references from other contexts stay valid); an indicator or a
    component the file no longer has is deleted, or 409 naming it when another record still refers to it.
    """
    from django.db.models import ProtectedError

    from dhnet.maturity.models import Component, Indicator, PhaseDefinition

    changed = 0
    components = {c.position: c for c in Component.objects.filter(rubric=rubric)}
    for comp in clean["components"]:
        row = components.get(comp["position"])
        if row is None:
            components[comp["position"]] = Component.objects.create(
                rubric=rubric, position=comp["position"], name=comp["name"]
            )
            changed += 1
        elif row.name != comp["name"]:
            row.name = comp["name"]
            row.save(update_fields=["name"])
            changed += 1
    indicators = {i.code: i for i in Indicator.objects.filter(rubric=rubric)}
    phases = {(p.indicator_id, p.phase): p for p in PhaseDefinition.objects.filter(indicator__rubric=rubric)}
    for position, (component, ind, parent) in enumerate(_flat(clean), 1):
        values = {
            "component": components[component],
            "parent": indicators[parent] if parent else None,
            "position": position,
            "name": ind["name"],
            "question": ind["question"],
        }
        row = indicators.get(ind["code"])
        if row is None:
            row = indicators[ind["code"]] = Indicator.objects.create(rubric=rubric, code=ind["code"], **values)
            changed += 1
        else:
            dirty = [f for f, v in values.items() if getattr(row, f) != v]
            for f in dirty:
                setattr(row, f, values[f])
            if dirty:
                row.save(update_fields=dirty)
                changed += len([f for f in dirty if f in ("name", "question")]) or 1
        for key, text in ind["phases"].items():
            phase = phases.get((row.pk, int(key)))
            if phase is None:
                PhaseDefinition.objects.create(indicator=row, phase=int(key), text=text)
                changed += 1
            elif phase.text != text:
                phase.text = text
                phase.save(update_fields=["text"])
                changed += 1
    wanted = {ind["code"] for _, ind, _ in _flat(clean)}
    gone = sorted((i for code, i in indicators.items() if code not in wanted), key=lambda i: i.parent_id is None)
    positions = {c["position"] for c in clean["components"]}
    try:
        for row in gone:  # sub-indicators first
            name = f"indicator {row.code!r}"
            row.delete()
            changed += 1
        for position, comp_row in components.items():
            if position not in positions:
                name = f"component {position} ({comp_row.name!r})"
                comp_row.delete()
                changed += 1
    except ProtectedError:
        raise Conflict(
            f"rubric {rubric.code!r}: {name} would be removed, but other records (targets, roadmap items) refer to it"
        ) from None
    return changed


def export_rubric(rubric: Rubric) -> dict[str, Any]:
    """A stored rubric in the file shape (``import_rubric`` of the result changes nothing)."""
    indicators = list(
        rubric.indicators.select_related("component", "parent").prefetch_related("phases").order_by("position", "id")
    )

    def entry(ind: Any) -> dict[str, Any]:
        return {
            "code": ind.code,
            "name": ind.name,
            "question": ind.question,
            "phases": {str(p.phase): p.text for p in sorted(ind.phases.all(), key=lambda p: p.phase)},
        }

    components = []
    for comp in rubric.components.order_by("position"):
        tops = []
        for ind in indicators:
            if ind.component_id != comp.pk or ind.parent_id is not None:
                continue
            item = entry(ind)
            item["sub_indicators"] = [entry(s) for s in indicators if s.parent_id == ind.pk]
            tops.append(item)
        components.append({"position": comp.position, "name": comp.name, "indicators": tops})
    return {
        "code": rubric.code,
        "name": rubric.name,
        "source": rubric.source,
        "licence_note": rubric.licence_note,
        "official_texts": rubric.official_texts,
        "components": components,
    }
