"""Reporting periods: ISO weeks, months and days, written as people and DHIS2 write them.

Counts are stored by the first day of their period (:class:`~dhnet.reporting.models.CountValue.period_start`): the
Monday of an ISO week for diseases reported weekly or immediately (IDSR's weekly aggregate report), the first of
the month for diseases reported monthly. Accepted spellings:

=====================  ======================================  ==========
``2024-W05``           ISO week (also ``2024-W5``, ``2024W05``)  week
``2024W5``             DHIS2 weekly period                     week
``2024-01``            ISO month                               month
``202401``             DHIS2 monthly period                    month
``2024-01-29``         ISO date                                day
``20240129``           DHIS2 daily period                      day
=====================  ======================================  ==========

A day is accepted where a week (a month) is expected only if it is the period's first day: a Monday (the 1st).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

PeriodKind = Literal["week", "month", "day"]

_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$")
_MONTH = re.compile(r"^(\d{4})-?(\d{2})$")
_DAY = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class PeriodError(ValueError):
    """A period that cannot be read or does not fit; the message says what was expected."""


def parse_period(raw: str | dt.date) -> tuple[PeriodKind, dt.date]:
    """``(kind, first day)`` of a period written in one of the accepted spellings."""
    if isinstance(raw, dt.datetime):
        raise PeriodError(f"expected a date or a period, got a date and time {raw.isoformat()!r}")
    if isinstance(raw, dt.date):
        return "day", raw
    if not isinstance(raw, str):
        raise PeriodError(f"expected a period such as 2024-W05, got {raw!r}")
    text = raw.strip().upper()
    if m := _WEEK.match(text):
        year, week = int(m[1]), int(m[2])
        try:
            return "week", dt.date.fromisocalendar(year, week, 1)
        except ValueError:
            weeks = dt.date(year, 12, 28).isocalendar()[1]
            raise PeriodError(f"{raw!r}: week {week} does not exist ({year} has {weeks} ISO weeks)") from None
    if m := _DAY.match(text):
        try:
            return "day", dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise PeriodError(f"{raw!r}: not a calendar date") from None
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"{raw!r}: month {month} does not exist")
        return "month", dt.date(year, month, 1)
    raise PeriodError(
        f"{raw!r}: not a period; use an ISO week (2024-W05), a month (2024-01 or 202401), a date (2024-01-29) "
        "or a DHIS2 period (2024W5, 202401, 20240129)"
    )


def period_start(raw: str | dt.date, unit: Literal["week", "month"]) -> dt.date:
    """The first day of the ``unit`` period ``raw`` names; a day must be that period's first day."""
    kind, start = parse_period(raw)
    if kind == unit:
        return start
    if kind == "day":
        if unit == "week" and start.weekday() != 0:
            monday = start - dt.timedelta(days=start.weekday())
            raise PeriodError(
                f"{start.isoformat()} is a {_DAYS[start.weekday()]}: give the ISO week ({week_label(monday)}) or "
                f"its Monday ({monday.isoformat()})"
            )
        if unit == "month" and start.day != 1:
            raise PeriodError(f"{start.isoformat()} is not the first day of a month: give the month ({start:%Y-%m})")
        return start
    wanted = "an ISO week such as 2024-W05" if unit == "week" else "a month such as 2024-01"
    raise PeriodError(f"{raw!r} is a {kind}; this disease is reported by {unit}: give {wanted}")


def week_label(monday: dt.date) -> str:
    """``2024-W05`` for the ISO week starting on ``monday``."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def dhis2_week(monday: dt.date) -> str:
    """``2024W5``: the DHIS2 weekly period of the week starting on ``monday``."""
    year, week, _ = monday.isocalendar()
    return f"{year}W{week}"


def parse_week(raw: str) -> dt.date:
    """The Monday of an ISO week written ``2024-W05`` (or a Monday's date)."""
    return period_start(raw, "week")


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def weeks_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """The Mondays from ``first``'s week to ``last``'s week, inclusive."""
    start, end = monday_of(first), monday_of(last)
    count = (end - start).days // 7 + 1
    return [start + dt.timedelta(weeks=i) for i in range(max(count, 0))]
