"""Reproducible, realistic FHIR R4 case-report transaction Bundles, valid and with known defects.

Used by the demo, the tests (property-based and kill -9 tests of the intake) and the intake benchmark. One
:class:`CaseGenerator` with a seed gives, for every index, always the same Bundle: a retry of bundle ``i`` is
``gen.bundle(i)`` again, byte for byte, which is what a client that lost the answer sends.

A Bundle (``type`` ``transaction``) holds, in this order:

* ``Patient`` — names, the national identifier (``config.national_id_system``, most people; the rest carry only
  the facility's record number), phone, e-mail, an address line with postal code, city and district (the district's
  org-unit code), exact birth date, gender;
* ``Condition`` — the disease coded in ICD-11 MMS or ICD-10 with a code of the disease catalogue
  (:mod:`dhnet.diseases.catalogue`, a sub-code of a catalogue range where the catalogue names one), clinical and
  verification status (``confirmed`` / ``provisional`` / ``unconfirmed`` for confirmed / probable / suspected),
  onset and recorded (report) date;
* ``Encounter`` — the visit at the reporting facility: status, class, period, the district as
  ``serviceProvider`` identifier (:data:`dhnet.fhir.measurereport.ORGUNIT_CODE_SYSTEM`), death as discharge
  disposition;
* 0–2 lab ``Observation`` s — LOINC test codes fitting the disease, specimen date, SNOMED CT result, the
  Condition as ``focus`` (so several case reports can share one Bundle);
* optionally a ``Consent`` — research use granted or refused.

Every entry is a ``POST`` with ``ifNoneExist`` on its identifier (the facility's systems; the national identifier
for the Patient when there is one), so that a resent Bundle is a retry and stores nothing new. Facilities are
drawn from a fixed set per district; some persons come back in a later Bundle (another episode, same identifiers).

:meth:`CaseGenerator.invalid` gives the same Bundles with one known defect (:data:`DEFECTS`): the element path that
an ``OperationOutcome`` must name, and what the defect is. No Django import: the benchmark client uses this too.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from dhnet.diseases.catalogue import DISEASES

ICD11 = "http://id.who.int/icd/release/11/mms"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CANONICAL_BASE = "https://dhnet.example/fhir"  # = dhnet.fhir.measurereport.CANONICAL_BASE (no Django import here)
ORGUNIT_CODE_SYSTEM = f"{CANONICAL_BASE}/sid/orgunit-code"
DEFAULT_NATIONAL_ID_SYSTEM = f"{CANONICAL_BASE}/sid/national-id"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DISCHARGE = "http://terminology.hl7.org/CodeSystem/discharge-disposition"

#: classification -> Condition.verificationStatus code
VERIFICATION_OF = {"confirmed": "confirmed", "probable": "provisional", "suspected": "unconfirmed"}

#: ICD codes used for a catalogue disease whose catalogue code is a range (a real sub-code inside it)
RANGE_CODES = {"1F40-1F4Z": ("1F40", "1F41", "1F45"), "B50-B54": ("B50.9", "B51.9", "B54")}

#: LOINC tests by disease (else a blood culture); (code, display)
LAB_TESTS: dict[str, tuple[tuple[str, str], ...]] = {
    "malaria": (
        ("32700-7", "Microscopic observation [Identifier] in Blood by Malaria smear"),
        ("70569-9", "Plasmodium sp Ag [Identifier] in Blood by Rapid immunoassay"),
    ),
    "cholera": (("625-4", "Bacteria identified in Stool by Culture"),),
    "shigellosis": (("625-4", "Bacteria identified in Stool by Culture"),),
    "salmonellosis": (("625-4", "Bacteria identified in Stool by Culture"),),
    "campylobacteriosis": (("625-4", "Bacteria identified in Stool by Culture"),),
    "typhoid": (("600-7", "Bacteria identified in Blood by Culture"),),
    "covid19": (
        ("94500-6", "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection"),
    ),
    "influenza_new_subtype": (
        ("92142-9", "Influenza virus A RNA [Presence] in Respiratory specimen by NAA with probe detection"),
    ),
    "measles": (("20479-8", "Measles virus IgM Ab [Presence] in Serum"),),
}
BLOOD_CULTURE = ("600-7", "Bacteria identified in Blood by Culture")
POSITIVE = ("10828004", "Positive")
NEGATIVE = ("260385009", "Negative")

GIVEN_FEMALE = (
    "Anna", "Maria", "Emma", "Sophie", "Lena", "Laura", "Julia", "Hannah", "Lea", "Mia", "Katharina", "Sarah",
    "Johanna", "Elif", "Ayse", "Fatma", "Zeynep", "Olga", "Natalia", "Agnieszka", "Ursula", "Monika", "Sabine",
    "Petra", "Renate", "Ingrid", "Helga", "Claudia", "Susanne", "Amelie", "Marie", "Charlotte", "Greta", "Ida",
)  # fmt: skip
GIVEN_MALE = (
    "Lukas", "Leon", "Paul", "Jonas", "Felix", "Maximilian", "Elias", "Noah", "Ben", "Finn", "Thomas", "Michael",
    "Andreas", "Stefan", "Peter", "Wolfgang", "Klaus", "Jürgen", "Mehmet", "Mustafa", "Ahmet", "Ali", "Piotr",
    "Tomasz", "Dmitri", "Sergei", "Matthias", "Florian", "Tobias", "Johannes", "Karl", "Heinz", "Emil", "Anton",
)  # fmt: skip
FAMILY = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
    "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
    "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier",
    "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser",
    "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Yilmaz", "Kaya", "Demir", "Nowak",
    "Kowalski", "Ivanov", "Popescu", "Nguyen", "Öztürk", "Graf", "Vogel", "Friedrich", "Keller", "Günther",
)  # fmt: skip
STREETS = (
    "Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße", "Kirchstraße",
    "Waldstraße", "Ringstraße", "Lindenstraße", "Mühlenweg", "Am Markt", "Rosenweg", "Birkenallee", "Feldweg",
)  # fmt: skip
MAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "post.example")


@dataclass(frozen=True)
class Disease:
    """A catalogue disease with the ICD codes a report may use for it."""

    code: str
    name: str
    icd11: tuple[str, ...]
    icd10: tuple[str, ...]


def catalogue_diseases() -> list[Disease]:
    """The catalogue's diseases that have an ICD-11 or ICD-10 code (syndromes without one cannot be coded)."""
    found = []
    for code, name, icd11, icd10, _, _ in DISEASES:
        eleven = RANGE_CODES.get(icd11, (icd11,) if icd11 else ())
        ten = RANGE_CODES.get(icd10, (icd10,) if icd10 else ())
        if eleven or ten:
            found.append(Disease(code, name, eleven, ten))
    return found


