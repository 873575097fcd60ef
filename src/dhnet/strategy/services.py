"""The strategy's framework and its monitoring: proposed actions, indicators, targets, values, progress, export.

Who may do what (``docs/maturity-design.md``):

- The framework (objectives, outputs, proposed actions), the indicators, their targets, the aggregated progress
  report and every recorded per-country value are public: the point is accountability to the World Health Assembly.
- Defining indicators, baselines and targets needs ``strategy:indicator:manage`` (knowledge manager).
- Recording a country's values needs ``strategy:value:write`` (planner) **and** administering that country
  (``maturity.services.administers``). A bulk upload is all or nothing: a bad row is a 400 naming the row and the
  field, a country the actor does not administer a 403 naming the row; nothing is stored from a rejected upload, and
  the same upload again changes nothing (values are keyed by indicator, country and period).

Derived indicators (``source=maturity``) have no stored values: a country's value for a year is computed from its
published maturity assessment of that year (``maturity.services.published_scores``) with the indicator's
``maturity_rule``::

    {"rubric": "gdhm-current", "indicator": "5", "min_phase": 3}   # 1 when the phase is >= 3, else 0
    {"rubric": "gdhm-current", "indicator": null, "min_phase": 3}  # on the overall phase
    {"rubric": "gdhm-current", "indicator": null}                  # the overall phase itself (1..5)
    {"rubric": "gdhm-current", "published": true}                  # 1 for every country that published

A "not available" answer (-1) or an unanswered indicator counts as 0 under a ``min_phase`` rule (the country
reported, the rule does not hold) and is left out under a phase rule.

Aggregation over countries (global, or a WHO region): ``sum`` and ``mean`` of the values; ``count_countries``
counts the countries whose value is >= 1 (yes/no indicators are recorded as 1/0); ``share_countries`` is that count
as a percentage of the countries with a value in the period. Every aggregate states its denominator (the number of
reporting countries).

Progress against a target (global on the aggregate, or a country's own on its values): the latest period with data
up to the report year; "% of the way" = (latest - baseline) / (target - baseline) x 100; on track when the latest
value has gone at least as far as a straight line from baseline to target would have by that period.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from dhnet.audit.services import record
from dhnet.maturity import services as maturity
from dhnet.maturity.models import PublishedScore
from dhnet.network import services as network
from dhnet.network import timezones
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid, NotFound
from dhnet.strategy.framework import DATA
from dhnet.strategy.models import (
    ActionActor,
    Aggregation,
    Direction,
    Indicator,
    Objective,
    Output,
    ProposedAction,
    Source,
    Target,
    Term,
    Value,
)

INDICATOR_MANAGE = "strategy:indicator:manage"
VALUE_WRITE = "strategy:value:write"

MIN_YEAR = 1990
MAX_YEAR = 2100
MAX_VALUE = Decimal("99999999999999")
MAX_ROWS = 10_000
MAX_UPLOAD_BYTES = 2_000_000
RUBRICS = ("gdhm-classic", "gdhm-current")
UPLOAD_FIELDS = ("indicator", "country", "period", "value", "source", "note")
HUNDRED = Decimal(100)
MANUAL, MATURITY = "manual", "maturity"  #: Source values
SUM, MEAN, COUNT_COUNTRIES, SHARE_COUNTRIES = "sum", "mean", "count_countries", "share_countries"  #: Aggregation
UP = "up"  #: Direction value


# --- the framework --------------------------------------------------------------------------------------------------


def objectives() -> list[Objective]:
    """The four strategic objectives with their outputs."""
    return list(Objective.objects.prefetch_related("outputs").order_by("number"))


def get_objective(number: Any) -> Objective:
    """One strategic objective by its number (1-4) with its outputs; 404 for another number."""
    try:
        n = int(number)
    except (TypeError, ValueError):
        raise Invalid(f"objective: {str(number)[:20]!r} is not a number 1-4") from None
    try:
        return Objective.objects.prefetch_related("outputs").get(number=n)
    except Objective.DoesNotExist:
        raise NotFound(f"objective {n}: no such strategic objective (1-4)") from None


def _filter_choice(raw: Any, choices: type[Any], where: str) -> str | None:
    if raw in (None, ""):
        return None
    value = str(raw).strip()
    allowed = [c.value for c in choices]
    if value not in allowed:
        raise Invalid(f"{where}: {value[:40]!r} is not one of {', '.join(allowed)}")
    return value


def actions(objective: Any = None, actor: Any = "member_states", term: Any = None) -> list[ProposedAction]:
    """The annex's proposed actions, in the order of the annex; filtered by objective (1-4), actor
    (``member_states``, ``secretariat``, ``partners``; ``None``: all) and term (``short``, ``medium``, ``long``,
    ``all`` — the rows that span the three terms; ``None``: every term)."""
    rows = ProposedAction.objects.select_related("objective")
    if objective not in (None, ""):
        rows = rows.filter(objective__number=get_objective(objective).number)
    actor_value = _filter_choice(actor, ActionActor, "actor")
    if actor_value:
        rows = rows.filter(actor=actor_value)
    term_value = _filter_choice(term, Term, "term")
    if term_value:
        rows = rows.filter(term=term_value)
    return list(rows.order_by("objective__number", "position"))


@cache
def _indicator_action_map() -> dict[str, dict[str, list[str]]]:
    data = json.loads((DATA / "indicator_actions.json").read_text(encoding="utf-8"))
    return {
        rubric: {code: list(entry["actions"]) for code, entry in codes.items()}
        for rubric, codes in data["rubrics"].items()
    }


def indicator_action_keys(rubric_code: str, code: str) -> list[str]:
    """The action keys mapped to a GDHM indicator (``data/indicator_actions.json``), without touching the database."""
    rubric = maturity.RUBRIC_NAMES.get(rubric_code, rubric_code)
    mapping = _indicator_action_map()
    if rubric not in mapping:
        raise Invalid(f"rubric: {str(rubric_code)[:40]!r} is not one of {', '.join(mapping)}")
    keys = mapping[rubric].get(str(code))
    if keys is None:
        raise NotFound(f"indicator {str(code)[:20]!r}: not an indicator of {rubric}")
    return keys


def actions_for_indicator(rubric_code: str, code: str) -> list[ProposedAction]:
    """The Member States' proposed actions that would move a country's phase on GDHM indicator ``code``, in the
    order of the hand-made map (most direct first). ``rubric_code``: ``gdhm-classic``/``gdhm-current`` (or the
    CLI's ``classic``/``current``)."""
    keys = indicator_action_keys(rubric_code, code)
    found = {a.key: a for a in ProposedAction.objects.select_related("objective").filter(key__in=keys)}
    return [found[k] for k in keys if k in found]


# --- indicators and targets -----------------------------------------------------------------------------------------


def indicators(objective_number: int | None = None) -> list[Indicator]:
    rows = Indicator.objects.select_related("objective", "output").prefetch_related("targets")
    if objective_number is not None:
        rows = rows.filter(objective__number=objective_number)
    return list(rows)


def indicator(code: Any) -> Indicator:
    text = str(code or "").strip()[:40]
    if "\x00" in text:  # PostgreSQL refuses NUL in a string literal: no such indicator, not a 500
        raise NotFound("indicator: no such monitoring indicator (the code contains a NUL character)")
    try:
        return Indicator.objects.select_related("objective", "output").get(code=text)
    except Indicator.DoesNotExist:
        raise NotFound(f"indicator {text!r}: no such monitoring indicator") from None


def _text(raw: Any, where: str, *, max_length: int, required: bool = False) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str | int | float | Decimal):
        raise Invalid(f"{where}: expected text")
    value = str(raw).strip()
    if "\x00" in value:
        raise Invalid(f"{where}: contains a NUL character")
    if required and not value:
        raise Invalid(f"{where}: required")
    if len(value) > max_length:
        raise Invalid(f"{where}: longer than {max_length} characters")
    return value


