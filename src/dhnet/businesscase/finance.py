"""The arithmetic of a business case: present values, NPV, ROI, benefit-cost ratio, payback, sensitivity.

Pure (``decimal.Decimal``, no Django, no database), so that the pages, the API, the PDF and the tests compute the
same numbers from the same lines.

Conventions (the spreadsheet a planner would write):

- The horizon is ``horizon_years`` consecutive calendar years, ``base_year`` to ``base_year + horizon_years - 1``
  (a five-year horizon is five columns). A cost or benefit of ``year`` is at ``t = year - base_year`` and is
  discounted by the factor ``1 / (1 + rate) ** t`` (end-of-year convention: the base year is not discounted).
- ``rate`` is a fraction (``Decimal("0.05")`` is 5 %). A rate of -100 % or below has no discount factor and is a
  ``ValueError``; a negative rate above it (money worth more later) is allowed.
- PV(costs) and PV(benefits) are the sums of the discounted yearly amounts; NPV = PV(benefits) - PV(costs);
  ROI = NPV / PV(costs); benefit-cost ratio = PV(benefits) / PV(costs) (both ``None`` when PV(costs) is 0).
- Payback year: the first year from which the cumulative net (benefits - costs, undiscounted, or discounted for
  the discounted payback) stays at or above zero to the end of the horizon; ``None`` if it never does. Requiring
  it to *stay* there means a payback is not claimed in a year that a later re-investment undoes.

Rounding: every value is computed exactly in a local decimal context of :data:`PRECISION` significant digits
(discount factors of a 30-year horizon are not finite decimals, so "exact" means 50 digits, far below a cent);
nothing is rounded on the way. Money is rounded to cents, half-even, only for display (:func:`cents`); ratios by
the caller's formatting. Tests compare cents.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

PRECISION = 50
CENT = Decimal("0.01")
MAX_HORIZON = 30
ZERO = Decimal(0)

#: The sensitivity table's axes: discount-rate shifts (percentage points) and multipliers of benefits and costs.
RATE_SHIFTS: tuple[Decimal, ...] = tuple(Decimal(p) / 100 for p in (-2, -1, 0, 1, 2))
BENEFIT_FACTORS: tuple[Decimal, ...] = tuple(Decimal(p) / 100 for p in (50, 75, 100, 125, 150))
COST_FACTORS: tuple[Decimal, ...] = tuple(Decimal(p) / 100 for p in (80, 100, 120, 150))


def _context() -> decimal.Context:
    return decimal.Context(prec=PRECISION, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])


def cents(value: Decimal) -> Decimal:
    """``value`` rounded to cents, half-even (for display and exports only)."""
    return value.quantize(CENT, rounding=decimal.ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Cost:
    """An amount spent in ``year`` (>= 0), in a TCO ``phase`` and a ``category``."""

    year: int
    amount: Decimal
    phase: str = ""
    category: str = ""


@dataclass(frozen=True)
class Benefit:
    """A value gained in ``year``: ``quantity`` x ``unit_value`` (each >= 0), of a ``kind``."""

    year: int
    quantity: Decimal
    unit_value: Decimal
    kind: str = ""

    @property
    def amount(self) -> Decimal:
        with decimal.localcontext(_context()):
            return self.quantity * self.unit_value


@dataclass(frozen=True)
class Year:
    """One column of the spreadsheet."""

    year: int
    t: int
    costs: Decimal
    benefits: Decimal
    factor: Decimal
    pv_costs: Decimal
    pv_benefits: Decimal
    net: Decimal
    pv_net: Decimal
    cumulative_net: Decimal
    cumulative_pv_net: Decimal


@dataclass(frozen=True)
class Result:
    """The business case's figures at one discount rate."""

    rate: Decimal
    years: tuple[Year, ...]
    total_costs: Decimal
    total_benefits: Decimal
    pv_costs: Decimal
    pv_benefits: Decimal
    npv: Decimal
    roi: Decimal | None
    bcr: Decimal | None
    payback_year: int | None
    discounted_payback_year: int | None


@dataclass(frozen=True)
class Sensitivity:
    """NPV for every discount rate x benefit factor x cost factor: ``npv[i][j][k]`` is at ``rates[i]``,
    ``benefit_factors[j]``, ``cost_factors[k]``. Rates at or below -100 % (a low base rate shifted down) are left
    out, with no discount factor."""

    rates: tuple[Decimal, ...]
    benefit_factors: tuple[Decimal, ...]
    cost_factors: tuple[Decimal, ...]
    npv: tuple[tuple[tuple[Decimal, ...], ...], ...]


# --- validation -----------------------------------------------------------------------------------------------------


