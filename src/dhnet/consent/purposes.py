"""The purposes data may be used for, what each rests on, and how FHIR ``Consent`` codes map to them.

- ``care`` — treatment of the person. Implied consent (opt-out): permitted unless the person refused or withdrew.
- ``surveillance`` — public-health surveillance. **A legal basis, not consent**: notifiable-disease reporting rests
  on the law (:data:`SURVEILLANCE_LEGAL_BASIS`), so it is always permitted; a FHIR Consent or a staff entry for it is
  recorded with the law it rests on, and a "withdrawal" of it is refused with that explanation.
- ``research`` and ``secondary`` (any other secondary use) — consent-based: permitted only while an active grant
  holds (dynamic consent: granted or withdrawn at any time; the latest decision counts from the moment it is
  recorded).

FHIR R4 ``Consent.provision.purpose`` codes come from ``http://terminology.hl7.org/CodeSystem/v3-ActReason``;
:data:`ACT_REASON` maps the codes we accept.
"""

from __future__ import annotations

ACT_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
CATEGORY_SYSTEMS = frozenset(
    {
        "http://loinc.org",
        "http://terminology.hl7.org/CodeSystem/consentcategorycodes",
        "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    }
)
#: R4 consentscope codes (required binding).
SCOPES = frozenset({"adr", "research", "patient-privacy", "treatment"})
#: The (neutral) policy of record when a Consent names none.
POLICY_SYSTEM = "https://dhnet.example/fhir/CodeSystem/consent-policy"

SURVEILLANCE_LEGAL_BASIS = (
    "Notifiable-disease surveillance rests on the public-health law (mandatory notification of notifiable "
    "diseases; EU GDPR art. 6(1)(c)/(e) and 9(2)(i)), not on consent: it cannot be withdrawn. A person's objection "
    "is recorded, and their identity stays pseudonymised in every surveillance table."
)


CARE = "care"
SURVEILLANCE = "surveillance"
RESEARCH = "research"
SECONDARY = "secondary"
PURPOSE_CHOICES = [
    (CARE, "Care (treatment)"),
    (SURVEILLANCE, "Public-health surveillance (legal basis, not consent)"),
    (RESEARCH, "Research"),
    (SECONDARY, "Other secondary use"),
]
PURPOSES = tuple(value for value, _ in PURPOSE_CHOICES)


#: Purposes that need an active grant.
CONSENT_BASED = frozenset({RESEARCH, SECONDARY})
#: Purposes resting on a legal basis: always permitted.
LEGAL_BASIS = frozenset({SURVEILLANCE})
#: Purposes permitted unless refused (implied consent).
OPT_OUT = frozenset({CARE})

#: v3-ActReason code -> purpose.
ACT_REASON: dict[str, str] = {
    "TREAT": CARE,
    "ETREAT": CARE,
    "CAREMGT": CARE,
    "PATADMIN": CARE,
    "PUBHLTH": SURVEILLANCE,
    "POPHLTH": SURVEILLANCE,
    "DISASTER": SURVEILLANCE,
    "THREAT": SURVEILLANCE,
    "HRESCH": RESEARCH,
    "CLINTRCH": RESEARCH,
    "BIORCH": RESEARCH,
    "PATRQT": RESEARCH,
    "HOPERAT": SECONDARY,
    "HQUALIMP": SECONDARY,
    "HSYSADMIN": SECONDARY,
    "HMARKT": SECONDARY,
    "HPAYMT": SECONDARY,
    "TRAIN": SECONDARY,
    "HACCRED": SECONDARY,
}
#: purpose -> the code we write in Consent resources we render.
PURPOSE_CODE = {
    CARE: "TREAT",
    SURVEILLANCE: "PUBHLTH",
    RESEARCH: "HRESCH",
    SECONDARY: "HOPERAT",
}


def parse_purpose(value: str) -> str:
    """Our purpose name for ``value`` (a purpose name or a v3-ActReason code); ``ValueError`` otherwise."""
    if value in PURPOSES:
        return value
    if value in ACT_REASON:
        return ACT_REASON[value]
    raise ValueError(
        f"unknown purpose {value!r}: expected one of {', '.join(PURPOSES)} or a v3-ActReason code "
        f"({', '.join(sorted(ACT_REASON))})"
    )