def _choice(raw: Any, choices: type[Any], where: str, default: str | None = None) -> str:
    if raw in (None, "") and default is not None:
        return default
    value = _filter_choice(raw, choices, where)
    if value is None:
        raise Invalid(f"{where}: required (one of {', '.join(c.value for c in choices)})")
    return value


def _year(raw: Any, where: str) -> int:
    try:
        text = str(raw).strip()
        year = int(text)
    except (TypeError, ValueError):
        raise Invalid(f"{where}: {str(raw)[:20]!r} is not a year") from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Invalid(f"{where}: {year} is outside {MIN_YEAR}-{MAX_YEAR}")
    return year


def _decimal(raw: Any, where: str) -> Decimal:
    if isinstance(raw, bool) or raw is None or raw == "":
        raise Invalid(f"{where}: required (a number)")
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise Invalid(f"{where}: {str(raw)[:30]!r} is not a number") from None
    if not value.is_finite():
        raise Invalid(f"{where}: {str(raw)[:30]!r} is not a finite number")
    if abs(value) > MAX_VALUE:
        raise Invalid(f"{where}: {value} is too large")
    if value != value.quantize(Decimal("0.0001")):
        raise Invalid(f"{where}: {value} has more than 4 decimal places")
    return value.quantize(Decimal("0.0001"))


