"""A generated, realistic registry of digital-health deployments, for tests, benchmarks and the demo.

:func:`generate_registry` writes products, organisations and projects in the canonical record shapes of
``docs/atlas-design.md`` (the shapes :mod:`dhnet.atlas.io` imports and exports). The products are real, widely
deployed systems with their published licences, digital-public-good status, standards and the CDHI interventions they
typically serve; everything else is made up and says so: the countries are real ISO codes, but every project, budget
and metric is an *example* ("(generated example)" in each description), funders and implementers have generic names
("Global Health Fund (example)", "Ministry of Health of Kenya"). The same seed gives the same registry, byte for byte.

:func:`load_generated` stores such a registry quickly (``bulk_create`` in one transaction, a
:class:`~dhnet.atlas.models.RecordVersion` per record and one audit record per batch) for the benchmarks and the
demo, where going through the import path row by row would take minutes for 10,000 projects. Importing through
:func:`dhnet.atlas.io.import_projects` works for the same data (the tests do it for 500 projects).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: The generated descriptions end with this, so that nobody mistakes an example for a registered deployment.
MARK = "(generated example)"

# --- reference data: real products ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductSpec:
    """A real product and what a deployment of it typically addresses (our own short description)."""

    slug: str
    name: str
    description: str
    website: str
    repository: str
    licence: str
    open_source: bool
    dpg_status: str
    maturity: str
    standards: tuple[str, ...]
    interventions: tuple[str, ...]
    system_categories: tuple[str, ...]
    languages: tuple[str, ...]
    offline: bool
    #: What a deployment of it is used for (the start of a project name) and what it addresses.
    uses: tuple[str, ...]
    challenges: tuple[str, ...]
    health_areas: tuple[str, ...]
    #: The kind of system it is for another project's interoperability link (InteropLink.Kind), or "" if none.
    interop_kind: str


S = "standard:"
PRODUCTS: tuple[ProductSpec, ...] = (
    ProductSpec(
        "dhis2",
        "DHIS2",
        "Web-based platform for collecting, validating, analysing and presenting aggregate and individual-level "
        "health data; used as a national HMIS in many countries.",
        "https://dhis2.org",
        "https://github.com/dhis2/dhis2-core",
        "BSD-3-Clause",
        True,
        "dpg",
        "mature",
        (S + "adx", S + "hl7-fhir", S + "sdmx"),
        ("cdhi-v1:2.2.4", "cdhi-v1:4.1.2", "cdhi-v1:4.1.3", "cdhi-v1:3.3.1"),
        ("system-category-v1:N", "system-category-v1:V"),
        ("en", "fr", "es", "pt", "ar"),
        True,
        ("Routine health information system", "Disease surveillance dashboards", "Immunisation data tracker"),
        ("hsc:1.2", "hsc:1.3", "hsc:1.6", "hsc:1.5"),
        ("health-area:19.7", "health-area:19.3", "health-area:2.1"),
        "hmis",
    ),
    ProductSpec(
        "openmrs",
        "OpenMRS",
        "Open-source electronic medical record platform for low-resource settings, adapted for HIV, TB and "
        "primary care.",
        "https://openmrs.org",
        "https://github.com/openmrs/openmrs-core",
        "MPL-2.0",
        True,
        "dpg",
        "mature",
        (S + "hl7-fhir", S + "hl7-v2", S + "loinc"),
        ("cdhi-v1:2.2.1", "cdhi-v1:2.2.2", "cdhi-v1:2.3.1", "cdhi-v1:2.1.2"),
        ("system-category-v1:H",),
        ("en", "fr", "es", "pt"),
        False,
        ("Electronic medical records in clinics", "HIV care and treatment records", "Primary care EMR"),
        ("hsc:3.5", "hsc:5.4", "hsc:3.7"),
        ("health-area:1.7", "health-area:7.1", "health-area:8.3"),
        "shared_health_record",
    ),
    ProductSpec(
        "opensrp",
        "OpenSRP",
        "Mobile health platform for community and facility health workers (registers, immunisation, antenatal care), "
        "working offline.",
        "https://smartregister.org",
        "https://github.com/opensrp",
        "Apache-2.0",
        True,
        "dpg",
        "established",
        (S + "hl7-fhir",),
        ("cdhi-v1:2.1.2", "cdhi-v1:2.2.1", "cdhi-v1:2.7.1", "cdhi-v1:2.3.1"),
        ("system-category-v1:F", "system-category-v1:C"),
        ("en", "fr", "id"),
        True,
        ("Community health worker registers", "Electronic immunisation registry", "Antenatal care follow-up"),
        ("hsc:5.4", "hsc:3.5", "hsc:1.1"),
        ("health-area:3.2", "health-area:2.1", "health-area:3.1"),
        "",
    ),
    ProductSpec(
        "commcare",
        "CommCare",
        "Configurable mobile data collection and case management platform for frontline workers, with offline "
        "apps and a web server.",
        "https://www.dimagi.com/commcare/",
        "https://github.com/dimagi/commcare-hq",
        "BSD-3-Clause",
        True,
        "dpg",
        "mature",
        (S + "hl7-fhir",),
        ("cdhi-v1:2.2.1", "cdhi-v1:2.3.2", "cdhi-v1:4.1.1", "cdhi-v1:2.5.1"),
        ("system-category-v1:F", "system-category-v1:C"),
        ("en", "fr", "es", "pt", "hi", "sw"),
        True,
        ("Community case management app", "Frontline worker nutrition screening", "Household visit tracking"),
        ("hsc:3.2", "hsc:3.6", "hsc:5.4"),
        ("health-area:11.1", "health-area:3.6", "health-area:2.1"),
        "",
    ),
    ProductSpec(
        "ihris",
        "iHRIS",
        "Human resources information system for health: workforce registry, deployment, training and licensing.",
        "https://www.ihris.org",
        "https://github.com/iHRIS/iHRIS",
        "Apache-2.0",
        True,
        "dpg",
        "established",
        (S + "hl7-fhir", S + "ihe-csd"),
        ("cdhi-v1:3.1.1", "cdhi-v1:3.1.3", "cdhi-v1:3.1.4"),
        ("system-category-v1:O",),
        ("en", "fr"),
        False,
        ("Health workforce registry", "Health worker licensing system"),
        ("hsc:2.4", "hsc:6.3", "hsc:3.2"),
        ("health-area:19.8",),
        "health_worker_registry",
    ),
    ProductSpec(
        "openlmis",
        "OpenLMIS",
        "Logistics management information system for health commodities: requisitions, stock management and "
        "vaccine supply chains.",
        "https://openlmis.org",
        "https://github.com/OpenLMIS",
        "AGPL-3.0",
        True,
        "dpg",
        "mature",
        (S + "gs1", S + "hl7-fhir"),
        ("cdhi-v1:3.2.1", "cdhi-v1:3.2.2", "cdhi-v1:3.2.3"),
        ("system-category-v1:T",),
        ("en", "fr", "pt"),
        True,
        ("Electronic logistics management", "Vaccine stock management"),
        ("hsc:2.1", "hsc:8.4", "hsc:7.1"),
        ("health-area:19.3", "health-area:9.2"),
        "lmis",
    ),
    ProductSpec(
        "sormas",
        "SORMAS",
        "Surveillance outbreak response management and analysis system: case, contact and event management for "
        "notifiable diseases.",
        "https://sormas.org",
        "https://github.com/sormas-foundation/SORMAS-Project",
        "GPL-3.0",
        True,
        "dpg",
        "established",
        (S + "hl7-fhir", S + "icd-10"),
        ("cdhi-v1:3.3.1", "cdhi-v1:2.2.1", "cdhi-v1:4.3.2", "cdhi-v1:2.5.4"),
        ("system-category-v1:V", "system-category-v1:I"),
        ("en", "de", "fr"),
        True,
        ("Outbreak response and contact tracing", "Notifiable disease case management"),
        ("hsc:1.2", "hsc:3.8", "hsc:1.4"),
        ("health-area:19.7", "health-area:7.8", "health-area:7.4"),
        "",
    ),
    ProductSpec(
        "godata",
        "Go.Data",
        "Outbreak investigation tool for field data collection, contact follow-up and chains of transmission.",
        "https://www.who.int/tools/godata",
        "https://github.com/WorldHealthOrganization/godata",
        "GPL-3.0",
        True,
        "none",
        "established",
        (S + "hl7-fhir",),
        ("cdhi-v1:3.3.1", "cdhi-v1:4.1.1", "cdhi-v1:4.3.2"),
        ("system-category-v1:V",),
        ("en", "fr", "es", "pt", "ar", "ru"),
        True,
        ("Contact tracing in outbreaks", "Outbreak investigation"),
        ("hsc:1.2", "hsc:3.8"),
        ("health-area:19.7", "health-area:7.8"),
        "",
    ),
    ProductSpec(
        "mhero",
        "mHero",
        "Two-way mobile messaging between ministries and health workers, linking a health worker registry to an "
        "SMS platform.",
        "https://www.mhero.org",
        "https://github.com/intrahealth/mhero",
        "Apache-2.0",
        True,
        "none",
        "established",
        (S + "hl7-fhir", S + "ihe-csd"),
        ("cdhi-v1:2.5.3", "cdhi-v1:2.5.4", "cdhi-v1:2.5.2"),
        ("system-category-v1:D", "system-category-v1:O"),
        ("en", "fr"),
        False,
        ("Health worker messaging", "Alerts to health workers"),
        ("hsc:1.4", "hsc:3.4", "hsc:3.6"),
        ("health-area:19.6",),
        "",
    ),
    ProductSpec(
        "rapidpro",
        "RapidPro",
        "Platform for building SMS, voice and messaging-app services (reminders, surveys, hotlines) without code.",
        "https://rapidpro.io",
        "https://github.com/rapidpro/rapidpro",
        "AGPL-3.0",
        True,
        "dpg",
        "mature",
        (),
        ("cdhi-v1:1.1.2", "cdhi-v1:1.1.3", "cdhi-v1:1.5.1", "cdhi-v1:2.5.3"),
        ("system-category-v1:D",),
        ("en", "fr", "es", "pt", "ar", "sw"),
        False,
        ("SMS reminders to clients", "Client feedback hotline", "Maternal health messaging"),
        ("hsc:5.1", "hsc:5.3", "hsc:8.3"),
        ("health-area:2.1", "health-area:3.2", "health-area:19.4"),
        "",
    ),
    ProductSpec(
        "opencrvs",
        "OpenCRVS",
        "Civil registration system for births and deaths, from notification at a health facility to certificates.",
        "https://www.opencrvs.org",
        "https://github.com/opencrvs/opencrvs-core",
        "MPL-2.0",
        True,
        "dpg",
        "established",
        (S + "hl7-fhir",),
        ("cdhi-v1:3.4.1", "cdhi-v1:3.4.2", "cdhi-v1:3.4.4", "cdhi-v1:3.4.5"),
        ("system-category-v1:B",),
        ("en", "fr"),
        True,
        ("Birth and death registration",),
        ("hsc:1.1", "hsc:1.7"),
        ("health-area:6.1", "health-area:6.2"),
        "",
    ),
    ProductSpec(
        "openhim",
        "OpenHIM",
        "Interoperability layer: routes, authenticates and audits messages between health information systems.",
        "https://openhim.org",
        "https://github.com/jembi/openhim-core-js",
        "MPL-2.0",
        True,
        "dpg",
        "established",
        (S + "hl7-fhir", S + "hl7-v2", S + "ihe-atna"),
        ("cdhi-v1:4.4.1",),
        ("system-category-v1:G",),
        ("en",),
        False,
        ("Health information exchange", "Interoperability layer"),
        ("hsc:1.5", "hsc:1.4"),
        ("health-area:19.8",),
        "",
    ),
    ProductSpec(
        "santempi",
        "SanteMPI",
        "Master patient index: matches and links client identities across systems.",
        "https://santesuite.org",
        "https://github.com/santedb/santempi",
        "Apache-2.0",
        True,
        "dpg",
        "established",
        (S + "ihe-pix", S + "ihe-pdq", S + "hl7-fhir", S + "hl7-v2"),
        ("cdhi-v1:2.1.1", "cdhi-v1:4.2.2"),
        ("system-category-v1:P",),
        ("en",),
        False,
        ("Client registry", "Master patient index"),
        ("hsc:1.7", "hsc:3.5"),
        ("health-area:19.8",),
        "client_registry",
    ),
    ProductSpec(
        "bahmni",
        "Bahmni",
        "Hospital management and EMR distribution built on OpenMRS, with laboratory, pharmacy and billing.",
        "https://www.bahmni.org",
        "https://github.com/Bahmni",
        "AGPL-3.0",
        True,
        "dpg",
        "established",
        (S + "hl7-fhir", S + "loinc"),
        ("cdhi-v1:2.2.2", "cdhi-v1:2.10.2", "cdhi-v1:2.9.1", "cdhi-v1:3.5.2"),
        ("system-category-v1:H", "system-category-v1:U"),
        ("en", "fr", "es"),
        False,
        ("Hospital information system", "District hospital EMR"),
        ("hsc:3.5", "hsc:6.1", "hsc:6.4"),
        ("health-area:8.3", "health-area:8.2"),
        "shared_health_record",
    ),
    ProductSpec(
        "openelis",
        "OpenELIS Global",
        "Laboratory information system for public health and clinical laboratories: orders, samples, results.",
        "https://openelis-global.org",
        "https://github.com/I-TECH-UW/OpenELIS-Global-2",
        "MPL-2.0",
        True,
        "dpg",
        "established",
        (S + "hl7-fhir", S + "hl7-v2", S + "loinc"),
        ("cdhi-v1:2.10.1", "cdhi-v1:2.10.2", "cdhi-v1:2.10.4"),
        ("system-category-v1:R",),
        ("en", "fr", "es"),
        False,
        ("Laboratory information system", "Viral load results return"),
        ("hsc:6.4", "hsc:1.3"),
        ("health-area:1.7", "health-area:7.1"),
        "lis",
    ),
    ProductSpec(
        "odk",
        "ODK",
        "Forms-based data collection on mobile devices, offline, for surveys and field work.",
        "https://getodk.org",
        "https://github.com/getodk/collect",
        "Apache-2.0",
        True,
        "dpg",
        "mature",
        (S + "xforms",),
        ("cdhi-v1:4.1.1", "cdhi-v1:4.3.3"),
        ("system-category-v1:F",),
        ("en", "fr", "es", "pt", "ar", "sw"),
        True,
        ("Household survey data collection", "Facility assessment survey"),
        ("hsc:1.3", "hsc:1.5"),
        ("health-area:16.1", "health-area:11.1"),
        "",
    ),
    ProductSpec(
        "cht",
        "Community Health Toolkit",
        "Toolkit for building offline-first apps for community health workers: tasks, targets, referrals.",
        "https://communityhealthtoolkit.org",
        "https://github.com/medic/cht-core",
        "AGPL-3.0",
        True,
        "dpg",
        "established",
        (S + "hl7-fhir",),
        ("cdhi-v1:2.2.1", "cdhi-v1:2.3.1", "cdhi-v1:2.7.2", "cdhi-v1:2.6.2"),
        ("system-category-v1:F",),
        ("en", "fr", "sw", "ne"),
        True,
        ("Community health worker app", "Household visits and referrals"),
        ("hsc:6.2", "hsc:5.4", "hsc:3.6"),
        ("health-area:3.4", "health-area:2.1", "health-area:9.2"),
        "",
    ),
    ProductSpec(
        "gnuhealth",
        "GNU Health",
        "Hospital and health information system with electronic records, laboratory and public health modules.",
        "https://www.gnuhealth.org",
        "https://codeberg.org/gnuhealth",
        "GPL-3.0",
        True,
        "dpg",
        "established",
        (S + "hl7-fhir", S + "icd-10"),
        ("cdhi-v1:2.2.2", "cdhi-v1:2.10.2", "cdhi-v1:3.7.1"),
        ("system-category-v1:H",),
        ("en", "es", "fr", "de"),
        False,
        ("Hospital records system",),
        ("hsc:3.5", "hsc:6.1"),
        ("health-area:8.9",),
        "shared_health_record",
    ),
    ProductSpec(
        "example-telehealth",
        "Example Telehealth Suite",
        "A proprietary teleconsultation product, invented for the generated examples (no such product exists).",
        "",
        "",
        "proprietary",
        False,
        "none",
        "emerging",
        (S + "hl7-fhir",),
        ("cdhi-v1:2.4.1", "cdhi-v1:2.4.4"),
        ("system-category-v1:Y",),
        ("en",),
        False,
        ("Teleconsultation service",),
        ("hsc:5.2", "hsc:2.4"),
        ("health-area:8.3", "health-area:18.3"),
        "",
    ),
)

#: How often each product is the main one of a generated project (DHIS2 and the community apps are common).
PRODUCT_WEIGHTS = {
    "dhis2": 14,
    "openmrs": 8,
    "opensrp": 6,
    "commcare": 9,
    "ihris": 4,
    "openlmis": 4,
    "sormas": 4,
    "godata": 4,
    "mhero": 3,
    "rapidpro": 7,
    "opencrvs": 3,
    "openhim": 3,
    "santempi": 2,
    "bahmni": 3,
    "openelis": 3,
    "odk": 6,
    "cht": 5,
    "gnuhealth": 2,
    "example-telehealth": 2,
}

#: Countries (ISO 3166-1 alpha-2 -> short English name), in a fixed order; a registry takes the first n.
COUNTRIES: tuple[tuple[str, str], ...] = (
    ("KE", "Kenya"),
    ("UG", "Uganda"),
    ("TZ", "Tanzania"),
    ("RW", "Rwanda"),
    ("ET", "Ethiopia"),
    ("NG", "Nigeria"),
    ("GH", "Ghana"),
    ("SN", "Senegal"),
    ("ML", "Mali"),
    ("BF", "Burkina Faso"),
    ("CI", "Côte d'Ivoire"),
    ("SL", "Sierra Leone"),
    ("LR", "Liberia"),
    ("MW", "Malawi"),
    ("ZM", "Zambia"),
    ("MZ", "Mozambique"),
    ("ZW", "Zimbabwe"),
    ("NA", "Namibia"),
    ("BD", "Bangladesh"),
    ("NP", "Nepal"),
    ("IN", "India"),
    ("LK", "Sri Lanka"),
    ("MM", "Myanmar"),
    ("KH", "Cambodia"),
    ("LA", "Lao PDR"),
    ("PH", "Philippines"),
    ("ID", "Indonesia"),
    ("PK", "Pakistan"),
    ("HT", "Haiti"),
    ("GT", "Guatemala"),
    ("PE", "Peru"),
    ("BO", "Bolivia"),
    ("CO", "Colombia"),
    ("BR", "Brazil"),
    ("JO", "Jordan"),
    ("TN", "Tunisia"),
    ("MA", "Morocco"),
    ("UA", "Ukraine"),
    ("MD", "Moldova"),
    ("DE", "Germany"),
)

#: Generic funders (never a real agency's name): (slug, name, kind).
FUNDERS: tuple[tuple[str, str, str], ...] = (
    ("global-health-fund-example", "Global Health Fund (example)", "development_partner"),
    ("bilateral-agency-a-example", "Bilateral Development Agency A (example)", "development_partner"),
    ("bilateral-agency-b-example", "Bilateral Development Agency B (example)", "development_partner"),
    ("child-health-foundation-example", "Child Health Foundation (example)", "development_partner"),
    ("regional-development-bank-example", "Regional Development Bank (example)", "development_partner"),
    ("digital-public-goods-trust-example", "Digital Public Goods Trust (example)", "development_partner"),
    ("un-health-agency-example", "UN Health Agency Country Office (example)", "un_agency"),
)
#: Generic implementers: (slug, name, kind).
IMPLEMENTERS: tuple[tuple[str, str, str], ...] = (
    ("health-informatics-ngo-example", "Health Informatics NGO (example)", "cso_ngo"),
    ("community-health-ngo-example", "Community Health Partners (example)", "cso_ngo"),
    ("university-informatics-unit-example", "University Health Informatics Unit (example)", "academia"),
    ("digital-health-consultancy-example", "Digital Health Consultancy (example)", "private_sector"),
    ("software-integrator-example", "Software Integrator Ltd (example)", "private_sector"),
)

#: Stage -> weight of the stage mix.
STAGE_MIX = {
    "planning": 7,
    "development": 7,
    "pilot": 17,
    "deployment": 20,
    "scale": 25,
    "institutionalised": 14,
    "discontinued": 10,
}
#: TCO phases a project has spent money on by its stage.
PHASES_BY_STAGE = {
    "planning": ("planning_development",),
    "development": ("planning_development",),
    "pilot": ("planning_development", "deployment"),
    "deployment": ("planning_development", "deployment"),
    "scale": ("planning_development", "deployment", "scaling", "operations"),
    "institutionalised": ("planning_development", "deployment", "scaling", "operations"),
    "discontinued": ("planning_development", "deployment"),
}
#: Stages with usage data (something runs).
RUNNING = frozenset({"pilot", "deployment", "scale", "institutionalised", "discontinued"})
LAST_YEAR = 2025
#: The registry's identifier alphabet (dhnet.atlas.services.ID_ALPHABET: no 0/O, 1/I/L, U).
ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def _slug_country(code: str) -> str:
    return f"moh-{code.lower()}"


def ministry(code: str, name: str) -> dict[str, Any]:
    """The ministry of health of a country, as a generic organisation record (funder and implementer)."""
    return {
        "slug": _slug_country(code),
        "name": f"Ministry of Health of {name}",
        "kind": "member_state",
        "countries": [code],
    }


def product_records() -> list[dict[str, Any]]:
    """The catalogue's products in the canonical product shape (without the output-only fields), by slug."""
    return [
        {
            "slug": p.slug,
            "name": p.name,
            "description": p.description,
            "website": p.website,
            "repository": p.repository,
            "licence": p.licence,
            "open_source": p.open_source,
            "dpg_status": p.dpg_status,
            "maturity": p.maturity,
            "standards": list(p.standards),
            "interventions": list(p.interventions),
            "system_categories": list(p.system_categories),
            "languages": list(p.languages),
            "offline": p.offline,
            "owner": None,
        }
        for p in sorted(PRODUCTS, key=lambda p: p.slug)
    ]