def check_rate(rate: Decimal) -> Decimal:
    """``rate`` as a Decimal; ValueError unless it is a finite number above -100 % (-1)."""
    if isinstance(rate, bool) or not isinstance(rate, Decimal | int):
        raise ValueError(f"rate: expected a Decimal, got {type(rate).__name__}")
    value = Decimal(rate)
    if not value.is_finite():
        raise ValueError("rate: not a finite number")
    if value <= -1:
        raise ValueError(f"rate: {value} is -100 % or below (a discount factor 1/(1+rate)^t needs rate > -1)")
    return value


def check_horizon(base_year: int, horizon_years: int) -> None:
    """ValueError unless ``base_year`` is a plausible calendar year and ``horizon_years`` is 1..MAX_HORIZON."""
    if isinstance(base_year, bool) or not isinstance(base_year, int) or not 1900 <= base_year <= 2200:
        raise ValueError(f"base_year: {base_year!r} is not a year between 1900 and 2200")
    if isinstance(horizon_years, bool) or not isinstance(horizon_years, int) or not 1 <= horizon_years <= MAX_HORIZON:
        raise ValueError(f"horizon_years: {horizon_years!r} is not between 1 and {MAX_HORIZON}")


def _check_year(year: int, base_year: int, horizon_years: int, where: str) -> None:
    last = base_year + horizon_years - 1
    if isinstance(year, bool) or not isinstance(year, int) or not base_year <= year <= last:
        raise ValueError(f"{where}: year {year!r} is outside the horizon {base_year}-{last}")


