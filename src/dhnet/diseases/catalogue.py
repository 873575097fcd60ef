"""The seed catalogue: WHO AFRO IDSR priority diseases and conditions, with their default alert rules.

Loaded by the data migration ``diseases/0002_idsr_catalogue`` (and by :func:`load`, which the migration calls with
its historical models). Loading is idempotent and never overwrites what administrators changed: a disease or rule
that exists (by code, by disease and rule name) is left alone.

Codes
-----
``icd10`` is the WHO ICD-10 (2019) code; ``icd11`` the ICD-11 MMS code. A code is given only where the category
matches the reported condition; syndromes without an ICD category (influenza-like illness, SARI, acute watery
diarrhoea, diarrhoea with dehydration) have none, and a code that could not be confirmed is left blank rather than
guessed (neonatal tetanus and meningococcal meningitis in ICD-11).

Reporting
---------
``immediate``: epidemic-prone diseases, diseases targeted for eradication or elimination and IHR-notifiable events
are notified case by case within 24 hours *and* counted in the weekly aggregate report; their counts use ISO weeks.
``weekly``: weekly aggregate counts only.

Default alert rules (editable in the catalogue)
-----------------------------------------------
Levels are org-unit depths as in the usual IDSR hierarchy: 1 = national, 2 = region/province, 3 = district.

* immediate diseases: one suspected case is an alert at every level (``kind=count``, ``threshold=1``);
* meningococcal meningitis: weekly attack rate per 100,000 at district level, alert 3 and epidemic 10 (WHO 2014
  meningitis guideline, as IDSR 3rd edition; the engine's ``threshold`` preset ``meningitis``), on top of the
  single-case alert;
* weekly diseases: EARS C2 (``ears``, ``{"variant": "C2"}``) at district level, and the quasi-Poisson
  Farrington-flexible method with Noufaily et al.'s settings (``farrington-flexible``, ``{"preset": "noufaily"}``)
  at regional and national level, where years of weekly history make a seasonal baseline meaningful.

References: WHO Regional Office for Africa and US CDC (2019), *Technical Guidelines for Integrated Disease
Surveillance and Response in the African Region*, 3rd edition; WHO (2014), *Meningitis outbreak response in
sub-Saharan Africa*, WHO/HSE/PED/CED/14.5; WHO ICD-10 (2019) and ICD-11 MMS.
"""

from __future__ import annotations

from typing import Any

IMMEDIATE = "immediate"
WEEKLY = "weekly"

DISTRICT, REGION, NATION = 3, 2, 1