def _country(raw: Any, where: str, *, blank: bool = False) -> str:
    text = str(raw or "").strip().upper()
    if not text and blank:
        return ""
    if text not in timezones.countries():
        raise Invalid(f"{where}: {str(raw)[:20]!r} is not an ISO 3166-1 alpha-2 country code")
    return text


def _maturity_rule(raw: Any, where: str = "maturity_rule") -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise Invalid(f"{where}: required for a derived indicator (an object with rubric and indicator)")
    unknown = set(raw) - {"rubric", "indicator", "min_phase", "published"}
    if unknown:
        raise Invalid(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    rubric = maturity.RUBRIC_NAMES.get(str(raw.get("rubric", "")), str(raw.get("rubric", "")))
    if rubric not in RUBRICS:
        raise Invalid(f"{where}.rubric: {str(raw.get('rubric'))[:40]!r} is not one of {', '.join(RUBRICS)}")
    rule: dict[str, Any] = {"rubric": rubric}
    if raw.get("published"):
        if raw.get("indicator") is not None or raw.get("min_phase") is not None:
            raise Invalid(f"{where}: 'published' takes no indicator or min_phase")
        rule["published"] = True
        return rule
    code = raw.get("indicator")
    if code is not None:
        code = str(code)
        if code not in _indicator_action_map()[rubric]:
            raise Invalid(f"{where}.indicator: {code[:20]!r} is not an indicator of {rubric}")
    rule["indicator"] = code
    if raw.get("min_phase") is not None:
        try:
            phase = int(raw["min_phase"])
        except (TypeError, ValueError):
            raise Invalid(f"{where}.min_phase: expected a phase 1-5") from None
        if not 1 <= phase <= 5:
            raise Invalid(f"{where}.min_phase: {phase} is not a phase 1-5")
        rule["min_phase"] = phase
    return rule


@dataclass(frozen=True)
class IndicatorInput:
    code: str
    name: str
    definition: str
    objective: Objective
    output: Output | None
    unit: str
    direction: str
    aggregation: str
    source: str
    maturity_rule: dict[str, Any] | None
    source_text: str
    position: int


def validate_indicator(data: Any) -> IndicatorInput:
    """Check an indicator definition; ``Invalid`` names the field at fault."""
    if not isinstance(data, dict):
        raise Invalid("indicator: expected an object")
    code = _text(data.get("code"), "code", max_length=24, required=True)
    if not all(c.isalnum() or c in "-_." for c in code):
        raise Invalid(f"code: {code!r} may hold letters, digits, '-', '_' and '.' only")
    obj_raw = data.get("objective")
    try:
        obj = Objective.objects.get(number=int(str(obj_raw)))
    except (TypeError, ValueError, Objective.DoesNotExist):
        raise Invalid(f"objective: {str(obj_raw)[:20]!r} is not a strategic objective 1-4") from None
    output = None
    if data.get("output") not in (None, ""):
        out_code = _text(data.get("output"), "output", max_length=8)
        output = Output.objects.filter(code=out_code).first()
        if output is None or output.objective_id != obj.pk:
            raise Invalid(f"output: {out_code!r} is not an output of objective {obj.number}")
    source = _choice(data.get("source"), Source, "source", default=MANUAL)
    rule = _maturity_rule(data.get("maturity_rule")) if source == MATURITY else None
    if source == MANUAL and data.get("maturity_rule") not in (None, {}):
        raise Invalid("maturity_rule: only a derived indicator (source=maturity) has one")
    aggregation = _choice(data.get("aggregation"), Aggregation, "aggregation")
    counting = aggregation in (COUNT_COUNTRIES, SHARE_COUNTRIES)
    if rule is not None and counting and "min_phase" not in rule and not rule.get("published"):
        raise Invalid("maturity_rule.min_phase: required to count countries (which phase counts)")
    position = data.get("position", 0)
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise Invalid("position: expected a whole number >= 0")
    return IndicatorInput(
        code=code,
        name=_text(data.get("name"), "name", max_length=200, required=True),
        definition=_text(data.get("definition"), "definition", max_length=5000, required=True),
        objective=obj,
        output=output,
        unit=_text(data.get("unit"), "unit", max_length=40),
        direction=_choice(data.get("direction"), Direction, "direction", default=UP),
        aggregation=aggregation,
        source=source,
        maturity_rule=rule,
        source_text=_text(data.get("source_text"), "source_text", max_length=5000),
        position=position,
    )


def _require(actor: Actor, permission: str, doing: str) -> None:
    if not actor.has(permission):
        raise Forbidden(f"{doing} needs the permission {permission}")


def _indicator_fields(inp: IndicatorInput) -> dict[str, Any]:
    return {
        "name": inp.name,
        "definition": inp.definition,
        "objective": inp.objective,
        "output": inp.output,
        "unit": inp.unit,
        "direction": inp.direction,
        "aggregation": inp.aggregation,
        "source": inp.source,
        "maturity_rule": inp.maturity_rule,
        "source_text": inp.source_text,
        "position": inp.position,
    }


def define_indicator(actor: Actor, data: Any) -> tuple[Indicator, bool]:
    """Create or redefine an indicator by its code; the same definition again changes nothing.

    Turning a recorded indicator into a derived one while values are recorded is refused (the values would be
    hidden): a 400 naming the field."""
    _require(actor, INDICATOR_MANAGE, "defining an indicator")
    inp = validate_indicator(data)
    with transaction.atomic():
        existing = Indicator.objects.select_for_update().filter(code=inp.code).first()
        fields = _indicator_fields(inp)
        if existing is None:
            ind = Indicator.objects.create(code=inp.code, **fields)
            created = True
        else:
            if inp.source == MATURITY and existing.values.exists():
                raise Invalid(f"source: indicator {inp.code} has recorded values; it cannot become derived")
            changed = [k for k, v in fields.items() if getattr(existing, k) != v]
            if not changed:
                return existing, False
            for k in changed:
                setattr(existing, k, fields[k])
            existing.save()
            ind, created = existing, False
        record(
            actor,
            "strategy.indicator.define",
            object_type="strategy.indicator",
            object_id=ind.code,
            detail={"created": created},
            permission=INDICATOR_MANAGE,
        )
    return ind, created


def set_target(actor: Actor, code: Any, data: Any) -> tuple[Target, bool]:
    """Set the baseline and target of an indicator: global (``country`` empty) or for one country."""
    _require(actor, INDICATOR_MANAGE, "setting a target")
    ind = indicator(code)
    if not isinstance(data, dict):
        raise Invalid("target: expected an object")
    country = _country(data.get("country"), "country", blank=True)
    baseline_year = _year(data.get("baseline_year"), "baseline_year")
    target_year = _year(data.get("target_year"), "target_year")
    if target_year <= baseline_year:
        raise Invalid(f"target_year: {target_year} is not after the baseline year {baseline_year}")
    values = {
        "baseline_value": _decimal(data.get("baseline_value"), "baseline_value"),
        "baseline_year": baseline_year,
        "target_value": _decimal(data.get("target_value"), "target_value"),
        "target_year": target_year,
    }
    with transaction.atomic():
        target = Target.objects.select_for_update().filter(indicator=ind, country=country).first()
        if target is not None and all(getattr(target, k) == v for k, v in values.items()):
            return target, False
        created = target is None
        if target is None:
            target = Target(indicator=ind, country=country)
        for k, v in values.items():
            setattr(target, k, v)
        target.set_by_id = actor.user_id
        target.save()
        record(
            actor,
            "strategy.target.set",
            object_type="strategy.indicator",
            object_id=ind.code,
            detail={"country": country, **{k: str(v) for k, v in values.items()}},
            permission=INDICATOR_MANAGE,
        )
    return target, created


# --- recording values -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueRow:
    row: int
    indicator: Indicator
    country: str
    period: int
    value: Decimal
    source: str
    note: str


@dataclass
class UploadResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    countries: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "countries": self.countries,
        }