def demo_districts(*, subset: bool = False) -> list[str]:
    """The district codes of the demo org-unit tree (``dhnet demo``; ``subset``: the ``--subset`` one)."""
    from pathlib import Path

    from dhnet.cli import demo

    data = Path(__file__).resolve().parents[3] / "data" / "surveillance"
    return [str(u["id"]) for u in demo.org_units(data, subset=subset) if u.get("geometry") is not None]


@dataclass(frozen=True)
class CaseFacts:
    """What a generated Bundle says, for assertions: the case as the intake should store it."""

    index: int
    person: int  # the person's number: equal for two Bundles of the same person
    condition_identifier: tuple[str, str]  # (system, value): the case's conditional-create key
    national_id: str | None
    district: str
    disease: str  # catalogue code
    icd_system: str
    icd_code: str
    classification: str
    onset_date: dt.date
    report_date: dt.date
    birth_date: dt.date
    sex: str
    died: bool
    lab_results: int
    consent: str | None  # "permit" / "deny" (research) or None


@dataclass(frozen=True)
class Generated:
    """One Bundle and what it says."""

    bundle: dict[str, Any]
    facts: CaseFacts

    @property
    def resources(self) -> int:
        return len(self.bundle["entry"])


@dataclass(frozen=True)
class Invalid:
    """A Bundle with one known defect: ``expression`` is the element an OperationOutcome must name."""

    bundle: dict[str, Any]
    defect: str
    expression: str
    description: str