#: (code, name, icd11, icd10, reporting, case definition)
DISEASES: list[tuple[str, str, str, str, str, str]] = [
    (
        "afp",
        "Acute flaccid paralysis (suspected poliomyelitis)",
        "1C81",
        "A80",
        IMMEDIATE,
        "Any child under 15 years with sudden onset of floppy (flaccid) weakness or paralysis of one or more limbs, "
        "or anyone of any age in whom a clinician suspects polio. ICD codes are those of acute poliomyelitis, the "
        "disease AFP surveillance looks for.",
    ),
    (
        "anthrax",
        "Anthrax",
        "1B97",
        "A22",
        IMMEDIATE,
        "Illness after contact with sick or dead animals or their products, with a painless skin ulcer turning into a "
        "black scab, or acute gastrointestinal or respiratory illness with fever; confirmed by isolating Bacillus "
        "anthracis.",
    ),
    (
        "cholera",
        "Cholera",
        "1A00",
        "A00",
        IMMEDIATE,
        "In an area without an outbreak: a person aged 2 years or more with acute watery diarrhoea and severe "
        "dehydration, or dying of it. During an outbreak: anyone with acute watery diarrhoea. Confirmed by "
        "isolating Vibrio cholerae O1 or O139.",
    ),
    (
        "dengue",
        "Dengue fever",
        "1D2Z",
        "A97",
        IMMEDIATE,
        "Acute fever of 2 to 7 days with two or more of headache, pain behind the eyes, muscle or joint pain, rash, "
        "bleeding signs or low white cell count; severe when plasma leakage, bleeding or organ impairment follow. "
        "Confirmed by virus, antigen or IgM detection.",
    ),
    (
        "diphtheria",
        "Diphtheria",
        "1C17",
        "A36",
        IMMEDIATE,
        "Upper respiratory illness with sore throat, low fever and an adherent grey membrane on the tonsils, pharynx "
        "or nose; confirmed by isolating toxigenic Corynebacterium diphtheriae.",
    ),
    (
        "ebola",
        "Ebola virus disease",
        "1D60.0",
        "A98.4",
        IMMEDIATE,
        "Sudden fever with contact with a suspected, probable or confirmed case or a dead or sick animal, or fever "
        "with three or more of headache, vomiting, diarrhoea, weakness, muscle pain, difficulty swallowing or "
        "breathing, hiccups, or unexplained bleeding; or an unexplained death. Confirmed by laboratory.",
    ),
    (
        "marburg",
        "Marburg virus disease",
        "1D60.1",
        "A98.3",
        IMMEDIATE,
        "As for Ebola virus disease (a viral haemorrhagic fever of the filovirus family); confirmed by detecting "
        "Marburg virus.",
    ),
    (
        "lassa",
        "Lassa fever",
        "1D61.2",
        "A96.2",
        IMMEDIATE,
        "Gradual fever with weakness, headache, sore throat, cough, vomiting or abdominal pain not responding to "
        "antimalarial and antibiotic treatment, in an endemic area or after contact with a case or rodents; "
        "sometimes bleeding, facial swelling or shock. Confirmed by laboratory.",
    ),
    (
        "cchf",
        "Crimean-Congo haemorrhagic fever",
        "1D49",
        "A98.0",
        IMMEDIATE,
        "Sudden fever, muscle pain and bleeding signs after a tick bite or contact with the blood or tissues of "
        "livestock or of a patient; confirmed by laboratory.",
    ),
    (
        "rvf",
        "Rift Valley fever",
        "1D44",
        "A92.4",
        IMMEDIATE,
        "Fever with muscle and joint pain, sometimes jaundice, bleeding, eye lesions or encephalitis, in a person "
        "exposed to livestock or mosquitoes in an affected area; confirmed by laboratory.",
    ),
    (
        "yellow_fever",
        "Yellow fever",
        "1D47",
        "A95",
        IMMEDIATE,
        "Acute fever followed within two weeks by jaundice; confirmed by IgM antibodies or virus detection in a "
        "person not recently vaccinated.",
    ),
    (
        "chikungunya",
        "Chikungunya",
        "1D40",
        "A92.0",
        IMMEDIATE,
        "Acute fever above 38.5 °C with severe joint pain or arthritis not explained by another condition; "
        "confirmed by virus or antibody detection.",
    ),
    (
        "influenza_new_subtype",
        "Human influenza caused by a new subtype",
        "1E31",
        "J09",
        IMMEDIATE,
        "Influenza-like or severe respiratory illness in a person exposed to poultry or other animals, or to a "
        "confirmed case, with laboratory evidence of an influenza A virus subtype not circulating in humans "
        "(zoonotic or pandemic).",
    ),
    (
        "measles",
        "Measles",
        "1F03",
        "B05",
        IMMEDIATE,
        "Fever with a generalised blotchy (maculopapular) rash and cough, runny nose or red eyes, or any person in "
        "whom a clinician suspects measles; confirmed by measles IgM or an epidemiological link.",
    ),
    (
        "meningitis",
        "Meningococcal meningitis (suspected bacterial meningitis)",
        "",
        "A39.0",
        IMMEDIATE,
        "Sudden fever above 38.5 °C with a stiff neck, altered consciousness or other meningeal sign (a bulging "
        "fontanelle in infants); confirmed by isolating or detecting Neisseria meningitidis in cerebrospinal fluid.",
    ),
    (
        "mpox",
        "Mpox (monkeypox)",
        "1E71",
        "B04",
        IMMEDIATE,
        "An unexplained acute rash or skin lesions with fever, swollen lymph nodes, headache, back or muscle pain; "
        "confirmed by detecting monkeypox virus DNA.",
    ),
    (
        "neonatal_tetanus",
        "Neonatal tetanus",
        "",
        "A33",
        IMMEDIATE,
        "A newborn who sucked and cried normally for the first two days of life, then between day 3 and day 28 "
        "could no longer suck and became stiff or had spasms.",
    ),
    (
        "plague",
        "Plague",
        "1B93",
        "A20",
        IMMEDIATE,
        "Sudden fever, chills, headache and weakness with painful swollen lymph nodes (bubonic), or cough with "
        "bloody sputum and chest pain (pneumonic), in an area with plague; confirmed by isolating Yersinia pestis.",
    ),
    (
        "rabies",
        "Rabies (human)",
        "1C82",
        "A82",
        IMMEDIATE,
        "Acute neurological illness with agitation, fear of water or air, spasms or paralysis, usually after a "
        "bite or scratch by a suspected rabid animal; confirmed by laboratory.",
    ),
    (
        "shigellosis",
        "Bloody diarrhoea (shigellosis)",
        "1A02",
        "A03",
        IMMEDIATE,
        "Acute diarrhoea with visible blood in the stool; confirmed by isolating Shigella dysenteriae type 1 or "
        "another Shigella.",
    ),
    (
        "covid19",
        "COVID-19 (SARS-CoV-2)",
        "RA01.0",
        "U07.1",
        WEEKLY,
        "Acute fever and cough, or sudden loss of smell or taste, or another acute respiratory illness with contact "
        "with a case; confirmed by detecting SARS-CoV-2 nucleic acid or antigen.",
    ),
    (
        "malaria",
        "Malaria",
        "1F40-1F4Z",
        "B50-B54",
        WEEKLY,
        "Fever or history of fever in the last 24 hours in a person living in or back from a malaria area, "
        "confirmed by a rapid diagnostic test or microscopy; severe when it comes with danger signs or organ "
        "dysfunction.",
    ),
    (
        "ili",
        "Influenza-like illness",
        "",
        "",
        WEEKLY,
        "Acute respiratory infection with measured fever of 38 °C or more and cough, with onset in the last 10 "
        "days (sentinel surveillance syndrome).",
    ),
    (
        "sari",
        "Severe acute respiratory infection",
        "",
        "",
        WEEKLY,
        "Acute respiratory infection with a history of fever or measured fever of 38 °C or more and cough, with "
        "onset in the last 10 days, that requires hospital admission.",
    ),
    (
        "typhoid",
        "Typhoid fever",
        "1A07",
        "A01.0",
        WEEKLY,
        "Gradual onset of persistent fever with headache, malaise, abdominal pain and constipation or diarrhoea; "
        "confirmed by isolating Salmonella Typhi from blood or stool.",
    ),
    (
        "hepatitis_a",
        "Hepatitis A",
        "1E50.0",
        "B15",
        WEEKLY,
        "Acute illness with jaundice or raised liver enzymes, dark urine, fatigue and nausea; confirmed by IgM "
        "antibodies to hepatitis A virus.",
    ),
    (
        "salmonellosis",
        "Salmonellosis (non-typhoidal)",
        "1A09",
        "A02",
        WEEKLY,
        "Diarrhoea, abdominal cramps and fever, often after eating contaminated food; confirmed by isolating a "
        "non-typhoidal Salmonella.",
    ),
    (
        "campylobacteriosis",
        "Campylobacteriosis",
        "1A06",
        "A04.5",
        WEEKLY,
        "Diarrhoea, sometimes bloody, with abdominal pain and fever; confirmed by isolating Campylobacter.",
    ),
    (
        "rotavirus",
        "Rotavirus gastroenteritis",
        "1A22",
        "A08.0",
        WEEKLY,
        "Acute watery diarrhoea with vomiting and fever, mostly in children under 5; confirmed by detecting "
        "rotavirus antigen or RNA in stool.",
    ),
    (
        "diarrhoea_dehydration_u5",
        "Diarrhoea with dehydration in children under 5",
        "",
        "",
        WEEKLY,
        "Three or more loose or watery stools in 24 hours in a child under 5 years, with some or severe dehydration "
        "(IMCI classification).",
    ),
    (
        "pertussis",
        "Pertussis (whooping cough)",
        "1C12",
        "A37",
        WEEKLY,
        "A cough lasting two weeks or more with fits of coughing, an inspiratory whoop or vomiting after coughing; "
        "confirmed by isolating or detecting Bordetella pertussis.",
    ),
    (
        "rubella",
        "Rubella",
        "1F02",
        "B06",
        WEEKLY,
        "Fever with a maculopapular rash and swollen lymph nodes behind the ears or in the neck, or joint pain; "
        "confirmed by rubella IgM.",
    ),
]