def public_id(rng: random.Random, country: str, taken: set[str]) -> str:
    """A fresh ``<ISO2>-<6 chars>`` identifier (unambiguous letters and digits), not in ``taken``."""
    while True:
        candidate = f"{country}-" + "".join(rng.choice(ID_ALPHABET) for _ in range(6))
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def _pick(rng: random.Random, items: Iterable[str], k: int) -> list[str]:
    pool = list(items)
    return rng.sample(pool, min(k, len(pool)))


def generate_registry(n_projects: int = 500, n_countries: int = 30, seed: int = 1) -> dict[str, Any]:
    """A registry of ``n_projects`` generated projects spread over the first ``n_countries`` countries of
    :data:`COUNTRIES` (round robin, so every country has projects), deterministic for ``seed``.

    Returns ``{"format": "dhnet-atlas-1", "products": [...], "organisations": [...], "projects": [...]}``:
    products and projects in the canonical shapes (projects with ``public_id`` so that interoperability links
    between projects of one country can name their target), organisations as ``{slug, name, kind, countries}``.
    Each project's CDHI interventions, challenges, system categories and health areas are drawn from its
    products', its budget lines follow its stage (the TCO phases reached), funders and years, and running projects
    carry usage metrics per year (and some an outcome metric).
    """
    if not 1 <= n_countries <= len(COUNTRIES):
        raise ValueError(f"n_countries must be 1..{len(COUNTRIES)}")
    if n_projects < 0:
        raise ValueError("n_projects must be >= 0")
    rng = random.Random(seed)
    countries = COUNTRIES[:n_countries]
    specs = {p.slug: p for p in PRODUCTS}
    product_slugs = sorted(PRODUCT_WEIGHTS)
    product_weights = [PRODUCT_WEIGHTS[s] for s in product_slugs]
    stages = list(STAGE_MIX)
    stage_weights = [STAGE_MIX[s] for s in stages]
    organisations = [ministry(code, name) for code, name in countries]
    organisations += [{"slug": s, "name": n, "kind": k, "countries": []} for s, n, k in FUNDERS + IMPLEMENTERS]
    taken: set[str] = set()
    projects: list[dict[str, Any]] = []
    by_country: dict[str, list[dict[str, Any]]] = {}
    serial: dict[str, int] = {}
    main_of: dict[str, str] = {}
    for i in range(n_projects):
        code, cname = countries[i % n_countries]
        main = specs[rng.choices(product_slugs, product_weights)[0]]
        products = [main.slug]
        if rng.random() < 0.2:  # a second product (an interoperability layer, messaging, a registry)
            extra = rng.choice(("openhim", "rapidpro", "santempi", "dhis2", "odk"))
            if extra != main.slug:
                products.append(extra)
        used = [specs[s] for s in products]
        stage = rng.choices(stages, stage_weights)[0]
        start_year = rng.randint(2012, 2024 if stage in ("planning", "development") else 2023)
        start = dt.date(start_year, rng.randint(1, 12), 1)
        end = (
            dt.date(rng.randint(start_year + 1, LAST_YEAR), rng.randint(1, 12), 1) if stage == "discontinued" else None
        )
        serial[code] = serial.get(code, 0) + 1
        use = rng.choice(main.uses)
        name = f"{use}, {cname} ({'+'.join(p.name for p in used)}, example {serial[code]})"
        ministry_slug = _slug_country(code)
        funders = sorted({ministry_slug, *_pick(rng, (f[0] for f in FUNDERS), rng.randint(0, 2))})
        implementers = sorted({rng.choice([ministry_slug, *(m[0] for m in IMPLEMENTERS)])})
        national = stage in ("scale", "institutionalised") and rng.random() < 0.5
        n_places = 0 if national else rng.randint(1, 3)
        places = sorted(rng.sample(range(1, 13), n_places))
        coverage = [
            {
                "orgunit": None,
                "place": f"{cname} region {k}",
                "clients": rng.randint(5, 400) * 100,
                "health_workers": rng.randint(2, 300),
                "facilities": rng.randint(1, 120),
            }
            for k in places
        ]
        budget = _budget(rng, stage, start_year, end, funders)
        metrics = _metrics(rng, stage, start, end)
        project: dict[str, Any] = {
            "public_id": (pid := public_id(rng, code, taken)),
            "name": name,
            "country": code,
            "description": f"{main.description} Deployment in {cname}: {use.lower()}. {MARK}",
            "stage": stage,
            "start_date": start.isoformat(),
            "end_date": end.isoformat() if end else None,
            "products": sorted(products),
            "implementers": implementers,
            "funders": funders,
            "interventions": sorted({t for p in used for t in _pick(rng, p.interventions, rng.randint(1, 3))}),
            "challenges": sorted({t for p in used for t in _pick(rng, p.challenges, rng.randint(1, 2))}),
            "system_categories": sorted({t for p in used for t in p.system_categories}),
            "health_areas": sorted(_pick(rng, main.health_areas, rng.randint(1, 2))),
            "national_scale": national,
            "coverage": coverage,
            "interop_links": [],
            "budget": budget,
            "metrics": metrics,
            "contact_name": f"Project lead {serial[code]}",
            "contact_email": f"lead{serial[code]}@{code.lower()}.example.org",
            "links": {"repository": main.repository} if main.repository else {},
        }
        projects.append(project)
        by_country.setdefault(code, []).append(project)
        main_of[pid] = main.slug
    _link(rng, by_country, {pid: specs[slug] for pid, slug in main_of.items()})
    return {
        "format": "dhnet-atlas-1",
        "products": product_records(),
        "organisations": sorted(organisations, key=lambda o: o["slug"]),
        "projects": projects,
    }