class CaseGenerator:
    """Seeded generator: ``bundle(i)`` depends only on the seed, the options and ``i``.

    ``districts``: org-unit codes of districts; ``start``/``end``: the range of report dates; ``returning``: the
    share of Bundles whose person had an earlier Bundle (a new episode of the same person);
    ``national_id_share``: the share of persons with a national identifier; ``consent_share``: the share of
    Bundles with a research ``Consent``; ``facilities``: reporting facilities per district.
    """

    def __init__(
        self,
        seed: int = 1,
        *,
        districts: Sequence[str],
        diseases: Sequence[Disease] | None = None,
        start: dt.date = dt.date(2024, 1, 1),
        end: dt.date = dt.date(2024, 12, 31),
        national_id_system: str | None = None,
        returning: float = 0.05,
        national_id_share: float = 0.9,
        consent_share: float = 0.3,
        facilities: int = 3,
    ) -> None:
        if not districts:
            raise ValueError("at least one district is needed")
        if end < start:
            raise ValueError("end is before start")
        self.seed = seed
        self.districts = list(districts)
        self.diseases = list(diseases) if diseases is not None else catalogue_diseases()
        self.start = start
        self.end = end
        self.national_id_system = national_id_system or _configured_national_id_system()
        self.returning = returning
        self.national_id_share = national_id_share
        self.consent_share = consent_share
        self.facilities = facilities

    # --- valid bundles -----------------------------------------------------------------------------------------

    def bundle(self, index: int) -> dict[str, Any]:
        """The Bundle number ``index`` (always the same)."""
        return self.generate(index).bundle

    def bundles(self, count: int, first: int = 0) -> Iterator[dict[str, Any]]:
        for index in range(first, first + count):
            yield self.bundle(index)

    def generate(self, index: int) -> Generated:
        """The Bundle number ``index`` and its facts."""
        if index < 0:
            raise ValueError("index must be >= 0")
        rng = random.Random(f"dhnet-cases/{self.seed}/{index}")
        person = index
        if index > 0 and rng.random() < self.returning:
            person = rng.randrange(index)  # an earlier Bundle's person comes back
        prng = random.Random(f"dhnet-person/{self.seed}/{person}")
        who = self._person(prng, person)
        district = who["district"]
        facility = rng.randrange(self.facilities)
        base = f"https://facility-{district.lower()}-{facility}.example.org/fhir/sid"
        disease = rng.choice(self.diseases)
        systems = ([(ICD11, c) for c in disease.icd11] if disease.icd11 else []) + (
            [(ICD10, c) for c in disease.icd10] if disease.icd10 else []
        )
        icd_system, icd_code = rng.choice(systems)
        span = (self.end - self.start).days
        report_date = self.start + dt.timedelta(days=rng.randint(0, span))
        onset = report_date - dt.timedelta(days=min(int(rng.expovariate(1 / 3)), 20))
        if onset <= who["birth_date"]:
            onset = who["birth_date"] + dt.timedelta(days=1)
            report_date = max(report_date, onset)
        visit = min(onset + dt.timedelta(days=rng.randint(0, 3)), report_date)
        classification = rng.choices(("confirmed", "probable", "suspected"), (5, 2, 3))[0]
        died = rng.random() < 0.02
        labs = rng.choices((0, 1, 2), (3, 5, 2))[0] if classification != "suspected" else rng.choice((0, 0, 1))
        consent = rng.choice(("permit", "permit", "deny")) if rng.random() < self.consent_share else None

        ids = _Ids(rng)
        patient_url, condition_url, encounter_url = ids.urn(), ids.urn(), ids.urn()
        mrn = (f"{base}/mrn", f"{who['mrn_prefix']}{facility}-{person:07d}")
        case_key = (f"{base}/case", f"C{self.seed}-{index:08d}")
        entries = [
            _entry(patient_url, self._patient(who, mrn), self._patient_key(who, mrn)),
            _entry(
                condition_url,
                _condition(
                    case_key,
                    patient_url,
                    encounter_url,
                    icd_system,
                    icd_code,
                    disease.name,
                    classification,
                    onset,
                    report_date,
                ),
                case_key,
            ),
            _entry(
                encounter_url,
                _encounter(
                    (f"{base}/encounter", f"E{self.seed}-{index:08d}"), patient_url, district, visit, report_date, died
                ),
                (f"{base}/encounter", f"E{self.seed}-{index:08d}"),
            ),
        ]
        tests = LAB_TESTS.get(disease.code, (BLOOD_CULTURE,))
        for n in range(labs):
            loinc = tests[n % len(tests)]
            specimen = min(visit + dt.timedelta(days=n), report_date)
            positive = classification == "confirmed" or rng.random() < 0.3
            key = (f"{base}/lab", f"L{self.seed}-{index:08d}-{n}")
            observation = _observation(key, patient_url, encounter_url, loinc, specimen, positive)
            observation["focus"] = [{"reference": condition_url}]  # the case this result is for
            entries.append(_entry(ids.urn(), observation, key))
        if consent is not None:
            key = (f"{base}/consent", f"K{self.seed}-{index:08d}")
            entries.append(_entry(ids.urn(), _consent(key, patient_url, consent, report_date), key))
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        facts = CaseFacts(
            index=index,
            person=person,
            condition_identifier=case_key,
            national_id=who["national_id"],
            district=district,
            disease=disease.code,
            icd_system=icd_system,
            icd_code=icd_code,
            classification=classification,
            onset_date=onset,
            report_date=report_date,
            birth_date=who["birth_date"],
            sex=who["gender"],
            died=died,
            lab_results=labs,
            consent=consent,
        )
        return Generated(bundle, facts)

    def _person(self, rng: random.Random, person: int) -> dict[str, Any]:
        gender = rng.choices(("female", "male", "other", "unknown"), (49, 49, 1, 1))[0]
        given_pool = (
            GIVEN_FEMALE if gender == "female" else GIVEN_MALE if gender == "male" else GIVEN_FEMALE + GIVEN_MALE
        )
        given = [rng.choice(given_pool)]
        if rng.random() < 0.25:
            given.append(rng.choice(given_pool))
        family = rng.choice(FAMILY)
        if rng.random() < 0.08:
            family = f"{family}-{rng.choice(FAMILY)}"
        age_days = int(min(max(rng.gauss(38, 22), 0), 99) * 365.25) + rng.randrange(365)
        birth = self.start - dt.timedelta(days=age_days)
        district = rng.choice(self.districts)
        national = None
        if rng.random() < self.national_id_share:
            national = f"{rng.choice('CFGHJKLMNPRTVWXYZ')}{person:08d}{rng.randrange(10)}"
        local = _ascii(given[0]).lower() + "." + _ascii(family).lower().replace("-", "")
        return {
            "gender": gender,
            "given": given,
            "family": family,
            "birth_date": birth,
            "district": district,
            "national_id": national,
            "mrn_prefix": "MRN",
            "phone": f"+49 15{rng.randrange(10)} {rng.randrange(10**7, 10**8)}",
            "email": f"{local}{rng.randrange(100)}@{rng.choice(MAIL_DOMAINS)}" if rng.random() < 0.7 else None,
            "line": f"{rng.choice(STREETS)} {rng.randint(1, 180)}",
            "postal": f"{rng.randrange(10000, 99999)}",
            "city": f"Stadt {district}",
        }

    def _patient_key(self, who: dict[str, Any], mrn: tuple[str, str]) -> tuple[str, str]:
        return (self.national_id_system, who["national_id"]) if who["national_id"] else mrn

    def _patient(self, who: dict[str, Any], mrn: tuple[str, str]) -> dict[str, Any]:
        identifiers = [{"use": "usual", "system": mrn[0], "value": mrn[1]}]
        if who["national_id"]:
            identifiers.insert(0, {"use": "official", "system": self.national_id_system, "value": who["national_id"]})
        telecom = [{"system": "phone", "value": who["phone"], "use": "mobile"}]
        if who["email"]:
            telecom.append({"system": "email", "value": who["email"]})
        return {
            "resourceType": "Patient",
            "identifier": identifiers,
            "name": [{"use": "official", "family": who["family"], "given": who["given"]}],
            "telecom": telecom,
            "gender": who["gender"],
            "birthDate": who["birth_date"].isoformat(),
            "address": [
                {
                    "use": "home",
                    "line": [who["line"]],
                    "city": who["city"],
                    "district": who["district"],
                    "postalCode": who["postal"],
                    "country": "DE",
                }
            ],
        }

    # --- invalid bundles ---------------------------------------------------------------------------------------

    def invalid(self, index: int, defect: str | None = None) -> Invalid:
        """Bundle ``index`` with one defect of :data:`DEFECTS` (``None``: one drawn from the index)."""
        generated = self.generate(index)
        names = sorted(DEFECTS)
        name = (
            defect
            if defect is not None
            else names[random.Random(f"dhnet-defect/{self.seed}/{index}").randrange(len(names))]
        )
        if name not in DEFECTS:
            raise ValueError(f"unknown defect {name!r} (known: {', '.join(names)})")
        description, apply = DEFECTS[name]
        bundle = copy.deepcopy(generated.bundle)
        expression = apply(bundle, generated.facts)
        return Invalid(bundle, name, expression, description)


