"""Benchmark: FHIR case-report intake — validation, pseudonymisation, vault encryption, audit — in resources/s.

Generated case reports (:mod:`dhnet.cases.generate`: Patient, Condition, Encounter, 0–2 lab Observations, as the
clients of a district would send them; about 4 resources each) are posted to ``POST /fhir`` as transaction Bundles
in two shapes (``--cases-per-bundle 1,100``): one case report per Bundle, and a facility's bulk upload of many
(the shape of HAPI FHIR's bulk-import figure). Each shape goes through the full request path two ways, on a fresh
database each (a temporary SQLite file in WAL mode, and a throwaway database on ``--pg``'s PostgreSQL server):

* in process: Django's test client (middleware, API-token authentication, the FHIR router, the services), one
  Bundle after another;
* over HTTP: ``--servers`` processes of ``dhnet serve`` (waitress) on 127.0.0.1 and ``--clients`` client threads
  with keep-alive connections spread over them.

The run uses ``DHNET_MODE=prod`` by default (as deployed: no debug query log; throwaway secrets and vault key), and
one request before timing (module imports). Each Bundle goes through the generic R4 validation, the case profile
checks, ``register_persons`` (matching, AES-GCM vault entry, HMAC pseudonym, blind indexes), the stored
pseudonymised resources, the case and lab rows, the consent decisions, the case counts into reporting, and the
request's hash-chained audit record. Afterwards the run checks that every Bundle was answered 200, that there is
exactly one case per case report, that a resent sample stores nothing new, and that the audit chain verifies.
Besides the rate, the CPU seconds of the serving process(es) per resource (the load of other users of the machine
changes the rate, much less the CPU). The floor: 2,000 FHIR resources/s on the 2-core machine (HAPI FHIR imports
about 2,200 resources/s on 8 vCPUs). Prints one Markdown section (progress to stderr). Run::

    .venv/bin/python bench/bench_case_intake.py [--pg "$(bin/pg url)"] [--bundles 2000] [--clients 4]
        [--servers 1] [--cases-per-bundle 1,100] [--mode prod]
        [--profile FILE]   # cProfile of the in-process run (SQLite) to FILE, top functions to stderr
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

FLOOR = 2000  # FHIR resources per second


def reference_ms() -> float:
    """The machine's speed now: milliseconds of a fixed pure-Python loop (median of 3): 31 to 38 ms on this 2-core
    machine when its host is quiet; a loop of the kind took up to 1.9 times as long from one minute to the next on
    a busy day, and every row's figures move with it: the table gives it next to each row."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i * i
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


REGIONS = 4
DISTRICTS_PER_REGION = 10


def log(message: str) -> None:
    print(f"bench_case_intake: {message}", file=sys.stderr, flush=True)


def dhnet() -> list[str]:
    script = Path(sys.executable).with_name("dhnet")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from dhnet.cli import main; main()"]


def districts() -> list[str]:
    return [f"BX-{r}{d:02d}" for r in range(REGIONS) for d in range(DISTRICTS_PER_REGION)]


def setup() -> str:
    """The country BX, its regions and districts, and a national epidemiologist's API token (returned)."""
    from dhnet.accounts import services as accounts
    from dhnet.orgunits import services as orgunits

    operator = accounts.operator_actor("cli:bench")
    orgunits.create_unit(operator, code="BX", name="Benchland", parent_code=None)
    for r in range(REGIONS):
        orgunits.create_unit(operator, code=f"BX-R{r}", name=f"Region {r}", parent_code="BX")
        for d in range(DISTRICTS_PER_REGION):
            code = f"BX-{r}{d:02d}"
            orgunits.create_unit(
                operator, code=code, name=f"District {r}-{d}", parent_code=f"BX-R{r}", population=10**5
            )
    user, _ = accounts.create_user(operator, "intake", role="national_epidemiologist", orgunit_code="BX")
    scopes = ["surveillance:report:write", "consent:consent:write"]
    _, token = accounts.create_token(operator, user, name="bench", scopes=scopes)
    return token