def _validate_row(row: int, data: Any, known: dict[str, Indicator]) -> ValueRow:
    where = f"row {row}"
    if not isinstance(data, dict):
        raise Invalid(f"{where}: expected an object with {', '.join(UPLOAD_FIELDS)}")
    unknown = set(data) - set(UPLOAD_FIELDS)
    if unknown:
        raise Invalid(f"{where}: unknown field(s) {', '.join(sorted(str(u) for u in unknown))}")
    code = _text(data.get("indicator"), f"{where}, indicator", max_length=24, required=True)
    ind = known.get(code)
    if ind is None:
        raise Invalid(f"{where}, indicator: {code!r} is not a monitoring indicator")
    if ind.source == MATURITY:
        raise Invalid(f"{where}, indicator: {code} is derived from published maturity assessments; it takes no values")
    value = _decimal(data.get("value"), f"{where}, value")
    if ind.aggregation in (COUNT_COUNTRIES, SHARE_COUNTRIES) and value not in (0, 1):
        raise Invalid(f"{where}, value: {code} is a yes/no indicator; the value must be 1 (yes) or 0 (no)")
    return ValueRow(
        row=row,
        indicator=ind,
        country=_country(data.get("country"), f"{where}, country"),
        period=_year(data.get("period"), f"{where}, period"),
        value=value,
        source=_text(data.get("source"), f"{where}, source", max_length=200),
        note=_text(data.get("note"), f"{where}, note", max_length=2000),
    )


