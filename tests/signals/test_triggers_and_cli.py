"""Detection after imports (``counts_changed`` -> one coalesced job), the ``dhnet detect-all`` and ``dhnet worker``
commands, and the signal list with 100,000 signals."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from click.testing import CliRunner
from django.db import connection
from django.test import Client

from dhnet.accounts.models import User
from dhnet.cli import main
from dhnet.jobs.models import Job
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.reporting import services as reporting
from dhnet.reporting.events import counts_changed
from dhnet.signals.jobs import merge
from dhnet.signals.models import Detection, DetectionRun, Signal
from dhnet.signals.services import queries
from tests.platform.fixtures import actor_of, login
from tests.signals import helpers

pytestmark = pytest.mark.django_db


def _csv(rows: list[tuple[str, str, str, int]]) -> bytes:
    return ("orgunit,disease,period_start,cases\n" + "".join(f"{o},{d},{p},{c}\n" for o, d, p, c in rows)).encode()


def test_imports_queue_one_coalesced_detection_job(
    tree: dict[str, OrgUnit], users: dict[str, User], django_capture_on_commit_callbacks: Any
) -> None:
    officer = actor_of(users["district_officer"])
    weeks = [dt.date(2024, 1, 1) + dt.timedelta(weeks=i) for i in range(20)]
    with django_capture_on_commit_callbacks(execute=True):
        reporting.import_csv(officer, _csv([("D11", "measles", w.isoformat(), i % 4) for i, w in enumerate(weeks)]))
    job = Job.objects.get(kind="signals.detect")
    assert job.payload == {"trigger": "import", "diseases": ["measles"], "since": "2024-01-01"}
    assert job.requested_by == "district_officer"
    with django_capture_on_commit_callbacks(execute=True):
        reporting.import_csv(officer, _csv([("D11", "cholera", "2024-05-13", 3)]))
    job.refresh_from_db()
    assert Job.objects.filter(kind="signals.detect").count() == 1  # coalesced
    assert job.payload["diseases"] == ["cholera", "measles"]
    assert job.payload["trigger"] == "import"
    # The worker runs it: detection of exactly those diseases, linked to the job.
    from dhnet.jobs.worker import Worker

    assert Worker(kinds=["signals.detect"]).run(once=True) == 1
    run = DetectionRun.objects.get()
    assert run.job_id == job.pk
    assert set(run.summary["diseases"]) == {"cholera", "measles"}
    # Cholera is reported immediately: a single case is an alarm (the catalogue's rule), so a signal.
    assert Signal.objects.filter(disease__code="cholera", orgunit=tree["D11"]).exists()


def test_a_receiver_failure_never_fails_the_import(monkeypatch: pytest.MonkeyPatch, tree: dict[str, OrgUnit]) -> None:
    from dhnet.jobs import services

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database gone")

    monkeypatch.setattr(services, "enqueue", broken)
    counts_changed.send(sender=None, batch_id=1, source="csv", disease_ids=[], orgunit_ids=[], periods=[])
    assert not Job.objects.exists()


def test_payload_merge() -> None:
    a = {"trigger": "import", "diseases": ["measles"], "since": "2024-03-04"}
    b = {"trigger": "schedule", "diseases": None, "window": 12}
    assert merge(a, b) == {
        "trigger": "import+schedule",
        "diseases": None,
        "since": "2024-03-04",
        "full": False,
        "window": 12,
    }
    c = {"trigger": "import", "diseases": ["cholera"], "since": "2024-01-01", "full": True}
    assert merge(a, c) == {
        "trigger": "import",
        "diseases": ["cholera", "measles"],
        "since": "2024-01-01",
        "full": True,
        "window": 8,
    }


def test_detect_all_command(operator: Actor, tmp_path: Any) -> None:
    series = helpers.read_influenza(("8111", "8115"))
    units = helpers.influenza_tree(operator, series)
    flu = helpers.disease()
    helpers.load_counts(flu, units, series, until=dt.date(2004, 6, 28))  # three and a half years
    helpers.rule(flu, "EARS", method="ears")
    helpers.rule(flu, "Farrington 5y at districts", level=3, method="farrington-flexible", settings={"b": 5})
    result = CliRunner().invoke(main, ["detect-all", "--disease", "flu", "--window", "4", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "detect-all: run" in result.output
    assert "skipped flu rule" in result.output  # five years back: too short a history
    assert "1 panels skipped" in result.output
    assert Detection.objects.filter(rule__name="EARS").count() == 4 * (2 + 1 + 1)  # 2 districts, BW, DE
    assert Detection.objects.count() == 16
    job = Job.objects.get()
    assert (job.status, job.kind, job.attempts) == ("done", "signals.detect", 1)
    result = CliRunner().invoke(main, ["detect-all", "--disease", "nope"])
    assert result.exit_code == 1
    assert "unknown disease 'nope'" in result.output


def test_worker_and_jobs_commands(operator: Actor, tree: dict[str, OrgUnit]) -> None:
    queries.request_run(operator, window=4)
    runner = CliRunner()
    result = runner.invoke(main, ["jobs", "list"])
    assert result.exit_code == 0
    assert "signals.detect\tqueued" in result.output
    result = runner.invoke(main, ["worker", "--once", "--kind", "signals.detect"])
    assert result.exit_code == 0, result.output
    assert "worker: 1 job(s) run" in result.output
    assert Job.objects.get().status == "done"
    result = runner.invoke(main, ["jobs", "schedule", "signals.detect", "--every", "1h", "--at", ""])
    assert result.exit_code == 0, result.output
    assert "every 3600 s" in result.output
    result = runner.invoke(main, ["jobs", "schedules"])
    assert "signals.detect\t3600\t\tTrue\tTrue" in result.output
    assert runner.invoke(main, ["jobs", "schedule", "nope.x", "--every", "1h"]).exit_code == 1


@pytest.mark.slow
def test_signal_list_is_fast_with_100000_signals(users: dict[str, User], tree: dict[str, OrgUnit]) -> None:
    flu = helpers.disease()
    units = [tree[c] for c in ("D11", "D12", "D21", "R1")]
    statuses = ["new", "verification", "verified", "closed", "discarded"]
    start = dt.date(2020, 1, 6)
    Signal.objects.bulk_create(
        [
            Signal(
                source="detection",
                status=statuses[i % 5],
                disease=flu,
                orgunit=units[i % 4],
                first_period=start + dt.timedelta(weeks=i // 400),
                last_period=start + dt.timedelta(weeks=i // 400),
                title=f"signal {i}",
                risk="high" if i % 97 == 0 else "",
            )
            for i in range(100_000)
        ],
        batch_size=5000,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE signals_signal")
    officer = login(Client(), users["district_officer"])
    national = login(Client(), users["national_epidemiologist"])
    timings = {}
    for label, client, url in (
        ("district, first page", officer, "/signals/"),
        ("national, first page", national, "/signals/"),
        ("national, page 200", national, "/signals/?page=200"),
        ("national, status", national, "/signals/?status=verified"),
        ("national, risk", national, "/signals/?risk=high"),
        ("national, place", national, "/signals/?orgunit=D12"),
        ("national, period", national, "/signals/?from=2021-06-01&to=2021-06-30"),
        ("api", national, "/api/v1/signals?limit=100&status=new"),
    ):
        client.get(url)  # warm
        began = time.perf_counter()
        response = client.get(url)
        timings[label] = time.perf_counter() - began
        assert response.status_code == 200, label
    assert "Page 1 of 4000" in national.get("/signals/").content.decode()
    print({k: round(v, 3) for k, v in timings.items()})
    slow = {k: round(v, 3) for k, v in timings.items() if v > 1.0}
    assert not slow, slow
