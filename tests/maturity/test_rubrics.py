"""Rubric files: the packaged GDHM rubrics, validation naming the element, the data migration, import and export.

Also the authorization matrix of the rubric endpoints (``CASES``, collected by ``tests/platform/test_access.py``).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.audit.models import AuditRecord
from dhnet.maturity import rubrics, services
from dhnet.maturity.models import Assessment, Component, Indicator, PhaseDefinition, Rubric
from dhnet.maturity.scoring import ComponentStructure
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden
from tests.platform.fixtures import ROLES, actor_of, login

CLASSIC_TOP = [str(i) for i in range(1, 20)]
CLASSIC_SUB = ["9a", "9b", "9c", "10a", "10b", "10c", "11a", "19a", "19b", "19c", "19d"]
CURRENT_TOP = [str(i) for i in range(1, 24)]
CURRENT_SUB = ["2a", "4a", "5a", "6a", "9a", "21a", "21b", "21c"]
GDHM_FILES = Path("/work/shared/data/digital-health-taxonomies")


def _all(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [x for c in data["components"] for i in c["indicators"] for x in (i, *i["sub_indicators"])]


# --- the packaged files --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code", "top", "subs", "sizes"),
    [
        ("classic", "gdhm-classic", CLASSIC_TOP, CLASSIC_SUB, [2, 2, 4, 4, 2, 2, 3]),
        ("current", "gdhm-current", CURRENT_TOP, CURRENT_SUB, [4, 2, 4, 4, 2, 2, 5]),
    ],
)
def test_packaged_rubrics_have_the_gdhm_structure(
    name: str, code: str, top: list[str], subs: list[str], sizes: list[int]
) -> None:
    data = rubrics.packaged(name)
    assert data["code"] == code
    assert data["official_texts"] is False
    structure = rubrics.structure_of(data)
    assert [len(c.indicators) for c in structure.components] == sizes
    assert [c for comp in structure.components for c in comp.indicators] == top
    assert sorted(structure.codes - structure.top_level) == sorted(subs)
    for item in _all(data):
        assert item["name"] == item["name"].strip()
        assert "\n" not in item["name"]
        assert item["question"].endswith("?")
        assert sorted(item["phases"]) == ["1", "2", "3", "4", "5"]
        assert len(set(item["phases"].values())) == 5, item["code"]  # five distinct definitions
    assert all(c.name == c.name.strip() for c in structure.components)


def test_sub_indicator_parent_is_the_numeric_prefix_not_gdhm_parent_code() -> None:
    components = rubrics.structure_of(rubrics.packaged("current")).components
    leadership = components[0]
    assert leadership == ComponentStructure("Leadership & Governance", ("1", "2", "3", "4"), ("2a", "4a"))
    assert components[1].sub_indicators == ("5a", "6a")  # GDHM's parent_code says 6a -> 8
    assert components[6].sub_indicators == ("21a", "21b", "21c")
    assert components[6].name == "Services & Applications"  # the stray line break is gone


@pytest.mark.skipif(not GDHM_FILES.is_dir(), reason="the GDHM reference extract is not on this machine")
@pytest.mark.parametrize(
    ("name", "source"), [("classic", "gdhm_indicators_2019_v19.json"), ("current", "gdhm_indicators_current.json")]
)
def test_codes_and_names_are_gdhm_but_texts_are_ours(name: str, source: str) -> None:
    gdhm = json.loads((GDHM_FILES / source).read_text(encoding="utf-8"))
    theirs = {i["code"]: i for c in gdhm["categories"] for i in c["indicators"]}
    ours = {i["code"]: i for i in _all(rubrics.packaged(name))}
    assert set(ours) == set(theirs)
    their_texts = {" ".join(t.split()).lower() for i in theirs.values() for t in (i["question"], *i["phases"].values())}
    for code, item in ours.items():
        assert item["name"] == " ".join(theirs[code]["name"].split())
        for text in (item["question"], *item["phases"].values()):
            assert text.lower() not in their_texts, (code, text)
    assert [c["name"] for c in rubrics.packaged(name)["components"]] == [c["name"].strip() for c in gdhm["categories"]]


# --- validation ----------------------------------------------------------------------------------------------------


def _current() -> dict[str, Any]:
    return copy.deepcopy(rubrics.packaged("current"))


def _broken(change: Any) -> dict[str, Any]:
    data = _current()
    change(data)
    return data


def _set(path: list[Any], value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


_DELETE = object()
C, IND, S = "components", "indicators", "sub_indicators"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set([C, 2, IND, 0, "phases", "3"], _DELETE), "components[2].indicators[0].phases.3: missing"),
        (_set([C, 2, IND, 0, "phases"], _DELETE), "components[2].indicators[0].phases: missing"),
        (_set([C, 2, IND, 0, "phases"], ["a"]), "components[2].indicators[0].phases: must be an object, not list"),
        (_set([C, 2, IND, 0, "phases", "6"], "x"), "components[2].indicators[0].phases.6: unknown field"),
        (_set([C, 0, IND, 1, "phases", "2"], "  "), "components[0].indicators[1].phases.2: empty"),
        (_set([C, 0, IND, 1, "phases", "2"], 7), "components[0].indicators[1].phases.2: must be a string, not int"),
        (_set([C, 1, IND, 0, "question"], _DELETE), "components[1].indicators[0].question: missing"),
        (_set([C, 1, IND, 0, "name"], ""), "components[1].indicators[0].name: empty"),
        (_set([C, 1, IND, 0, "code"], "5b"), "components[1].indicators[0].code: '5b' is not an indicator code"),
        (_set([C, 1, IND, 0, "code"], 5), "components[1].indicators[0].code: must be a string, not int"),
        (_set([C, 1, IND, 1, "code"], "1"), "components[1].indicators[1].code: '1' appears twice"),
        (
            _set([C, 0, IND, 1, S, 0, "code"], "3a"),
            "components[0].indicators[1].sub_indicators[0].code: sub-indicator '3a' does not belong to indicator '2'",
        ),
        (_set([C, 0, IND, 1, S, 0, S], []), "components[0].indicators[1].sub_indicators[0].sub_indicators: unknown"),
        (_set([C, 0, IND, 1, S], {}), "components[0].indicators[1].sub_indicators: must be a list, not dict"),
        (_set([C, 3, IND], []), "components[3].indicators: empty"),
        (_set([C, 3, "position"], 1), "components[3].position: 1 appears twice (first at components[0])"),
        (_set([C, 3, "position"], "4"), "components[3].position: '4' is not a number 1..100"),
        (_set([C, 3, "name"], "Workforce "), None),  # whitespace only: cleaned, valid
        (_set([C, 4, "name"], "Workforce"), "components[4].name: 'Workforce' appears twice"),
        (_set([C, 4, "colour"], "red"), "components[4].colour: unknown field"),
        (_set([C, 4], "Standards"), "components[4]: must be an object, not str"),
        (_set([C], []), "components: empty"),
        (_set([C], _DELETE), "components: missing"),
        (_set(["code"], "GDHM Current"), "code: 'GDHM Current' is not a rubric code"),
        (_set(["code"], _DELETE), "code: missing"),
        (_set(["official_texts"], "yes"), "official_texts: must be true or false"),
        (_set(["extra"], 1), "extra: unknown field"),
        (_set(["name"], "x" * 201), "name: longer than 200 characters"),
    ],
)
def test_validation_names_the_element(change: Any, message: str | None) -> None:
    data = _broken(change)
    if message is None:
        assert rubrics.validate(data)["components"][3]["name"] == "Workforce"
        return
    with pytest.raises(rubrics.RubricError) as info:
        rubrics.validate(data)
    assert message in info.value.message
    assert info.value.status == 400


def test_validation_lists_every_fault_and_accepts_gdhm_not_available_label() -> None:
    data = _current()
    data["components"][0]["indicators"][0]["phases"]["-1"] = "Not Available"  # GDHM's own files carry it
    assert "-1" not in rubrics.validate(data)["components"][0]["indicators"][0]["phases"]
    del data["components"][0]["indicators"][0]["phases"]["1"]
    del data["components"][6]["indicators"][4]["question"]
    with pytest.raises(rubrics.RubricError) as info:
        rubrics.validate(data)
    assert info.value.errors == [
        "components[0].indicators[0].phases.1: missing",
        "components[6].indicators[4].question: missing",
    ]


@pytest.mark.parametrize(("raw", "message"), [("[]", "rubric: must be an object, not list"), ("{", "not JSON")])
def test_parse_refuses_what_is_not_a_rubric_object(raw: str, message: str) -> None:
    with pytest.raises(rubrics.RubricError, match=message):
        rubrics.parse(raw)


def test_reading_packaged_rubrics_does_not_need_django() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom dhnet.maturity import rubrics\n"
        "assert len(rubrics.structure_of(rubrics.packaged('classic')).top_level) == 19\n"
        "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


# --- the database --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["classic", "current"])
def test_data_migration_loaded_both_rubrics(name: str) -> None:
    data = rubrics.packaged(name)
    rubric = Rubric.objects.get(code=data["code"])
    assert rubric.official_texts is False
    assert rubric.licence_note == data["licence_note"]
    assert services.structure(rubric) == rubrics.structure_of(data)
    count = len(_all(data))
    assert Indicator.objects.filter(rubric=rubric).count() == count
    assert PhaseDefinition.objects.filter(indicator__rubric=rubric).count() == 5 * count
    assert rubrics.export_rubric(rubric) == data


@pytest.mark.django_db
def test_sub_indicators_in_the_database_have_their_numeric_parent() -> None:
    rows = Indicator.objects.filter(rubric__code="gdhm-current", parent__isnull=False).select_related("parent")
    assert {i.code: i.parent.code for i in rows} == {c: c.rstrip("abcd") for c in CURRENT_SUB}


def _official(data: dict[str, Any]) -> dict[str, Any]:
    """The file with every question and phase text replaced (as an official text file would be)."""
    out = copy.deepcopy(data)
    out.pop("official_texts")
    for item in _all(out):
        item["question"] = f"Official question {item['code']}?"
        item["phases"] = {k: f"Official phase {k} of {item['code']}." for k in item["phases"]}
    return out


@pytest.mark.django_db
def test_import_of_official_texts_replaces_texts_audited_and_idempotent(operator: Actor) -> None:
    official = _official(rubrics.packaged("current"))
    result = rubrics.import_rubric(operator, official)
    assert not result.created
    assert not result.rebuilt
    assert result.official_texts is True
    assert result.changed == 31 * 6 + 1  # 31 questions, 155 phase texts and the official_texts flag
    rubric = Rubric.objects.get(code="gdhm-current")
    assert rubric.official_texts is True
    indicator = Indicator.objects.get(rubric=rubric, code="21b")
    assert indicator.question == "Official question 21b?"
    assert indicator.phases.get(phase=3).text == "Official phase 3 of 21b."
    record = AuditRecord.objects.filter(action="maturity.rubric.import").latest("id")
    assert record.object_id == "gdhm-current"
    assert record.detail["changed"] == result.changed
    again = rubrics.import_rubric(operator, official)
    assert again.changed == 0
    assert PhaseDefinition.objects.filter(indicator__rubric=rubric).count() == 155
    assert rubrics.export_rubric(rubric)["components"][6]["indicators"][2]["sub_indicators"][1]["question"] == (
        "Official question 21b?"
    )


@pytest.mark.django_db
def test_import_keeps_ids_so_answers_stay_linked(operator: Actor) -> None:
    before = dict(Indicator.objects.filter(rubric__code="gdhm-classic").values_list("code", "id"))
    rubrics.import_rubric(operator, _official(rubrics.packaged("classic")))
    assert dict(Indicator.objects.filter(rubric__code="gdhm-classic").values_list("code", "id")) == before


def _with_indicator_24(data: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    extra = copy.deepcopy(out["components"][6]["indicators"][-1])
    extra.update(code="24", name="A new indicator", sub_indicators=[])
    out["components"][6]["indicators"].append(extra)
    return out


@pytest.mark.django_db
def test_structural_change_refused_once_assessments_use_the_rubric(operator: Actor) -> None:
    rubric = Rubric.objects.get(code="gdhm-current")
    Assessment.objects.create(public_id="MA-RUBR01", country="DE", year=2025, rubric=rubric)
    texts_before = list(PhaseDefinition.objects.filter(indicator__rubric=rubric).values_list("text", flat=True))
    with pytest.raises(Conflict, match="indicator '24' would be added") as info:
        rubrics.import_rubric(operator, _official(_with_indicator_24(rubrics.packaged("current"))))
    assert "1 assessment(s)" in info.value.message
    moved = _official(rubrics.packaged("current"))
    moved["components"][1]["indicators"].append(moved["components"][0]["indicators"].pop())  # 4 -> component 2
    with pytest.raises(Conflict, match="indicator '4' would move from component 1 to component 2"):
        rubrics.import_rubric(operator, moved)
    # nothing stored from the refused imports
    assert list(PhaseDefinition.objects.filter(indicator__rubric=rubric).values_list("text", flat=True)) == texts_before
    assert not Indicator.objects.filter(rubric=rubric, code="24").exists()


@pytest.mark.django_db
def test_structural_change_allowed_while_no_assessment_uses_the_rubric(operator: Actor) -> None:
    result = rubrics.import_rubric(operator, _with_indicator_24(rubrics.packaged("current")))
    assert result.rebuilt
    rubric = Rubric.objects.get(code="gdhm-current")
    assert services.structure(rubric).components[6].indicators[-1] == "24"
    removed = copy.deepcopy(rubrics.packaged("current"))
    removed["components"][6]["indicators"][2]["sub_indicators"].pop()  # 21c
    assert rubrics.import_rubric(operator, removed).rebuilt
    assert sorted(Indicator.objects.filter(rubric=rubric).values_list("code", flat=True)) == sorted(
        [*CURRENT_TOP, *CURRENT_SUB[:-1]]
    )
    assert rubrics.export_rubric(rubric) == removed


@pytest.mark.django_db
def test_import_of_a_new_code_creates_a_rubric_and_a_faulty_file_stores_nothing(operator: Actor) -> None:
    data = copy.deepcopy(rubrics.packaged("classic"))
    data["code"] = "national-2026"
    data.pop("official_texts")
    result = rubrics.import_rubric(operator, data)
    assert result.created
    assert result.rubric.official_texts is True
    assert services.rubric("national-2026").indicators.count() == 30
    broken = copy.deepcopy(data)
    broken["code"] = "national-2027"
    del broken["components"][5]["indicators"][1]["phases"]["5"]
    with pytest.raises(rubrics.RubricError, match=r"components\[5\].indicators\[1\].phases.5: missing"):
        rubrics.import_rubric(operator, broken)
    assert not Rubric.objects.filter(code="national-2027").exists()
    assert Component.objects.filter(rubric__code="national-2027").count() == 0


@pytest.mark.django_db
def test_import_needs_the_permission(users: dict[str, User]) -> None:
    with pytest.raises(Forbidden, match="maturity:rubric:manage"):
        rubrics.import_rubric(actor_of(users["digital_health_planner"]), rubrics.packaged("current"))
    assert rubrics.import_rubric(actor_of(users["knowledge_manager"]), rubrics.packaged("current")).changed == 0


# --- API -----------------------------------------------------------------------------------------------------------

MANAGE = rubrics.PERMISSION


@dataclass(frozen=True)
class Case:
    """``permission`` None: public; the import posts the packaged current rubric (idempotent: 200 each time)."""

    label: str
    method: str
    url: str
    permission: str | None
    ok: int = 200


CASES = [
    Case("rubric import api", "post", "/api/v1/maturity/rubrics/import", MANAGE),
    Case("rubric export api", "get", "/api/v1/maturity/rubrics/gdhm-current/export", None),
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_rubric_endpoint_matrix(role: str, case: Case, users: dict[str, User]) -> None:
    client = login(Client(), users[role])
    if case.method == "get":
        status = client.get(case.url).status_code
    else:
        body = json.dumps(rubrics.packaged("current"))
        status = client.post(case.url, body, content_type="application/json").status_code
    allowed = case.permission is None or case.permission in ROLE_PERMISSIONS[role]
    assert status == (case.ok if allowed else 403), (role, case.label)


@pytest.mark.django_db
def test_anonymous_may_export_but_not_import() -> None:
    client = Client()
    response = client.get("/api/v1/maturity/rubrics/classic/export")
    assert response.status_code == 200
    assert response.json() == rubrics.packaged("classic")
    assert 'filename="rubric-gdhm-classic.json"' in response["Content-Disposition"]
    assert client.get("/api/v1/maturity/rubrics/nope/export").status_code == 404
    body = json.dumps(rubrics.packaged("current"))
    assert client.post("/api/v1/maturity/rubrics/import", body, content_type="application/json").status_code == 401


@pytest.mark.django_db
def test_import_api_answers_400_naming_the_element_and_409_for_structure(users: dict[str, User]) -> None:
    client = login(Client(), users["knowledge_manager"])
    url = "/api/v1/maturity/rubrics/import"
    bad = _current()
    del bad["components"][2]["indicators"][0]["phases"]["3"]
    response = client.post(url, json.dumps(bad), content_type="application/json")
    assert response.status_code == 400
    assert "components[2].indicators[0].phases.3: missing" in response.json()["detail"]
    response = client.post(url, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "not JSON" in response.json()["detail"]
    Assessment.objects.create(public_id="MA-RUBR02", country="DE", year=2025, rubric=services.rubric("gdhm-current"))
    response = client.post(url, json.dumps(_with_indicator_24(_current())), content_type="application/json")
    assert response.status_code == 409
    assert "'24'" in response.json()["detail"]
    response = client.post(url, json.dumps(_official(_current())), content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {
        "code": "gdhm-current",
        "created": False,
        "rebuilt": False,
        "changed": 187,
        "official_texts": True,
        "indicators": 31,
    }


@pytest.mark.django_db
def test_removing_an_indicator_another_context_refers_to_is_refused(operator: Actor) -> None:
    from dhnet.planning.models import Target

    rubric = Rubric.objects.get(code="gdhm-current")
    Target.objects.create(
        country="DE", rubric=rubric, indicator=Indicator.objects.get(rubric=rubric, code="21c"), target_phase=4,
        target_year=2030,
    )  # fmt: skip
    removed = copy.deepcopy(rubrics.packaged("current"))
    removed["components"][6]["indicators"][2]["sub_indicators"].pop()  # 21c
    removed["components"][6]["indicators"][2]["question"] = "Changed before the refusal?"
    with pytest.raises(Conflict, match="indicator '21c' would be removed, but other records"):
        rubrics.import_rubric(operator, removed)
    assert Indicator.objects.filter(rubric=rubric, code="21c").exists()
    assert (
        Indicator.objects.get(rubric=rubric, code="21").question
        == rubrics.packaged("current")["components"][6]["indicators"][2]["question"]
    )  # the whole import rolled back