def parse_upload(content: Any, fmt: str) -> list[dict[str, Any]]:
    """Rows of a CSV (header ``indicator,country,period,value[,source,note]``) or JSON (a list, or
    ``{"values": [...]}``) upload, as dictionaries; ``Invalid`` names what is malformed."""
    if isinstance(content, bytes):
        if len(content) > MAX_UPLOAD_BYTES:
            raise Invalid(f"file: larger than {MAX_UPLOAD_BYTES} bytes")
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid("file: not UTF-8 text") from None
    if not isinstance(content, str):
        raise Invalid("file: expected text")
    if len(content) > MAX_UPLOAD_BYTES:
        raise Invalid(f"file: larger than {MAX_UPLOAD_BYTES} characters")
    if "\x00" in content:
        raise Invalid("file: contains a NUL character")
    rows: list[Any]
    if fmt == "json":
        try:
            data = json.loads(content)
        except json.JSONDecodeError as exc:
            raise Invalid(f"file: not JSON ({exc.msg} at line {exc.lineno})") from None
        if isinstance(data, dict) and isinstance(data.get("values"), list):
            rows = data["values"]
        elif isinstance(data, list):
            rows = data
        else:
            raise Invalid('file: expected a list of values or {"values": [...]}')
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(content.lstrip("\ufeff")))
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [f for f in ("indicator", "country", "period", "value") if f not in header]
        if missing:
            raise Invalid(f"header: missing column(s) {', '.join(missing)}")
        extra = [h for h in header if h not in UPLOAD_FIELDS]
        if extra:
            raise Invalid(f"header: unknown column(s) {', '.join(extra)}")
        reader.fieldnames = header
        rows = []
        try:
            for line in reader:
                if None in line:
                    raise Invalid(f"row {len(rows) + 1}: more cells than columns")
                rows.append({k: v for k, v in line.items() if v is not None})
        except csv.Error as exc:
            raise Invalid(f"row {len(rows) + 1}: {exc}") from None
    else:
        raise Invalid(f"format: {str(fmt)[:10]!r} is not csv or json")
    if not rows:
        raise Invalid("file: no values")
    if len(rows) > MAX_ROWS:
        raise Invalid(f"file: more than {MAX_ROWS} rows")
    return rows


