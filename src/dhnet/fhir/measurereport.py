"""Our profile of R4 ``MeasureReport`` for IDSR aggregate reports, and its mapping to count rows.

What a sender writes (every rule below is checked, and a breach answered with an ``OperationOutcome`` issue whose
``expression`` names the element)::

    {
      "resourceType": "MeasureReport",
      "identifier": [{"system": "https://moh.example/reports", "value": "D11-2024W05"}],   (optional; If-None-Exist)
      "status": "complete",                               (complete only: pending and error are not taken)
      "type": "summary",                                  (summary or data-collection: an aggregate)
      "measure": "https://dhnet.example/fhir/Measure/idsr-weekly",       (or .../idsr-monthly; "|version" allowed)
      "subject": {"type": "Location",                     (the org unit the counts belong to; else "reporter")
                  "identifier": {"system": "https://dhnet.example/fhir/sid/orgunit-code", "value": "D11"}},
      "period": {"start": "2024-01-29", "end": "2024-02-04"},   (an ISO week Monday..Sunday, or a calendar month)
      "group": [{                                         (one group per disease)
        "code": {"coding": [{"system": "http://id.who.int/icd/release/11/mms", "code": "1F03"}]},
        "population": [
          {"code": {"coding": [{"system": "https://dhnet.example/fhir/CodeSystem/idsr-population",
                                "code": "cases"}]}, "count": 12},
          {"code": {"coding": [{"system": "https://dhnet.example/fhir/CodeSystem/idsr-population",
                                "code": "deaths"}]}, "count": 1}],
        "measureScore": {"value": 12}                     (optional; taken as cases when no cases population)
      }]
    }

- Org units are named by identifier, never by a server id: ``system`` :data:`ORGUNIT_CODE_SYSTEM` (``value`` =
  the org-unit code, as in ``/api/v1/orgunits``) or :data:`ORGUNIT_UID_SYSTEM` (``value`` = its source-system
  id, e.g. the DHIS2 uid); ``type``, if given, is ``Location`` or ``Organization``. ``subject`` is used when it
  names an org unit, else ``reporter`` (a regional office may report for a district: subject = the district).
- Diseases are named by a coding in ICD-11 MMS (:data:`ICD11`, ``Disease.icd11``), ICD-10 (:data:`ICD10`,
  ``Disease.icd10``) or our catalogue (:data:`DISEASE_SYSTEM`, ``Disease.code``); an ICD code may be a
  subcategory of the catalogue's (``A00.9`` is cholera) or fall in its range (``B50`` in ``B50-B54``). Codings in
  other systems are ignored, and all recognised codings of one group must name the same disease.
- The measure fixes the period kind; it must match the disease's reporting frequency (weekly, and immediate
  diseases in their weekly summary; monthly). Counts are whole numbers >= 0.
- Not taken: ``stratifier`` (totals only), ``modifierExtension`` (its meaning would be lost). Other elements are
  kept in the stored resource but not interpreted.

:func:`check` reads the profile without the database; :func:`resolve` looks up org unit and diseases and checks
jurisdiction, giving the count rows for :func:`dhnet.reporting.services.ingest`.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dhnet.diseases.models import Disease, ReportingFrequency
from dhnet.fhir.outcome import Issue
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor

CANONICAL_BASE = "https://dhnet.example/fhir"
MEASURE_WEEKLY = f"{CANONICAL_BASE}/Measure/idsr-weekly"
MEASURE_MONTHLY = f"{CANONICAL_BASE}/Measure/idsr-monthly"
MEASURES = {MEASURE_WEEKLY: "weekly", MEASURE_MONTHLY: "monthly"}
DISEASE_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/disease"
POPULATION_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/idsr-population"
ORGUNIT_CODE_SYSTEM = f"{CANONICAL_BASE}/sid/orgunit-code"
ORGUNIT_UID_SYSTEM = f"{CANONICAL_BASE}/sid/orgunit-uid"
ICD11 = "http://id.who.int/icd/release/11/mms"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
DISEASE_SYSTEMS = {ICD11: "icd11", ICD10: "icd10", DISEASE_SYSTEM: "code"}
POPULATIONS = ("cases", "deaths")
ACCEPTED_STATUS = ("complete",)
ACCEPTED_TYPES = ("summary", "data-collection")
ORGUNIT_TYPES = ("Location", "Organization")
WRITE = "surveillance:report:write"


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    path: str


@dataclass
class Group:
    path: str
    codings: list[Coding]
    counts: dict[str, tuple[int, str]] = field(default_factory=dict)  # measure -> (value, element path)


@dataclass
class Report:
    """A MeasureReport that passed :func:`check` (no database yet)."""

    root: str
    frequency: str  # weekly | monthly
    period_start: dt.date
    orgunit_system: str
    orgunit_value: str
    orgunit_path: str
    groups: list[Group]
    identifiers: list[tuple[str, str]]


@dataclass(frozen=True)
class Row:
    """One count to store: disease code, org-unit code, first day of the period, measure, value; and the elements
    that said each (for messages)."""

    disease: str
    orgunit: str
    period_start: dt.date
    measure: str
    value: int
    path: str  # the count
    disease_path: str = ""
    orgunit_path: str = ""
    period_path: str = ""


def check(data: dict[str, Any], root: str = "MeasureReport") -> tuple[Report | None, list[Issue]]:
    """Our profile rules on a MeasureReport that passed the generic R4 validation."""
    issues: list[Issue] = []

    def bad(code: str, message: str, path: str) -> None:
        issues.append(Issue(code, message, path))

    for path in _modifier_extensions(data, root):
        bad("not-supported", "modifierExtension is not supported: its meaning would be lost", path)
    status = data.get("status")
    if status not in ACCEPTED_STATUS:
        bad("business-rule", f"status {status!r}: only a complete report is taken", f"{root}.status")
    rtype = data.get("type")
    if rtype not in ACCEPTED_TYPES:
        bad("business-rule", f"type {rtype!r}: expected an aggregate ({' or '.join(ACCEPTED_TYPES)})", f"{root}.type")
    measure = str(data.get("measure", "")).split("|", 1)[0]
    frequency = MEASURES.get(measure)
    if frequency is None:
        known = ", ".join(MEASURES)
        bad("not-found", f"unknown measure {measure!r}: expected one of {known}", f"{root}.measure")
    period_start = _period(data.get("period"), frequency, f"{root}.period", bad)
    orgunit = _orgunit_reference(data, root, bad)
    groups = _groups(data.get("group"), root, bad)
    identifiers = [
        (str(i.get("system", "")), str(i["value"]))
        for i in data.get("identifier") or []
        if isinstance(i, dict) and isinstance(i.get("value"), str)
    ]
    if issues or frequency is None or period_start is None or orgunit is None:
        return None, issues
    return Report(root, frequency, period_start, *orgunit, groups, identifiers), issues


def _modifier_extensions(value: Any, path: str) -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "modifierExtension":
                yield f"{path}.modifierExtension"
            elif key != "contained":
                yield from _modifier_extensions(item, f"{path}.{key.lstrip('_')}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _modifier_extensions(item, f"{path}[{i}]")


def _date(value: Any, path: str, bad: Any) -> dt.date | None:
    text = value if isinstance(value, str) else ""
    try:
        if len(text) < 10:
            raise ValueError
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        bad("value", f"{text!r}: a full date (YYYY-MM-DD) is required", path)
        return None


def _period(period: Any, frequency: str | None, path: str, bad: Any) -> dt.date | None:
    if not isinstance(period, dict) or "start" not in period or "end" not in period:
        bad("required", "period.start and period.end are required", path)
        return None
    start = _date(period.get("start"), f"{path}.start", bad)
    end = _date(period.get("end"), f"{path}.end", bad)
    if start is None or end is None or frequency is None:
        return None
    if frequency == "weekly":
        if start.weekday() != 0:
            year, week, _ = start.isocalendar()
            bad(
                "value",
                f"{start}: an ISO week starts on a Monday ({year}-W{week:02d} starts on "
                f"{dt.date.fromisocalendar(year, week, 1)})",
                f"{path}.start",
            )
            return None
        if end != start + dt.timedelta(days=6):
            bad("value", f"{end}: the ISO week starting {start} ends on {start + dt.timedelta(days=6)}", f"{path}.end")
            return None
    else:
        if start.day != 1:
            bad("value", f"{start}: a month starts on its first day", f"{path}.start")
            return None
        last = start.replace(day=calendar.monthrange(start.year, start.month)[1])
        if end != last:
            bad("value", f"{end}: the month starting {start} ends on {last}", f"{path}.end")
            return None
    if start > dt.date.today():
        bad("business-rule", f"{start}: the period has not started yet", f"{path}.start")
        return None
    return start


def _orgunit_reference(data: dict[str, Any], root: str, bad: Any) -> tuple[str, str, str] | None:
    seen = False
    for key in ("subject", "reporter"):
        ref = data.get(key)
        if not isinstance(ref, dict):
            continue
        seen = True
        ident = ref.get("identifier")
        if not isinstance(ident, dict) or ident.get("system") not in (ORGUNIT_CODE_SYSTEM, ORGUNIT_UID_SYSTEM):
            continue
        if "type" in ref and ref["type"] not in ORGUNIT_TYPES:
            bad("value", f"type {ref['type']!r}: an org unit is a Location or an Organization", f"{root}.{key}.type")
            return None
        value = ident.get("value")
        if not isinstance(value, str) or not value.strip():
            bad("required", "the org-unit identifier needs a value", f"{root}.{key}.identifier.value")
            return None
        return str(ident["system"]), value.strip(), f"{root}.{key}.identifier"
    where = f"{root}.subject" if isinstance(data.get("subject"), dict) or not seen else f"{root}.reporter"
    bad(
        "required",
        "name the org unit in subject (or reporter) by identifier, system "
        f"{ORGUNIT_CODE_SYSTEM} (org-unit code) or {ORGUNIT_UID_SYSTEM} (source-system id)",
        f"{where}.identifier" if seen else where,
    )
    return None


def _groups(groups: Any, root: str, bad: Any) -> list[Group]:
    if not isinstance(groups, list) or not groups:
        bad("required", "at least one group (one per disease) is required", f"{root}.group")
        return []
    result = []
    for i, group in enumerate(groups):
        path = f"{root}.group[{i}]"
        if not isinstance(group, dict):
            continue
        if "stratifier" in group:
            bad("not-supported", "stratifier is not supported: report the totals", f"{path}.stratifier")
        codings = _codings(group.get("code"), f"{path}.code")
        if not codings:
            bad(
                "required",
                f"a disease code is required, in {ICD11}, {ICD10} or {DISEASE_SYSTEM}",
                f"{path}.code",
            )
        parsed = Group(path, codings)
        for j, population in enumerate(group.get("population") or []):
            ppath = f"{path}.population[{j}]"
            if not isinstance(population, dict):
                continue
            codes = [c.code for c in _codings(population.get("code"), f"{ppath}.code", {POPULATION_SYSTEM})]
            if len(codes) != 1 or codes[0] not in POPULATIONS:
                bad(
                    "code-invalid",
                    f"a population is coded {POPULATION_SYSTEM} {' or '.join(POPULATIONS)}"
                    + (f" (got {', '.join(codes)})" if codes else ""),
                    f"{ppath}.code",
                )
                continue
            if codes[0] in parsed.counts:
                bad("duplicate", f"population {codes[0]!r} repeats in this group", f"{ppath}.code")
                continue
            count = population.get("count")
            if count is None:
                bad("required", f"the {codes[0]} count is required", f"{ppath}.count")
            elif isinstance(count, bool) or not isinstance(count, int) or count < 0:
                bad("value", f"{count!r}: a count is a whole number >= 0", f"{ppath}.count")
            else:
                parsed.counts[codes[0]] = (count, f"{ppath}.count")
        score = group.get("measureScore")
        if isinstance(score, dict) and "value" in score:
            value = score["value"]
            spath = f"{path}.measureScore.value"
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
                bad("value", f"{value!r}: the measure score is a case count, a whole number >= 0", spath)
            elif "cases" in parsed.counts and parsed.counts["cases"][0] != int(value):
                bad(
                    "conflict",
                    f"measureScore {value!r} differs from the cases population {parsed.counts['cases'][0]}",
                    spath,
                )
            else:
                parsed.counts.setdefault("cases", (int(value), spath))
        if not parsed.counts and codings:
            bad("required", "no count: give a cases or deaths population, or a measureScore", f"{path}.population")
        result.append(parsed)
    return result


def _codings(concept: Any, path: str, systems: Iterable[str] = tuple(DISEASE_SYSTEMS)) -> list[Coding]:
    wanted = set(systems)
    found = []
    if isinstance(concept, dict):
        for k, coding in enumerate(concept.get("coding") or []):
            if isinstance(coding, dict) and coding.get("system") in wanted and isinstance(coding.get("code"), str):
                found.append(Coding(coding["system"], coding["code"].strip(), f"{path}.coding[{k}]"))
    return found


# --- with the database ------------------------------------------------------------------------------------------


@dataclass
class Catalogue:
    """The disease catalogue and the org units looked up so far: loaded once per request, not per group.

    An ICD code names a disease when it equals the catalogue's code, is a subcategory of it (``A00.9`` -> ``A00``,
    ``1F03.0`` -> ``1F03``), or falls in the catalogue's range (``B50-B54`` takes ``B50``..``B54`` and their
    subcategories); the most specific catalogue code wins.
    """

    diseases: list[Disease]
    units: dict[tuple[str, str], OrgUnit | None] = field(default_factory=dict)
    _matches: dict[tuple[str, str], list[Disease]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Catalogue:
        return cls(list(Disease.objects.all()))

    def match(self, field_name: str, code: str) -> list[Disease]:
        """The diseases that ``code`` of ``field_name`` (code, icd11, icd10) names, most specific first."""
        key = (field_name, code)
        if key not in self._matches:
            if field_name == "code":
                found = [d for d in self.diseases if d.code == code]
            else:
                scored = [(icd_match(getattr(d, field_name), code), d) for d in self.diseases]
                best = max((score for score, _ in scored), default=0)
                found = [d for score, d in scored if score and score == best]
            self._matches[key] = found
        return self._matches[key]

    def unit(self, system: str, value: str) -> OrgUnit | None:
        key = (system, value)
        if key not in self.units:
            lookup = {"code": value} if system == ORGUNIT_CODE_SYSTEM else {"uid": value}
            self.units[key] = OrgUnit.objects.filter(**lookup).first()
        return self.units[key]


def icd_match(catalogue_code: str, code: str) -> int:
    """How specifically ``catalogue_code`` (a code or a range ``X-Y``) covers ``code``: 0 = not at all."""
    ours = catalogue_code.strip().upper()
    theirs = code.strip().upper()
    if not ours or not theirs:
        return 0
    if ours == theirs:
        return 1000
    if theirs.startswith(ours + "."):
        return 100 + len(ours)
    if "-" in ours:
        low, _, high = ours.partition("-")
        stem = theirs.split(".", 1)[0]
        if len(stem) == len(low) == len(high) and low <= stem <= high:
            return 10
    return 0


@dataclass
class Resolved:
    orgunit: OrgUnit
    rows: list[Row]


def resolve(actor: Actor, report: Report, catalogue: Catalogue) -> tuple[Resolved | None, list[Issue], list[Issue]]:
    """Look up the org unit and the diseases: (result, issues (422), jurisdiction issues (403))."""
    issues: list[Issue] = []
    forbidden: list[Issue] = []
    unit = catalogue.unit(report.orgunit_system, report.orgunit_value)
    if unit is None:
        what = "code" if report.orgunit_system == ORGUNIT_CODE_SYSTEM else "source-system id"
        issues.append(
            Issue("not-found", f"no org unit with {what} {report.orgunit_value!r}", f"{report.orgunit_path}.value")
        )
    elif not any(unit.is_within(p) for p in actor.paths_for(WRITE)):
        forbidden.append(
            Issue(
                "forbidden",
                f"org unit {unit.code!r} is outside your jurisdiction for {WRITE}",
                f"{report.orgunit_path}.value",
            )
        )
    rows: list[Row] = []
    seen: dict[str, str] = {}
    for group in report.groups:
        disease = _disease(group, catalogue, issues)
        if disease is None:
            continue
        if disease.code in seen:
            issues.append(
                Issue("duplicate", f"disease {disease.code!r} repeats {seen[disease.code]}", f"{group.path}.code")
            )
            continue
        seen[disease.code] = group.path
        expected = "monthly" if disease.reporting == ReportingFrequency.MONTHLY else "weekly"
        if expected != report.frequency:
            issues.append(
                Issue(
                    "business-rule",
                    f"{disease.code} is reported {expected}, but the measure is {report.frequency}",
                    f"{group.path}.code",
                )
            )
            continue
        if unit is not None:
            for measure, (value, path) in sorted(group.counts.items()):
                rows.append(
                    Row(
                        disease.code,
                        unit.code,
                        report.period_start,
                        measure,
                        value,
                        path,
                        f"{group.path}.code",
                        f"{report.orgunit_path}.value",
                        f"{report.root}.period",
                    )
                )
    if issues or forbidden or unit is None:
        return None, issues, forbidden
    return Resolved(unit, rows), issues, forbidden


def _disease(group: Group, catalogue: Catalogue, issues: list[Issue]) -> Disease | None:
    found: dict[str, Disease] = {}
    for coding in group.codings:
        field_name = DISEASE_SYSTEMS[coding.system]
        matches = catalogue.match(field_name, coding.code)
        if not matches:
            issues.append(Issue("code-invalid", f"no disease with {field_name} {coding.code!r}", f"{coding.path}.code"))
            return None
        if len(matches) > 1:
            issues.append(
                Issue("multiple-matches", f"{field_name} {coding.code!r} names several diseases", f"{coding.path}.code")
            )
            return None
        found[matches[0].code] = matches[0]
    if len(found) > 1:
        issues.append(
            Issue("conflict", f"the codings name different diseases: {', '.join(sorted(found))}", f"{group.path}.code")
        )
        return None
    disease = next(iter(found.values()), None)
    if disease is not None and not disease.active:
        issues.append(Issue("business-rule", f"disease {disease.code!r} is not active", f"{group.path}.code"))
        return None
    return disease
