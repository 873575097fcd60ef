"""The ``signals.detect`` job: detection after every import (coalesced) and on a schedule (nightly at 02:00 by
default; ``dhnet jobs schedule signals.detect --every 1h`` for hourly).

Payload (all optional): ``trigger`` (import, schedule, manual), ``diseases`` (codes; null: every disease),
``full`` (recompute every period), ``window`` (periods evaluated, default 8), ``since`` (ISO date: evaluate from
there, for corrections of older counts), ``merge_gap``, ``requested_by``. Queued jobs coalesce (one dedupe key):
their diseases are united (null wins), ``full`` and the widest window win, the earliest ``since`` wins.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

from dhnet.jobs.registry import JobContext, PermanentError, register_handler, register_schedule

log = logging.getLogger(__name__)

DETECT = "signals.detect"
DEDUPE_KEY = "signals.detect"
SCHEDULE_AT = "02:00"


def options_from(payload: dict[str, Any]) -> Any:
    from dhnet.signals.services.detection import DetectionOptions

    try:
        diseases = payload.get("diseases")
        since = payload.get("since")
        return DetectionOptions(
            full=bool(payload.get("full", False)),
            window=int(payload.get("window", 8)),
            since=dt.date.fromisoformat(since) if since else None,
            diseases=tuple(diseases) if diseases is not None else None,
            merge_gap=int(payload.get("merge_gap", 1)),
            trigger=str(payload.get("trigger", "manual")),
            requested_by=str(payload.get("requested_by", "")),
        )
    except (TypeError, ValueError) as exc:
        raise PermanentError(f"payload: {exc}") from None


def run_job(ctx: JobContext) -> dict[str, Any]:
    from dhnet.signals.services.detection import SYSTEM, run_detection

    options = options_from(ctx.payload)
    if not options.requested_by:
        options = dataclasses.replace(options, requested_by=ctx.requested_by or SYSTEM.username)
    run = run_detection(SYSTEM, options, progress=ctx.progress, job_id=ctx.job_id)
    summary = run.summary
    return {
        "run": run.pk,
        "detections": summary.get("detections", 0),
        "alarms": summary.get("alarms", 0),
        "signals_created": summary.get("signals_created", 0),
        "signals_extended": summary.get("signals_extended", 0),
        "skipped": len(summary.get("skipped", [])),
    }


def merge(queued: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Coalesce two detection payloads into one run that does the work of both."""
    out = dict(queued)
    a, b = queued.get("diseases"), new.get("diseases")
    out["diseases"] = None if a is None or b is None else sorted(set(a) | set(b))
    out["full"] = bool(queued.get("full")) or bool(new.get("full"))
    out["window"] = max(int(queued.get("window", 8)), int(new.get("window", 8)))
    sinces = [s for s in (queued.get("since"), new.get("since")) if s]
    out["since"] = min(sinces) if sinces else None
    triggers = {t for p in (queued, new) for t in str(p.get("trigger", "")).split("+") if t}
    out["trigger"] = "+".join(sorted(triggers)) or "manual"
    if new.get("merge_gap") is not None:
        out["merge_gap"] = new["merge_gap"]
    return out


def on_counts_changed(
    sender: Any,
    *,
    disease_ids: list[int] | None = None,
    periods: list[dt.date] | None = None,
    actor_username: str = "",
    **_: Any,
) -> None:
    """Queue one detection run for the diseases whose counts an import changed (called after its commit)."""
    from dhnet.diseases.models import Disease
    from dhnet.jobs.services import enqueue

    try:
        codes = sorted(Disease.objects.filter(pk__in=disease_ids or []).values_list("code", flat=True))
        if disease_ids and not codes:
            return
        payload: dict[str, Any] = {"trigger": "import", "diseases": codes or None}
        if periods:
            payload["since"] = min(periods).isoformat()
        enqueue(DETECT, payload, dedupe_key=DEDUPE_KEY, requested_by=actor_username or "import")
    except Exception:  # the import has committed: never fail it; the nightly run catches up
        log.exception("signals: queueing detection after an import failed")


def register() -> None:
    register_handler(DETECT, run_job, max_attempts=3, lease=dt.timedelta(minutes=10), exclusive=True, merge=merge)
    register_schedule(DETECT, at=SCHEDULE_AT, payload={"trigger": "schedule"})
    try:
        from dhnet.reporting.events import counts_changed
    except ImportError:  # pragma: no cover - the reporting context always has it now
        return
    counts_changed.connect(on_counts_changed, dispatch_uid="dhnet.signals.on_counts_changed")
