"""Detection and job-queue commands: ``detect-all``, ``worker``, ``jobs list|schedules|schedule|retry``.

Each works on the database named by ``DATABASE_URL`` (default ``var/dhnet.sqlite3``); Django is imported inside the
commands so that ``dhnet --help`` stays fast.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import click

from dhnet.cli import main


def _setup() -> Any:
    from dhnet.cli.platform import _django, _operator

    _django()
    return _operator()


@main.command("detect-all")
@click.option("--full", is_flag=True, help="Recompute every period (default: the last --window periods).")
@click.option("--disease", "diseases", multiple=True, metavar="CODE", help="Only this disease (repeatable).")
@click.option("--window", default=8, show_default=True, type=click.IntRange(1, 520), help="Periods evaluated.")
@click.option(
    "--merge-gap",
    default=1,
    show_default=True,
    type=click.IntRange(1, 52),
    help="An alarm joins an open signal whose last alarm is at most this many periods before.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def detect_all(full: bool, diseases: tuple[str, ...], window: int, merge_gap: int, no_progress: bool) -> None:
    """Run every active alert rule on every disease, org unit and level now (a job of the queue, run here)."""
    operator = _setup()
    from tqdm import tqdm

    from dhnet.jobs.worker import run_inline
    from dhnet.platform.errors import ServiceError
    from dhnet.signals.jobs import DETECT
    from dhnet.signals.models import DetectionRun

    bar = tqdm(total=0, unit="panel", disable=no_progress, file=sys.stderr, dynamic_ncols=True)

    def hook(done: int, total: int, message: str) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.set_postfix_str(message[-60:], refresh=False)
        bar.refresh()

    payload = {
        "trigger": "manual",
        "diseases": list(diseases) or None,
        "full": full,
        "window": window,
        "merge_gap": merge_gap,
        "requested_by": operator.username,
    }
    try:
        job = run_inline(DETECT, payload, requested_by=operator.username, hook=hook)
    except ServiceError as exc:
        bar.close()
        raise click.ClickException(exc.message) from None
    bar.close()
    if job.status != "done":
        first = job.error.splitlines()[0] if job.error else "failed"
        raise click.ClickException(f"detect-all: job {job.pk} failed: {first}")
    run = DetectionRun.objects.get(pk=job.result["run"])
    summary = run.summary
    timing = summary.get("timing", {})
    click.echo(
        f"detect-all: run {run.pk}: {summary['detections']} detections, {summary['alarms']} alarms, "
        f"{summary['signals_created']} new signals, {summary['signals_extended']} extended, "
        f"{len(summary['skipped'])} panels skipped; {timing.get('total', 0):.1f} s (read {timing.get('read', 0):.1f}, "
        f"layout {timing.get('layout', 0):.1f}, engine {timing.get('engine', 0):.1f}, "
        f"prepare {timing.get('prepare', 0):.1f}, write {timing.get('write', 0):.1f}, "
        f"signals {timing.get('signals', 0):.1f})",
        err=True,
    )
    for skip in summary["skipped"][:20]:
        click.echo(
            f"detect-all: skipped {skip['disease']} rule {skip['rule']} level {skip['level']}: "
            f"{skip.get('reason', '')}",
            err=True,
        )


@main.command()
@click.option("--once", is_flag=True, help="Run the due jobs, then exit (cron-style).")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 32), help="Worker threads.")
@click.option("--poll", default=1.0, show_default=True, type=click.FloatRange(0.1, 60), help="Seconds between polls.")
@click.option("--kind", "kinds", multiple=True, help="Only jobs of this kind (repeatable).")
def worker(once: bool, concurrency: int, poll: float, kinds: tuple[str, ...]) -> None:
    """Run background jobs (detection after imports, schedules, notifications) until stopped (Ctrl-C / SIGTERM)."""
    _setup()
    from dhnet.jobs.worker import Worker

    work = Worker(concurrency=concurrency, poll=poll, kinds=list(kinds) or None)
    if not once and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: work.stop())
    click.echo(f"worker: {'draining due jobs' if once else 'running'} with {concurrency} thread(s)", err=True)
    processed = work.run(once=once)
    click.echo(f"worker: {processed} job(s) run", err=True)


@main.group()
def jobs() -> None:
    """The background job queue."""


@jobs.command("list")
@click.option("--status", default="", type=click.Choice(["", "queued", "running", "done", "failed"]))
@click.option("--kind", default="")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
def jobs_list(status: str, kind: str, limit: int) -> None:
    """Jobs, newest first (tab-separated)."""
    operator = _setup()
    from dhnet.jobs import services

    total, rows = services.list_jobs(operator, services.JobQuery(status=status, kind=kind, limit=limit))
    click.echo("id\tkind\tstatus\tprogress\tattempts\tcreated\terror")
    for job in rows:
        progress = f"{job.progress_done}/{job.progress_total}" if job.progress_total else ""
        error = job.error.splitlines()[0] if job.error else ""
        click.echo(
            f"{job.pk}\t{job.kind}\t{job.status}\t{progress}\t{job.attempts}/{job.max_attempts}\t"
            f"{job.created_at:%Y-%m-%d %H:%M:%S}\t{error}"
        )
    click.echo(f"jobs: {len(rows)} of {total}", err=True)


@jobs.command("schedules")
def jobs_schedules() -> None:
    """The periodic jobs and when they run next."""
    operator = _setup()
    from dhnet.jobs import services

    click.echo("kind\tevery_seconds\tat\tenabled\tcustomised\tnext_run_at")
    for row in services.list_schedules(operator):
        at = row.at.strftime("%H:%M") if row.at else ""
        click.echo(f"{row.kind}\t{row.every_seconds}\t{at}\t{row.enabled}\t{row.customised}\t{row.next_run_at}")


@jobs.command("schedule")
@click.argument("kind")
@click.option("--every", default=None, help="Interval: 900, 15m, 1h, 1d.")
@click.option("--at", default=None, help="Local time of day the runs are anchored at, HH:MM ('' to clear).")
@click.option("--enable/--disable", default=None, help="Switch the schedule on or off.")
@click.option("--reset", is_flag=True, help="Back to the defaults in the code.")
def jobs_schedule(kind: str, every: str | None, at: str | None, enable: bool | None, reset: bool) -> None:
    """Change when KIND runs, e.g. `dhnet jobs schedule signals.detect --every 1h` (hourly detection)."""
    operator = _setup()
    from dhnet.jobs import services
    from dhnet.platform.errors import ServiceError

    try:
        row = services.set_schedule(operator, kind, every=every, at=at, enabled=enable, reset=reset)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    at_text = row.at.strftime("%H:%M") if row.at else "midnight"
    click.echo(
        f"jobs: {row.kind} every {row.every_seconds} s from {at_text}, "
        f"{'enabled' if row.enabled else 'disabled'}; next run {row.next_run_at:%Y-%m-%d %H:%M %Z}",
        err=True,
    )


@jobs.command("retry")
@click.argument("job_id", type=int)
def jobs_retry(job_id: int) -> None:
    """Queue a failed job again."""
    operator = _setup()
    from dhnet.jobs import services
    from dhnet.platform.errors import ServiceError

    try:
        job = services.retry_job(operator, job_id)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"jobs: job {job.pk} queued again", err=True)