def record_values(actor: Actor, rows: list[Any]) -> UploadResult:
    """Record many values at once, all or nothing (rows are numbered from 1 in messages).

    Each value is keyed by (indicator, country, period): a row equal to the stored value is left unchanged, a
    different one replaces it; two rows of one upload with the same key and different values are refused."""
    _require(actor, VALUE_WRITE, "recording indicator values")
    if not isinstance(rows, list) or not rows:
        raise Invalid("values: expected a non-empty list")
    if len(rows) > MAX_ROWS:
        raise Invalid(f"values: more than {MAX_ROWS} rows")
    known = {i.code: i for i in Indicator.objects.all()}
    checked: list[ValueRow] = []
    seen: dict[tuple[str, str, int], ValueRow] = {}
    for n, raw in enumerate(rows, start=1):
        row = _validate_row(n, raw, known)
        key = (row.indicator.code, row.country, row.period)
        first = seen.get(key)
        if first is not None:
            if (first.value, first.source, first.note) != (row.value, row.source, row.note):
                raise Invalid(
                    f"row {n}: {row.indicator.code} {row.country} {row.period} was already given a different value "
                    f"in row {first.row}"
                )
            continue
        seen[key] = row
        checked.append(row)
    allowed: dict[str, bool] = {}
    for row in checked:
        if row.country not in allowed:
            allowed[row.country] = maturity.administers(actor, row.country)
        if not allowed[row.country]:
            raise Forbidden(f"row {row.row}, country: you do not administer {row.country}")
    result = UploadResult(countries=sorted(allowed))
    with transaction.atomic():
        existing = {
            (v.indicator_id, v.country, v.period): v
            for v in Value.objects.select_for_update().filter(
                indicator__in={r.indicator.pk for r in checked},
                country__in={r.country for r in checked},
                period__in={r.period for r in checked},
            )
        }
        for row in checked:
            old = existing.get((row.indicator.pk, row.country, row.period))
            if old is None:
                Value.objects.create(
                    indicator=row.indicator,
                    country=row.country,
                    period=row.period,
                    value=row.value,
                    source=row.source,
                    note=row.note,
                    recorded_by_id=actor.user_id,
                )
                result.created += 1
            elif (old.value, old.source, old.note) == (row.value, row.source, row.note):
                result.unchanged += 1
            else:
                old.value, old.source, old.note, old.recorded_by_id = row.value, row.source, row.note, actor.user_id
                old.save()
                result.updated += 1
        if result.created or result.updated:
            record(
                actor,
                "strategy.values.record",
                object_type="strategy.values",
                object_id=",".join(result.countries)[:200],
                detail={**result.as_dict(), "rows": len(rows)},
                permission=VALUE_WRITE,
            )
    return result


def upload_values(actor: Actor, content: Any, fmt: str) -> UploadResult:
    """A CSV or JSON upload of values (see :func:`parse_upload`, :func:`record_values`)."""
    _require(actor, VALUE_WRITE, "recording indicator values")
    return record_values(actor, parse_upload(content, fmt))


def record_value(
    actor: Actor, code: Any, country: Any, period: Any, value: Any, source: Any = "", note: Any = ""
) -> UploadResult:
    """Record one country's value of one indicator for one period (as a one-row upload)."""
    return record_values(
        actor,
        [{"indicator": code, "country": country, "period": period, "value": value, "source": source, "note": note}],
    )


# --- values (recorded or derived) and aggregates --------------------------------------------------------------------


@dataclass(frozen=True)
class CountryValue:
    country: str
    period: int
    value: Decimal
    source: str
    note: str = ""


def _rule_value(rule: dict[str, Any], published: PublishedScore) -> Decimal | None:
    if rule.get("published"):
        return Decimal(1)
    code = rule.get("indicator")
    phase = published.overall_phase if code is None else maturity.indicator_phases(published).get(str(code))
    if "min_phase" in rule:
        return Decimal(1) if phase is not None and phase >= rule["min_phase"] else Decimal(0)
    if phase is None or phase < 1:
        return None
    return Decimal(phase)


def _published_years(rubric: str) -> list[int]:
    years = PublishedScore.objects.filter(assessment__rubric__code=rubric).values_list("assessment__year", flat=True)
    return sorted(set(years))


def values_of(ind: Indicator, *, country: str | None = None, period: int | None = None) -> list[CountryValue]:
    """Per-country values of ``ind`` (recorded, or derived from published maturity assessments), ordered by country
    and period."""
    if ind.source == MATURITY:
        rule = ind.maturity_rule or {}
        rubric = str(rule.get("rubric", "gdhm-current"))
        out = []
        years = [period] if period is not None else _published_years(rubric)
        for year in years:
            for pub in maturity.published_scores(rubric, year=year):
                c = pub.assessment.country
                if country is not None and c != country:
                    continue
                v = _rule_value(rule, pub)
                if v is not None:
                    out.append(CountryValue(c, year, v, f"maturity {pub.assessment.public_id} v{pub.version}"))
        return sorted(out, key=lambda v: (v.country, v.period))
    rows: QuerySet[Value] = ind.values.all()
    if country is not None:
        rows = rows.filter(country=country)
    if period is not None:
        rows = rows.filter(period=period)
    return [CountryValue(v.country, v.period, v.value, v.source, v.note) for v in rows.order_by("country", "period")]


