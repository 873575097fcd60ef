"""Exports: the PDF is a real document (read back with pypdf: title, investment, assumptions, cost and benefit
tables, results, sensitivity table, the chart's legend), the CSV tables carry the worked example's figures, and the
cash-flow SVG draws one bar per discounted amount and a dot per year."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.test import Client
from pypdf import PdfReader

from dhnet.accounts.models import User
from dhnet.businesscase import charts, exports, services
from dhnet.businesscase.models import BusinessCase
from dhnet.platform.access import Actor
from tests.businesscase.helpers import BENEFITS, COSTS, FIELDS, appoint
from tests.platform.fixtures import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(operator: Actor) -> BusinessCase:
    made, _ = services.create_case(operator, FIELDS | {"costs": COSTS, "benefits": BENEFITS})
    return made


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in reader.pages))


def test_pdf_reads_back(case: BusinessCase) -> None:
    pdf = exports.pdf(case, services.figures(case))
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None
    assert reader.metadata.title == f"Business case: {case.title}"
    text = _text(pdf)
    for expected in (
        "Business case: Electronic case notification, national scale-up",
        case.public_id,
        "Scale the electronic notification system to every county laboratory.",
        "discount rate 5.00 %",
        "2000 hours of re-keying saved at 40 an hour",  # an assumption
        "Costs by TCO phase and category",
        "Operations and maintenance",
        "Maintenance",
        "240,000.00",  # total costs
        "Benefits",
        "staff hours",
        "Net present value (NPV)",
        "38,856.49 USD",
        "16.8 %",  # ROI
        "1.17",  # benefit-cost ratio
        "Payback year 2028",
        "Sensitivity",
        "-142,759.96",  # benefits x 50 %, costs x 120 % at 5 %
        "46,888.15",  # at 3 %
        "cumulative discounted net",  # the chart's legend
    ):
        assert expected in text, expected


def test_pdf_of_an_empty_case(operator: Actor) -> None:
    empty, _ = services.create_case(operator, FIELDS | {"title": "Nothing yet"})
    text = _text(exports.pdf(empty, services.figures(empty)))
    assert "Business case: Nothing yet" in text
    assert "not within the horizon" not in text  # no costs: paid back from the start
    assert "n/a" in text  # no ROI without costs


def test_csv_tables(case: BusinessCase) -> None:
    figures = services.figures(case)
    years = list(csv.reader(io.StringIO(exports.csv_table(case, figures, "years"))))
    assert years[0][:4] == ["year", "t", "costs", "benefits"]
    assert years[2] == [
        "2026",
        "1",
        "30000.00",
        "80000.00",
        "0.952381",
        "28571.43",
        "76190.48",
        "50000.00",
        "-100000.00",
        "-102380.95",
    ]
    rows = {r[0]: r[1:] for r in years[5:]}
    assert rows["total"][4:6] == ["231697.44", "270553.94"]
    assert rows["npv"] == ["38856.49"]
    assert rows["payback_year"] == ["2028"]
    table = list(csv.reader(io.StringIO(exports.csv_table(case, figures, "sensitivity"))))
    assert table[0] == [
        "discount_rate",
        "benefits_factor",
        "npv_costs_x0.8",
        "npv_costs_x1",
        "npv_costs_x1.2",
        "npv_costs_x1.5",
    ]
    assert len(table) == 1 + 5 * 5
    at_5 = [r for r in table[1:] if r[0] == "0.05" and r[1] == "0.5"]
    assert at_5[0][4] == "-142759.96"
    benefits = list(csv.reader(io.StringIO(exports.csv_table(case, figures, "benefits"))))
    assert benefits[1] == ["time_saved", "2026", "2000", "staff hours", "40", BENEFITS[0]["assumption"]]
    with pytest.raises(ValueError, match="table: 'x' is not one of"):
        exports.csv_table(case, figures, "x")


def test_cashflow_svg(case: BusinessCase) -> None:
    result = services.figures(case).result
    svg = charts.cashflow_svg(result, "USD")
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert svg.count('class="cost"') == 4  # a discounted cost every year
    assert svg.count('class="benefit"') == 3  # none in the base year
    assert svg.count("<circle") == 4
    assert "2026: discounted benefits 76,190.48 USD" in svg
    assert "2028: cumulative discounted net 38,856.49 USD" in svg
    assert charts.money(1_250_000) == "1.2M"
    assert charts.money(-40_000) == "-40k"
    assert charts.money(12) == "12"


def test_cashflow_svg_without_lines(operator: Actor) -> None:
    empty, _ = services.create_case(operator, FIELDS | {"title": "Nothing yet"})
    assert "nothing to draw" in charts.cashflow_svg(services.figures(empty).result, "USD")


def test_downloads_over_http(case: BusinessCase, users: dict[str, User]) -> None:
    appoint(users["digital_health_planner"], "KE")
    client = login(Client(), users["digital_health_planner"])
    response = client.get(f"/business-cases/{case.public_id}/export.pdf")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{case.public_id}.pdf"'
    assert "38,856.49 USD" in _text(response.content)
    response = client.get(f"/api/v1/business-cases/{case.public_id}/export.csv?table=costs")
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines()[0] == "phase,category,year,amount,note"
    assert client.get(f"/api/v1/business-cases/{case.public_id}/export.csv?table=nope").status_code == 400
    assert client.get(f"/business-cases/{case.public_id}/export.csv?table=nope").status_code == 400
