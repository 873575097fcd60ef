"""Time zones of event viewers and organisers (IANA names, :mod:`zoneinfo`) and the ISO 3166-1 country codes.

Pure helpers: no database. The viewer's zone comes from ``?tz=``, else the ``tz`` cookie the event page sets from the
browser's ``Intl.DateTimeFormat().resolvedOptions().timeZone``, else UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dhnet.platform.errors import Invalid
from dhnet.platform.validate import text

UTC = ZoneInfo("UTC")
_ISO3166 = Path(__file__).resolve().parent / "data" / "iso3166.tab"


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def zone(name: str | None) -> ZoneInfo | None:
    """The zone named ``name`` (an IANA name such as ``Africa/Nairobi``), or None when it is not one."""
    if not name or len(name) > 64 or name not in _zone_names():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def viewer_zone(query_value: str | None, cookie_value: str | None) -> ZoneInfo:
    """The zone to show times in: ``?tz=`` if valid, else the ``tz`` cookie if valid, else UTC.

    The cookie may arrive percent-encoded (``Asia%2FTokyo``) when set by other scripts; it is decoded first.
    """
    cookie = unquote(cookie_value) if cookie_value else None
    return zone(query_value) or zone(cookie) or UTC


def to_zone(instant: dt.datetime, where: ZoneInfo) -> dt.datetime:
    """``instant`` (aware) as wall-clock time in ``where``."""
    return instant.astimezone(where)


def utc_offset(instant: dt.datetime, where: ZoneInfo) -> str:
    """``UTC+03:00``-style offset of ``where`` at ``instant`` (``UTC`` for zero)."""
    offset = instant.astimezone(where).utcoffset() or dt.timedelta(0)
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@functools.cache
def countries() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English short name (from the tz database's ``iso3166.tab``, public domain)."""
    table: dict[str, str] = {}
    for line in _ISO3166.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        code, name = line.split("\t", 1)
        table[code.strip()] = name.strip()
    return table


def country_code(raw: Any, where: str = "country", *, blank: bool = False) -> str:
    """An ISO 3166-1 alpha-2 code (any case, upper-cased), checked against :func:`countries`; empty only when
    ``blank``. Anything else is ``Invalid`` naming ``where``."""
    code = text(raw, where, max_length=8, required=not blank).upper()
    if code and code not in countries():
        raise Invalid(f"{where}: {code!r} is not an ISO 3166-1 alpha-2 country code")
    return code
