"""Benchmark: DHIS2 import of 1,000,000 data values through ``POST /api/dataValueSets``, on SQLite and PostgreSQL.

The data values go through the real endpoint code path - Django's request handling, the API token authentication,
the ninja operation, the DHIS2 handler (body read and JSON parse, import options) and the service behind it
(mapping, validation of every value, one transaction per set with bulk upserts, import batch, submissions, audit)
- in-process with Django's test client (no socket: the loopback HTTP server is measured by
``bench_concurrent_posts.py``). As a client would send them: 10 data value sets of 100,000 values (1,000
districts x 5 weeks x 20 data elements: 10 diseases, cases and deaths).

Three passes, each over the same 10 sets: *new* (1,000,000 values imported), *retry* (the identical requests
again: each answers the first summary and stores nothing) and *update* (every value changed). Floor: 10,000
values/s for the new pass on each database.

Prints one Markdown section to stdout (progress to stderr). Run::

    .venv/bin/python bench/bench_dhis2_import.py                       # SQLite (a temporary file)
    .venv/bin/python bench/bench_dhis2_import.py --pg "$(bin/pg start)"  # and PostgreSQL (a throwaway database)

Each database runs in its own subprocess (Django reads ``DATABASE_URL`` once).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DISTRICTS = 1000
REGIONS = 10
WEEKS_PER_SET = 5
SETS = 10
DISEASES = (
    "malaria", "cholera", "measles", "typhoid", "dengue", "ili", "sari", "rotavirus", "shigellosis", "meningitis",
)  # fmt: skip
FLOOR = 10_000
VALUES = DISTRICTS * WEEKS_PER_SET * SETS * len(DISEASES) * 2


def log(message: str) -> None:
    print(f"bench_dhis2_import: {message}", file=sys.stderr, flush=True)


def uid(prefix: str, i: int) -> str:
    return f"{prefix}{i:0{11 - len(prefix)}d}"  # DHIS2 ids have 11 characters


def setup() -> str:
    """Org units, data element mappings, a national user with an API token; returns the token."""
    from dhnet.accounts import services as accounts
    from dhnet.diseases.models import Disease
    from dhnet.orgunits import services as orgunits
    from dhnet.reporting.models import DataElementMapping

    operator = accounts.operator_actor("cli:bench")
    orgunits.create_unit(operator, code="BN", name="Benchland", parent_code=None, population=50_000_000)
    incoming = [orgunits.Incoming(index=r, where="", code=f"BR{r}", name=f"Region {r}", parent_key="BN")
                for r in range(REGIONS)]  # fmt: skip
    incoming += [
        orgunits.Incoming(index=REGIONS + d, where="", code=f"BD{d:04d}", name=f"District {d}",
                          parent_key=f"BR{d % REGIONS}", population=50_000, uid=uid("BD", d))
        for d in range(DISTRICTS)
    ]  # fmt: skip
    orgunits.import_units(operator, incoming, parent_by="code", source="bench")
    for i, code in enumerate(DISEASES):
        disease = Disease.objects.get(code=code)
        DataElementMapping.objects.create(data_element=uid("DEC", i), disease=disease, measure="cases")
        DataElementMapping.objects.create(data_element=uid("DED", i), disease=disease, measure="deaths")
    user, _ = accounts.create_user(operator, "bench", role="national_epidemiologist", orgunit_code="BN")
    _, raw = accounts.create_token(operator, user, name="bench", scopes=["surveillance:report:write"])
    return raw


def payload(index: int, shift: int = 0) -> bytes:
    """Set ``index``: every district, weeks ``5 index + 1 ..``, every data element (values vary with ``shift``)."""
    values = []
    for w in range(WEEKS_PER_SET):
        week = index * WEEKS_PER_SET + w + 1
        period = f"2023W{week}"
        for d in range(DISTRICTS):
            ou = uid("BD", d)
            for i in range(len(DISEASES)):
                cases = (d * 7 + week * 3 + i + shift) % 97
                values.append({"dataElement": uid("DEC", i), "period": period, "orgUnit": ou, "value": str(cases)})
                values.append({"dataElement": uid("DED", i), "period": period, "orgUnit": ou, "value": str(cases % 5)})
    body = {"dataSet": "BenchWeekly", "completeDate": "2024-01-08", "dataValues": values}
    return json.dumps(body).encode()


def run_pass(client: Any, token: str, name: str, shift: int) -> dict[str, Any]:
    total = imported = updated = ignored = 0
    seconds = 0.0
    slowest = 0.0
    for index in range(SETS):
        body = payload(index, shift)
        start = time.perf_counter()
        response = client.post(
            "/api/dataValueSets", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"ApiToken {token}"
        )
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise SystemExit(f"{name} set {index}: HTTP {response.status_code}: {response.content[:500]!r}")
        counts = response.json()["response"]["importCount"]
        imported, updated, ignored = (
            imported + counts["imported"],
            updated + counts["updated"],
            ignored + counts["ignored"],
        )
        total += len(json.loads(body)["dataValues"])
        seconds += elapsed
        slowest = max(slowest, elapsed)
        log(f"{name}: set {index + 1}/{SETS}: {elapsed:.2f} s ({counts})")
    return {
        "pass": name,
        "values": total,
        "seconds": seconds,
        "rate": total / seconds,
        "slowest": slowest,
        "imported": imported,
        "updated": updated,
        "ignored": ignored,
    }


def child(url: str) -> None:
    """One database: migrate, set up, three passes; prints a JSON result line on stdout."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dhnet.platform.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    token = setup()
    client = Client()
    results = [run_pass(client, token, "new", 0)]
    from dhnet.reporting.models import CountValue, ImportBatch

    stored = CountValue.objects.count()
    if stored != VALUES:
        raise SystemExit(f"expected {VALUES} stored values, found {stored}")
    results.append(run_pass(client, token, "retry", 0))
    if CountValue.objects.count() != VALUES or ImportBatch.objects.count() != SETS:
        raise SystemExit("the retry stored something")
    results.append(run_pass(client, token, "update", 1))
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
            version = f"SQLite {cursor.fetchone()[0]}"
        else:
            cursor.execute("show server_version")
            version = f"PostgreSQL {cursor.fetchone()[0]}"
    print(json.dumps({"database": version, "stored": stored, "results": results}))