def _check_amount(value: Decimal, where: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{where}: not a finite Decimal")
    if value < 0:
        raise ValueError(f"{where}: {value} is negative")


def _yearly(
    costs: Iterable[Cost], benefits: Iterable[Benefit], base_year: int, horizon_years: int
) -> tuple[list[Decimal], list[Decimal]]:
    """Costs and benefits summed per year of the horizon (index t), every line validated."""
    check_horizon(base_year, horizon_years)
    c = [ZERO] * horizon_years
    b = [ZERO] * horizon_years
    with decimal.localcontext(_context()):
        for i, cost in enumerate(costs):
            _check_year(cost.year, base_year, horizon_years, f"costs[{i}]")
            _check_amount(cost.amount, f"costs[{i}].amount")
            c[cost.year - base_year] += cost.amount
        for i, benefit in enumerate(benefits):
            _check_year(benefit.year, base_year, horizon_years, f"benefits[{i}]")
            _check_amount(benefit.quantity, f"benefits[{i}].quantity")
            _check_amount(benefit.unit_value, f"benefits[{i}].unit_value")
            b[benefit.year - base_year] += benefit.amount
    return c, b


# --- the figures ----------------------------------------------------------------------------------------------------


def discount_factor(rate: Decimal, t: int) -> Decimal:
    """``1 / (1 + rate) ** t`` to :data:`PRECISION` digits (t >= 0)."""
    rate = check_rate(rate)
    if t < 0:
        raise ValueError(f"t: {t} is negative (a year before the base year)")
    with decimal.localcontext(_context()):
        return Decimal(1) / (Decimal(1) + rate) ** t


def present_value(amount: Decimal, year: int, base_year: int, rate: Decimal) -> Decimal:
    """The value in ``base_year`` of ``amount`` paid or gained in ``year``."""
    with decimal.localcontext(_context()):
        return amount * discount_factor(rate, year - base_year)


def _payback(cumulative: Sequence[Decimal], base_year: int) -> int | None:
    """The first year from which the cumulative values stay >= 0 to the end; None if the last one is negative."""
    year = None
    for t in range(len(cumulative) - 1, -1, -1):
        if cumulative[t] < 0:
            break
        year = base_year + t
    return year


def evaluate(
    costs: Iterable[Cost], benefits: Iterable[Benefit], *, rate: Decimal, base_year: int, horizon_years: int
) -> Result:
    """Every figure of the business case at ``rate`` (see the module docstring for each definition)."""
    rate = check_rate(rate)
    c, b = _yearly(costs, benefits, base_year, horizon_years)
    return _evaluate(c, b, rate, base_year)


def _evaluate(c: list[Decimal], b: list[Decimal], rate: Decimal, base_year: int) -> Result:
    rows: list[Year] = []
    with decimal.localcontext(_context()):
        cum = cum_pv = pv_c = pv_b = ZERO
        for t, (cost, benefit) in enumerate(zip(c, b, strict=True)):
            factor = Decimal(1) / (Decimal(1) + rate) ** t
            pvc, pvb = cost * factor, benefit * factor
            cum += benefit - cost
            cum_pv += pvb - pvc
            pv_c += pvc
            pv_b += pvb
            rows.append(Year(base_year + t, t, cost, benefit, factor, pvc, pvb, benefit - cost, pvb - pvc, cum, cum_pv))
        npv = pv_b - pv_c
        roi = npv / pv_c if pv_c else None
        bcr = pv_b / pv_c if pv_c else None
        return Result(
            rate=rate,
            years=tuple(rows),
            total_costs=sum(c, ZERO),
            total_benefits=sum(b, ZERO),
            pv_costs=pv_c,
            pv_benefits=pv_b,
            npv=npv,
            roi=roi,
            bcr=bcr,
            payback_year=_payback([r.cumulative_net for r in rows], base_year),
            discounted_payback_year=_payback([r.cumulative_pv_net for r in rows], base_year),
        )


def npv(
    costs: Iterable[Cost], benefits: Iterable[Benefit], *, rate: Decimal, base_year: int, horizon_years: int
) -> Decimal:
    """PV(benefits) - PV(costs) at ``rate``."""
    return evaluate(costs, benefits, rate=rate, base_year=base_year, horizon_years=horizon_years).npv


def totals_by(lines: Iterable[Cost], key: str, order: Sequence[str] = ()) -> dict[str, Decimal]:
    """Undiscounted cost totals per ``key`` ("phase" or "category"): the keys of ``order`` first (zero if absent),
    then any other key in the order met."""
    if key not in ("phase", "category"):
        raise ValueError(f"key: {key!r} is not phase or category")
    totals: dict[str, Decimal] = dict.fromkeys(order, ZERO)
    with decimal.localcontext(_context()):
        for line in lines:
            name = getattr(line, key)
            totals[name] = totals.get(name, ZERO) + line.amount
    return totals


def grid(lines: Iterable[Cost], base_year: int, horizon_years: int) -> dict[tuple[str, str], list[Decimal]]:
    """Cost amounts per (phase, category) and year of the horizon (the editor's grid and the PDF's table)."""
    check_horizon(base_year, horizon_years)
    out: dict[tuple[str, str], list[Decimal]] = {}
    with decimal.localcontext(_context()):
        for i, line in enumerate(lines):
            _check_year(line.year, base_year, horizon_years, f"costs[{i}]")
            row = out.setdefault((line.phase, line.category), [ZERO] * horizon_years)
            row[line.year - base_year] += line.amount
    return out


def sensitivity(
    costs: Iterable[Cost],
    benefits: Iterable[Benefit],
    *,
    rate: Decimal,
    base_year: int,
    horizon_years: int,
    rate_shifts: Sequence[Decimal] = RATE_SHIFTS,
    benefit_factors: Sequence[Decimal] = BENEFIT_FACTORS,
    cost_factors: Sequence[Decimal] = COST_FACTORS,
) -> Sensitivity:
    """NPV at every shifted rate x benefit factor x cost factor (NPV = f_b PV(benefits) - f_c PV(costs) at that
    rate, since scaling every line scales its present value)."""
    rate = check_rate(rate)
    c, b = _yearly(costs, benefits, base_year, horizon_years)
    rates: list[Decimal] = []
    table: list[tuple[tuple[Decimal, ...], ...]] = []
    with decimal.localcontext(_context()):
        for shift in rate_shifts:
            shifted = rate + shift
            if shifted <= -1:
                continue
            result = _evaluate(c, b, shifted, base_year)
            rates.append(shifted)
            table.append(
                tuple(
                    tuple(fb * result.pv_benefits - fc * result.pv_costs for fc in cost_factors)
                    for fb in benefit_factors
                )
            )
    return Sensitivity(tuple(rates), tuple(benefit_factors), tuple(cost_factors), tuple(table))


def as_decimal(raw: object, where: str) -> Decimal:
    """A Decimal from a Decimal, int or text such as ``"1234.50"``; ValueError naming ``where`` otherwise."""
    if isinstance(raw, bool):
        raise ValueError(f"{where}: expected a number")
    if isinstance(raw, Decimal | int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = Decimal(repr(raw))
    elif isinstance(raw, str):
        try:
            value = Decimal(raw.strip().replace(" ", ""))
        except decimal.InvalidOperation:
            raise ValueError(f"{where}: {raw[:40]!r} is not a number") from None
    else:
        raise ValueError(f"{where}: expected a number")
    if not value.is_finite():
        raise ValueError(f"{where}: not a finite number")
    return value


def mapping_of(values: Mapping[str, Decimal]) -> dict[str, str]:
    """Decimals as text rounded to cents (JSON answers and CSV)."""
    return {k: str(cents(v)) for k, v in values.items()}
