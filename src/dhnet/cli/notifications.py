"""``dhnet notify``: run the daily digest, the missing-report reminders, or a sweep of due deliveries by hand.

The job queue runs the same services on its schedule; these commands are for operators (audited as
``cli:<os user>``) and for deployments without a queue worker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import click

from dhnet.cli import main
from dhnet.cli.platform import _django, _fail, _operator


def _at(raw: str | None) -> dt.datetime | None:
    """``--at``: an ISO date or date-time (a date means its midnight, in the platform's time zone)."""
    if not raw:
        return None
    from django.utils import timezone

    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise click.BadParameter(f"expected an ISO date or date-time, got {raw!r}", param_hint="--at") from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


AT_HELP = "Run as if it were this ISO date or date-time (default: now)."


@main.group()
def notify() -> None:
    """Notifications: daily digest, missing-report reminders, due deliveries."""


@notify.command("digest")
@click.option("--at", "at", default=None, help=AT_HELP)
@click.option("--send/--queue-only", default=True, show_default=True, help="Send the queued messages at once.")
def notify_digest(at: str | None, send: bool) -> None:
    """Queue (and send) each subscriber's digest of the last 24 hours; once per user and day."""
    _django()
    from dhnet.notifications import services
    from dhnet.platform.errors import ServiceError

    now = _at(at)
    try:
        report = services.run_digest(_operator(), now=now)
        results = [services.attempt(pk, now=now) for pk in report.created] if send else []
    except ServiceError as exc:
        raise _fail(exc) from None
    click.echo(f"notify digest: {report.summary()}{_sent(results)}", err=True)


@notify.command("reminders")
@click.option("--at", "at", default=None, help=AT_HELP)
@click.option("--send/--queue-only", default=True, show_default=True, help="Send the queued messages at once.")
@click.option("--before-deadline", is_flag=True, help="Remind even though the week's reports are not due yet.")
def notify_reminders(at: str | None, send: bool, before_deadline: bool) -> None:
    """Remind district officers of reporting units without a report for the last complete ISO week, once its
    deadline has passed; once per unit, week and officer."""
    _django()
    from dhnet.notifications import content, services
    from dhnet.platform.errors import ServiceError

    now = _at(at)
    try:
        report = services.run_reminders(_operator(), now=now, before_deadline=before_deadline)
        results = [services.attempt(pk, now=now) for pk in report.created] if send else []
    except ServiceError as exc:
        raise _fail(exc) from None
    from django.utils import timezone

    week = content.iso_week(services.last_complete_week(now or timezone.now()))
    click.echo(f"notify reminders: {week}: {report.summary()}{_sent(results)}", err=True)


@notify.command("run")
@click.option("--at", "at", default=None, help=AT_HELP)
@click.option("--limit", default=500, show_default=True, type=click.IntRange(1, 10000))
def notify_run(at: str | None, limit: int) -> None:
    """Attempt every due delivery once (retries follow their back-off)."""
    _django()
    from dhnet.notifications import services

    results = services.run_due(_at(at), limit=limit)
    click.echo(f"notify run: {len(results)} due{_sent(results)}", err=True)


def _sent(results: Sequence[Any]) -> str:
    if not results:
        return ""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return "; " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
