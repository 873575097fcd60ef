"""What the queue can run: handlers by kind, and periodic schedules. Pure Python (no database access), so that
every context registers its jobs from its ``AppConfig.ready()``::

    from dhnet.jobs import register_handler, register_schedule

    def send_digest(ctx: JobContext) -> dict | None:
        ctx.progress(0, 10, "collecting")
        ...
        return {"sent": 10}              # stored as the job's result

    register_handler("notifications.digest", send_digest, max_attempts=3)
    register_schedule("notifications.digest", at="06:00")                # daily at 06:00 local time
    register_schedule("signals.detect", every=dt.timedelta(hours=1))   # hourly, on the hour

A handler takes one :class:`JobContext` and returns a JSON-serialisable dict (or None). Raising
:class:`PermanentError` (or ``Invalid``/``Forbidden``/``NotFound`` of ``dhnet.platform.errors``) fails the job at
once; any other exception is retried with exponential backoff until ``max_attempts`` claims were made.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

KIND_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_-]*)+$")
DEFAULT_LEASE = dt.timedelta(minutes=5)


class PermanentError(Exception):
    """A handler's failure that a retry cannot fix (bad payload, missing object): the job fails at once."""


class JobContext(Protocol):
    """What a handler gets: the job's identity and payload, and a progress reporter (which also renews the lease)."""

    job_id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    requested_by: str

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None: ...


Handler = Callable[[JobContext], "dict[str, Any] | None"]
#: ``merge(queued_payload, new_payload) -> payload`` when an enqueue coalesces into a queued job.
Merge = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class HandlerSpec:
    kind: str
    fn: Handler
    max_attempts: int = 5
    lease: dt.timedelta = DEFAULT_LEASE
    exclusive: bool = False  # at most one running job of this kind (anywhere)
    merge: Merge | None = None  # default: the queued job keeps its payload
    backoff_base: dt.timedelta = dt.timedelta(seconds=30)
    backoff_cap: dt.timedelta = dt.timedelta(hours=1)

    def backoff(self, attempts: int) -> dt.timedelta:
        """Delay before the next claim after ``attempts`` failed claims: base * 2^(attempts-1), capped."""
        seconds = self.backoff_base.total_seconds() * 2 ** max(0, attempts - 1)
        return dt.timedelta(seconds=min(seconds, self.backoff_cap.total_seconds()))


@dataclass(frozen=True)
class ScheduleSpec:
    """A periodic job: every ``every``, anchored at local time ``at`` (midnight when None) of each day."""

    kind: str
    every: dt.timedelta
    at: dt.time | None = None
    payload: dict[str, Any] = field(default_factory=dict)


_HANDLERS: dict[str, HandlerSpec] = {}
_SCHEDULES: dict[str, ScheduleSpec] = {}


def _check_kind(kind: str) -> None:
    if not KIND_RE.match(kind) or len(kind) > 64:
        raise ValueError(f"job kind {kind!r} must be named 'context.action' (lower case, at most 64 characters)")


def register_handler(
    kind: str,
    fn: Handler,
    *,
    max_attempts: int = 5,
    lease: dt.timedelta = DEFAULT_LEASE,
    exclusive: bool = False,
    merge: Merge | None = None,
    backoff_base: dt.timedelta = dt.timedelta(seconds=30),
    backoff_cap: dt.timedelta = dt.timedelta(hours=1),
) -> HandlerSpec:
    """Register ``fn`` to run jobs of ``kind`` (registering the same function again is a no-op)."""
    _check_kind(kind)
    if not 1 <= max_attempts <= 100:
        raise ValueError("max_attempts: must be between 1 and 100")
    if lease < dt.timedelta(seconds=5):
        raise ValueError("lease: must be at least 5 seconds")
    spec = HandlerSpec(kind, fn, max_attempts, lease, exclusive, merge, backoff_base, backoff_cap)
    existing = _HANDLERS.get(kind)
    if existing is not None and existing.fn is not fn:
        raise ValueError(f"job kind {kind!r} has a handler already ({existing.fn.__module__}.{existing.fn.__name__})")
    _HANDLERS[kind] = spec
    return spec


def parse_time(value: str | dt.time) -> dt.time:
    if isinstance(value, dt.time):
        return value
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise ValueError(f"at: expected a time of day HH:MM, got {value!r}") from None


def parse_every(value: str | int | float | dt.timedelta) -> dt.timedelta:
    """``3600``, ``"90s"``, ``"15m"``, ``"1h"``, ``"1d"`` or a timedelta."""
    if isinstance(value, dt.timedelta):
        delta = value
    elif isinstance(value, int | float):
        delta = dt.timedelta(seconds=value)
    else:
        match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", value)
        if not match:
            raise ValueError(f"every: expected e.g. 900, 15m, 1h or 1d, got {value!r}")
        unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        delta = dt.timedelta(seconds=int(match.group(1)) * unit)
    if delta < dt.timedelta(minutes=1):
        raise ValueError("every: must be at least one minute")
    return delta


def register_schedule(
    kind: str,
    *,
    every: str | int | dt.timedelta | None = None,
    at: str | dt.time | None = None,
    payload: dict[str, Any] | None = None,
) -> ScheduleSpec:
    """Enqueue a job of ``kind`` periodically: ``every`` (default one day), anchored at ``at`` local time.

    ``at="02:00"`` runs nightly at 02:00; ``every="1h"`` hourly on the hour; ``every="6h", at="03:00"`` at 03:00,
    09:00, 15:00 and 21:00. An operator can change the timing later (``dhnet jobs schedule``); that change wins.
    """
    _check_kind(kind)
    delta = parse_every(every) if every is not None else dt.timedelta(days=1)
    spec = ScheduleSpec(kind, delta, parse_time(at) if at is not None else None, dict(payload or {}))
    _SCHEDULES[kind] = spec
    return spec


def handler(kind: str) -> HandlerSpec | None:
    return _HANDLERS.get(kind)


def handlers() -> dict[str, HandlerSpec]:
    return dict(_HANDLERS)


def schedules() -> dict[str, ScheduleSpec]:
    return dict(_SCHEDULES)
