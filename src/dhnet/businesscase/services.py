"""Business cases: who may read and write them, creating and editing with a version per save, cost and benefit
lines in bulk (form table, JSON, CSV), copying, and the figures (through :mod:`dhnet.businesscase.finance`).

Who may do what (docs/maturity-design.md, and where it was silent, chosen here):

- Writing (``businesscase:case:write``, planners and partners) a case *of a country* needs the actor to administer
  that country (:func:`administers`: a registry manager, or appointed the country's administrator) — or to be the
  case's creator, who keeps editing what they wrote. A case with no country (a partner's investment not yet
  adopted by a ministry) is its creator's alone.
- Reading: the country's administrators, the creator, and every signed-in user once the case is ``shared``;
  anyone else gets 404 (existence is not revealed). Reading one case is audited (``businesscase.case.read``):
  cases are not public data.
- Lines in bulk *replace* the case's cost (or benefit) lines: the editor's grid and an upload hold the whole table.
  The same table sent again changes nothing (no new version, no duplicate line); one bad row rejects the whole
  table with a 400 naming the row and field, and nothing is stored.
- Every save that changes something adds a :class:`CaseVersion` with the whole case (fields and lines), so that
  the history can be read and any two versions compared (:func:`diff`).

Every write checks permission, runs in one transaction and records its audit entry in it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from dhnet.atlas.models import CostPhase, CountryAdmin
from dhnet.atlas.services import currencies
from dhnet.audit.services import record
from dhnet.businesscase import finance
from dhnet.businesscase.models import BenefitKind, BenefitLine, BusinessCase, CaseVersion, CostCategory, CostLine
from dhnet.maturity import services as maturity
from dhnet.network import timezones
from dhnet.planning.models import RoadmapItem
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid, NotFound
from dhnet.platform.validate import text as _text

WRITE = "businesscase:case:write"
REGISTRY_MANAGE = "atlas:registry:manage"

PUBLIC_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
PUBLIC_ID_RE = re.compile(r"^BC-[2-9A-HJ-NP-Z]{6}$")
MAX_TEXT = 20_000
MAX_LINES = 2_000
MAX_UPLOAD = 2 * 1024 * 1024
MAX_AMOUNT = Decimal("99999999999999.99")
MAX_QUANTITY = Decimal("999999999999.9999")
MIN_RATE, MAX_RATE = Decimal("-0.99"), Decimal("1")

PHASES: tuple[str, ...] = tuple(value for value, _ in CostPhase.choices)
CATEGORIES: tuple[str, ...] = tuple(value for value, _ in CostCategory.choices)
KINDS: tuple[str, ...] = tuple(value for value, _ in BenefitKind.choices)
FIELDS = (
    "country",
    "title",
    "investment",
    "roadmap_item",
    "currency",
    "base_year",
    "horizon_years",
    "discount_rate",
    "shared",
)
COST_COLUMNS = ("phase", "category", "year", "amount", "note")
BENEFIT_COLUMNS = ("kind", "year", "quantity", "unit", "unit_value", "assumption")


# --- who ------------------------------------------------------------------------------------------------------------


def administers(actor: Actor, country: str) -> bool:
    """Whether ``actor`` administers ``country`` (``maturity.services.administers``: holds
    ``atlas:registry:manage`` or is appointed its ``atlas.CountryAdmin``); no one administers "no country"."""
    return bool(country) and maturity.administers(actor, country)


def visible_cases(actor: Actor) -> QuerySet[BusinessCase]:
    """The cases ``actor`` may read: its countries', its own, and (signed in) the shared ones."""
    qs = BusinessCase.objects.all()
    if not actor.is_authenticated:
        return qs.none()
    if actor.has(REGISTRY_MANAGE):
        return qs
    condition = Q(shared=True)
    if actor.user_id is not None:
        condition |= Q(created_by_id=actor.user_id)
        countries = list(CountryAdmin.objects.filter(user_id=actor.user_id).values_list("country", flat=True))
        if countries:
            condition |= Q(country__in=countries)
    return qs.filter(condition)