# --- resources ----------------------------------------------------------------------------------------------------


class _Ids:
    """Deterministic urn:uuid fullUrls from the Bundle's own random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def urn(self) -> str:
        return f"urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"


def _entry(full_url: str, resource: dict[str, Any], key: tuple[str, str]) -> dict[str, Any]:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], "ifNoneExist": f"identifier={key[0]}|{key[1]}"},
    }


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _condition(
    key: tuple[str, str],
    patient: str,
    encounter: str,
    icd_system: str,
    icd_code: str,
    name: str,
    classification: str,
    onset: dt.date,
    recorded: dt.date,
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "identifier": [{"system": key[0], "value": key[1]}],
        "clinicalStatus": _concept(CLINICAL, "active"),
        "verificationStatus": _concept(VERIFICATION, VERIFICATION_OF[classification]),
        "category": [_concept(CONDITION_CATEGORY, "encounter-diagnosis")],
        "code": {"coding": [{"system": icd_system, "code": icd_code, "display": name}], "text": name},
        "subject": {"reference": patient},
        "encounter": {"reference": encounter},
        "onsetDateTime": onset.isoformat(),
        "recordedDate": recorded.isoformat(),
    }


def _encounter(
    key: tuple[str, str], patient: str, district: str, visit: dt.date, report: dt.date, died: bool
) -> dict[str, Any]:
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "identifier": [{"system": key[0], "value": key[1]}],
        "status": "finished" if died or report > visit else "in-progress",
        "class": {"system": ACT_CODE, "code": "IMP" if died else "AMB"},
        "subject": {"reference": patient},
        "period": {"start": visit.isoformat()},
        "serviceProvider": {"identifier": {"system": ORGUNIT_CODE_SYSTEM, "value": district}},
    }
    if encounter["status"] == "finished":
        encounter["period"]["end"] = report.isoformat()
    if died:
        encounter["hospitalization"] = {"dischargeDisposition": _concept(DISCHARGE, "exp", "Expired")}
    return encounter


def _observation(
    key: tuple[str, str], patient: str, encounter: str, loinc: tuple[str, str], specimen: dt.date, positive: bool
) -> dict[str, Any]:
    result = POSITIVE if positive else NEGATIVE
    return {
        "resourceType": "Observation",
        "identifier": [{"system": key[0], "value": key[1]}],
        "status": "final",
        "category": [_concept(OBSERVATION_CATEGORY, "laboratory")],
        "code": _concept(LOINC, loinc[0], loinc[1]),
        "subject": {"reference": patient},
        "encounter": {"reference": encounter},
        "effectiveDateTime": specimen.isoformat(),
        "valueCodeableConcept": _concept(SNOMED, result[0], result[1]),
        "interpretation": [_concept(INTERPRETATION, "POS" if positive else "NEG")],
    }


def _consent(key: tuple[str, str], patient: str, decision: str, when: dt.date) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "identifier": [{"system": key[0], "value": key[1]}],
        "status": "active",
        "scope": _concept(CONSENT_SCOPE, "research"),
        "category": [_concept(LOINC, "57016-8", "Privacy policy acknowledgment Document")],
        "patient": {"reference": patient},
        "dateTime": f"{when.isoformat()}T12:00:00Z",
        "policyRule": _concept(ACT_CODE, "OPTIN" if decision == "permit" else "OPTOUT"),
        "provision": {"type": decision, "purpose": [{"system": ACT_REASON, "code": "HRESCH"}]},
    }


def _ascii(text: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ş": "s"})
    return text.translate(table).encode("ascii", "ignore").decode()


def _configured_national_id_system() -> str:
    """``config.national_id_system`` when the platform's configuration has one, else the default."""
    try:
        from dhnet.platform.config import Config

        value = getattr(Config.from_env(), "national_id_system", None)
    except Exception:  # no configuration in this process (a bare benchmark client): the default
        value = None
    return str(value) if value else DEFAULT_NATIONAL_ID_SYSTEM


