"""Benchmark: latency of the digital health atlas' project search (filters, free text, facets) on 10,000 projects,
on SQLite and on PostgreSQL, with the map and a country portfolio alongside.

A fresh database each (a temporary SQLite file, and a throwaway database on ``--pg``'s PostgreSQL server) is
migrated and filled with ``dhnet.atlas.generate.generate_registry(--projects, --countries, --seed)`` through
``load_generated`` (published projects with products, organisations, CDHI/HSC tags, coverage, budgets, metrics).
Then a fixed set of realistic searches, built from the generated registry's own values (its most common product,
funder, country, intervention, challenge, standard and licence, and words of its project names), runs ``--rounds``
times each after one warm-up round, as an anonymous visitor, through ``search_projects`` with the facets (what
the search page and ``/api/v1/atlas/search`` call): one sample is the wall time of one call, counting the page of
20 projects with their relations and the nine facets. p50 and p95 are over every sample; the floor is p95 <= 300 ms
on both databases. The world map (``deployment_map``) and a country portfolio (``country_portfolio``) are timed the
same way and reported apart.

Prints a Markdown section for bench/RESULTS.md (progress to stderr). Run::

    .venv/bin/python bench/bench_atlas_search.py [--pg "$(bin/pg url)"] [--projects 10000] [--rounds 5]
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
    print(f"bench_atlas_search: {message}", file=sys.stderr, flush=True)


def _most_common(values: list[str], n: int = 1) -> list[str]:
    return [v for v, _ in Counter(values).most_common(n)]


def queries(registry: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(label, filters, options) of the searches, from the generated registry's own values."""
    projects = registry["projects"]
    products = {p["slug"]: p for p in registry["products"]}
    countries = _most_common([p["country"] for p in projects], 3)
    product = _most_common([s for p in projects for s in p["products"]])[0]
    funder = _most_common([s for p in projects for s in p["funders"]], 2)
    v1 = _most_common([t for p in projects for t in p["interventions"] if t.startswith("cdhi-v1:")])[0]
    challenge = _most_common([t for p in projects for t in p["challenges"]])[0]
    standard = _most_common([t for p in products.values() for t in p["standards"]])[0]
    licence = _most_common([p["licence"] for p in products.values() if p["licence"]])[0]
    counts = Counter(w.lower() for p in projects for w in set(p["name"].split()) if len(w) > 5 and w.isalpha())
    words = [w for w, n in counts.most_common() if n < len(projects) / 2][:3]  # words that tell projects apart
    name = products[product]["name"]
    stage = "scale"
    category = v1.rsplit(".", 1)[0]
    return [
        ("everything (facets over all)", {}, {}),
        (f"text: {name!r}", {"q": name}, {}),
        (f"text: {words[0]!r}", {"q": words[0]}, {}),
        (f"text, two words: {words[1]} {words[2]}", {"q": f"{words[1]} {words[2]}"}, {}),
        (f"country {countries[0]}", {"countries": (countries[0],)}, {}),
        (
            f"countries {countries[1]}, {countries[2]} + stage {stage}",
            {"countries": tuple(countries[1:]), "stages": (stage,)},
            {},
        ),
        (f"intervention {v1} (crosswalk)", {"interventions": (v1,)}, {}),
        (f"intervention category {category} (below + crosswalk)", {"interventions": (category,)}, {}),
        (f"challenge {challenge}", {"challenges": (challenge,)}, {}),
        (f"funder {funder[0]}", {"funders": (funder[0],)}, {}),
        (f"product {product} + standard {standard}", {"products": (product,), "standards": (standard,)}, {}),
        (f"licence {licence} + open source", {"licences": (licence,), "open_source": True}, {}),
        ("proprietary only", {"open_source": False}, {}),
        (
            f"text {words[0]!r} + country {countries[0]} + funder {funder[1]}",
            {"q": words[0], "countries": (countries[0],), "funders": (funder[1],)},
            {},
        ),
        ("page 20, sorted by stage", {}, {"page": 20, "sort": "stage"}),
        (
            f"country {countries[0]}, sorted by recent, page 3",
            {"countries": (countries[0],)},
            {"page": 3, "sort": "recent"},
        ),
    ]


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
    from dhnet.atlas.maps import deployment_map
    from dhnet.atlas.portfolio import country_portfolio
    from dhnet.atlas.search import ProjectFilters, search_projects
    from dhnet.platform.access import Actor

    vendor = connection.vendor
    log(f"{vendor}: migrate")
    call_command("migrate", verbosity=0, skip_checks=True)
    registry = generate_registry(args.projects, args.countries, args.seed)
    log(f"{vendor}: load {len(registry['projects'])} projects")
    start = time.perf_counter()
    load_generated(operator_actor("cli:bench"), registry)
    load_s = time.perf_counter() - start
    if vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    anonymous = Actor.anonymous()
    t0 = time.perf_counter()
    search_projects(anonymous, ProjectFilters())  # the first search builds the in-memory index
    cold_ms = (time.perf_counter() - t0) * 1000
    rows: list[dict[str, Any]] = []
    samples: list[float] = []
    for label, filters, options in queries(registry):
        f = ProjectFilters(**filters)
        total = search_projects(anonymous, f, **options).total  # warm-up
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            search_projects(anonymous, f, **options)
            times.append((time.perf_counter() - t0) * 1000)
        samples += times
        rows.append({"label": label, "total": total, "median": statistics.median(times), "max": max(times)})
        log(f"{vendor}: {label}: {total} projects, median {statistics.median(times):.1f} ms")
    extra: list[dict[str, Any]] = []
    top_country = Counter(p["country"] for p in registry["projects"]).most_common(1)[0][0]
    for label, call in (
        ("world map, no filter", lambda: deployment_map(anonymous, ProjectFilters())),
        (
            f"world map, country {top_country}",
            lambda: deployment_map(anonymous, ProjectFilters(countries=(top_country,))),
        ),
        (f"portfolio of {top_country}", lambda: country_portfolio(anonymous, top_country)),
    ):
        call()
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            call()
            times.append((time.perf_counter() - t0) * 1000)
        extra.append({"label": label, "median": statistics.median(times), "p95": _p95(times), "max": max(times)})
    return {
        "vendor": vendor,
        "projects": len(registry["projects"]),
        "countries": len({p["country"] for p in registry["projects"]}),
        "load_s": load_s,
        "cold_ms": cold_ms,
        "rows": rows,
        "p50": statistics.median(samples),
        "p95": _p95(samples),
        "max": max(samples),
        "samples": len(samples),
        "extra": extra,
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _pg_database(server: str) -> tuple[str, Any]:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"dhnet_atlas_search_{os.getpid()}"
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
    parser.add_argument("--rounds", type=int, default=5, help="timed calls of each search (after one warm-up)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 1 <= args.projects <= 100_000 or not 1 <= args.rounds <= 100:
        raise SystemExit("--projects 1..100000 and --rounds 1..100")
    if args.child:
        print(json.dumps(child(args)))
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="dhnet-atlas-search-") as tmp:
        targets: list[tuple[str, Any]] = [(f"sqlite:///{Path(tmp) / 'atlas.sqlite3'}", None)]
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
    print("## Atlas: project search, map and portfolio latency\n")
    print(
        f"Command: `.venv/bin/python bench/bench_atlas_search.py{' --pg <url>' if args.pg else ''} --projects "
        f"{args.projects} --countries {args.countries} --rounds {args.rounds} --seed {args.seed}` "
        f"({dt.date.today().isoformat()})\n"
    )
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end. {first['projects']:,} generated published "
        f"projects in {first['countries']} countries (`generate_registry`, loaded with `load_generated`). Each "
        f"search {args.rounds} times after a warm-up, as an anonymous visitor, one sample = one `search_projects` "
        "call: count, the page of 20 with relations, nine disjunctive facets. The first search after loading builds "
        "the in-memory index (reported apart); later ones reuse it while the registry does not change.\n"
    )
    print(
        "| database | load (s) | first search (builds the index), ms | searches x rounds | p50 ms | p95 ms | max ms "
        "| floor p95 <= 300 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        met = "met" if r["p95"] <= FLOOR_P95_MS else "**not met**"
        print(
            f"| {r['vendor']} | {r['load_s']:.1f} | {r['cold_ms']:.0f} | {len(r['rows'])} x {args.rounds} | "
            f"{r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f} | {met} |"
        )
    print("\n### Per search (median ms; matches)\n")
    print("| search | matches | " + " | ".join(f"{r['vendor']} median | {r['vendor']} max" for r in results) + " |")
    print("|---|---:|" + "---:|---:|" * len(results))
    for i, row in enumerate(first["rows"]):
        cells = " | ".join(f"{r['rows'][i]['median']:.1f} | {r['rows'][i]['max']:.1f}" for r in results)
        print(f"| {row['label']} | {row['total']:,} | {cells} |")
    print("\n### Map and portfolio (ms)\n")
    print("| view | " + " | ".join(f"{r['vendor']} median | {r['vendor']} p95" for r in results) + " |")
    print("|---|" + "---:|---:|" * len(results))
    for i, row in enumerate(first["extra"]):
        cells = " | ".join(f"{r['extra'][i]['median']:.1f} | {r['extra'][i]['p95']:.1f}" for r in results)
        print(f"| {row['label']} | {cells} |")
    print()


if __name__ == "__main__":
    main()