def _budget(
    rng: random.Random, stage: str, start_year: int, end: dt.date | None, funders: list[str]
) -> list[dict[str, Any]]:
    """Budget lines: each TCO phase reached by ``stage`` in one or two years from the start, from some funder."""
    lines: dict[tuple[str, str, int], int] = {}
    last = min(end.year if end else LAST_YEAR, LAST_YEAR)
    for k, phase in enumerate(PHASES_BY_STAGE[stage]):
        year = min(start_year + k + rng.randint(0, 1), last)
        for y in sorted({year, min(year + 1, last)})[: rng.randint(1, 2)]:
            funder = rng.choice(funders)
            scale = {"planning_development": 40, "deployment": 120, "scaling": 300, "operations": 90}[phase]
            lines[(phase, funder, y)] = lines.get((phase, funder, y), 0) + rng.randint(scale // 4, scale) * 1000
    order = {p: i for i, p in enumerate(("planning_development", "deployment", "scaling", "operations"))}
    return [
        {"phase": phase, "funder": funder, "year": year, "amount": f"{amount}.00", "currency": "USD", "note": ""}
        for (phase, funder, year), amount in sorted(lines.items(), key=lambda kv: (kv[0][2], order[kv[0][0]], kv[0][1]))
    ]


def _metrics(rng: random.Random, stage: str, start: dt.date, end: dt.date | None) -> list[dict[str, Any]]:
    """Active users at the start of each year the project ran (growing), and for some a reporting completeness."""
    if stage not in RUNNING:
        return []
    out: list[dict[str, Any]] = []
    users = rng.randint(10, 200)
    last = min(end.year if end else LAST_YEAR, LAST_YEAR)
    growth = 1.0 + {"scale": 0.8, "institutionalised": 0.6}.get(stage, 0.3)
    for year in range(start.year + 1, last + 1):
        out.append(
            {
                "kind": "usage",
                "metric": "active_users",
                "period_start": f"{year}-01-01",
                "value": float(users),
                "unit": "users",
                "note": "",
            }
        )
        users = int(users * growth * rng.uniform(0.85, 1.1)) + 1
    if stage in ("scale", "institutionalised") and rng.random() < 0.6:
        out.append(
            {
                "kind": "outcome",
                "metric": "reporting_completeness",
                "period_start": f"{last}-01-01",
                "value": float(rng.randint(55, 98)),
                "unit": "%",
                "note": "",
            }
        )
    return sorted(out, key=lambda m: (m["metric"], m["period_start"]))


def _link(rng: random.Random, by_country: dict[str, list[dict[str, Any]]], main: dict[str, ProductSpec]) -> None:
    """Interoperability links between projects of one country: a project reporting to the country's HMIS, looking
    up clients in its client registry, and so on (the first project of each registry-like kind is the target)."""
    for projects in by_country.values():
        targets: dict[str, dict[str, Any]] = {}
        for project in projects:
            kind = main[project["public_id"]].interop_kind
            if kind and kind not in targets:
                targets[kind] = project
        for project in projects:
            links = []
            for kind, target in sorted(targets.items()):
                if target is project or rng.random() >= 0.35:
                    continue
                standard = "standard:adx" if kind == "hmis" else "standard:hl7-fhir"
                links.append({"kind": kind, "target": target["public_id"], "target_name": "", "standard": standard})
            if rng.random() < 0.05:
                links.append(
                    {"kind": "other", "target": None, "target_name": "National data warehouse", "standard": None}
                )
            project["interop_links"] = links


# --- the bulk loader ------------------------------------------------------------------------------------------------

BATCH = 1000


def load_generated(actor: Any, registry: dict[str, Any], *, publish: bool = True) -> dict[str, int]:
    """Store a registry made by :func:`generate_registry` quickly: organisations and products that are missing,
    then every project whose public id (or country and name) is not stored yet, with its rows, a
    :class:`~dhnet.atlas.models.RecordVersion` each (summary "generated") and one audit record for the batch — all
    with ``bulk_create`` in one transaction. Idempotent: loading the same registry again adds nothing.

    Meant for generated data (the benchmarks, the demo): the records are trusted to be in the canonical shape, and
    only their references are resolved (an unknown tag, slug or target is ``Invalid``). Needs
    ``atlas:registry:manage`` (the command line's operator has it). Returns counts of what was added.
    """
    from django.db import transaction
    from django.utils import timezone

    from dhnet.atlas import services
    from dhnet.atlas.models import BudgetLine, Coverage, InteropLink, MetricValue, Product, Project, RecordVersion
    from dhnet.audit.services import record
    from dhnet.network.models import Organisation
    from dhnet.orgunits.models import OrgUnit
    from dhnet.platform.errors import Forbidden, Invalid
    from dhnet.taxonomy.services import resolve_tags

    if not actor.has(services.REGISTRY_MANAGE):
        raise Forbidden(f"loading a generated registry requires {services.REGISTRY_MANAGE}")
    status = "published" if publish else "draft"
    counts = {"organisations": 0, "products": 0, "projects": 0}
    with transaction.atomic():
        known_orgs = set(Organisation.objects.values_list("slug", flat=True))
        new_orgs = [
            Organisation(
                slug=o["slug"],
                name=o["name"],
                kind=o["kind"],
                countries=o.get("countries", []),
                created_by_id=actor.user_id,
            )
            for o in registry.get("organisations", [])
            if o["slug"] not in known_orgs
        ]
        Organisation.objects.bulk_create(new_orgs, batch_size=BATCH)
        counts["organisations"] = len(new_orgs)
        for product in registry.get("products", []):
            counts["products"] += services.create_product(actor, product, summary="generated")[1]
        orgs = {o.slug: o.pk for o in Organisation.objects.all()}
        products = {p.slug: p.pk for p in Product.objects.all()}
        stored_ids = set(Project.objects.values_list("public_id", flat=True))
        stored_names = {(c, n.lower()) for c, n in Project.objects.values_list("country", "name")}
        todo = [
            p
            for p in registry.get("projects", [])
            if p["public_id"] not in stored_ids and (p["country"], p["name"].lower()) not in stored_names
        ]
        if not todo:
            return counts
        tags = {t for p in todo for f in services.PROJECT_TAG_FIELDS for t in p[f]}
        tags |= {link["standard"] for p in todo for link in p["interop_links"] if link["standard"]}
        concepts = {c.tag: c.pk for c in resolve_tags(sorted(tags))}
        units = {
            u.code: u.pk for u in OrgUnit.objects.filter(code__in={c["orgunit"] for p in todo for c in p["coverage"]})
        }

        def ref(table: dict[str, int], key: str, what: str, pid: str) -> int:
            if key not in table:
                raise Invalid(f"{pid}: unknown {what} {key!r}")
            return table[key]

        now = timezone.now()
        rows = [
            Project(
                public_id=p["public_id"],
                name=p["name"],
                country=p["country"],
                description=p["description"],
                status=status,
                stage=p["stage"],
                start_date=dt.date.fromisoformat(p["start_date"]) if p["start_date"] else None,
                end_date=dt.date.fromisoformat(p["end_date"]) if p["end_date"] else None,
                national_scale=p["national_scale"],
                contact_name=p["contact_name"],
                contact_email=p["contact_email"],
                links=p["links"],
                version=1,
                created_by_id=actor.user_id,
                approved_by_id=actor.user_id if publish else None,
                approved_at=now if publish else None,
                published_at=now if publish else None,
            )
            for p in todo
        ]
        Project.objects.bulk_create(rows, batch_size=BATCH)
        pk = {row.public_id: row.pk for row in rows}
        if None in pk.values():  # a database without RETURNING: read the keys back
            pk = dict(Project.objects.filter(public_id__in=pk).values_list("public_id", "pk"))
        targets = dict(pk)
        linked = {link["target"] for p in todo for link in p["interop_links"] if link["target"]} - set(targets)
        targets.update(Project.objects.filter(public_id__in=linked).values_list("public_id", "pk"))

        def m2m(field: str, values: Any) -> None:
            through = getattr(Project, field).through
            to = next(f for f in through._meta.get_fields() if f.many_to_one and f.related_model is not Project)
            through.objects.bulk_create(
                [through(project_id=pid, **{to.attname: value}) for pid, value in values], batch_size=BATCH
            )

        m2m(
            "products",
            ((pk[p["public_id"]], ref(products, s, "product", p["public_id"])) for p in todo for s in p["products"]),
        )
        for field in ("implementers", "funders"):
            m2m(
                field,
                ((pk[p["public_id"]], ref(orgs, s, "organisation", p["public_id"])) for p in todo for s in p[field]),
            )
        for field in services.PROJECT_TAG_FIELDS:
            m2m(field, ((pk[p["public_id"]], concepts[t]) for p in todo for t in p[field]))
        if actor.user_id is not None:
            m2m("team", ((pk[p["public_id"]], actor.user_id) for p in todo))
        Coverage.objects.bulk_create(
            [
                Coverage(
                    project_id=pk[p["public_id"]],
                    orgunit_id=ref(units, c["orgunit"], "org unit", p["public_id"]) if c["orgunit"] else None,
                    place=c["place"],
                    clients=c["clients"],
                    health_workers=c["health_workers"],
                    facilities=c["facilities"],
                )
                for p in todo
                for c in p["coverage"]
            ],
            batch_size=BATCH,
        )
        InteropLink.objects.bulk_create(
            [
                InteropLink(
                    project_id=pk[p["public_id"]],
                    kind=link["kind"],
                    target_id=ref(targets, link["target"], "project", p["public_id"]) if link["target"] else None,
                    target_name=link["target_name"],
                    standard_id=concepts[link["standard"]] if link["standard"] else None,
                )
                for p in todo
                for link in p["interop_links"]
            ],
            batch_size=BATCH,
        )
        BudgetLine.objects.bulk_create(
            [
                BudgetLine(
                    project_id=pk[p["public_id"]],
                    phase=b["phase"],
                    funder_id=ref(orgs, b["funder"], "organisation", p["public_id"]) if b["funder"] else None,
                    year=b["year"],
                    amount=b["amount"],
                    currency=b["currency"],
                    note=b["note"],
                )
                for p in todo
                for b in p["budget"]
            ],
            batch_size=BATCH,
        )
        MetricValue.objects.bulk_create(
            [
                MetricValue(
                    project_id=pk[p["public_id"]],
                    kind=m["kind"],
                    metric=m["metric"],
                    period_start=dt.date.fromisoformat(m["period_start"]),
                    value=m["value"],
                    unit=m["unit"],
                    note=m["note"],
                )
                for p in todo
                for m in p["metrics"]
            ],
            batch_size=BATCH,
        )
        RecordVersion.objects.bulk_create(
            [
                RecordVersion(
                    kind="project",
                    public_id=p["public_id"],
                    version=1,
                    status=status,
                    snapshot=_snapshot(p, status),
                    changed_by_id=actor.user_id,
                    changed_by_name=actor.username[:150],
                    summary="generated",
                )
                for p in todo
            ],
            batch_size=BATCH,
        )
        counts["projects"] = len(todo)
        record(
            actor,
            "atlas.project.create",
            object_type="atlas.project",
            object_id=f"generated:{len(todo)}",
            detail={"summary": "generated", "status": status, "projects": len(todo), **counts},
            permission=services.REGISTRY_MANAGE,
        )
    return counts


def _snapshot(p: dict[str, Any], status: str) -> dict[str, Any]:
    """The canonical shape of a generated project as stored (``project_data``'s order: identity, then content)."""
    head = {"public_id": p["public_id"], "name": p["name"], "country": p["country"], "description": p["description"]}
    rest = {k: v for k, v in p.items() if k not in head}
    return {**head, "status": status, **rest, "version": 1}
