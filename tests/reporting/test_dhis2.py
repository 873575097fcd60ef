"""``POST /api/dataValueSets``: DHIS2 payloads, id schemes, periods, strategies, dry runs, retries, the import
summary, conflicts (409) and jurisdiction (403), at the root path and under /api/v1."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from django.test import Client

from dhnet.accounts import services as accounts
from dhnet.cli import main
from dhnet.diseases.models import Disease
from dhnet.reporting.models import CountValue, DataElementMapping, ImportBatch, Submission
from tests.platform.fixtures import actor_of, login
from tests.reporting.helpers import MONDAY, UIDS, post_dhis2, value_set

pytestmark = pytest.mark.usefixtures("mappings")


@pytest.fixture
def officer_client(users: dict[str, Any]) -> Client:
    """A DHIS2-style client of the district officer of D11: ``Authorization: ApiToken ...``."""
    officer = users["district_officer"]
    _, raw = accounts.create_token(actor_of(officer), officer, name="dhis2", scopes=["surveillance:report:write"])
    return Client(HTTP_AUTHORIZATION=f"ApiToken {raw}")


def _counts() -> dict[tuple[str, str, str], int]:
    return {
        (c.orgunit.code, c.disease.code, c.measure): c.value
        for c in CountValue.objects.select_related("orgunit", "disease")
    }


MEASLES = {"dataElement": "MeaslesCas1", "orgUnit": UIDS["D11"], "value": "3"}
DEATHS = {"dataElement": "MeaslesDth1", "orgUnit": UIDS["D11"], "value": "1", "comment": "hospital"}


def test_import_answers_a_dhis2_import_summary(officer_client: Client) -> None:
    response = post_dhis2(officer_client, value_set(MEASLES, DEATHS, completeDate="2024-02-05"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in ("httpStatus", "httpStatusCode", "status", "message")} == {
        "httpStatus": "OK",
        "httpStatusCode": 200,
        "status": "OK",
        "message": "Import was successful.",
    }
    summary = body["response"]
    assert summary["responseType"] == "ImportSummary"
    assert summary["status"] == "SUCCESS"
    assert summary["importCount"] == {"imported": 2, "updated": 0, "ignored": 0, "deleted": 0}
    assert summary["conflicts"] == []
    assert summary["rejectedIndexes"] == []
    assert summary["description"] == "Import process completed successfully"
    assert summary["dataSetComplete"] == "2024-02-05"
    assert summary["importOptions"]["idSchemes"]["orgUnitIdScheme"] == "UID"
    assert _counts() == {("D11", "measles", "cases"): 3, ("D11", "measles", "deaths"): 1}
    batch = ImportBatch.objects.get()
    assert batch.source == "dhis2"
    assert batch.summary["detail"] == {
        "dataSet": "IDSRweekly1",
        "completeDate": "2024-02-05",
    }
    assert Submission.objects.get().period_start == MONDAY
    # Updated, unchanged (ignored, as DHIS2 >= 2.41 counts them) and a retry.
    changed = post_dhis2(officer_client, value_set({**MEASLES, "value": "4"}, DEATHS))
    assert changed.json()["response"]["importCount"] == {"imported": 0, "updated": 1, "ignored": 1, "deleted": 0}
    retry = post_dhis2(officer_client, value_set({**MEASLES, "value": "4"}, DEATHS))
    assert retry.status_code == 200
    assert retry.json()["response"]["importCount"]["updated"] == 1  # the first import's summary
    assert "identical data value set received before" in retry.json()["response"]["description"]
    assert ImportBatch.objects.count() == 2


def test_every_path_and_the_openapi_schema(officer_client: Client, users: dict[str, Any]) -> None:
    for i, path in enumerate(
        ("/api/dataValueSets", "/api/dataValueSets.json", "/api/40/dataValueSets", "/api/v1/dataValueSets")
    ):
        response = post_dhis2(officer_client, value_set({**MEASLES, "value": str(i)}), path=path)
        assert response.status_code == 200, (path, response.content)
    assert _counts()[("D11", "measles", "cases")] == 3
    assert officer_client.get("/api/dataValueSets").status_code == 405
    schema = login(Client(), users["viewer"]).get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/dataValueSets"]["post"]
    assert "dhis2" in operation["tags"]
    assert {p["name"] for p in operation["parameters"]} >= {"idScheme", "orgUnitIdScheme", "dryRun", "importStrategy"}
    assert "dataValues" in json.dumps(operation["requestBody"])


def test_code_scheme_and_periods(officer_client: Client) -> None:
    values = [
        {"dataElement": "MEASLES_CASES", "orgUnit": "D11", "period": "2024W5", "value": 1},
        {"dataElement": "MEASLES_CASES", "orgUnit": "D11", "period": "20240122", "value": "2"},
        {"dataElement": "MEASLES_CASES", "orgUnit": "D11", "period": "2024-W03", "value": "3"},
    ]
    response = post_dhis2(officer_client, {"dataValues": values}, "?idScheme=CODE")
    assert response.status_code == 200, response.content
    weeks = {c.period_start.isoformat(): c.value for c in CountValue.objects.all()}
    assert weeks == {"2024-01-29": 1, "2024-01-22": 2, "2024-01-15": 3}
    mixed = post_dhis2(
        officer_client,
        value_set({"dataElement": "MeaslesCas1", "orgUnit": "D11", "value": "9"}),
        "?dataElementIdScheme=uid&orgUnitIdScheme=code",
    )
    assert mixed.status_code == 200
    assert mixed.json()["response"]["importCount"]["updated"] == 1


def test_category_option_combos_are_summed(officer_client: Client) -> None:
    u5 = {"dataElement": "CholeraCas1", "categoryOptionCombo": "Under5aaaaa", "orgUnit": UIDS["D11"], "value": "2"}
    o5 = {"dataElement": "CholeraCas1", "categoryOptionCombo": "Over5aaaaaa", "orgUnit": UIDS["D11"], "value": "5"}
    assert post_dhis2(officer_client, value_set(u5, o5)).status_code == 200
    assert _counts()[("D11", "cholera", "cases")] == 7
    missing = post_dhis2(officer_client, value_set({**u5, "value": "3"}))
    assert missing.status_code == 409
    conflict = missing.json()["response"]["conflicts"][0]
    assert conflict["property"] == "categoryOptionCombo"
    assert conflict["indexes"] == [0]
    assert "sum of 2 category option combos" in conflict["value"]
    assert "Over5aaaaaa" in conflict["value"]
    assert _counts()[("D11", "cholera", "cases")] == 7


def test_conflicts_reject_the_whole_set_with_409(officer_client: Client) -> None:
    good = post_dhis2(officer_client, value_set(MEASLES))
    assert good.status_code == 200
    values = [
        {**MEASLES, "value": "5"},  # fine on its own
        {"dataElement": "Unmappedaaa", "orgUnit": UIDS["D11"], "value": "1"},
        {**DEATHS, "value": "-1"},
        {**DEATHS, "value": "2", "period": "202401"},
        {"dataElement": "MeaslesCas1", "orgUnit": "NoSuchUnit1", "value": "1"},
        {**MEASLES, "value": "6"},
        "not an object",
        {"orgUnit": UIDS["D11"], "value": "1"},
    ]
    response = post_dhis2(officer_client, value_set(*values))
    assert response.status_code == 409
    body = response.json()
    assert body["httpStatus"] == "Conflict"
    assert body["status"] == "ERROR"
    assert body["message"] == "An error occurred, please check import summary."
    summary = body["response"]
    assert summary["status"] == "ERROR"
    assert summary["importCount"] == {"imported": 0, "updated": 0, "ignored": 8, "deleted": 0}
    by_index = {i: c for c in summary["conflicts"] for i in c["indexes"]}
    assert by_index[1]["property"] == "dataElement"
    assert "'Unmappedaaa' is not mapped" in by_index[1]["value"]
    assert by_index[2] == {
        "object": "-1",
        "objects": {"value": "-1"},
        "value": "value: must be a non-negative integer",
        "property": "value",
        "indexes": [2],
    }
    assert by_index[3]["property"] == "period"
    assert "is a month" in by_index[3]["value"]
    assert by_index[4]["property"] == "orgUnit"
    assert "unknown org unit 'NoSuchUnit1'" in by_index[4]["value"]
    assert by_index[5]["property"] == "categoryOptionCombo"
    assert "repeats dataValues[0]" in by_index[5]["value"]
    assert by_index[6]["value"] == "expected an object"
    assert by_index[7]["property"] == "dataElement"
    assert summary["rejectedIndexes"] == [1, 2, 3, 4, 5, 6, 7]
    assert "nothing stored" in summary["description"]
    assert _counts() == {("D11", "measles", "cases"): 3}  # the fine value was not stored either
    assert ImportBatch.objects.count() == 1


def test_another_district_is_403_naming_the_value(officer_client: Client) -> None:
    response = post_dhis2(officer_client, value_set(MEASLES, {**MEASLES, "orgUnit": UIDS["D21"]}))
    assert response.status_code == 403
    body = response.json()
    assert body["httpStatus"] == "Forbidden"
    assert body["status"] == "ERROR"
    conflict = body["response"]["conflicts"][0]
    assert conflict["property"] == "orgUnit"
    assert conflict["indexes"] == [1]
    assert "outside your jurisdiction" in conflict["value"]
    assert not CountValue.objects.exists()
    assert not ImportBatch.objects.exists()


def test_dry_run_and_strategies(officer_client: Client) -> None:
    dry = post_dhis2(officer_client, value_set(MEASLES, DEATHS), "?dryRun=true")
    assert dry.status_code == 200
    assert dry.json()["response"]["importCount"]["imported"] == 2
    assert dry.json()["response"]["importOptions"]["dryRun"] is True
    assert not CountValue.objects.exists()
    assert not ImportBatch.objects.exists()
    post_dhis2(officer_client, value_set(MEASLES))
    create = post_dhis2(officer_client, value_set({**MEASLES, "value": "8"}, DEATHS), "?importStrategy=CREATE")
    assert create.json()["response"]["importCount"] == {"imported": 1, "updated": 0, "ignored": 1, "deleted": 0}
    update = post_dhis2(officer_client, value_set({**MEASLES, "value": "8"}), "?importStrategy=UPDATES")
    assert update.json()["response"]["importCount"]["updated"] == 1
    empty = post_dhis2(officer_client, value_set({**DEATHS, "value": ""}))  # an empty value deletes, as in DHIS2
    assert empty.json()["response"]["importCount"]["deleted"] == 1
    delete = post_dhis2(officer_client, value_set(MEASLES), "?importStrategy=DELETE")
    assert delete.json()["response"]["importCount"]["deleted"] == 1
    assert not CountValue.objects.exists()


@pytest.mark.parametrize(
    ("query", "body", "message"),
    [
        ("?idScheme=NAME", None, "idScheme: expected UID or CODE"),
        ("?importStrategy=MERGE", None, "importStrategy"),
        ("?dryRun=maybe", None, "dryRun"),
        ("?atomicMode=NONE", None, "atomicMode: only ALL"),
        ("", b"{not json", "body: not valid JSON"),
        ("", b"[1, 2]", "body: expected a JSON object"),
        ("", b'{"dataValues": {}}', "dataValues: expected a list"),
    ],
)
def test_bad_requests_are_400_web_messages(officer_client: Client, query: str, body: Any, message: str) -> None:
    response = post_dhis2(officer_client, body if body is not None else value_set(MEASLES), query)
    assert response.status_code == 400
    assert response.json()["httpStatus"] == "Bad Request"
    assert message in response.json()["message"]
    assert not CountValue.objects.exists()


def test_authentication_and_permission(users: dict[str, Any], operator: Any) -> None:
    assert post_dhis2(Client(), value_set(MEASLES)).status_code == 401
    viewer = users["viewer"]
    _, raw = accounts.create_token(operator, viewer, name="v", scopes=["surveillance:aggregate:read"])
    assert post_dhis2(Client(HTTP_AUTHORIZATION=f"ApiToken {raw}"), value_set(MEASLES)).status_code == 403
    officer = users["district_officer"]
    _, raw = accounts.create_token(actor_of(officer), officer, name="ro", scopes=["surveillance:report:read"])
    assert post_dhis2(Client(HTTP_AUTHORIZATION=f"Bearer {raw}"), value_set(MEASLES)).status_code == 403
    assert not CountValue.objects.exists()


def test_empty_set_and_monthly_periods(officer_client: Client) -> None:
    empty = post_dhis2(officer_client, {"dataValues": []})
    assert empty.status_code == 200
    assert empty.json()["response"]["importCount"]["imported"] == 0
    leprosy = Disease.objects.create(code="leprosy", name="Leprosy", reporting="monthly")
    DataElementMapping.objects.create(data_element="LeprosyCas1", disease=leprosy)
    monthly = post_dhis2(
        officer_client, value_set({"dataElement": "LeprosyCas1", "orgUnit": UIDS["D11"], "value": "1"}, period="202401")
    )
    assert monthly.status_code == 200, monthly.content
    assert CountValue.objects.get(disease=leprosy).period_start.isoformat() == "2024-01-01"


def test_cli_import_dhis2(tree: Any, tmp_path: Any) -> None:
    path = tmp_path / "set.json"
    path.write_text(json.dumps(value_set(MEASLES, DEATHS)))
    runner = CliRunner()
    result = runner.invoke(main, ["import", "dhis2", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["imported"] == 2
    assert CountValue.objects.count() == 2
    again = runner.invoke(main, ["import", "dhis2", str(path)])
    assert json.loads(again.stdout)["duplicate"] is True
    path.write_text(json.dumps(value_set({**MEASLES, "orgUnit": "Nowhere0001"})))
    bad = runner.invoke(main, ["import", "dhis2", str(path)])
    assert bad.exit_code == 1
    assert "unknown org unit 'Nowhere0001'" in bad.stderr