# --- defects ------------------------------------------------------------------------------------------------------


def _find(bundle: dict[str, Any], resource_type: str) -> tuple[int, dict[str, Any]]:
    for i, entry in enumerate(bundle["entry"]):
        if entry["resource"]["resourceType"] == resource_type:
            return i, entry["resource"]
    raise LookupError(resource_type)


def _lab(bundle: dict[str, Any], facts: CaseFacts) -> tuple[int, dict[str, Any]]:
    """The first lab Observation, adding one when the Bundle has none."""
    try:
        return _find(bundle, "Observation")
    except LookupError:
        patient = bundle["entry"][0]["fullUrl"]
        encounter = bundle["entry"][2]["fullUrl"]
        key = ("https://facility.example.org/fhir/sid/lab", f"L-defect-{facts.index}")
        resource = _observation(key, patient, encounter, BLOOD_CULTURE, facts.onset_date, True)
        bundle["entry"].insert(3, _entry(f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key[1])}", resource, key))
        return 3, resource


def _at(i: int, element: str) -> str:
    return f"Bundle.entry[{i}].resource.{element}"


def _bad_gender(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, patient = _find(bundle, "Patient")
    patient["gender"] = "M"
    return _at(i, "gender")


def _bad_condition_status(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, condition = _find(bundle, "Condition")
    condition["clinicalStatus"]["coding"][0]["code"] = "ongoing"
    return _at(i, "clinicalStatus.coding[0].code")


def _bad_encounter_status(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, encounter = _find(bundle, "Encounter")
    encounter["status"] = "done"
    return _at(i, "status")


def _bad_observation_status(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, observation = _lab(bundle, facts)
    observation["status"] = "complete"
    return _at(i, "status")


def _unknown_code_system(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, condition = _find(bundle, "Condition")
    condition["code"]["coding"][0]["system"] = "http://example.org/my-disease-codes"
    return _at(i, "code.coding[0].system")


def _code_not_in_catalogue(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, condition = _find(bundle, "Condition")
    coding = condition["code"]["coding"][0]
    coding["code"] = "XN6P4" if coding["system"] == ICD11 else "Z99.9"  # real codes, no notifiable disease
    return _at(i, "code.coding[0].code")


def _unknown_lab_system(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, observation = _lab(bundle, facts)
    observation["code"]["coding"][0]["system"] = "http://example.org/lab-codes"
    return _at(i, "code.coding[0].system")


def _unresolvable_subject(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, condition = _find(bundle, "Condition")
    condition["subject"]["reference"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
    return _at(i, "subject.reference")


def _unresolvable_encounter(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, observation = _lab(bundle, facts)
    observation["encounter"]["reference"] = "Encounter/does-not-exist"
    return _at(i, "encounter.reference")


def _impossible_onset(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, condition = _find(bundle, "Condition")
    condition["onsetDateTime"] = f"{facts.report_date.year}-02-30"
    return _at(i, "onset.ofType(dateTime)")


def _future_onset(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, condition = _find(bundle, "Condition")
    condition["onsetDateTime"] = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    return _at(i, "onset.ofType(dateTime)")


def _onset_before_birth(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, condition = _find(bundle, "Condition")
    condition["onsetDateTime"] = (facts.birth_date - dt.timedelta(days=30)).isoformat()
    return _at(i, "onset.ofType(dateTime)")


def _future_birth(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, patient = _find(bundle, "Patient")
    patient["birthDate"] = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    return _at(i, "birthDate")


def _ancient_birth(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, patient = _find(bundle, "Patient")
    patient["birthDate"] = "1850-01-01"
    return _at(i, "birthDate")


def _birth_date_retyped(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, patient = _find(bundle, "Patient")
    patient["birthDate"] = 19840101
    return _at(i, "birthDate")


def _missing_condition_code(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, condition = _find(bundle, "Condition")
    del condition["code"]
    return _at(i, "code")


def _missing_subject(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, condition = _find(bundle, "Condition")
    del condition["subject"]
    return _at(i, "subject")


def _missing_observation_code(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, observation = _lab(bundle, facts)
    del observation["code"]
    return _at(i, "code")


def _overlong_identifier(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, condition = _find(bundle, "Condition")
    condition["identifier"][0]["value"] = "C" * 100_000
    return _at(i, "identifier[0].value")


def _unknown_element(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, patient = _find(bundle, "Patient")
    patient["favouriteColour"] = "blue"
    return _at(i, "favouriteColour")


def _unknown_district(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, encounter = _find(bundle, "Encounter")
    encounter["serviceProvider"]["identifier"]["value"] = "NO-SUCH-DISTRICT"
    return _at(i, "serviceProvider.identifier.value")


def _name_retyped(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, patient = _find(bundle, "Patient")
    patient["name"] = {"family": patient["name"][0]["family"]}
    return _at(i, "name")


def _unsupported_method(bundle: dict[str, Any], facts: CaseFacts) -> str:
    i, _ = _find(bundle, "Condition")
    bundle["entry"][i]["request"]["method"] = "PATCH"
    return f"Bundle.entry[{i}].request.method"


#: name -> (description, function that applies the defect to a Bundle and answers the element path)
DEFECTS: dict[str, tuple[str, Callable[[dict[str, Any], CaseFacts], str]]] = {
    "bad-gender": ("Patient.gender not in the required value set (administrative-gender)", _bad_gender),
    "bad-condition-status": ("Condition.clinicalStatus code not in condition-clinical", _bad_condition_status),
    "bad-encounter-status": ("Encounter.status not in the required value set", _bad_encounter_status),
    "bad-observation-status": ("Observation.status not in the required value set", _bad_observation_status),
    "unknown-code-system": ("Condition.code in a code system the intake does not know", _unknown_code_system),
    "code-not-in-catalogue": ("Condition.code a real ICD code of no catalogue disease", _code_not_in_catalogue),
    "unknown-lab-system": ("Observation.code not in LOINC", _unknown_lab_system),
    "unresolvable-subject": ("Condition.subject names no entry of the Bundle", _unresolvable_subject),
    "unresolvable-encounter": ("Observation.encounter names a resource that does not exist", _unresolvable_encounter),
    "impossible-onset": ("Condition.onsetDateTime is not a calendar date (30 February)", _impossible_onset),
    "future-onset": ("Condition.onsetDateTime more than a year in the future", _future_onset),
    "onset-before-birth": ("Condition.onsetDateTime before the Patient's birth date", _onset_before_birth),
    "future-birth": ("Patient.birthDate in the future", _future_birth),
    "ancient-birth": ("Patient.birthDate implausibly old (1850)", _ancient_birth),
    "birth-date-retyped": ("Patient.birthDate a JSON number instead of a string", _birth_date_retyped),
    "missing-condition-code": ("Condition.code removed (the disease)", _missing_condition_code),
    "missing-subject": ("Condition.subject removed (required)", _missing_subject),
    "missing-observation-code": ("Observation.code removed (required)", _missing_observation_code),
    "overlong-identifier": ("Condition.identifier value of 100,000 characters", _overlong_identifier),
    "unknown-element": ("an element R4 does not define on Patient", _unknown_element),
    "unknown-district": ("Encounter.serviceProvider names no org unit", _unknown_district),
    "name-retyped": ("Patient.name an object where R4 has an array", _name_retyped),
    "unsupported-method": ("a transaction entry with request.method PATCH", _unsupported_method),
}