def _pg_database(server: str) -> tuple[str, Any]:
    """A throwaway database on the server of ``server`` (a postgres:// URL); returns its URL and a cleanup."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"dhnet_bench_{os.getpid()}"
    parts = urlsplit(server)
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}"')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--pg",
        default=os.environ.get("DHNET_BENCH_PG", ""),
        help="a postgres:// URL of a server to use (a database is created on it)",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dhnet-bench-") as tmp:
        targets: list[tuple[str, Any]] = []
        if not args.no_sqlite:
            targets.append((f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", None))
        if args.pg:
            targets.append(_pg_database(args.pg))
        for url, cleanup in targets:
            log(f"database {url.split('@')[-1]}")
            try:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", url],
                    check=True,
                    stdout=subprocess.PIPE,
                    text=True,
                    env={**os.environ, "DHNET_DATA_DIR": tmp},
                )
            finally:
                if cleanup is not None:
                    cleanup()
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    import django

    print("## DHIS2 import: 1,000,000 data values through POST /api/dataValueSets\n")
    print(f"Command: `.venv/bin/python bench/bench_dhis2_import.py{' --pg <url>' if args.pg else ''}` "
          f"({dt.date.today().isoformat()})\n")  # fmt: skip
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"Django {django.get_version()}. {SETS} data value sets of {VALUES // SETS:,} values "
        f"({DISTRICTS:,} districts x "
        f"{WEEKS_PER_SET} weeks x {2 * len(DISEASES)} data elements), posted one after the other in-process "
        "(Django test client: the full request path without the socket). Floor: 10,000 values/s.\n"
    )
    print("| Database | Pass | Values | Seconds | Values/s | Slowest set (s) | Imported | Updated | Ignored |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    ok = True
    for run in runs:
        for r in run["results"]:
            print(
                f"| {run['database']} | {r['pass']} | {r['values']:,} | {r['seconds']:.1f} | {r['rate']:,.0f} | "
                f"{r['slowest']:.2f} | {r['imported']:,} | {r['updated']:,} | {r['ignored']:,} |"
            )
            if r["pass"] == "new" and r["rate"] < FLOOR:
                ok = False
    print(
        "\n*new*: every value imported; *retry*: the identical requests again (each answers its first summary, "
        "nothing stored: the counts shown are the first import's); *update*: every value changed."
    )
    print(f"\nFloor ({FLOOR:,} values/s on the new pass): {'met' if ok else 'NOT MET'}.")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