@dataclass(frozen=True)
class Aggregate:
    """An indicator's value over a set of countries for one period, with its denominator."""

    period: int
    value: Decimal | None
    reporting: int  #: countries with a value in the period (the denominator of a share or mean)
    meeting: int | None = None  #: countries whose value is >= 1 (count and share indicators)

    @property
    def denominator(self) -> str:
        return f"{self.reporting} reporting countr{'y' if self.reporting == 1 else 'ies'}"


def _scope(region: str | None) -> set[str] | None:
    if not region:
        return None
    return set(network.countries_in_region(region))


def aggregate(
    ind: Indicator, period: int, *, region: str | None = None, rows: list[CountryValue] | None = None
) -> Aggregate:
    """The indicator over all countries (or a WHO region's) for ``period``."""
    scope = _scope(region)
    source = rows if rows is not None else values_of(ind, period=period)
    values = [v.value for v in source if v.period == period and (scope is None or v.country in scope)]
    n = len(values)
    if n == 0:
        return Aggregate(period, None, 0, 0 if ind.aggregation in _COUNTING else None)
    if ind.aggregation == SUM:
        return Aggregate(period, sum(values, Decimal(0)), n)
    if ind.aggregation == MEAN:
        return Aggregate(period, (sum(values, Decimal(0)) / n).quantize(Decimal("0.01")), n)
    meeting = sum(1 for v in values if v >= 1)
    if ind.aggregation == COUNT_COUNTRIES:
        return Aggregate(period, Decimal(meeting), n, meeting)
    return Aggregate(period, (Decimal(meeting) * HUNDRED / n).quantize(Decimal("0.1")), n, meeting)


_COUNTING = (COUNT_COUNTRIES, SHARE_COUNTRIES)


def series(ind: Indicator, *, region: str | None = None, country: str | None = None) -> list[Aggregate]:
    """The indicator per period: aggregated over all countries (or a region's), or one country's own values."""
    rows = values_of(ind, country=country)
    periods = sorted({v.period for v in rows})
    if country is not None:
        return [Aggregate(v.period, v.value, 1) for v in rows]
    return [aggregate(ind, p, region=region, rows=rows) for p in periods]


# --- progress -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """One indicator against its target: baseline, latest, target, % of the way, on or off track."""

    indicator: Indicator
    target: Target | None
    latest: Aggregate | None
    percent: Decimal | None  #: % of the way from baseline to target (may exceed 100 or be negative)
    expected: Decimal | None  #: where a straight line from baseline to target would be at the latest period
    status: str  #: achieved | on_track | off_track | no_data | no_target

    @property
    def bar(self) -> int:
        """The bar's width in % (0-100)."""
        if self.percent is None:
            return 0
        return int(max(Decimal(0), min(HUNDRED, self.percent)))

    @property
    def on_track(self) -> bool | None:
        if self.status in ("achieved", "on_track"):
            return True
        if self.status == "off_track":
            return False
        return None


STATUS_LABELS = {
    "achieved": "Target reached",
    "on_track": "On track",
    "off_track": "Off track",
    "no_data": "No value yet",
    "no_target": "No target set",
}


def _progress(ind: Indicator, target: Target | None, points: list[Aggregate], year: int | None) -> Progress:
    usable = [p for p in points if p.value is not None and (year is None or p.period <= year)]
    latest = usable[-1] if usable else None
    if target is None:
        return Progress(ind, None, latest, None, None, "no_target")
    if latest is None or latest.value is None:
        return Progress(ind, target, latest, None, None, "no_data")
    b, t, v = target.baseline_value, target.target_value, latest.value
    span = t - b
    if span == 0:
        reached = v >= t if ind.direction == UP else v <= t
        return Progress(
            ind, target, latest, HUNDRED if reached else Decimal(0), t, "achieved" if reached else "off_track"
        )
    percent = ((v - b) / span * HUNDRED).quantize(Decimal("0.1"))
    years = target.target_year - target.baseline_year
    elapsed = min(max(latest.period - target.baseline_year, 0), years)
    expected = (b + span * Decimal(elapsed) / Decimal(years)).quantize(Decimal("0.0001"))
    if percent >= HUNDRED:
        status = "achieved"
    else:
        ahead = v >= expected if ind.direction == UP else v <= expected
        status = "on_track" if ahead else "off_track"
    return Progress(ind, target, latest, percent, expected, status)