def may_write(actor: Actor, case: BusinessCase) -> bool:
    if not actor.has(WRITE):
        return False
    if actor.user_id is not None and case.created_by_id == actor.user_id:
        return True
    return administers(actor, case.country)


def _require_write(actor: Actor, case: BusinessCase) -> None:
    if not actor.has(WRITE):
        raise Forbidden(f"requires {WRITE}")
    if not may_write(actor, case):
        raise Forbidden(
            f"country: you do not administer {case.country or 'this case'} and did not create "
            f"{case.public_id} (ask a registry manager to appoint you the country's administrator)"
        )


def _require_create(actor: Actor, country: str) -> None:
    if not actor.has(WRITE):
        raise Forbidden(f"requires {WRITE}")
    if country and not administers(actor, country):
        raise Forbidden(
            f"country: you do not administer {country} (ask a registry manager to appoint you its country "
            "administrator, or leave the country empty)"
        )


def get_case(actor: Actor, public_id: str, *, audit: bool = True) -> BusinessCase:
    """The case ``public_id`` if ``actor`` may read it (audited), else NotFound."""
    if not isinstance(public_id, str) or not PUBLIC_ID_RE.match(public_id):
        raise NotFound(f"no business case {public_id[:20]!r}")
    case = visible_cases(actor).filter(public_id=public_id).first()
    if case is None:
        raise NotFound(f"no business case {public_id}")
    if audit:
        with transaction.atomic():
            record(actor, "businesscase.case.read", object_type="businesscase.case", object_id=case.public_id)
    return case


def list_cases(actor: Actor, country: str = "") -> list[BusinessCase]:
    """The cases ``actor`` may read, of ``country`` if given (an unknown country is a 400)."""
    qs = visible_cases(actor)
    if country:
        qs = qs.filter(country=_country(country))
    return list(qs.select_related("created_by"))


# --- validation -----------------------------------------------------------------------------------------------------


def _country(raw: Any) -> str:
    return timezones.country_code(raw, blank=True)  # a case without a country belongs to its creator


def _int(raw: Any, where: str, low: int, high: int) -> int:
    if isinstance(raw, bool):
        raise Invalid(f"{where}: expected a whole number")
    if isinstance(raw, str):
        raw = raw.strip()
        if not re.fullmatch(r"-?\d{1,6}", raw):
            raise Invalid(f"{where}: {raw[:20]!r} is not a whole number")
        raw = int(raw)
    if not isinstance(raw, int):
        raise Invalid(f"{where}: expected a whole number")
    if not low <= raw <= high:
        raise Invalid(f"{where}: {raw} is not between {low} and {high}")
    return raw


