"""The strategy demo: demo targets and values, marked as demo figures, loaded once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dhnet.platform.access import Actor
from dhnet.strategy import demo, services
from dhnet.strategy.models import Indicator, Target, Value

pytestmark = pytest.mark.django_db


def test_the_demo_loads_once_and_marks_every_value(operator: Actor) -> None:
    first = demo.load_demo(operator)
    assert "12 demo target(s) set" in first
    rows = demo.demo_rows()
    assert f"{len(rows)} new" in first
    assert Value.objects.count() == len(rows)
    assert set(Value.objects.values_list("source", flat=True)) == {demo.DEMO_SOURCE}
    assert set(Value.objects.values_list("period", flat=True)) == set(range(2020, 2026))
    second = demo.load_demo(operator)
    assert "0 demo target(s) set (12 already there)" in second
    assert f"0 new, 0 changed, {len(rows)} unchanged" in second
    assert Value.objects.count() == len(rows)


def test_a_target_set_by_the_manager_is_kept(operator: Actor) -> None:
    services.set_target(
        operator, "SO4.3-EHR", {"baseline_value": 1, "baseline_year": 2021, "target_value": 2, "target_year": 2026}
    )
    demo.load_demo(operator)
    assert Target.objects.get(indicator__code="SO4.3-EHR", country="").baseline_year == 2021


def test_the_demo_progress_is_what_the_figures_say(operator: Actor) -> None:
    """EHR coverage 2025: FR 74, BR 50, IN 45 (the others did not report) -> mean 56.33; baseline 35, target 70:
    (56.33 - 35) / 35 = 60.9 % of the way, the line at 70 by 2025: off track."""
    demo.load_demo(operator)
    p = services.indicator_progress(Indicator.objects.get(code="SO4.3-EHR"), year=2025)
    assert p.latest is not None
    assert (p.latest.period, p.latest.value, p.latest.reporting) == (2025, Decimal("56.33"), 3)
    assert (p.percent, p.status) == (Decimal("60.9"), "off_track")
