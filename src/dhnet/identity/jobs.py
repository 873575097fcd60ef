"""The ``identity.purge`` job: retention of the identity vault, run daily at 03:30 by the job queue's worker."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dhnet.jobs.registry import JobContext, register_handler, register_schedule

PURGE = "identity.purge"
SCHEDULE_AT = dt.time(3, 30)


def run_purge(ctx: JobContext) -> dict[str, Any]:
    """Delete the vault entries past retention (``DHNET_RETENTION_DAYS``); the result counts them."""
    from dhnet.identity.services import purge_expired

    ctx.progress(0, None, "purging vault entries past retention")
    return {"purged": purge_expired()}


def register() -> None:
    register_handler(PURGE, run_purge, max_attempts=3, exclusive=True)
    register_schedule(PURGE, at=SCHEDULE_AT)
