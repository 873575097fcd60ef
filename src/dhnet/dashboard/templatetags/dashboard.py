# mypy: disallow-untyped-decorators=False
"""Number formatting for the dashboard templates."""

from __future__ import annotations

from django import template

from dhnet.dashboard import svg

register = template.Library()


@register.filter
def num(value: float | int | None, digits: int = 1) -> str:
    """``1,234`` / ``12.3`` / ``–`` for none."""
    return svg.fmt(value, digits)


@register.filter
def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"


@register.filter
def week(value: object) -> str:
    import datetime as dt

    return svg.iso_week_label(value) if isinstance(value, dt.date) else ""


@register.filter
def indent(level: int) -> str:
    """Non-breaking spaces for an org unit's depth in a select list."""
    return "\u00a0\u00a0" * max(0, int(level) - 1)
