"""CSV files (parsing, the upload page with its preview, the command line) and the weekly form."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dhnet.cli import main
from dhnet.platform.errors import Invalid
from dhnet.reporting import services
from dhnet.reporting.models import CountValue, ImportBatch, PendingUpload, Submission
from tests.platform.fixtures import login
from tests.reporting.helpers import MONDAY, WEEK, csv_bytes

GOOD = csv_bytes("D11,measles,2024-01-29,3,0", "D11,cholera,2024-W05,12,1", "D11,malaria,2024-01-29,40,")
BAD = csv_bytes("D11,measles,2024-01-29,3,0", "D11,cholera,2024-01-31,twelve,1", "D21,malaria,2024-01-29,40,")


# --- parsing --------------------------------------------------------------------------------------------------------


def test_parse_csv_rows_and_numbering() -> None:
    rows, errors = services.parse_csv(
        "\ufeffOrgUnit , disease,cases,period_start\nD11,measles,3,2024-W05\n\n D12 ,cholera,,2024-W05\nD11,x\n"
    )
    assert [(r.ref, r.orgunit, r.disease, r.period, r.value, r.measure) for r in rows] == [
        ("row 2", "D11", "measles", "2024-W05", "3", "cases"),
        ("row 4", "D12", "cholera", "2024-W05", "", "cases"),
    ]
    assert [str(e) for e in errors] == ["row 5: expected 4 fields, got 2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file: empty"),
        ("orgunit,disease,period_start\n", "row 1: missing column 'cases'"),
        ("orgunit,disease,period_start,cases,death\n", "row 1: unknown column 'death'"),
        ("orgunit,disease,period_start,cases,cases\n", "row 1: a column repeats"),
        ("orgunit,disease,period_start,cases\n", "file: no data rows"),
    ],
)
def test_parse_csv_header_errors(text: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        services.parse_csv(text)


def test_import_csv_reports_rows_and_fields(users: dict[str, Any]) -> None:
    from tests.platform.fixtures import actor_of

    officer = actor_of(users["district_officer"])
    with pytest.raises(services.BatchRejected) as info:
        services.import_csv(officer, BAD)
    assert [str(e) for e in info.value.errors] == [
        "row 3, field period_start: 2024-01-31 is a Wednesday: give the ISO week (2024-W05) or its Monday (2024-01-29)",
        "row 3, field cases: must be a non-negative integer",
        "row 4, field orgunit: org unit 'D21' is outside your jurisdiction",
    ]
    assert info.value.status == 403
    assert not CountValue.objects.exists()
    with pytest.raises(Invalid, match="not UTF-8"):
        services.import_csv(officer, b"orgunit,disease,period_start,cases\nD11,measles,2024-W05,\xff\n")
    result = services.import_csv(officer, GOOD, filename="week5.csv")
    assert (result.imported, result.values) == (5, 5)  # three cases, two deaths (an empty deaths cell: none)
    assert ImportBatch.objects.get().summary["detail"] == {"filename": "week5.csv"}


# --- upload page ----------------------------------------------------------------------------------------------------


def _upload(client: Client, data: bytes, name: str = "week5.csv") -> Any:
    return client.post("/reporting/upload/", {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def test_upload_preview_confirm(users: dict[str, Any]) -> None:
    client = login(Client(), users["district_officer"])
    page = client.get("/reporting/upload/")
    assert page.status_code == 200
    assert b"period_start" in page.content
    response = _upload(client, GOOD)
    assert response.status_code == 302
    checksum = services.checksum_of(GOOD)
    assert response["Location"] == f"/reporting/upload/{checksum}/"
    preview = client.get(response["Location"])
    assert preview.status_code == 200
    assert b"Confirm and store" in preview.content
    assert b"5 new" in preview.content
    assert b"row 3" in preview.content
    assert not CountValue.objects.exists()
    assert not ImportBatch.objects.exists()
    assert PendingUpload.objects.get().checksum == checksum
    stored = client.post(f"/reporting/upload/{checksum}/")
    assert stored.status_code == 302
    assert CountValue.objects.count() == 5
    assert ImportBatch.objects.count() == 1
    done = client.get(f"/reporting/upload/{checksum}/")
    assert b"Stored: 5 new" in done.content
    assert b"Confirm and store" not in done.content
    client.post(f"/reporting/upload/{checksum}/")  # a second confirmation stores nothing twice
    assert CountValue.objects.count() == 5
    assert ImportBatch.objects.count() == 1


def test_upload_with_errors_shows_the_report_and_stores_nothing(users: dict[str, Any]) -> None:
    client = login(Client(), users["district_officer"])
    response = _upload(client, BAD)
    preview = client.get(response["Location"])
    assert preview.status_code == 200
    content = preview.content.decode()
    assert "row 3, field cases: must be a non-negative integer" in content
    assert "row 4, field orgunit: org unit &#x27;D21&#x27; is outside your jurisdiction" in content
    assert "Confirm and store" not in content
    confirm = client.post(response["Location"])
    assert confirm.status_code == 403
    assert not CountValue.objects.exists()
    assert not ImportBatch.objects.exists()
    assert not Submission.objects.exists()
    assert _upload(client, b"").status_code == 302  # an empty file: a report, not a crash
    assert client.post("/reporting/upload/", {}).status_code == 400


def test_uploads_are_private(users: dict[str, Any]) -> None:
    mine = login(Client(), users["district_officer"])
    location = _upload(mine, GOOD)["Location"]
    other = login(Client(), users["regional_officer"])
    assert other.get(location).status_code == 404
    assert other.post(location).status_code == 404
    assert not CountValue.objects.exists()


# --- command line ---------------------------------------------------------------------------------------------------


def test_cli_import_counts(tree: Any, tmp_path: Any) -> None:
    path = tmp_path / "week5.csv"
    path.write_bytes(GOOD)
    runner = CliRunner()
    dry = runner.invoke(main, ["import", "counts", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["imported"] == 5
    assert not CountValue.objects.exists()
    first = runner.invoke(main, ["import", "counts", str(path)])
    assert first.exit_code == 0, first.output
    assert "wrote 5/5 values" in first.stderr
    assert CountValue.objects.count() == 5
    again = runner.invoke(main, ["import", "counts", str(path)])
    assert json.loads(again.stdout)["duplicate"] is True
    assert ImportBatch.objects.count() == 1
    bad = tmp_path / "bad.csv"
    bad.write_bytes(BAD.replace(b"D21", b"D99"))
    failed = runner.invoke(main, ["import", "counts", str(bad)])
    assert failed.exit_code == 1
    assert "row 3, field cases: must be a non-negative integer" in failed.stderr
    assert "row 4, field orgunit: unknown org unit 'D99'" in failed.stderr
    assert CountValue.objects.count() == 5


# --- weekly form ----------------------------------------------------------------------------------------------------


def test_form_page_is_small_shows_last_week_and_posts_then_redirects(users: dict[str, Any]) -> None:
    client = login(Client(), users["district_officer"])
    choose = client.get("/reporting/form/")
    assert choose.status_code == 200
    assert b"District 11" in choose.content
    assert b"District 12" not in choose.content
    assert client.get(f"/reporting/form/?orgunit=D11&week={WEEK}")["Location"] == f"/reporting/form/D11/{WEEK}/"
    client.post("/reporting/form/D11/2024-W04/", {"cases_measles": "7", "deaths_measles": "1"})
    page = client.get(f"/reporting/form/D11/{WEEK}/")
    assert page.status_code == 200
    assert len(page.content) < 40_000
    assert b"<script" not in page.content
    assert b'name="viewport"' in page.content
    assert b"7 / 1" in page.content  # last week's values
    assert b"Not received yet" in page.content
    response = client.post(
        f"/reporting/form/D11/{WEEK}/", {"cases_measles": "3", "deaths_measles": "0", "cases_cholera": " 12 "}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(f"/reporting/form/D11/{WEEK}/?saved=1&imported=3")
    values = {(c.disease.code, c.measure): c.value for c in CountValue.objects.filter(period_start=MONDAY)}
    assert values == {("measles", "cases"): 3, ("measles", "deaths"): 0, ("cholera", "cases"): 12}
    page = client.get(response["Location"])
    assert b"Saved: 3 new" in page.content
    assert b'value="12"' in page.content
    assert b"Received" in page.content
    # Clearing a field deletes its count.
    client.post(f"/reporting/form/D11/{WEEK}/", {"cases_measles": "3", "deaths_measles": "0", "cases_cholera": ""})
    assert not CountValue.objects.filter(period_start=MONDAY, disease__code="cholera").exists()


def test_form_errors_name_the_field_and_store_nothing(users: dict[str, Any]) -> None:
    client = login(Client(), users["district_officer"])
    response = client.post(f"/reporting/form/D11/{WEEK}/", {"cases_measles": "3", "deaths_measles": "-2"})
    assert response.status_code == 400
    assert b"Measles, field deaths: must be a non-negative integer" in response.content
    assert b'value="-2"' in response.content  # what was typed is kept
    assert not CountValue.objects.exists()
    assert not Submission.objects.exists()
    assert client.post(f"/reporting/form/D11/{WEEK}/", {}).status_code == 400  # nothing entered


def test_form_refuses_other_districts_and_bad_weeks(users: dict[str, Any]) -> None:
    client = login(Client(), users["district_officer"])
    assert client.get(f"/reporting/form/D12/{WEEK}/").status_code == 404
    assert client.post(f"/reporting/form/D21/{WEEK}/", {"cases_measles": "1"}).status_code == 404
    assert not CountValue.objects.exists()
    assert client.get("/reporting/form/D11/2024-W60/").status_code == 400
    assert client.get("/reporting/form/D11/2999-W01/").status_code == 400
    regional = login(Client(), users["regional_officer"])
    assert regional.get(f"/reporting/form/D12/{WEEK}/").status_code == 200
    assert regional.get(f"/reporting/form/R1/{WEEK}/").status_code == 400  # not a reporting unit
    assert regional.post(f"/reporting/form/R1/{WEEK}/", {"cases_measles": "1"}).status_code == 400
    assert not CountValue.objects.exists()
