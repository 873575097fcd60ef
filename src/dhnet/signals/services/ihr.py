"""The decision instrument of the International Health Regulations (2005), Annex 2, as a pure function.

Annex 2 decides whether a State Party must notify WHO of an event (within 24 hours of assessing it, IHR Article 6):

1. A case of **smallpox**, **poliomyelitis due to wild-type poliovirus**, **human influenza caused by a new
   subtype** or **SARS** is always notifiable.
2. An event involving **cholera, pneumonic plague, yellow fever, viral haemorrhagic fevers (Ebola, Lassa,
   Marburg), West Nile fever** or another disease of special national or regional concern (e.g. dengue fever, Rift
   Valley fever, meningococcal disease) shall **always lead to the algorithm** -- as does any event of potential
   international public health concern, including those of unknown causes or sources. Other events are outside
   Annex 2 (no notification under it).
3. The algorithm's four criteria: (I) Is the public health impact of the event serious? (II) Is the event unusual or
   unexpected? (III) Is there a significant risk of international spread? (IV) Is there a significant risk of
   international travel or trade restrictions? **Notify if any two of the four are met.**

The questions are asked in that order and the instrument stops as soon as the outcome is certain: after two "yes",
or when too few questions remain to reach two. (The flow chart of Annex 2 ends with "not notified at this stage" when
I and II are both "no"; its binding text -- "any two of the four criteria" -- is what this function applies, so III
and IV are still asked then.)

:func:`decide` takes the answers given so far (``{step: value}``) and returns a :class:`Decision`: either the next
step to ask, or the outcome with its reasoning. The guided form posts the answers back at every step; nothing but
this function interprets them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dhnet.platform.errors import Invalid

NONE = "none"
YES, NO = "yes", "no"

#: Step 1: diseases whose single case is always notifiable.
ALWAYS_NOTIFIABLE: dict[str, str] = {
    "smallpox": "Smallpox",
    "wild_poliovirus": "Poliomyelitis due to wild-type poliovirus",
    "influenza_new_subtype": "Human influenza caused by a new subtype",
    "sars": "Severe acute respiratory syndrome (SARS)",
}

#: Step 2: events that always lead to the algorithm.
ALWAYS_ASSESSED: dict[str, str] = {
    "cholera": "Cholera",
    "pneumonic_plague": "Pneumonic plague",
    "yellow_fever": "Yellow fever",
    "vhf": "Viral haemorrhagic fever (Ebola, Lassa, Marburg)",
    "west_nile": "West Nile fever",
    "special_concern": "Another disease of special national or regional concern (e.g. dengue, Rift Valley fever, "
    "meningococcal disease)",
    "potential_concern": "Any other event of potential international public health concern, including of unknown "
    "cause or source",
}

#: Step 3: the four criteria, in the order asked, with the guidance of Annex 2.
QUESTIONS: tuple[tuple[str, str, str, str], ...] = (
    (
        "serious",
        "I",
        "Is the public health impact of the event serious?",
        "For example: many cases or deaths for this type of event, for this place, time or population; the event has "
        "the potential for a high public health impact; external assistance is needed to detect, investigate, respond "
        "to and control the event, or to prevent new cases.",
    ),
    (
        "unusual",
        "II",
        "Is the event unusual or unexpected?",
        "For example: caused by an unknown agent, or its source, vehicle or route of transmission is unusual or "
        "unknown; its evolution is more severe than expected or its symptoms are unusual; the event itself is unusual "
        "for the area, season or population.",
    ),
    (
        "spread",
        "III",
        "Is there a significant risk of international spread?",
        "For example: evidence of an epidemiological link to similar events in other States; a factor that should "
        "alert us to the potential for cross-border movement of the agent, vehicle or host.",
    ),
    (
        "restrictions",
        "IV",
        "Is there a significant risk of international travel or trade restrictions?",
        "For example: similar events in the past resulted in international trade or travel restrictions; the source "
        "is suspected or known to be a food product, water or other goods that may be contaminated and exported to "
        "or imported from other States; the event occurred at a mass gathering or in an area of intense "
        "international tourism; it caused requests for more information by foreign officials or media.",
    ),
)
QUESTION_KEYS = tuple(q[0] for q in QUESTIONS)
STEPS = ("notifiable", "assessed", *QUESTION_KEYS)


@dataclass(frozen=True)
class Decision:
    """The state of an assessment: the next step to ask, or (``complete``) the outcome and why."""

    complete: bool
    notify: bool | None
    next_step: str | None
    reasoning: str
    #: The answers the decision used, in the order asked (later answers that no longer matter are dropped).
    answers: dict[str, str] = field(default_factory=dict)
    criteria_met: tuple[str, ...] = ()


def _value(answers: Mapping[str, object], step: str, allowed: set[str]) -> str | None:
    raw = answers.get(step)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or raw not in allowed:
        raise Invalid(f"answers.{step}: expected one of {', '.join(sorted(allowed))}, got {raw!r}")
    return raw


def decide(answers: Mapping[str, object]) -> Decision:
    """Apply Annex 2 to ``answers`` (``notifiable``, ``assessed``, then ``serious``/``unusual``/``spread``/
    ``restrictions`` as ``yes``/``no``). Unknown keys are refused; answers past the decision are ignored."""
    unknown = sorted(set(answers) - set(STEPS))
    if unknown:
        raise Invalid(f"answers.{unknown[0]}: not a step of the IHR Annex 2 instrument (steps: {', '.join(STEPS)})")
    used: dict[str, str] = {}

    notifiable = _value(answers, "notifiable", {*ALWAYS_NOTIFIABLE, NONE})
    if notifiable is None:
        return Decision(False, None, "notifiable", "", used)
    used["notifiable"] = notifiable
    if notifiable != NONE:
        return Decision(
            True,
            True,
            None,
            f"{ALWAYS_NOTIFIABLE[notifiable]} is always notifiable under IHR (2005) Annex 2: a single case is unusual "
            "or unexpected and may have serious public health impact. Notify WHO within 24 hours of assessment.",
            used,
        )

    assessed = _value(answers, "assessed", {*ALWAYS_ASSESSED, NONE})
    if assessed is None:
        return Decision(False, None, "assessed", "", used)
    used["assessed"] = assessed
    if assessed == NONE:
        return Decision(
            True,
            False,
            None,
            "Not an always-notifiable disease, not on the list that always leads to the algorithm, and not an event of "
            "potential international public health concern: Annex 2 does not require notifying WHO. Continue national "
            "surveillance and reassess if the situation changes.",
            used,
        )

    met: list[str] = []
    for position, (key, _numeral, _question, _guidance) in enumerate(QUESTIONS):
        answer = _value(answers, key, {YES, NO})
        if answer is None:
            return Decision(False, None, key, "", used, tuple(met))
        used[key] = answer
        if answer == YES:
            met.append(key)
        remaining = len(QUESTIONS) - position - 1
        if len(met) >= 2:
            return Decision(True, True, None, _reasoning(assessed, met, used, notify=True), used, tuple(met))
        if len(met) + remaining < 2:
            return Decision(True, False, None, _reasoning(assessed, met, used, notify=False), used, tuple(met))
    raise AssertionError("unreachable: four answers always decide")  # pragma: no cover


def _reasoning(assessed: str, met: list[str], used: dict[str, str], *, notify: bool) -> str:
    names = {key: f"{numeral} ({question.rstrip('?').lower()})" for key, numeral, question, _ in QUESTIONS}
    entry = ALWAYS_ASSESSED[assessed]
    asked = [key for key in QUESTION_KEYS if key in used]
    not_met = [names[k] for k in asked if used[k] == NO]
    parts = [f"Assessed with the Annex 2 algorithm ({entry})."]
    if met:
        parts.append("Criteria met: " + "; ".join(names[k] for k in met) + ".")
    if not_met:
        parts.append("Not met: " + "; ".join(not_met) + ".")
    if notify:
        parts.append("Two of the four criteria are met: notify WHO within 24 hours of assessment (IHR Article 6).")
    else:
        parts.append(
            f"{len(met)} of the four criteria met and too few questions remain to reach two: notification under "
            "Annex 2 is not required at this stage. Reassess when more information becomes available."
        )
    return " ".join(parts)


def question(step: str) -> tuple[str, str, str] | None:
    """``(numeral, question, guidance)`` of a criterion step."""
    for key, numeral, text, guidance in QUESTIONS:
        if key == step:
            return numeral, text, guidance
    return None


#: Disease codes of the catalogue (``dhnet.diseases.catalogue``) that preselect an answer of the guided form (a
#: suggestion only: AFP needs a confirmed wild poliovirus to be always notifiable, so it preselects nothing).
DISEASE_HINTS: dict[str, tuple[str, str]] = {
    "influenza_new_subtype": ("notifiable", "influenza_new_subtype"),
    "cholera": ("assessed", "cholera"),
    "plague": ("assessed", "pneumonic_plague"),
    "yellow_fever": ("assessed", "yellow_fever"),
    "ebola": ("assessed", "vhf"),
    "marburg": ("assessed", "vhf"),
    "lassa": ("assessed", "vhf"),
    "cchf": ("assessed", "special_concern"),
    "dengue": ("assessed", "special_concern"),
    "rvf": ("assessed", "special_concern"),
    "meningitis": ("assessed", "special_concern"),
}