def indicator_progress(ind: Indicator, *, year: int | None = None, country: str | None = None) -> Progress:
    """Progress of ``ind`` globally (its global target, the aggregate) or of one country (its own target)."""
    target = ind.targets.filter(country=country or "").first()
    return _progress(ind, target, series(ind, country=country), year)


@dataclass
class ObjectiveProgress:
    objective: Objective
    rows: list[Progress]

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUS_LABELS, 0)
        for r in self.rows:
            out[r.status] += 1
        return out


def progress(objective_number: Any, *, year: int | None = None) -> ObjectiveProgress:
    """The progress report of one strategic objective: every indicator against its global target."""
    obj = get_objective(objective_number)
    return ObjectiveProgress(obj, [indicator_progress(i, year=year) for i in indicators(obj.number)])


def progress_all(*, year: int | None = None) -> list[ObjectiveProgress]:
    return [progress(o.number, year=year) for o in objectives()]


# --- export for the report to the World Health Assembly -------------------------------------------------------------


def export_year(raw: Any) -> int:
    return _year(raw, "year")


def export_rows(year: int) -> list[dict[str, Any]]:
    """Every per-country value of every indicator for ``year`` (recorded and derived), one row each."""
    out = []
    for ind in indicators():
        for v in values_of(ind, period=year):
            out.append(
                {
                    "indicator": ind.code,
                    "objective": ind.objective.number,
                    "country": v.country,
                    "period": v.period,
                    "value": plain_number(v.value),
                    "kind": "derived" if ind.source == MATURITY else "recorded",
                    "source": v.source,
                    "note": v.note,
                }
            )
    return out


def plain_number(value: Decimal | None) -> str | None:
    """A decimal as plain text without trailing zeros (``2.5000`` -> ``2.5``, ``40.0000`` -> ``40``)."""
    if value is None:
        return None
    return format(value.normalize(), "f")


def export_report(year: int) -> dict[str, Any]:
    """The report for ``year``: per objective, each indicator's baseline, latest, target, % and status, and the
    aggregate of the year with its denominator; plus every country value of the year."""
    objectives_out = []
    for op in progress_all(year=year):
        rows = []
        for p in op.rows:
            agg = aggregate(p.indicator, year)
            rows.append(
                {
                    "code": p.indicator.code,
                    "name": p.indicator.name,
                    "unit": p.indicator.unit,
                    "aggregation": p.indicator.aggregation,
                    "kind": "derived" if p.indicator.source == MATURITY else "recorded",
                    "output": p.indicator.output.code if p.indicator.output else None,
                    "baseline": None
                    if p.target is None
                    else {"value": plain_number(p.target.baseline_value), "year": p.target.baseline_year},
                    "target": None
                    if p.target is None
                    else {"value": plain_number(p.target.target_value), "year": p.target.target_year},
                    "latest": None
                    if p.latest is None
                    else {"value": plain_number(p.latest.value), "period": p.latest.period},
                    "year": {
                        "value": plain_number(agg.value),
                        "reporting_countries": agg.reporting,
                        "meeting": agg.meeting,
                    },
                    "percent_of_way": plain_number(p.percent),
                    "status": p.status,
                }
            )
        objectives_out.append(
            {"number": op.objective.number, "title": op.objective.title, "counts": op.counts, "indicators": rows}
        )
    return {
        "title": f"Global strategy on digital health 2020-2025: progress report {year}",
        "year": year,
        "objectives": objectives_out,
        "values": export_rows(year),
    }


def export_csv(year: int) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf,
        fieldnames=["indicator", "objective", "country", "period", "value", "kind", "source", "note"],
        lineterminator="\n",
    )
    writer.writeheader()
    for row in export_rows(year):
        writer.writerow(row)
    return buf.getvalue()


def countries_with_values() -> list[str]:
    recorded = set(Value.objects.values_list("country", flat=True))
    return sorted(recorded)


def value_table(ind: Indicator) -> tuple[list[int], list[tuple[str, list[Decimal | None]]]]:
    """Periods and, per country, its value in each period (None: none) — the table under an indicator's chart."""
    rows = values_of(ind)
    periods = sorted({v.period for v in rows})
    by_country: dict[str, dict[int, Decimal]] = defaultdict(dict)
    for v in rows:
        by_country[v.country][v.period] = v.value
    return periods, [(c, [by_country[c].get(p) for p in periods]) for c in sorted(by_country)]