def bodies(seed: int, count: int, first: int = 0, per_bundle: int = 1) -> list[tuple[bytes, int]]:
    """(JSON body, resources) of ``count`` generated Bundles; ``per_bundle`` > 1 merges that many generated case
    reports into one transaction Bundle (a facility sending its day's cases at once)."""
    from dhnet.cases.generate import CaseGenerator
    from dhnet.fhir.registry import HANDLERS

    gen = CaseGenerator(
        seed,
        districts=districts(),
        start=dt.date(2024, 1, 1),
        end=dt.date(2024, 12, 31),
        consent_share=0.3 if "Consent" in HANDLERS else 0.0,
    )
    out = []
    for start in range(first, first + count, per_bundle):
        entries = [e for i in range(start, min(start + per_bundle, first + count)) for e in gen.bundle(i)["entry"]]
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        out.append((json.dumps(bundle, separators=(",", ":")).encode(), len(entries)))
    return out


def check_answer(status: int, payload: bytes) -> str | None:
    """An error message, or None when every entry was created or found."""
    if status != 200:
        return f"HTTP {status}: {payload[:300]!r}"
    answer = json.loads(payload)
    bad = [e["response"]["status"] for e in answer["entry"] if not e["response"]["status"].startswith(("200", "201"))]
    return f"entries answered {bad}" if bad else None


def in_process(token: str, work: list[tuple[bytes, int]], profile: str | None) -> dict[str, Any]:
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", SERVER_NAME="127.0.0.1")
    client.get("/fhir/metadata")  # the URL configuration and the API modules imported before timing
    from dhnet.fhir.warmup import warm_up

    warm_up()  # what dhnet serve does at start (dhnet.platform.wsgi): R4B validators built, start-up heap frozen
    latencies, errors = [], []
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0, cpu0 = time.perf_counter(), time.process_time()
    for body, _ in work:
        start = time.perf_counter()
        response = client.post("/fhir", body, content_type="application/fhir+json")
        latencies.append(time.perf_counter() - start)
        if error := check_answer(response.status_code, response.content):
            errors.append(error)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if profiler is not None and profile:
        import pstats

        profiler.disable()
        profiler.dump_stats(profile)
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
    return {"seconds": elapsed, "cpu": cpu, "latencies": latencies, "errors": errors}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


#: Times a client sends a Bundle again that was answered 409 (a person or Condition of it stored by a concurrent
#: request meanwhile: the server asks for a retry, which then finds them); the retries are counted.
RETRIES = 5


class Sender(threading.Thread):
    """One HTTP client: posts its share of the Bundles on one keep-alive connection (a 409 is retried)."""

    def __init__(self, port: int, token: str, work: list[tuple[bytes, int]]) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.work = port, token, work
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.retries = 0

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/fhir+json"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            for body, _ in self.work:
                start = time.perf_counter()
                for attempt in range(RETRIES + 1):
                    conn.request("POST", "/fhir", body, headers)
                    response = conn.getresponse()
                    payload = response.read()
                    if response.status != 409 or attempt == RETRIES:
                        break
                    self.retries += 1
                self.latencies.append(time.perf_counter() - start)
                if error := check_answer(response.status, payload):
                    self.errors.append(error)
        except Exception as exc:  # a failed client is an error of the run
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()