#: Extra rules by disease code (on top of the defaults of the disease's reporting frequency).
EXTRA_RULES: dict[str, list[dict[str, Any]]] = {
    "meningitis": [
        {
            "name": "Weekly attack rate per 100,000 (district)",
            "level": DISTRICT,
            "kind": "rate",
            "alert_rate": 3.0,
            "epidemic_rate": 10.0,
        },
    ],
}


def default_rules(reporting: str) -> list[dict[str, Any]]:
    """The default alert rules of a disease reported ``immediate`` or ``weekly`` (field values of AlertRule)."""
    if reporting == IMMEDIATE:
        return [{"name": "Single case (all levels)", "level": None, "kind": "count", "threshold": 1}]
    return [
        {
            "name": "EARS C2 (district)",
            "level": DISTRICT,
            "kind": "detector",
            "method": "ears",
            "settings": {"variant": "C2"},
        },
        {
            "name": "Farrington-flexible, Noufaily (region)",
            "level": REGION,
            "kind": "detector",
            "method": "farrington-flexible",
            "settings": {"preset": "noufaily"},
        },
        {
            "name": "Farrington-flexible, Noufaily (national)",
            "level": NATION,
            "kind": "detector",
            "method": "farrington-flexible",
            "settings": {"preset": "noufaily"},
        },
    ]


def rules_for(code: str, reporting: str) -> list[dict[str, Any]]:
    return [*default_rules(reporting), *EXTRA_RULES.get(code, [])]


def load(disease_model: Any, rule_model: Any) -> tuple[int, int]:
    """Create the catalogue's diseases and rules that do not exist yet; returns (diseases, rules) created.

    Takes the model classes so that a migration can pass its historical models.
    """
    diseases = rules = 0
    for code, name, icd11, icd10, reporting, definition in DISEASES:
        disease, created = disease_model.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "icd11": icd11,
                "icd10": icd10,
                "reporting": reporting,
                "case_definition": definition,
            },
        )
        diseases += created
        if not created:
            continue  # an existing disease keeps its (possibly edited) rules
        for rule in rules_for(code, reporting):
            fields = {"settings": {}, "method": "", **rule}
            rule_model.objects.create(disease=disease, **fields)
            rules += 1
    return diseases, rules


def unload(disease_model: Any) -> None:
    """Remove the catalogue's diseases (reverse of the migration; refused while counts refer to them)."""
    disease_model.objects.filter(code__in=[d[0] for d in DISEASES]).delete()
