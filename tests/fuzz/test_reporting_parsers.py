"""Property-based tests of the aggregate intake's parsers: DHIS2 ``dataValueSets`` and the counts CSV.

Whatever arrives — random JSON, mutated valid value sets, random bytes, CSV files with removed, retyped, overlong or
garbage cells — the answer is a 2xx or a 4xx naming what is wrong (a data value index, a row, a field), never a
500; a rejected batch stores nothing, and sending an accepted payload again stores nothing new.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.platform.access import Actor
from dhnet.platform.errors import ServiceError
from dhnet.reporting import services
from dhnet.reporting.models import CountValue, DataElementMapping, ImportBatch, Submission
from tests.platform.fixtures import actor_of, login
from tests.reporting.helpers import DHIS2_WEEK, post_dhis2

pytestmark = pytest.mark.usefixtures("mappings")
FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]

KEYS = st.sampled_from(
    [
        "dataSet", "period", "orgUnit", "completeDate", "dataValues", "dataElement", "categoryOptionCombo", "value",
        "comment", "attributeOptionCombo", "deleted", "storedBy", "followup",
    ]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["MeaslesCas1", "CholeraCas1", "Under5aaaaa", "District11a", DHIS2_WEEK, "2024W99", "12", "-3"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=6), inner, max_size=5),
    max_leaves=25,
)


def _value_set() -> dict[str, Any]:
    return {
        "dataSet": "IDSRweekly1",
        "period": DHIS2_WEEK,
        "orgUnit": "District11a",
        "completeDate": "2024-02-05",
        "dataValues": [
            {"dataElement": "MeaslesCas1", "value": "12"},
            {"dataElement": "MeaslesDth1", "value": "1", "orgUnit": "District12a"},
            {"dataElement": "CholeraCas1", "categoryOptionCombo": "Under5aaaaa", "value": "3"},
            {"dataElement": "CholeraCas1", "categoryOptionCombo": "Over5aaaaaa", "value": "4"},
        ],
    }


PATHS = [
    ["dataSet"], ["period"], ["orgUnit"], ["completeDate"], ["dataValues"], ["dataValues", 0],
    ["dataValues", 0, "dataElement"], ["dataValues", 0, "value"], ["dataValues", 1, "value"],
    ["dataValues", 2, "categoryOptionCombo"], ["dataValues", 1, "orgUnit"], ["dataValues", 3, "period"],
]  # fmt: skip
OVERLONG = st.sampled_from(["9" * 400, "x" * 100_000, "1e309", "١٢", "12\x00", " 12 "])


def _state() -> tuple[int, int, int, int]:
    return (
        CountValue.objects.count(),
        ImportBatch.objects.count(),
        Submission.objects.count(),
        AuditRecord.objects.filter(action__startswith="reporting.").count(),
    )


def _check_dhis2(client: Client, body: Any, query: str = "") -> None:
    before = _state()
    response = post_dhis2(client, body, query)
    assert response.status_code < 500, response.content
    message = response.json()
    assert message["httpStatusCode"] == response.status_code
    assert message["message"]
    if response.status_code >= 400:
        assert _state() == before, message  # nothing stored from a rejected set
        summary = message.get("response")
        if summary is not None and response.status_code == 409:
            assert summary["conflicts"], message
            for conflict in summary["conflicts"]:  # says what is wrong, and where (data value indexes or property)
                assert conflict["value"], message
                assert conflict["indexes"] or conflict["property"] or conflict["object"], message
        return
    after = _state()
    again = post_dhis2(client, body, query)
    assert again.status_code == 200, again.content
    assert _state()[:3] == after[:3]  # the same payload again stores nothing new


@pytest.fixture
def client(users: dict[str, User], mappings: dict[str, DataElementMapping]) -> Client:
    return login(Client(), users["regional_officer"])


@given(body=JSON)
@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
def test_dhis2_random_json(client: Client, body: Any) -> None:
    _check_dhis2(client, body)


@given(path=st.sampled_from(PATHS), value=JSON | OVERLONG, remove=st.booleans())
@settings(max_examples=120, deadline=None, suppress_health_check=FIXTURES)
def test_dhis2_mutated_value_sets(client: Client, path: list[Any], value: Any, remove: bool) -> None:
    data = copy.deepcopy(_value_set())
    target: Any = data
    for part in path[:-1]:
        target = target[part]
    if remove:
        if isinstance(target, dict):
            target.pop(path[-1], None)
        else:
            del target[path[-1]]
    else:
        target[path[-1]] = value
    _check_dhis2(client, data)


@given(
    raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
    query=st.sampled_from(["", "?dryRun=true", "?idScheme=CODE", "?importStrategy=NOPE", "?orgUnitIdScheme=x"]),
)
@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
def test_dhis2_random_bytes_and_options(client: Client, raw: bytes, query: str) -> None:
    _check_dhis2(client, raw, query)


@pytest.mark.parametrize("where", ["completeDate", "dataSet"])
def test_nul_in_a_value_set(client: Client, where: str) -> None:
    body = {**_value_set(), where: "12\x00"}
    _check_dhis2(client, body)
    response = post_dhis2(client, body)
    assert response.status_code == 400
    assert f"{where}: contains a NUL character" in response.json()["message"]


@pytest.mark.parametrize("top", [True, False])
def test_nul_in_an_org_unit(client: Client, top: bool) -> None:
    body = _value_set()
    if top:
        body["orgUnit"] = "District11a\x00"
    else:
        body["dataValues"][0]["orgUnit"] = "District11a\x00"
    before = _state()
    response = post_dhis2(client, body)
    assert 400 <= response.status_code < 500
    assert "orgUnit" in response.content.decode()  # names the field
    assert _state() == before


def test_dhis2_valid_set_is_stored_once(client: Client) -> None:
    """The baseline the mutations break: the unmutated set is accepted, and stored once."""
    before = _state()
    response = post_dhis2(client, _value_set())
    assert response.status_code == 200, response.content
    _check_dhis2(client, _value_set())
    assert CountValue.objects.count() == before[0] + 3  # cholera: the two age groups summed


# --- CSV --------------------------------------------------------------------------------------------------------------

GOOD_CELLS = {
    "orgunit": st.sampled_from(["D11", "D12", "D21", "R1", "d11", " D11 "]),
    "disease": st.sampled_from(["measles", "cholera", "MEASLES", "1F03", "nope"]),
    "period_start": st.sampled_from(["2024-01-29", "2024-W05", "2024W5", "2024-02-30", "2024-W54", "2099-W01"]),
    "cases": st.sampled_from(["0", "12", "-1", "1.5", "", "9" * 30, "twelve"]),
    "deaths": st.sampled_from(["0", "1", "", "x", "99999999999999999999"]),
}
GARBAGE = st.text(max_size=20) | st.sampled_from(['"', '"a""b', "x\ny", "\r", ",", "\x00", "٣", "x" * 5000])


@st.composite
def csv_files(draw: st.DrawFn) -> str:
    columns = draw(st.permutations(list(GOOD_CELLS)))
    columns = columns[: draw(st.integers(min_value=3, max_value=5))]
    header = list(columns)
    if draw(st.booleans()):
        header = [draw(st.sampled_from([c, c.upper(), f" {c} ", "extra", ""])) for c in header]
    lines = [",".join(header)]
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        cells = [draw(GARBAGE) if draw(st.integers(0, 9)) == 0 else draw(GOOD_CELLS[c]) for c in columns]
        if draw(st.integers(0, 9)) == 0:
            cells = cells[:-1] if draw(st.booleans()) else [*cells, "1"]
        lines.append(",".join(cells))
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines) + draw(st.sampled_from(["", "\n"]))


def _check_csv(actor: Actor, data: bytes) -> None:
    before = _state()
    error: ServiceError | None = None
    try:
        result = services.import_csv(actor, data, filename="fuzz.csv")
    except ServiceError as exc:
        error = exc
    if error is not None:
        assert 400 <= error.status < 500
        assert error.message
        if isinstance(error, services.BatchRejected):
            assert all(str(e).startswith("row ") for e in error.errors), error.message
        else:
            assert error.message.startswith(("row ", "file")), error.message
        assert _state() == before, error.message
        return
    assert result.as_dict()
    after = _state()
    again = services.import_csv(actor, data, filename="fuzz.csv")
    assert again.as_dict()
    assert _state()[:3] == after[:3]


@given(text=csv_files())
@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURES)
def test_csv_files_with_broken_cells(users: dict[str, User], text: str) -> None:
    _check_csv(actor_of(users["regional_officer"]), text.encode())


@given(raw=st.binary(max_size=300))
@settings(max_examples=80, deadline=None, suppress_health_check=FIXTURES)
def test_csv_random_bytes(users: dict[str, User], raw: bytes) -> None:
    _check_csv(actor_of(users["regional_officer"]), b"orgunit,disease,period_start,cases\n" + raw)
    _check_csv(actor_of(users["regional_officer"]), raw)


@given(text=csv_files())
@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
def test_csv_upload_page_never_fails(client: Client, text: str) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = _state()
    response = client.post(reverse("reporting:upload"), {"file": SimpleUploadedFile("f.csv", text.encode())})
    assert response.status_code in (200, 302, 400, 403), response.status_code
    assert _state()[:3] == before[:3]  # the upload page only stages (a dry run) until confirmed


def test_nul_in_an_uploaded_csv_file(client: Client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = b"orgunit,disease,period_start,cases\nD11,measles,2024-W05,1\x00\n"
    response = client.post(reverse("reporting:upload"), {"file": SimpleUploadedFile("nul.csv", data)})
    assert response.status_code in (200, 400)  # the page again, with the reason
    assert "line 2 contains a NUL character" in response.content.decode()


def test_csv_valid_file_is_stored_once(users: dict[str, User]) -> None:
    before = _state()
    data = b"orgunit,disease,period_start,cases,deaths\nD11,measles,2024-W05,12,1\nD12,cholera,2024-W05,3,\n"
    _check_csv(actor_of(users["regional_officer"]), data)
    assert CountValue.objects.count() == before[0] + 3
    assert json.dumps(services.import_csv(actor_of(users["regional_officer"]), data).as_dict())