def _start_server(env: dict[str, str], args: argparse.Namespace) -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(
        [*dhnet(), "serve", "--host", "127.0.0.1", "--port", "0", "--threads", str(args.threads)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    port = 0
    started = time.monotonic()
    while time.monotonic() - started < 60:
        line = server.stderr.readline()
        if m := re.search(r"http://127\.0\.0\.1:(\d+)/", line):
            port = int(m[1])
            break
        if not line and server.poll() is not None:
            raise SystemExit(f"dhnet serve exited with {server.returncode}")
    if not port:
        server.kill()
        raise SystemExit("dhnet serve did not report its port")
    # the server's log (tracebacks of failed requests) to ours
    threading.Thread(target=lambda: [log(f"server: {line.rstrip()}") for line in server.stderr], daemon=True).start()  # type: ignore[union-attr]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)  # warm-up: modules imported before timing
    conn.request("GET", "/fhir/metadata")
    conn.getresponse().read()
    conn.close()
    return server, port


def over_http(
    env: dict[str, str], token: str, work: list[tuple[bytes, int]], args: argparse.Namespace
) -> dict[str, Any]:
    """``--servers`` processes of ``dhnet serve`` (a deployment's workers behind a balancer), the clients spread
    over them round-robin."""
    servers: list[tuple[subprocess.Popen[str], int]] = []
    try:
        for _ in range(args.servers):
            servers.append(_start_server(env, args))
        ports = [port for _, port in servers]
        senders = [Sender(ports[c % len(ports)], token, work[c :: args.clients]) for c in range(args.clients)]
        cpu0 = sum(_cpu_seconds(server.pid) for server, _ in servers)
        t0 = time.perf_counter()
        for s in senders:
            s.start()
        for s in senders:
            s.join(timeout=900)
        elapsed = time.perf_counter() - t0
        cpu = sum(_cpu_seconds(server.pid) for server, _ in servers) - cpu0
        errors = [e for s in senders for e in s.errors] + [f"{s.name} still running" for s in senders if s.is_alive()]
    finally:
        for server, _ in servers:
            server.send_signal(signal.SIGINT)
        for server, _ in servers:
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    return {
        "seconds": elapsed,
        "cpu": cpu,
        "latencies": [x for s in senders for x in s.latencies],
        "errors": errors,
        "retries": sum(s.retries for s in senders),
    }


def mode_environment(mode: str) -> dict[str, str]:
    """The environment of ``DHNET_MODE``: ``prod`` (as deployed: no debug query log) with throwaway secrets, vault
    key and pseudonym key generated for the run, or ``dev``."""
    if mode == "dev":
        return {"DHNET_MODE": "dev"}
    import base64
    import secrets

    return {
        "DHNET_MODE": "prod",
        "DHNET_SECRET_KEY": secrets.token_urlsafe(48),
        "DHNET_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DHNET_VAULT_KEYS": "bench:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "DHNET_PSEUDONYM_KEY": secrets.token_urlsafe(40),
    }


def run(url: str, tmp: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DHNET_DATA_DIR": tmp,
        **mode_environment(args.mode),
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run([*dhnet(), "migrate"], env=env, check=True, capture_output=True)
    os.environ.update({key: env[key] for key in env if key.startswith("DHNET_") or key == "DATABASE_URL"})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dhnet.platform.settings")
    import django

    django.setup()
    from django.db import connection

    from dhnet.audit.models import AuditRecord
    from dhnet.audit.services import verify
    from dhnet.cases.models import Case
    from dhnet.fhir.models import StoredResource

    token = setup()
    vendor = connection.vendor
    if vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
    with connection.cursor() as cursor:
        cursor.execute("select sqlite_version()" if vendor == "sqlite" else "show server_version")
        version = ("SQLite " if vendor == "sqlite" else "PostgreSQL ") + str(cursor.fetchone()[0]).split(" ")[0]
    results = []
    first = 0
    for shape, path in [(shape, path) for shape in shapes(args) for path in ("in process", "HTTP")]:
        work = bodies(args.seed, args.bundles, first, shape)
        resources = sum(n for _, n in work)
        cases_before = Case.objects.count()
        audit_before = AuditRecord.objects.count()
        log(f"{version}, {path}, {shape} case(s) per Bundle: {len(work)} Bundles, {resources} resources")
        before = reference_ms()
        if path == "in process":
            profile = args.profile if vendor == "sqlite" else None
            outcome = in_process(token, work, profile)
        else:
            connection.close()
            outcome = over_http(env, token, work, args)
        reference = (before + reference_ms()) / 2
        for error in outcome["errors"][:5]:
            log(f"error: {error[:2000]}")
        cases = Case.objects.count() - cases_before
        audit_records = AuditRecord.objects.count() - audit_before
        stored = StoredResource.objects.count()
        resent = in_process(token, work[: min(50, len(work))], None)  # a retry stores nothing new
        retry_ok = not resent["errors"] and Case.objects.count() - cases_before == cases
        retry_ok = retry_ok and StoredResource.objects.count() == stored
        latencies = sorted(outcome["latencies"])
        results.append(
            {
                "database": version,
                "path": path,
                "shape": shape,  # case reports per Bundle
                "bundles": len(work),  # requests: case reports / cases per bundle
                "resources": resources,
                "seconds": outcome["seconds"],
                "cpu_us": outcome["cpu"] / resources * 1e6,  # CPU of the serving process(es) per resource
                "rps": resources / outcome["seconds"],
                "bps": len(work) / outcome["seconds"],
                "p50": statistics.median(latencies) * 1000,
                "p95": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
                "errors": outcome["errors"],
                "retries": outcome.get("retries", 0),
                "cases": cases,
                "audit_records": audit_records,
                "retry_ok": retry_ok,
                "reference_ms": reference,
            }
        )
        first += args.bundles
    chain = verify()
    for r in results:
        r["audit_ok"] = chain.ok
    connection.close()
    return results


def shapes(args: argparse.Namespace) -> list[int]:
    """The case reports per Bundle to measure (``--cases-per-bundle 1,100``: the one-case and the bulk shape)."""
    try:
        values = [int(v) for v in str(args.cases_per_bundle).split(",") if v.strip()]
    except ValueError:
        raise SystemExit("--cases-per-bundle: comma-separated whole numbers, e.g. 1,100") from None
    if not values or not all(1 <= v <= 500 for v in values):
        raise SystemExit("--cases-per-bundle: each between 1 and 500")
    return values


def _pg_database(server: str) -> tuple[str, Any]:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"dhnet_case_intake_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(urlsplit(server)._replace(path=f"/{name}")), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--pg", default=os.environ.get("DHNET_BENCH_PG", ""), help="postgres:// URL of a server")
    parser.add_argument("--bundles", type=int, default=2000, help="Bundles per path (about 4 resources each)")
    parser.add_argument("--clients", type=int, default=4, help="HTTP client threads")
    parser.add_argument("--threads", type=int, default=4, help="threads of dhnet serve")
    parser.add_argument(
        "--servers", type=int, default=2, help="dhnet serve processes, clients spread over them (2: one per core)"
    )
    parser.add_argument("--mode", choices=("prod", "dev"), default="prod", help="DHNET_MODE of the run")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--cases-per-bundle",
        default="1,100",
        help="case reports merged into one Bundle; several shapes comma-separated (default: one-case and bulk)",
    )
    parser.add_argument("--profile", default="", help="write a cProfile of the in-process SQLite run here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shapes(args)
    if not 1 <= args.bundles <= 50_000 or not 1 <= args.clients <= 32 or not 1 <= args.servers <= 8:
        raise SystemExit("--bundles 1..50000, --clients 1..32 and --servers 1..8 (a bounded load test)")
    if args.child:
        print(json.dumps(run(os.environ["BENCH_URL"], os.environ["BENCH_TMP"], args)))
        return
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dhnet-case-intake-") as tmp:
        targets: list[tuple[str, Any]] = [(f"sqlite:///{Path(tmp) / 'intake.sqlite3'}", None)]
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
            results.extend(json.loads(out.stdout.strip().splitlines()[-1]))
    print("## FHIR case-bundle intake (validation, pseudonymisation, vault encryption, audit)\n")
    print(
        f"Command: `.venv/bin/python bench/bench_case_intake.py{' --pg <url>' if args.pg else ''} "
        f"--bundles {args.bundles} --clients {args.clients} --servers {args.servers} --threads {args.threads} "
        f"--cases-per-bundle {args.cases_per_bundle} --mode {args.mode}` ({dt.date.today().isoformat()})\n"
    )
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end. Generated "
        "transaction Bundles (Patient, Condition, Encounter, 0-2 lab Observations) for 40 districts, each through "
        "the full request path: generic R4 validation, case profile checks, matching and AES-GCM vault entry, "
        "HMAC pseudonym, pseudonymised resources, case rows, counts into reporting, hash-chained audit. "
        f"{args.bundles:,} case reports per row, merged into Bundles of the row's size (1: one case a request; "
        "larger: a facility's bulk upload, the shape of HAPI FHIR's bulk-import figure). In process: Django's test "
        "client, one Bundle at a time. HTTP: "
        f"{args.servers} `dhnet serve` process(es) (waitress, {args.threads} threads each) on 127.0.0.1 and "
        f"{args.clients} keep-alive client threads, each sending a Bundle answered 409 (a person of it stored by a "
        f"concurrent request meanwhile) again, up to {RETRIES} times. DHNET_MODE={args.mode}. First request before "
        "timing (imports). "
        "CPU: user+system seconds of the serving process(es) per resource (what a quiet machine bounds). "
        "Ref. ms: the machine's speed around the row, milliseconds of a fixed pure-Python loop before and after it "
        "(lower is faster: 31 to 38 ms when the host is quiet; a loop of the kind took up to 1.9 times as long "
        f"on a busy day, the rows' rates moving with it). Floor: {FLOOR:,} resources/s.\n"
    )
    print(
        "| Database | Path | Cases/Bundle | Bundles | Resources | Seconds | Resources/s | CPU µs/resource | "
        "p50 ms | p95 ms | Errors | 409 retried | Cases stored | Audit records | Resent sample stores nothing | "
        "Audit chain | Ref. ms | Floor |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---|")
    failed = False
    for r in results:
        exact = r["cases"] == args.bundles  # one case per generated case report
        print(
            f"| {r['database']} | {r['path']} | {r['shape']} | {r['bundles']:,} | {r['resources']:,} | "
            f"{r['seconds']:.1f} | {r['rps']:,.0f} | {r['cpu_us']:,.0f} | {r['p50']:.0f} | {r['p95']:.0f} | "
            f"{len(r['errors'])} | {r['retries']} | {r['cases']:,}{'' if exact else ' (WRONG)'} | "
            f"{r['audit_records']:,} | "
            f"{'yes' if r['retry_ok'] else 'NO'} | {'intact' if r['audit_ok'] else 'BROKEN'} | "
            f"{r['reference_ms']:,.0f} | {'met' if r['rps'] >= FLOOR else 'NOT met'} |"
        )
        failed |= bool(r["errors"]) or not exact or not r["retry_ok"] or not r["audit_ok"]
        for error in r["errors"][:5]:
            print(f"\n- error ({r['database']}, {r['path']}, {r['shape']}/Bundle): {error}")
    verdicts = []
    for shape in shapes(args):
        mine = [r for r in results if r["shape"] == shape]
        met = [f"{r['database']} {r['path']}" for r in mine if r["rps"] >= FLOOR]
        best = max(r["rps"] for r in mine)
        verdicts.append(
            f"{shape} case(s) per Bundle: best {best:,.0f} resources/s, floor "
            + (f"met ({', '.join(met)})" if met else "NOT met")
        )
    print(f"\nResult: {'FAILED (see errors)' if failed else 'every Bundle stored once'}; " + "; ".join(verdicts) + ".")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
