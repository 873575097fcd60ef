"""Benchmark: latency of matching a country's need to products and deployments (``dhnet.needs``) on 10,000 projects,
on SQLite and on PostgreSQL, with the portfolio analytics alongside.

A fresh database each (a temporary SQLite file, and a throwaway database on ``--pg``'s PostgreSQL server) is
migrated and filled with ``dhnet.atlas.generate.generate_registry(--projects, --countries, --seed)`` through
``load_generated`` (published projects with products, CDHI/HSC tags, coverage, budgets, metrics). One deployment in
twenty gets five user ratings (so that the feedback part reads real aggregates). Then needs are recorded through
``dhnet.needs.services.create_need`` for the registry's three most common countries: one, two and three of the
country's most frequent health-system challenges, one rare challenge, with and without required standards,
languages, low connectivity and a budget (12 needs, not public). Each need is matched ``--rounds`` times after one
warm-up (``services.match(operator, need, limit=20)``: visibility, the ranking over every product and every
deployment of the country's WHO region with all nine parts, the latest decisions, the audit record of reading a
need that is not public); one sample is the wall time of one call. p50 and p95 are over every sample; the floor is
p95 <= 300 ms on both databases. ``portfolio_gaps`` of each country is timed the same way and reported apart.

Prints a Markdown section for bench/RESULTS.md (progress to stderr). Run::

    .venv/bin/python bench/bench_needs_match.py [--pg "$(bin/pg url)"] [--projects 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FLOOR_P95_MS = 300.0


def log(message: str) -> None:
    print(f"bench_needs_match: {message}", file=sys.stderr, flush=True)


def needs_of(registry: dict[str, Any]) -> list[dict[str, Any]]:
    """The needs matched: built from the generated registry's own values (its most common countries and their
    most frequent challenges, a rare challenge, the most common standards)."""
    projects = registry["projects"]
    countries = [c for c, _ in Counter(p["country"] for p in projects).most_common(3)]
    standards = [s for s, _ in Counter(t for p in registry["products"] for t in p["standards"]).most_common(2)]
    everywhere = Counter(t for p in projects for t in p["challenges"])
    out = []
    for country in countries:
        frequent = [
            c for c, _ in Counter(t for p in projects if p["country"] == country for t in p["challenges"]).most_common()
        ]
        rare = everywhere.most_common()[-1][0]
        base = {"country": country, "currency": "USD"}
        out += [
            base | {"title": "one challenge", "challenges": frequent[:1]},
            base
            | {
                "title": "two challenges, standards, offline",
                "challenges": frequent[:2],
                "standards": standards,
                "connectivity": "intermittent",
            },
            base
            | {
                "title": "three challenges, languages, budget",
                "challenges": frequent[:3],
                "languages": ["en", "fr"],
                "budget": "250000",
            },
            base | {"title": "a rare challenge", "challenges": [rare], "connectivity": "none", "budget": "50000"},
        ]
    return out


def _rate(n_every: int) -> int:
    """Five visible ratings for one published project in ``n_every`` (bulk: this is set-up, not timed)."""
    from dhnet.accounts.models import User
    from dhnet.atlas.models import Project
    from dhnet.feedback.models import Rating

    raters = [User.objects.get_or_create(username=f"bench-rater-{i}")[0] for i in range(5)]
    ids = list(Project.objects.filter(status="published").order_by("id").values_list("id", flat=True))[::n_every]
    rows = [
        Rating(
            project_id=pid,
            user=user,
            audience="health_worker",
            usability=1 + (pid + i) % 5,
            reliability=1 + (pid + 2 * i) % 5,
            fit=4,
            support=3,
            data_value=1 + (pid * i) % 5,
        )
        for pid in ids
        for i, user in enumerate(raters)
    ]
    Rating.objects.bulk_create(rows, batch_size=500)
    return len(ids)


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Run in a fresh process per database (Django is set up once per process)."""
    os.environ["DATABASE_URL"] = os.environ["BENCH_URL"]
    os.environ["DHNET_DATA_DIR"] = os.environ["BENCH_TMP"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dhnet.platform.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from dhnet.accounts.services import operator_actor
    from dhnet.atlas.generate import generate_registry, load_generated
    from dhnet.needs import services

    vendor = connection.vendor
    log(f"{vendor}: migrate")
    call_command("migrate", verbosity=0, skip_checks=True)
    registry = generate_registry(args.projects, args.countries, args.seed)
    operator = operator_actor("cli:bench")
    log(f"{vendor}: load {len(registry['projects'])} projects")
    start = time.perf_counter()
    load_generated(operator, registry)
    load_s = time.perf_counter() - start
    rated = _rate(20)
    if vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    rows: list[dict[str, Any]] = []
    samples: list[float] = []
    for data in needs_of(registry):
        need, _ = services.create_need(operator, data)
        ranked = services.match(operator, need.public_id, limit=20)  # warm-up
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            services.match(operator, need.public_id, limit=20)
            times.append((time.perf_counter() - t0) * 1000)
        samples += times
        label = f"{need.country}: {data['title']} ({', '.join(data['challenges'])})"
        top = f"{ranked[0].kind} {ranked[0].ref} {ranked[0].score}" if ranked else "none"
        rows.append({"label": label, "top": top, "median": statistics.median(times), "max": max(times)})
        log(f"{vendor}: {label}: median {statistics.median(times):.1f} ms, top {top}")
    extra = []
    for country in sorted({d["country"] for d in needs_of(registry)}):
        services.portfolio_gaps(operator, country)
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            services.portfolio_gaps(operator, country)
            times.append((time.perf_counter() - t0) * 1000)
        extra.append({"label": f"portfolio gaps of {country}", "median": statistics.median(times), "max": max(times)})
    return {
        "vendor": vendor,
        "projects": len(registry["projects"]),
        "countries": len({p["country"] for p in registry["projects"]}),
        "products": len(registry["products"]),
        "rated": rated,
        "load_s": load_s,
        "rows": rows,
        "p50": statistics.median(samples),
        "p95": _p95(samples),
        "max": max(samples),
        "extra": extra,
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _pg_database(server: str) -> tuple[str, Any]:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"dhnet_needs_match_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(urlsplit(server)._replace(path=f"/{name}")), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--pg", default=os.environ.get("DHNET_BENCH_PG", ""), help="postgres:// URL of a server")
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--countries", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5, help="timed calls of each match (after one warm-up)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.projects <= 100_000 or not 1 <= args.rounds <= 100:
        raise SystemExit("--projects 1..100000 and --rounds 1..100")
    if args.child:
        print(json.dumps(child(args)))
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="dhnet-needs-match-") as tmp:
        targets: list[tuple[str, Any]] = [(f"sqlite:///{Path(tmp) / 'needs.sqlite3'}", None)]
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
    first = results[0]
    print("## Needs: matching a need to products and deployments\n")
    print(
        f"Command: `.venv/bin/python bench/bench_needs_match.py{' --pg <url>' if args.pg else ''} --projects "
        f"{args.projects} --countries {args.countries} --rounds {args.rounds} --seed {args.seed}` "
        f"({dt.date.today().isoformat()})\n"
    )
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end. {first['projects']:,} generated published "
        f"projects in {first['countries']} countries, {first['products']} products (`generate_registry`, loaded "
        f"with `load_generated`); {first['rated']} deployments with five ratings each. {len(first['rows'])} needs, "
        f"each matched {args.rounds} times after a warm-up; one sample = one `needs.services.match(limit=20)` call "
        "(every product and every deployment of the WHO region scored on nine parts, decisions, audit).\n"
    )
    print("| database | load (s) | needs x rounds | p50 ms | p95 ms | max ms | floor p95 <= 300 ms |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in results:
        met = "met" if r["p95"] <= FLOOR_P95_MS else "**not met**"
        print(
            f"| {r['vendor']} | {r['load_s']:.1f} | {len(r['rows'])} x {args.rounds} | {r['p50']:.1f} | "
            f"{r['p95']:.1f} | {r['max']:.1f} | {met} |"
        )
    print("\n### Per need (median ms; the best match)\n")
    print("| need | best match | " + " | ".join(f"{r['vendor']} median | {r['vendor']} max" for r in results) + " |")
    print("|---|---|" + "---:|---:|" * len(results))
    for i, row in enumerate(first["rows"]):
        cells = " | ".join(f"{r['rows'][i]['median']:.1f} | {r['rows'][i]['max']:.1f}" for r in results)
        print(f"| {row['label']} | {row['top']} | {cells} |")
    print("\n### Portfolio analytics (ms)\n")
    print("| view | " + " | ".join(f"{r['vendor']} median | {r['vendor']} max" for r in results) + " |")
    print("|---|" + "---:|---:|" * len(results))
    for i, row in enumerate(first["extra"]):
        cells = " | ".join(f"{r['extra'][i]['median']:.1f} | {r['extra'][i]['max']:.1f}" for r in results)
        print(f"| {row['label']} | {cells} |")
    print()


if __name__ == "__main__":
    main()
