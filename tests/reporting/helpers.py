"""Shared values of the reporting tests."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.test import Client

WEEK = "2024-W05"
MONDAY = dt.date(2024, 1, 29)
DHIS2_WEEK = "2024W5"
UIDS = {"DE": "DeGermany01", "R1": "Region1aaaa", "R2": "Region2aaaa", "D11": "District11a", "D12": "District12a",
        "D21": "District21a"}  # fmt: skip


def csv_bytes(*lines: str, header: str = "orgunit,disease,period_start,cases,deaths") -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def value_set(*values: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"dataSet": "IDSRweekly1", "period": DHIS2_WEEK, **top, "dataValues": list(values)}


def post_dhis2(client: Client, body: Any, query: str = "", path: str = "/api/dataValueSets") -> Any:
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(f"{path}{query}", data=raw, content_type="application/json")