def _decimal(raw: Any, where: str, *, low: Decimal, high: Decimal, places: int) -> Decimal:
    try:
        value = finance.as_decimal(raw, where)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if not low <= value <= high:
        raise Invalid(f"{where}: {value} is not between {low} and {high}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise Invalid(f"{where}: {value} has more than {places} decimal places")
    return value


def _bool(raw: Any, where: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "on", "1", "yes", "false", "off", "0", "no", ""):
        return raw.strip().lower() in ("true", "on", "1", "yes")
    raise Invalid(f"{where}: expected true or false")


def _choice(raw: Any, allowed: Sequence[str], where: str) -> str:
    value = _text(raw, where, max_length=40, required=True)
    if value not in allowed:
        raise Invalid(f"{where}: {value[:40]!r} is not one of {', '.join(allowed)}")
    return value


def clean_fields(data: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The case's fields validated; ``current`` (an update) supplies the fields ``data`` leaves out."""
    if not isinstance(data, dict):
        raise Invalid("body: expected an object")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise Invalid(f"{unknown[0]}: unknown field (expected {', '.join(FIELDS)})")
    merged = dict(current or {}) | data
    out: dict[str, Any] = {
        "country": _country(merged.get("country", "")),
        "title": _text(merged.get("title"), "title", max_length=200, required=True),
        "investment": _text(merged.get("investment", ""), "investment", max_length=MAX_TEXT),
        "base_year": _int(merged.get("base_year"), "base_year", 1900, 2200),
        "horizon_years": _int(merged.get("horizon_years"), "horizon_years", 1, finance.MAX_HORIZON),
        "discount_rate": _decimal(
            merged.get("discount_rate", "0.05"), "discount_rate", low=MIN_RATE, high=MAX_RATE, places=5
        ),
        "shared": _bool(merged.get("shared", False), "shared"),
    }
    currency = _text(merged.get("currency") or "USD", "currency", max_length=8, required=True).upper()
    if currency not in currencies():
        raise Invalid(f"currency: {currency[:8]!r} is not an ISO 4217 currency code")
    out["currency"] = currency
    out["roadmap_item"] = _roadmap_item(merged.get("roadmap_item"), out["country"])
    return out


def _roadmap_item(raw: Any, country: str) -> int | None:
    """The id of a roadmap item of ``country``'s roadmap (None: no link); Invalid naming it otherwise."""
    if raw is None or raw == "":
        return None
    item_id = _int(raw, "roadmap_item", 1, 2**62)
    item = RoadmapItem.objects.filter(pk=item_id).select_related("roadmap").first()
    if item is None:
        raise Invalid(f"roadmap_item: no roadmap item {item_id}")
    if not country or item.roadmap.country != country:
        raise Invalid(
            f"roadmap_item: item {item_id} is on the roadmap of {item.roadmap.country}, not of "
            f"{country or 'a case without a country'}"
        )
    return item_id


def _cost_row(raw: Any, where: str, base_year: int, horizon_years: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise Invalid(f"{where}: expected an object with {', '.join(COST_COLUMNS)}")
    unknown = sorted(set(raw) - set(COST_COLUMNS))
    if unknown:
        raise Invalid(f"{where}: {unknown[0]}: unknown field (expected {', '.join(COST_COLUMNS)})")
    last = base_year + horizon_years - 1
    return {
        "phase": _choice(raw.get("phase"), PHASES, f"{where}: phase"),
        "category": _choice(raw.get("category"), CATEGORIES, f"{where}: category"),
        "year": _int(raw.get("year"), f"{where}: year", base_year, last),
        "amount": _decimal(raw.get("amount"), f"{where}: amount", low=Decimal(0), high=MAX_AMOUNT, places=2),
        "note": _text(raw.get("note", ""), f"{where}: note", max_length=300),
    }


def _benefit_row(raw: Any, where: str, base_year: int, horizon_years: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise Invalid(f"{where}: expected an object with {', '.join(BENEFIT_COLUMNS)}")
    unknown = sorted(set(raw) - set(BENEFIT_COLUMNS))
    if unknown:
        raise Invalid(f"{where}: {unknown[0]}: unknown field (expected {', '.join(BENEFIT_COLUMNS)})")
    last = base_year + horizon_years - 1
    return {
        "kind": _choice(raw.get("kind"), KINDS, f"{where}: kind"),
        "year": _int(raw.get("year"), f"{where}: year", base_year, last),
        "quantity": _decimal(raw.get("quantity"), f"{where}: quantity", low=Decimal(0), high=MAX_QUANTITY, places=4),
        "unit": _text(raw.get("unit"), f"{where}: unit", max_length=60, required=True),
        "unit_value": _decimal(
            raw.get("unit_value"), f"{where}: unit_value", low=Decimal(0), high=MAX_QUANTITY, places=4
        ),
        "assumption": _text(raw.get("assumption"), f"{where}: assumption", max_length=MAX_TEXT, required=True),
    }


def clean_costs(rows: Any, base_year: int, horizon_years: int, *, first_row: int = 1) -> list[dict[str, Any]]:
    """Cost rows validated (``row N`` numbered from ``first_row``); one amount per phase x category x year."""
    if not isinstance(rows, list):
        raise Invalid("costs: expected a list of rows")
    if len(rows) > MAX_LINES:
        raise Invalid(f"costs: more than {MAX_LINES} rows")
    out: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, int], int] = {}
    for i, raw in enumerate(rows):
        where = f"row {i + first_row}"
        row = _cost_row(raw, where, base_year, horizon_years)
        key = (row["phase"], row["category"], row["year"])
        if key in seen:
            raise Invalid(f"{where}: the same phase, category and year as row {seen[key]} (one amount per cell)")
        seen[key] = i + first_row
        out.append(row)
    return out


def clean_benefits(rows: Any, base_year: int, horizon_years: int, *, first_row: int = 1) -> list[dict[str, Any]]:
    """Benefit rows validated (``row N`` numbered from ``first_row``)."""
    if not isinstance(rows, list):
        raise Invalid("benefits: expected a list of rows")
    if len(rows) > MAX_LINES:
        raise Invalid(f"benefits: more than {MAX_LINES} rows")
    return [_benefit_row(raw, f"row {i + first_row}", base_year, horizon_years) for i, raw in enumerate(rows)]


def parse_upload(kind: str, content: bytes, filename: str = "") -> tuple[list[Any], int]:
    """The rows of an uploaded cost or benefit table (JSON: a list of objects, or ``{"costs": [...]}``; CSV: a
    header row with the column names) and the number of the first data row (2 in a CSV: the header is row 1)."""
    if kind not in ("costs", "benefits"):
        raise Invalid(f"kind: {kind!r} is not costs or benefits")
    if len(content) > MAX_UPLOAD:
        raise Invalid(f"file: larger than {MAX_UPLOAD // (1024 * 1024)} MB")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("file: not UTF-8 text") from None
    stripped = text.lstrip()
    if filename.lower().endswith(".json") or stripped.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Invalid(f"file: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
        if isinstance(data, dict):
            if kind not in data:
                raise Invalid(f"file: a JSON object needs a {kind!r} list")
            data = data[kind]
        if not isinstance(data, list):
            raise Invalid(f"file: expected a JSON list of {kind} rows")
        return data, 1
    columns = COST_COLUMNS if kind == "costs" else BENEFIT_COLUMNS
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise Invalid("file: empty (expected a CSV header row)")
    required = [c for c in columns if c not in ("note",)]
    missing = [c for c in required if c not in header]
    if missing:
        raise Invalid(f"row 1: column {missing[0]!r} missing from the CSV header (expected {', '.join(columns)})")
    unknown = [h for h in header if h not in columns]
    if unknown:
        raise Invalid(f"row 1: column {unknown[0][:40]!r} is not one of {', '.join(columns)}")
    rows: list[Any] = []
    for n, raw in enumerate(reader, start=2):
        if None in raw:
            raise Invalid(f"row {n}: more cells than header columns")
        row = {k.strip(): (v or "") for k, v in raw.items()}
        if not any(v.strip() for v in row.values()):
            raise Invalid(f"row {n}: empty row")
        rows.append(row)
        if len(rows) > MAX_LINES:
            raise Invalid(f"{kind}: more than {MAX_LINES} rows")
    return rows, 2


def roadmap_items(country: str) -> list[RoadmapItem]:
    """The roadmap items of ``country`` a case may link to (the editor's choice list)."""
    if not country:
        return []
    qs = RoadmapItem.objects.filter(roadmap__country=country).select_related("indicator", "roadmap")
    return list(qs.order_by("roadmap__id", "position", "id"))


# --- snapshots, versions --------------------------------------------------------------------------------------------


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _qty(value: Decimal) -> str:
    """A quantity as plain text without trailing zeros or an exponent ("1200", "0.5")."""
    return format(value.normalize(), "f")


def _get(line: Any, name: str) -> Any:
    return line[name] if isinstance(line, dict) else getattr(line, name)


def cost_data(line: CostLine | dict[str, Any]) -> dict[str, Any]:
    return {
        "phase": _get(line, "phase"),
        "category": _get(line, "category"),
        "year": int(_get(line, "year")),
        "amount": _money(Decimal(_get(line, "amount"))),
        "note": _get(line, "note") or "",
    }


def benefit_data(line: BenefitLine | dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": _get(line, "kind"),
        "year": int(_get(line, "year")),
        "quantity": _qty(Decimal(_get(line, "quantity"))),
        "unit": _get(line, "unit"),
        "unit_value": _qty(Decimal(_get(line, "unit_value"))),
        "assumption": _get(line, "assumption"),
    }


def _cost_key(row: dict[str, Any]) -> tuple[str, str, int]:
    return (row["phase"], row["category"], row["year"])


def fields_data(case: BusinessCase) -> dict[str, Any]:
    return {
        "country": case.country,
        "title": case.title,
        "investment": case.investment,
        "roadmap_item": case.roadmap_item_id,
        "currency": case.currency,
        "base_year": case.base_year,
        "horizon_years": case.horizon_years,
        "discount_rate": str(Decimal(case.discount_rate).normalize()),
        "shared": case.shared,
    }


def snapshot(case: BusinessCase) -> dict[str, Any]:
    """The whole case as plain JSON values (fields, costs sorted by phase/category/year, benefits in order)."""
    costs = sorted((cost_data(c) for c in case.costs.all()), key=_cost_key)
    return {
        **fields_data(case),
        "costs": costs,
        "benefits": [benefit_data(b) for b in case.benefits.order_by("position", "id")],
    }


def _save_version(actor: Actor, case: BusinessCase, change: str) -> CaseVersion:
    return CaseVersion.objects.create(
        case=case,
        version=case.version,
        snapshot=snapshot(case),
        change=change[:200],
        saved_by_id=actor.user_id,
        saved_by_name=actor.username[:150],
    )


def _model_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Validated fields as model keyword arguments (the roadmap item by its id)."""
    out = dict(fields)
    out["roadmap_item_id"] = out.pop("roadmap_item", None)
    return out


def _new_public_id() -> str:
    for _ in range(20):
        candidate = "BC-" + "".join(secrets.choice(PUBLIC_ID_ALPHABET) for _ in range(6))
        if not BusinessCase.objects.filter(public_id=candidate).exists():
            return candidate
    raise RuntimeError("could not draw a free business-case identifier")  # 32^6 identifiers: never in practice


def _write_lines(case: BusinessCase, costs: list[dict[str, Any]] | None, benefits: list[dict[str, Any]] | None) -> None:
    if costs is not None:
        case.costs.all().delete()
        CostLine.objects.bulk_create([CostLine(case=case, **row) for row in costs])
    if benefits is not None:
        case.benefits.all().delete()
        BenefitLine.objects.bulk_create([BenefitLine(case=case, position=i, **row) for i, row in enumerate(benefits)])


# --- writes ---------------------------------------------------------------------------------------------------------


def create_case(actor: Actor, data: dict[str, Any]) -> tuple[BusinessCase, bool]:
    """A new case from its fields (and optionally ``costs`` and ``benefits`` rows); ``(case, created)``.

    The same request sent again by the same person (same country, title and content) returns the case it made
    (``created`` False) instead of a second one; a different case under the same title is a new case."""
    if not isinstance(data, dict):
        raise Invalid("body: expected an object")
    data = dict(data)
    raw_costs, raw_benefits = data.pop("costs", []), data.pop("benefits", [])
    fields = clean_fields(data)
    _require_create(actor, fields["country"])
    costs = clean_costs(raw_costs or [], fields["base_year"], fields["horizon_years"])
    benefits = clean_benefits(raw_benefits or [], fields["base_year"], fields["horizon_years"])
    with transaction.atomic():
        wanted = _normalised({**fields, "costs": costs, "benefits": benefits})
        for existing in BusinessCase.objects.filter(
            created_by_id=actor.user_id, country=fields["country"], title=fields["title"]
        ).prefetch_related("costs", "benefits"):
            if snapshot(existing) == wanted:
                return existing, False
        case = BusinessCase.objects.create(
            public_id=_new_public_id(), created_by_id=actor.user_id, **_model_fields(fields)
        )
        _write_lines(case, costs, benefits)
        _save_version(actor, case, "created")
        record(
            actor,
            "businesscase.case.create",
            object_type="businesscase.case",
            object_id=case.public_id,
            detail={"country": case.country, "title": case.title, "costs": len(costs), "benefits": len(benefits)},
            permission=WRITE,
        )
    return case, True


def _normalised(values: dict[str, Any]) -> dict[str, Any]:
    """A snapshot-shaped dict of validated values (to compare with :func:`snapshot`)."""
    out = {k: values[k] for k in FIELDS}
    out["discount_rate"] = str(Decimal(values["discount_rate"]).normalize())
    out["costs"] = sorted((cost_data(c) for c in values["costs"]), key=_cost_key)
    out["benefits"] = [benefit_data(b) for b in values["benefits"]]
    return out


def _save(
    actor: Actor,
    case: BusinessCase,
    change: str,
    *,
    fields: dict[str, Any] | None = None,
    costs: list[dict[str, Any]] | None = None,
    benefits: list[dict[str, Any]] | None = None,
) -> bool:
    """Write what changed (one new version); False, and nothing written, when nothing would change."""
    before = snapshot(case)
    after = dict(before)
    if fields is not None:
        after |= _normalised({**fields, "costs": [], "benefits": []}) | {
            "costs": before["costs"],
            "benefits": before["benefits"],
        }
    if costs is not None:
        after["costs"] = sorted((cost_data(c) for c in costs), key=_cost_key)
    if benefits is not None:
        after["benefits"] = [benefit_data(b) for b in benefits]
    if after == before:
        return False
    if fields is not None:
        for name, value in _model_fields(fields).items():
            setattr(case, name, value)
    case.version += 1
    case.save()
    _write_lines(
        case,
        costs if costs is not None and after["costs"] != before["costs"] else None,
        benefits if benefits is not None and after["benefits"] != before["benefits"] else None,
    )
    _save_version(actor, case, change)
    return True


def _check_lines_fit(case: BusinessCase, base_year: int, horizon_years: int) -> None:
    """Invalid if a stored line falls outside a new horizon (naming it)."""
    last = base_year + horizon_years - 1
    for line in case.costs.all():
        if not base_year <= line.year <= last:
            raise Invalid(
                f"horizon_years: cost {line.phase}/{line.category} of {line.year} would be outside {base_year}-{last}"
            )
    for line in case.benefits.all():
        if not base_year <= line.year <= last:
            raise Invalid(f"horizon_years: benefit {line.kind} of {line.year} would be outside {base_year}-{last}")


def update_case(actor: Actor, public_id: str, data: dict[str, Any]) -> tuple[BusinessCase, bool]:
    """Change the case's fields (those given); ``(case, changed)``. A change of country needs that country too."""
    case = get_case(actor, public_id, audit=False)
    _require_write(actor, case)
    fields = clean_fields(data, current=fields_data(case))
    if fields["country"] != case.country:
        _require_create(actor, fields["country"])
    with transaction.atomic():
        case = BusinessCase.objects.select_for_update().get(pk=case.pk)
        _check_lines_fit(case, fields["base_year"], fields["horizon_years"])
        changed_names = [
            k
            for k, v in _normalised({**fields, "costs": [], "benefits": []}).items()
            if k in FIELDS and fields_data(case)[k] != v
        ]
        changed = _save(actor, case, "fields changed: " + ", ".join(changed_names), fields=fields)
        record(
            actor,
            "businesscase.case.update",
            object_type="businesscase.case",
            object_id=case.public_id,
            detail={"changed": changed_names, "version": case.version},
            permission=WRITE,
        )
    return case, changed


def set_lines(
    actor: Actor,
    public_id: str,
    *,
    costs: Any = None,
    benefits: Any = None,
    source: str = "form",
    first_row: int = 1,
) -> tuple[BusinessCase, bool]:
    """Replace the case's cost and/or benefit lines with the rows given (the whole table); ``(case, changed)``.

    One bad row: Invalid naming the row and field, nothing stored. The same rows again: nothing changes."""
    case = get_case(actor, public_id, audit=False)
    _require_write(actor, case)
    clean_c = clean_costs(costs, case.base_year, case.horizon_years, first_row=first_row) if costs is not None else None
    clean_b = (
        clean_benefits(benefits, case.base_year, case.horizon_years, first_row=first_row)
        if benefits is not None
        else None
    )
    what = " and ".join(name for name, rows in (("costs", clean_c), ("benefits", clean_b)) if rows is not None)
    if not what:
        raise Invalid("body: send costs, benefits or both")
    with transaction.atomic():
        case = BusinessCase.objects.select_for_update().get(pk=case.pk)
        changed = _save(actor, case, f"{what} replaced ({source})", costs=clean_c, benefits=clean_b)
        record(
            actor,
            "businesscase.lines.replace",
            object_type="businesscase.case",
            object_id=case.public_id,
            detail={
                "source": source[:20],
                "costs": None if clean_c is None else len(clean_c),
                "benefits": None if clean_b is None else len(clean_b),
                "changed": changed,
                "version": case.version,
            },
            permission=WRITE,
        )
    return case, changed


def upload_lines(
    actor: Actor, public_id: str, kind: str, content: bytes, filename: str = ""
) -> tuple[BusinessCase, bool]:
    """Replace the cost or benefit lines from an uploaded JSON or CSV file (see :func:`parse_upload`)."""
    get_case(actor, public_id, audit=False)  # 404 before reading a file about a case one cannot see
    rows, first = parse_upload(kind, content, filename)
    source = "json" if first == 1 else "csv"
    if kind == "costs":
        return set_lines(actor, public_id, costs=rows, source=source, first_row=first)
    return set_lines(actor, public_id, benefits=rows, source=source, first_row=first)


def copy_case(actor: Actor, public_id: str, data: dict[str, Any] | None = None) -> BusinessCase:
    """A new case with the lines of ``public_id`` (which ``actor`` may read); ``data`` may change its title,
    country and other fields (default title "Copy of …", not shared). The copy is the actor's own."""
    source = get_case(actor, public_id, audit=False)
    base = fields_data(source) | {"title": f"Copy of {source.title}"[:200], "shared": False}
    if data and "country" in data and data["country"] != source.country:
        base["roadmap_item"] = None  # the link is to the source country's roadmap
    fields = clean_fields(data or {}, current=base)
    _require_create(actor, fields["country"])
    old = snapshot(source)
    costs = clean_costs(old["costs"], fields["base_year"], fields["horizon_years"])
    benefits = clean_benefits(old["benefits"], fields["base_year"], fields["horizon_years"])
    with transaction.atomic():
        case = BusinessCase.objects.create(
            public_id=_new_public_id(), created_by_id=actor.user_id, **_model_fields(fields)
        )
        _write_lines(case, costs, benefits)
        _save_version(actor, case, f"copied from {source.public_id} version {source.version}")
        record(
            actor,
            "businesscase.case.copy",
            object_type="businesscase.case",
            object_id=case.public_id,
            detail={"from": source.public_id, "from_version": source.version},
            permission=WRITE,
        )
    return case


# --- history --------------------------------------------------------------------------------------------------------


def versions(actor: Actor, public_id: str) -> tuple[BusinessCase, list[CaseVersion]]:
    case = get_case(actor, public_id)
    return case, list(case.versions.order_by("-version"))


@dataclass(frozen=True)
class Change:
    """One difference between two versions: ``what`` is a field name, ``cost phase/category/year`` or
    ``benefit N``; ``before``/``after`` are text ("" when absent)."""

    what: str
    before: str
    after: str


def _benefit_text(row: dict[str, Any]) -> str:
    return f"{row['kind']} {row['year']}: {row['quantity']} {row['unit']} x {row['unit_value']} ({row['assumption']})"


def diff_snapshots(a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    """What changed from snapshot ``a`` to ``b``: fields, cost cells (by phase/category/year), benefit lines."""
    changes = [
        Change(name, str(a.get(name, "")), str(b.get(name, ""))) for name in FIELDS if a.get(name) != b.get(name)
    ]
    ca = {_cost_key(r): r for r in a.get("costs", [])}
    cb = {_cost_key(r): r for r in b.get("costs", [])}
    for key in sorted(set(ca) | set(cb)):
        before = ca.get(key, {}).get("amount", "")
        after = cb.get(key, {}).get("amount", "")
        if ca.get(key) != cb.get(key):
            note_a, note_b = ca.get(key, {}).get("note", ""), cb.get(key, {}).get("note", "")
            changes.append(
                Change(
                    f"cost {key[0]}/{key[1]}/{key[2]}",
                    f"{before}{' (' + note_a + ')' if note_a else ''}",
                    f"{after}{' (' + note_b + ')' if note_b else ''}",
                )
            )
    ba, bb = a.get("benefits", []), b.get("benefits", [])
    for i in range(max(len(ba), len(bb))):
        ra = ba[i] if i < len(ba) else None
        rb = bb[i] if i < len(bb) else None
        if ra != rb:
            changes.append(Change(f"benefit {i + 1}", _benefit_text(ra) if ra else "", _benefit_text(rb) if rb else ""))
    return changes


def diff(actor: Actor, public_id: str, a: int, b: int) -> tuple[BusinessCase, list[Change]]:
    """The changes from version ``a`` to version ``b`` of the case (404 for a version that does not exist)."""
    case = get_case(actor, public_id)
    found = {v.version: v for v in case.versions.filter(version__in=[a, b])}
    for n in (a, b):
        if n not in found:
            raise NotFound(f"version: {public_id} has no version {n}")
    return case, diff_snapshots(found[a].snapshot, found[b].snapshot)


# --- figures --------------------------------------------------------------------------------------------------------


def finance_lines(case: BusinessCase) -> tuple[list[finance.Cost], list[finance.Benefit]]:
    costs = [finance.Cost(c.year, Decimal(c.amount), c.phase, c.category) for c in case.costs.all()]
    benefits = [
        finance.Benefit(b.year, Decimal(b.quantity), Decimal(b.unit_value), b.kind)
        for b in case.benefits.order_by("position", "id")
    ]
    return costs, benefits


@dataclass(frozen=True)
class Figures:
    """Everything a result page, the PDF and the exports show of a case."""

    result: finance.Result
    sensitivity: finance.Sensitivity
    by_phase: dict[str, Decimal]
    by_category: dict[str, Decimal]
    grid: dict[tuple[str, str], list[Decimal]]


def figures(case: BusinessCase) -> Figures:
    """The case's figures at its own discount rate (pure arithmetic on its stored lines)."""
    costs, benefits = finance_lines(case)
    kwargs: dict[str, Any] = {
        "rate": Decimal(case.discount_rate),
        "base_year": case.base_year,
        "horizon_years": case.horizon_years,
    }
    try:
        result = finance.evaluate(costs, benefits, **kwargs)
        table = finance.sensitivity(costs, benefits, **kwargs)
    except ValueError as exc:  # only stored lines outside the horizon, which the services prevent
        raise Invalid(str(exc)) from None
    return Figures(
        result=result,
        sensitivity=table,
        by_phase=finance.totals_by(costs, "phase", PHASES),
        by_category=finance.totals_by(costs, "category", CATEGORIES),
        grid=finance.grid(costs, case.base_year, case.horizon_years),
    )
