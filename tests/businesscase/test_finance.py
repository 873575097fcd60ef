"""The arithmetic of a business case against a spreadsheet worked out by hand (``dhnet.businesscase.finance``).

The worked example (currency units; rate 5 %; base year 2025; horizon 4 years, 2025-2028):

    costs:    2025  deployment/hardware 100,000 + planning_development/people 50,000 = 150,000
              2026-2028  operations/maintenance 30,000 a year
    benefits: staff time saved, 2,000 / 2,500 / 3,000 hours in 2026 / 2027 / 2028 at 40 an hour
              = 80,000 / 100,000 / 120,000

    year  t  costs     benefits  factor 1/1.05^t  PV costs     PV benefits   cum. net   cum. PV net
    2025  0  150,000         0   1.000000         150,000.00          0.00  -150,000   -150,000.00
    2026  1   30,000    80,000   0.952381          28,571.43     76,190.48  -100,000   -102,380.95
    2027  2   30,000   100,000   0.907029          27,210.88     90,702.95   -30,000    -38,888.89
    2028  3   30,000   120,000   0.863838          25,915.13    103,660.51    60,000     38,856.49
    total    240,000   300,000                    231,697.44    270,553.94

    (30,000 / 1.05 = 28,571.428571; 30,000 / 1.1025 = 27,210.884354; 30,000 / 1.157625 = 25,915.127956;
     80,000 / 1.05 = 76,190.476190; 100,000 / 1.1025 = 90,702.947846; 120,000 / 1.157625 = 103,660.511824)

    NPV = 270,553.935860 - 231,697.440881 = 38,856.494979 -> 38,856.49
    ROI = 38,856.494979 / 231,697.440881 = 0.167704 (16.77 %); benefit-cost ratio 1.167704
    payback 2028 (cumulative net first >= 0 and stays), discounted payback 2028

    sensitivity at 3 %: factors 1, 0.970874, 0.942596, 0.915142; PV costs 150,000 + 30,000 x 2.828611 =
    234,858.34; PV benefits 80,000 x 0.970874 + 100,000 x 0.942596 + 120,000 x 0.915142 = 281,746.49;
    NPV 46,888.15.  At 5 %: benefits x 50 %, costs x 120 %: 0.5 x 270,553.935860 - 1.2 x 231,697.440881 =
    -142,759.96; benefits x 150 %, costs x 80 %: 405,830.903790 - 185,357.952705 = 220,472.95.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from dhnet.businesscase import finance
from dhnet.businesscase.finance import Benefit, Cost, cents

COSTS = [
    Cost(2025, D(100000), "deployment", "hardware"),
    Cost(2025, D(50000), "planning_development", "people"),
    Cost(2026, D(30000), "operations", "maintenance"),
    Cost(2027, D(30000), "operations", "maintenance"),
    Cost(2028, D(30000), "operations", "maintenance"),
]
BENEFITS = [
    Benefit(2026, D(2000), D(40), "time_saved"),
    Benefit(2027, D(2500), D(40), "time_saved"),
    Benefit(2028, D(3000), D(40), "time_saved"),
]
FRAME = {"rate": D("0.05"), "base_year": 2025, "horizon_years": 4}


def test_the_worked_example_year_by_year() -> None:
    r = finance.evaluate(COSTS, BENEFITS, **FRAME)
    table = [
        (y.year, y.t, cents(y.costs), cents(y.benefits), round(y.factor, 6), cents(y.pv_costs), cents(y.pv_benefits))
        for y in r.years
    ]
    assert table == [
        (2025, 0, D("150000.00"), D("0.00"), D("1.000000"), D("150000.00"), D("0.00")),
        (2026, 1, D("30000.00"), D("80000.00"), D("0.952381"), D("28571.43"), D("76190.48")),
        (2027, 2, D("30000.00"), D("100000.00"), D("0.907029"), D("27210.88"), D("90702.95")),
        (2028, 3, D("30000.00"), D("120000.00"), D("0.863838"), D("25915.13"), D("103660.51")),
    ]
    assert [cents(y.cumulative_net) for y in r.years] == [
        D("-150000.00"),
        D("-100000.00"),
        D("-30000.00"),
        D("60000.00"),
    ]
    assert [cents(y.cumulative_pv_net) for y in r.years] == [
        D("-150000.00"),
        D("-102380.95"),
        D("-38888.89"),
        D("38856.49"),
    ]


def test_the_worked_example_totals() -> None:
    r = finance.evaluate(COSTS, BENEFITS, **FRAME)
    assert (r.total_costs, r.total_benefits) == (D(240000), D(300000))
    assert cents(r.pv_costs) == D("231697.44")
    assert cents(r.pv_benefits) == D("270553.94")
    assert cents(r.npv) == D("38856.49")
    assert round(r.roi, 6) == D("0.167704")  # type: ignore[arg-type]
    assert round(r.bcr, 6) == D("1.167704")  # type: ignore[arg-type]
    assert (r.payback_year, r.discounted_payback_year) == (2028, 2028)
    # exact, not rounded on the way: the NPV is the difference of the unrounded present values
    assert abs(r.npv - (r.pv_benefits - r.pv_costs)) < D("1e-20")
    assert cents(r.pv_benefits) - cents(r.pv_costs) == D("38856.50")  # rounding first would be off by a cent


def test_totals_by_phase_and_category() -> None:
    phases = ("planning_development", "deployment", "scaling", "operations")
    assert finance.totals_by(COSTS, "phase", phases) == {
        "planning_development": D(50000),
        "deployment": D(100000),
        "scaling": D(0),
        "operations": D(90000),
    }
    by_category = finance.totals_by(COSTS, "category", ("hardware", "software", "people", "maintenance"))
    assert by_category == {"hardware": D(100000), "software": D(0), "people": D(50000), "maintenance": D(90000)}
    grid = finance.grid(COSTS, 2025, 4)
    assert grid[("operations", "maintenance")] == [D(0), D(30000), D(30000), D(30000)]
    assert grid[("deployment", "hardware")] == [D(100000), D(0), D(0), D(0)]


def test_sensitivity_table() -> None:
    s = finance.sensitivity(COSTS, BENEFITS, **FRAME)
    assert s.rates == (D("0.03"), D("0.04"), D("0.05"), D("0.06"), D("0.07"))
    assert s.benefit_factors == (D("0.5"), D("0.75"), D("1"), D("1.25"), D("1.5"))
    assert s.cost_factors == (D("0.8"), D("1"), D("1.2"), D("1.5"))
    assert len(s.npv) == 5
    assert all(len(t) == 5 and all(len(row) == 4 for row in t) for t in s.npv)
    assert cents(s.npv[2][2][1]) == D("38856.49")  # the case itself
    assert cents(s.npv[0][2][1]) == D("46888.15")  # at 3 %
    assert cents(s.npv[2][0][2]) == D("-142759.96")  # benefits x 50 %, costs x 120 %
    assert cents(s.npv[2][4][0]) == D("220472.95")  # benefits x 150 %, costs x 80 %
    # a lower rate raises the NPV of a case whose benefits come later than its costs
    assert s.npv[0][2][1] > s.npv[2][2][1] > s.npv[4][2][1]


def test_rate_zero_is_plain_sums() -> None:
    r = finance.evaluate(COSTS, BENEFITS, rate=D(0), base_year=2025, horizon_years=4)
    assert all(y.factor == 1 for y in r.years)
    assert (r.pv_costs, r.pv_benefits, r.npv) == (D(240000), D(300000), D(60000))
    assert r.roi == D("0.25")
    assert r.bcr == D("1.25")
    assert r.payback_year == r.discounted_payback_year == 2028


def test_all_costs_in_year_zero() -> None:
    costs = [Cost(2030, D(1000), "deployment", "software")]
    benefits = [Benefit(2031, D(1), D(600)), Benefit(2032, D(1), D(600))]
    r = finance.evaluate(costs, benefits, rate=D("0.10"), base_year=2030, horizon_years=3)
    assert r.pv_costs == D(1000)  # not discounted in the base year
    # 600/1.1 + 600/1.21 = 545.454545 + 495.867769 = 1,041.322314
    assert cents(r.pv_benefits) == D("1041.32")
    assert cents(r.npv) == D("41.32")
    assert r.payback_year == 2032
    assert r.discounted_payback_year == 2032


def test_benefits_never_exceed_costs() -> None:
    costs = [Cost(2025 + t, D(500)) for t in range(3)]
    benefits = [Benefit(2025 + t, D(1), D(100)) for t in range(3)]
    r = finance.evaluate(costs, benefits, rate=D("0.03"), base_year=2025, horizon_years=3)
    assert r.npv < 0
    assert r.roi is not None
    assert r.roi < 0
    assert r.bcr is not None
    assert r.bcr < 1
    assert r.payback_year is None
    assert r.discounted_payback_year is None


def test_payback_must_hold_to_the_end() -> None:
    """A cumulative net that turns positive and then negative again (a re-investment) has not paid back then."""
    costs = [Cost(2025, D(100)), Cost(2027, D(500))]
    benefits = [Benefit(2026, D(1), D(200)), Benefit(2028, D(1), D(600))]
    r = finance.evaluate(costs, benefits, rate=D(0), base_year=2025, horizon_years=4)
    assert [y.cumulative_net for y in r.years] == [D(-100), D(100), D(-400), D(200)]
    assert r.payback_year == 2028


def test_no_costs_no_ratio() -> None:
    r = finance.evaluate([], [Benefit(2025, D(1), D(10))], rate=D("0.05"), base_year=2025, horizon_years=1)
    assert r.roi is None
    assert r.bcr is None
    assert r.npv == D(10)
    empty = finance.evaluate([], [], rate=D("0.05"), base_year=2025, horizon_years=2)
    assert empty.npv == 0
    assert empty.payback_year == 2025


def test_negative_rate_above_minus_100_percent() -> None:
    r = finance.evaluate([], [Benefit(2026, D(1), D(100))], rate=D("-0.5"), base_year=2025, horizon_years=2)
    assert r.pv_benefits == D(200)  # 100 / 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": D("-1")}, "rate: -1 is -100 % or below"),
        ({"rate": D("-1.5")}, "rate: -1.5 is -100 % or below"),
        ({"rate": D("NaN")}, "rate: not a finite number"),
        ({"rate": 0.05}, "rate: expected a Decimal"),
        ({"horizon_years": 0}, "horizon_years: 0 is not between 1 and 30"),
        ({"horizon_years": 31}, "horizon_years: 31 is not between 1 and 30"),
        ({"base_year": 1800}, "base_year: 1800 is not a year"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], message: str) -> None:
    frame: dict[str, object] = dict(FRAME) | kwargs
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        finance.evaluate(COSTS, BENEFITS, **frame)  # type: ignore[arg-type]


def test_years_outside_the_horizon_are_named() -> None:
    with pytest.raises(ValueError, match=r"costs\[1\]: year 2029 is outside the horizon 2025-2028"):
        finance.evaluate([Cost(2025, D(1)), Cost(2029, D(1))], [], **FRAME)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"benefits\[0\]: year 2024 is outside the horizon 2025-2028"):
        finance.evaluate([], [Benefit(2024, D(1), D(1))], **FRAME)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"costs\[0\].amount: -5 is negative"):
        finance.evaluate([Cost(2025, D(-5))], [], **FRAME)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"benefits\[0\].unit_value: -1 is negative"):
        finance.evaluate([], [Benefit(2025, D(1), D(-1))], **FRAME)  # type: ignore[arg-type]


def test_sensitivity_leaves_out_rates_at_or_below_minus_100_percent() -> None:
    s = finance.sensitivity(COSTS, BENEFITS, rate=D("-0.99"), base_year=2025, horizon_years=4)
    assert s.rates == (D("-0.99"), D("-0.98"), D("-0.97"))
    assert len(s.npv) == 3


def test_discount_factor_and_present_value() -> None:
    assert finance.discount_factor(D("0.05"), 0) == 1
    assert round(finance.discount_factor(D("0.05"), 2), 10) == D("0.9070294785")
    assert cents(finance.present_value(D(30000), 2027, 2025, D("0.05"))) == D("27210.88")
    with pytest.raises(ValueError, match="t: -1 is negative"):
        finance.discount_factor(D("0.05"), -1)


def test_cents_round_half_even() -> None:
    assert cents(D("0.125")) == D("0.12")
    assert cents(D("0.135")) == D("0.14")
    assert cents(D("-2.005")) == D("-2.00")


@pytest.mark.parametrize(
    ("raw", "expected"), [("1234.50", D("1234.50")), (" 7 ", D(7)), (3, D(3)), (0.1, D("0.1")), (D("2"), D(2))]
)
def test_as_decimal(raw: object, expected: D) -> None:
    assert finance.as_decimal(raw, "amount") == expected


@pytest.mark.parametrize("raw", ["abc", "", True, None, "Infinity", [1]])
def test_as_decimal_refuses(raw: object) -> None:
    with pytest.raises(ValueError, match=r"^amount: "):
        finance.as_decimal(raw, "amount")
