"""Benchmark: 20 concurrent DHIS2 clients posting to a real ``dhnet serve`` on loopback for 60 seconds.

Starts ``dhnet serve`` on 127.0.0.1 (a free port) against a fresh database (a temporary SQLite file, or a
throwaway database on ``--pg``'s PostgreSQL server), then runs 20 client threads, each with its own keep-alive
HTTP connection and API token, for 60 s (bounded: ``--seconds``, and at most ``--max-requests`` per client). Each
client reports for its own district, week after week, a data value set of 20 values (10 diseases, cases and
deaths); every third request also re-sends its previous set (a retry: must store nothing) and every fifth corrects
an earlier week (an update). It keeps what it expects the database to hold.

Then it checks that no request failed (any answer other than HTTP 200 is an error), that the database holds
exactly the expected counts (every cell, every value: no loss, no duplicate, no stale value), one import batch per
distinct set, and that the audit chain verifies. Prints one Markdown section (progress to stderr). Run::

    .venv/bin/python bench/bench_concurrent_posts.py [--pg "$(bin/pg start)"] [--seconds 60] [--clients 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

DISEASES = (
    "malaria", "cholera", "measles", "typhoid", "dengue", "ili", "sari", "rotavirus", "shigellosis", "meningitis",
)  # fmt: skip
FIRST_WEEK = dt.date(2000, 1, 3)  # a Monday: week k is FIRST_WEEK + k weeks (well in the past)


def log(message: str) -> None:
    print(f"bench_concurrent_posts: {message}", file=sys.stderr, flush=True)


def dhnet() -> list[str]:
    script = Path(sys.executable).with_name("dhnet")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from dhnet.cli import main; main()"]


def setup(clients: int) -> list[str]:
    """Districts C00.., mappings, one district officer with an API token per client; returns the tokens."""
    from dhnet.accounts import services as accounts
    from dhnet.diseases.models import Disease
    from dhnet.orgunits import services as orgunits
    from dhnet.reporting.models import DataElementMapping

    operator = accounts.operator_actor("cli:bench")
    orgunits.create_unit(operator, code="CN", name="Concurrentland", parent_code=None)
    tokens = []
    for c in range(clients):
        orgunits.create_unit(operator, code=f"C{c:02d}", name=f"District {c}", parent_code="CN", population=10_000)
        user, _ = accounts.create_user(operator, f"client{c:02d}", role="district_officer", orgunit_code=f"C{c:02d}")
        _, raw = accounts.create_token(operator, user, name="bench", scopes=["surveillance:report:write"])
        tokens.append(raw)
    for code in DISEASES:
        disease = Disease.objects.get(code=code)
        DataElementMapping.objects.create(data_element_code=f"{code}_cases", disease=disease, measure="cases")
        DataElementMapping.objects.create(data_element_code=f"{code}_deaths", disease=disease, measure="deaths")
    return tokens


def week_period(k: int) -> str:
    year, week, _ = (FIRST_WEEK + dt.timedelta(weeks=k)).isocalendar()
    return f"{year}W{week}"


def value_set(client: int, week: int, version: int) -> tuple[bytes, dict[tuple[str, str, str], int]]:
    """The set of ``client`` for ``week`` (``version`` changes the values) and the counts it means."""
    values, expected = [], {}
    period = week_period(week)
    monday = (FIRST_WEEK + dt.timedelta(weeks=week)).isoformat()
    for i, code in enumerate(DISEASES):
        cases = (client * 31 + week * 7 + i * 3 + version * 11) % 101
        deaths = cases % 4
        values.append({"dataElement": f"{code}_cases", "value": str(cases)})
        values.append({"dataElement": f"{code}_deaths", "value": str(deaths)})
        expected[(code, monday, "cases")] = cases
        expected[(code, monday, "deaths")] = deaths
    body = {"dataSet": "Weekly", "period": period, "orgUnit": f"C{client:02d}", "dataValues": values}
    return json.dumps(body).encode(), expected


class Client(threading.Thread):
    def __init__(self, index: int, token: str, port: int, until: float, max_requests: int) -> None:
        super().__init__(name=f"client{index}", daemon=True)
        self.index, self.token, self.port, self.until, self.max_requests = index, token, port, until, max_requests
        self.expected: dict[tuple[str, str, str], int] = {}
        self.sets: set[bytes] = set()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.requests = 0
        self.retries = 0
        self.updates = 0

    def post(self, conn: http.client.HTTPConnection, body: bytes) -> dict[str, Any] | None:
        headers = {"Authorization": f"ApiToken {self.token}", "Content-Type": "application/json"}
        start = time.perf_counter()
        conn.request("POST", "/api/dataValueSets?orgUnitIdScheme=code&dataElementIdScheme=code", body, headers)
        response = conn.getresponse()
        payload = response.read()
        self.latencies.append(time.perf_counter() - start)
        self.requests += 1
        if response.status != 200:
            self.errors.append(f"HTTP {response.status}: {payload[:300]!r}")
            return None
        return json.loads(payload)

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        week = 0
        previous: bytes | None = None
        try:
            while time.monotonic() < self.until and self.requests < self.max_requests:
                body, expected = value_set(self.index, week, 0)
                if self.post(conn, body) is not None:
                    self.expected.update(expected)
                    self.sets.add(body)
                if previous is not None and week % 3 == 0:
                    answer = self.post(conn, previous)  # a retry of the previous set
                    self.retries += 1
                    if answer is not None and "identical" not in answer["response"]["description"]:
                        self.errors.append("a retried set was not recognised")
                if week and week % 5 == 0:
                    body, expected = value_set(self.index, week - 4, week)  # correct an earlier week
                    if self.post(conn, body) is not None:
                        self.expected.update(expected)
                        self.sets.add(body)
                        self.updates += 1
                previous = body
                week += 1
        except Exception as exc:  # any failure of the client is an error of the run
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()


def stored_counts() -> dict[tuple[str, str, str, str], int]:
    from dhnet.reporting.models import CountValue

    rows = CountValue.objects.values_list("orgunit__code", "disease__code", "period_start", "measure", "value")
    return {(u, d, p.isoformat(), m): v for u, d, p, m, v in rows}


def _pg_database(server: str) -> tuple[str, Any]:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"dhnet_concurrent_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(urlsplit(server)._replace(path=f"/{name}")), drop


def run(url: str, tmp: str, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "DATABASE_URL": url, "DHNET_DATA_DIR": tmp, "DHNET_MODE": "dev", "PYTHONUNBUFFERED": "1"}
    subprocess.run([*dhnet(), "migrate"], env=env, check=True, capture_output=True)
    os.environ.update({"DATABASE_URL": url, "DHNET_DATA_DIR": tmp})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dhnet.platform.settings")
    import django

    django.setup()
    from django.db import connection

    tokens = setup(args.clients)
    vendor = connection.vendor
    connection.close()
    server = subprocess.Popen(
        [*dhnet(), "serve", "--host", "127.0.0.1", "--port", "0", "--threads", str(args.threads)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    port = 0
    try:
        started = time.monotonic()
        while time.monotonic() - started < 60:
            line = server.stderr.readline()
            if m := re.search(r"http://127\.0\.0\.1:(\d+)/", line):
                port = int(m[1])
                break
            if not line and server.poll() is not None:
                raise SystemExit(f"dhnet serve exited with {server.returncode}")
        if not port:
            raise SystemExit("dhnet serve did not report its port")
        threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()  # type: ignore[union-attr]
        log(f"{vendor}: dhnet serve on 127.0.0.1:{port}; {args.clients} clients for {args.seconds} s")
        until = time.monotonic() + args.seconds
        clients = [Client(i, tokens[i], port, until, args.max_requests) for i in range(args.clients)]
        t0 = time.perf_counter()
        for c in clients:
            c.start()
        for c in clients:
            c.join(timeout=args.seconds + 120)
        elapsed = time.perf_counter() - t0
        hung = [c.name for c in clients if c.is_alive()]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    errors = [f"{c.name}: {e}" for c in clients for e in c.errors] + [f"{name}: still running" for name in hung]
    expected = {(f"C{c.index:02d}", *key): v for c in clients for key, v in c.expected.items()}
    stored = stored_counts()
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    wrong = sorted(k for k in set(expected) & set(stored) if expected[k] != stored[k])
    from dhnet.audit.services import verify
    from dhnet.reporting.models import ImportBatch

    batches = ImportBatch.objects.count()
    distinct_sets = sum(len(c.sets) for c in clients)
    chain = verify()
    with connection.cursor() as cursor:
        cursor.execute("select sqlite_version()" if vendor == "sqlite" else "show server_version")
        version = ("SQLite " if vendor == "sqlite" else "PostgreSQL ") + str(cursor.fetchone()[0]).split(" ")[0]
    connection.close()
    latencies = sorted(x for c in clients for x in c.latencies)
    requests = sum(c.requests for c in clients)
    return {
        "database": version,
        "seconds": elapsed,
        "requests": requests,
        "values": requests * 2 * len(DISEASES),
        "retries": sum(c.retries for c in clients),
        "updates": sum(c.updates for c in clients),
        "rps": requests / elapsed,
        "p50": statistics.median(latencies) * 1000 if latencies else 0,
        "p95": latencies[int(0.95 * (len(latencies) - 1))] * 1000 if latencies else 0,
        "max": latencies[-1] * 1000 if latencies else 0,
        "errors": errors,
        "cells": len(expected),
        "missing": len(missing),
        "extra": len(extra),
        "wrong": len(wrong),
        "batches": batches,
        "distinct_sets": distinct_sets,
        "audit_ok": chain.ok,
        "audit_records": chain.count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--pg",
        default=os.environ.get("DHNET_BENCH_PG", ""),
        help="postgres:// URL of a server (a throwaway database is created)",
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8, help="threads of dhnet serve")
    parser.add_argument("--max-requests", type=int, default=20_000, help="per client (a bound besides time)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.clients <= 50 or not 1 <= args.seconds <= 600:
        raise SystemExit("--clients 1..50 and --seconds 1..600 (a bounded load test)")
    if args.child:
        url = os.environ["BENCH_URL"]
        print(json.dumps(run(url, os.environ["BENCH_TMP"], args)))
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="dhnet-concurrent-") as tmp:
        targets: list[tuple[str, Any]] = [(f"sqlite:///{Path(tmp) / 'concurrent.sqlite3'}", None)]
        if args.pg:
            targets.append(_pg_database(args.pg))
        for url, cleanup in targets:
            try:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", *sys.argv[1:]],
                    env={**os.environ, "BENCH_URL": url, "BENCH_TMP": tmp},
                    check=True,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            finally:
                if cleanup is not None:
                    cleanup()
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"## {args.clients} concurrent clients posting DHIS2 data value sets for {args.seconds:.0f} s\n")
    print(f"Command: `.venv/bin/python bench/bench_concurrent_posts.py{' --pg <url>' if args.pg else ''}` "
          f"({dt.date.today().isoformat()})\n")  # fmt: skip
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}. `dhnet serve` "
        f"(waitress, {args.threads} threads) on 127.0.0.1; {args.clients} client threads with keep-alive connections, "
        "each for its own district: a new week per request (20 values), every third week a retry of the previous "
        "set, every fifth a correction of an earlier week.\n"
    )
    print("| Database | Requests | Values posted | Retries | Corrections | Requests/s | p50 ms | p95 ms | max ms | "
          "Errors | Cells checked | Missing | Extra | Wrong | Batches / distinct sets | Audit chain |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    failed = False
    for r in results:
        ok_batches = r["batches"] == r["distinct_sets"]
        print(
            f"| {r['database']} | {r['requests']:,} | {r['values']:,} | {r['retries']:,} | {r['updates']:,} | "
            f"{r['rps']:.0f} | {r['p50']:.0f} | {r['p95']:.0f} | {r['max']:.0f} | {len(r['errors'])} | "
            f"{r['cells']:,} | {r['missing']} | {r['extra']} | {r['wrong']} | "
            f"{r['batches']:,} / {r['distinct_sets']:,} | "
            f"{'intact' if r['audit_ok'] else 'BROKEN'} ({r['audit_records']:,}) |"
        )
        failed |= bool(r["errors"] or r["missing"] or r["extra"] or r["wrong"] or not ok_batches or not r["audit_ok"])
        for error in r["errors"][:10]:
            print(f"\n- error: {error}")
    print(f"\nResult: {'FAILED' if failed else 'no error, counts exact'}.")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
