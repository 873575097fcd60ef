"""The strategy demo: demo baselines and targets for the starting indicators, and made-up yearly values
2020-2025 for six countries on the recorded indicators.

Every value is a **demo figure**: its ``source`` says "DEMO figure (synthetic, not reported by the country)", so
pages, exports and the API show it as such. The derived indicators need no values: they follow the maturity demo's
published assessments. Idempotent: the values are keyed by indicator, country and year, so a second run reports
them unchanged; an indicator that already has a global target (perhaps set by the indicator manager) keeps it.
"""

from __future__ import annotations

from dhnet.platform.access import Actor
from dhnet.strategy import services
from dhnet.strategy.models import Target

DEMO_SOURCE = "DEMO figure (synthetic, not reported by the country)"
YEARS = tuple(range(2020, 2026))

#: Demo baselines (2020) and targets (2025) of the starting indicators: (baseline, target).
TARGETS: dict[str, tuple[str, str]] = {
    "SO1.1-GOVBODY": ("10", "40"),
    "SO1.2-MATURITYSHARED": ("20", "60"),
    "SO1.3-SURVCENTRE": ("2", "6"),
    "SO2.1-NDHS": ("30", "60"),
    "SO2.2-MATURITY": ("2.2", "3"),
    "SO2.3-FUNDING": ("1.5", "3"),
    "SO3.1-DATAPROT": ("15", "40"),
    "SO3.2-STANDARDS": ("30", "60"),
    "SO3.3-CURRICULA": ("20", "50"),
    "SO4.1-LITERACY": ("1", "5"),
    "SO4.2-FEEDBACK": ("5", "25"),
    "SO4.3-EHR": ("35", "70"),
}

#: Demo values per country: indicator -> one value per year 2020..2025 (None: not reported that year).
VALUES: dict[str, dict[str, tuple[str | None, ...]]] = {
    "DE": {
        "SO1.3-SURVCENTRE": ("1", "1", "1", "1", "1", "1"),
        "SO2.3-FUNDING": ("2.1", "2.4", "2.6", "2.7", "2.9", None),
        "SO4.1-LITERACY": ("0", "0", "1", "1", "1", "1"),
        "SO4.3-EHR": ("38", "44", "51", "57", "62", None),
    },
    "FR": {
        "SO1.3-SURVCENTRE": ("1", "1", "1", "1", "1", "1"),
        "SO2.3-FUNDING": ("1.9", "2.0", "2.2", "2.3", "2.5", "2.6"),
        "SO4.1-LITERACY": ("0", "1", "1", "1", "1", "1"),
        "SO4.3-EHR": ("45", "52", "60", "66", "71", "74"),
    },
    "KE": {
        "SO1.3-SURVCENTRE": ("0", "0", "1", "1", "1", "1"),
        "SO2.3-FUNDING": ("0.8", "0.9", "1.1", "1.2", "1.4", None),
        "SO4.1-LITERACY": ("0", "0", "0", "1", "1", "1"),
        "SO4.3-EHR": ("12", "15", "19", "24", "28", None),
    },
    "BR": {
        "SO1.3-SURVCENTRE": ("1", "1", "1", "1", "1", "1"),
        "SO2.3-FUNDING": ("1.2", "1.3", "1.3", "1.5", "1.6", "1.8"),
        "SO4.1-LITERACY": ("0", "0", "0", "0", "1", "1"),
        "SO4.3-EHR": ("30", "33", "37", "42", "46", "50"),
    },
    "IN": {
        "SO1.3-SURVCENTRE": ("0", "1", "1", "1", "1", "1"),
        "SO2.3-FUNDING": ("0.6", "0.8", "1.0", "1.1", "1.3", "1.4"),
        "SO4.1-LITERACY": ("0", "0", "1", "1", "1", "1"),
        "SO4.3-EHR": ("8", "14", "22", "31", "38", "45"),
    },
    "ZA": {
        "SO1.3-SURVCENTRE": ("0", "0", "0", "1", "1", "1"),
        "SO2.3-FUNDING": ("1.0", "1.0", "1.1", "1.1", "1.2", None),
        "SO4.1-LITERACY": ("0", "0", "0", "0", "0", "1"),
        "SO4.3-EHR": ("20", "22", "24", "27", "29", None),
    },
}


def demo_rows() -> list[dict[str, str | int]]:
    """The demo values as upload rows (indicator, country, period, value, source)."""
    rows: list[dict[str, str | int]] = []
    for country, series in VALUES.items():
        for code, values in series.items():
            for year, value in zip(YEARS, values, strict=True):
                if value is not None:
                    rows.append(
                        {"indicator": code, "country": country, "period": year, "value": value, "source": DEMO_SOURCE}
                    )
    return rows


def load_demo(operator: Actor) -> str:
    """Set the demo targets and record the demo values (once); a line saying what was done."""
    targets = 0
    for code, (baseline, target) in TARGETS.items():
        if Target.objects.filter(indicator__code=code, country="").exists():
            continue
        data = {"baseline_value": baseline, "baseline_year": 2020, "target_value": target, "target_year": 2025}
        targets += services.set_target(operator, code, data)[1]
    result = services.record_values(operator, demo_rows())
    return (
        f"strategy: {targets} demo target(s) set ({len(TARGETS) - targets} already there); demo values for "
        f"{', '.join(VALUES)} 2020-2025: {result.created} new, {result.updated} changed, {result.unchanged} unchanged"
    )
