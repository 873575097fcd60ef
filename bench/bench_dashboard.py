"""Benchmark: the dashboard and the signal list with 100,000 signals, served by ``dhnet serve`` on loopback.

Set-up (in a temporary folder, its own SQLite database): ``dhnet demo`` (the real data: 202 org units, 72,000 counts,
detection), then 100,000 signals generated over the demo's diseases, org units and weeks (statuses: 30% open, 70%
closed or discarded, as a long-running system accumulates). Then ``dhnet serve`` (waitress, 8 threads) on
127.0.0.1 and, signed in as the national epidemiologist (password and TOTP, as a browser does), a bounded number
of sequential GET requests per page, after a warm-up; latency is measured by the client (full response read).

Pages: the home page (the dashboard: influenza map of 140 districts, curve, signals, completeness), the same for
measles (WGS84 polygons) and Salmonella (no polygons), an htmx fragment request, the signal list (first page of the
open signals, a filtered page and a deep page), and the first-load weight (HTML + CSS + JavaScript).

Prints one Markdown section to stdout; progress to stderr.
Run: ``.venv/bin/python bench/bench_dashboard.py [--requests N] [--signals N] [--database-url URL]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DHNET = [sys.executable, "-c", "from dhnet.cli import main; main()"]
P95_TARGET_MS = 300.0
BUDGET = 300_000


def log(message: str) -> None:
    print(f"bench_dashboard: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([*DHNET, *args], env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"dhnet {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def generate_signals(env: dict[str, str], count: int, seed: int = 20260101) -> dict[str, Any]:
    """Insert ``count`` signals (bulk, straight into the table: this is load generation, not a workflow)."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dhnet.platform.settings")
    import django

    django.setup()
    from django.db.models import Max, Min

    from dhnet.diseases.models import AlertRule, Disease
    from dhnet.orgunits.models import OrgUnit
    from dhnet.reporting.models import CountValue
    from dhnet.signals.models import Signal, SignalSource, SignalStatus

    rng = random.Random(seed)
    plans = []
    for disease in Disease.objects.filter(code__in=["influenza", "measles", "hepatitis_a", "salmonellosis"]):
        span = CountValue.objects.filter(disease=disease).aggregate(a=Min("period_start"), b=Max("period_start"))
        unit_ids = list(
            CountValue.objects.filter(disease=disease).values_list("orgunit_id", flat=True).distinct().order_by()
        )
        parents = set(OrgUnit.objects.filter(pk__in=unit_ids).values_list("parent_id", flat=True))
        unit_ids += [p for p in parents if p]
        rule = AlertRule.objects.filter(disease=disease).first()
        weeks = (span["b"] - span["a"]).days // 7 + 1
        plans.append((disease, unit_ids, span["a"], weeks, rule))
    names = dict(OrgUnit.objects.values_list("pk", "name"))
    open_statuses = [SignalStatus.NEW, SignalStatus.VERIFICATION, SignalStatus.MONITORING, SignalStatus.VERIFIED]
    ended = [SignalStatus.CLOSED, SignalStatus.DISCARDED]
    batch = []
    t0 = time.perf_counter()
    for i in range(count):
        disease, unit_ids, first, weeks, rule = plans[i % len(plans)]
        unit = rng.choice(unit_ids)
        start = first + dt.timedelta(weeks=rng.randrange(weeks))
        length = rng.choice((0, 0, 0, 1, 1, 2, 3))
        status = rng.choice(open_statuses) if rng.random() < 0.3 else rng.choice(ended)
        observed = rng.randint(1, 40)
        batch.append(
            Signal(
                source=SignalSource.DETECTION,
                status=status,
                disease=disease,
                orgunit_id=unit,
                rule=rule,
                first_period=start,
                last_period=start + dt.timedelta(weeks=length),
                title=f"{disease.name}: {observed} cases in {names[unit]} (generated)",
                max_observed=observed,
            )
        )
        if len(batch) == 5000:
            Signal.objects.bulk_create(batch)
            batch = []
    Signal.objects.bulk_create(batch)
    return {"signals": Signal.objects.count(), "seconds": time.perf_counter() - t0}


class Browser:
    """A cookie-keeping HTTP client that signs in like a browser (CSRF token, password, TOTP)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, float]:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        t0 = time.perf_counter()
        with self.opener.open(request, timeout=60) as response:
            body = response.read()
            return response.status, body, (time.perf_counter() - t0) * 1000

    def post(self, path: str, data: dict[str, str]) -> str:
        token = next(c.value for c in self.jar if c.name == "csrftoken")
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token}).encode()
        request = urllib.request.Request(self.base + path, data=body, headers={"Referer": self.base + path})
        with self.opener.open(request, timeout=60) as response:
            response.read()
            return str(response.geturl())

    def login(self, username: str, password: str, totp_secret: str | None) -> None:
        import pyotp

        self.get("/accounts/login/")
        url = self.post("/accounts/login/", {"username": username, "password": password})
        if "/login/totp/" in url:
            assert totp_secret
            url = self.post("/accounts/login/totp/", {"code": pyotp.TOTP(totp_secret).now()})
        if "/login" in url:
            raise SystemExit(f"sign-in as {username} failed ({url})")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def weight(browser: Browser, path: str) -> tuple[int, dict[str, int]]:
    _, html, _ = browser.get(path)
    sizes = {"HTML": len(html)}
    text = html.decode()
    assets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', text) + re.findall(r'<script src="([^"]+)"', text)
    for asset in assets:
        sizes[asset] = len(browser.get(asset)[1])
    return sum(sizes.values()), sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="measured requests per page (default 100)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--signals", type=int, default=100_000)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="dhnet-bench-dashboard-"))
    database = args.database_url or f"sqlite:///{home / 'bench.sqlite3'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DHNET_", "DATABASE_URL", "DJANGO_"))},
        "DHNET_DATA_DIR": str(home),
        "DATABASE_URL": database,
    }
    credentials = home / "credentials.json"
    log(f"dhnet demo into {home} ...")
    t0 = time.perf_counter()
    run(["demo", "--credentials", str(credentials)], env)
    demo_seconds = time.perf_counter() - t0
    log(f"generating {args.signals:,} signals ...")
    generated = generate_signals(env, args.signals)
    users = json.loads(credentials.read_text())["users"]

    port = free_port()
    server_log = (home / "serve.log").open("w")
    server = subprocess.Popen(
        [*DHNET, "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "8"],
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    rows: list[tuple[str, str, int, float, float, float, float]] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit((home / "serve.log").read_text()) from None
                time.sleep(0.2)
        browser = Browser(base)
        epi = users["demo-epi"]
        browser.login("demo-epi", epi["password"], epi.get("totp_secret"))
        htmx = {"HX-Request": "true"}
        pages = [
            ("dashboard (home): influenza, 140 districts", "/", {}),
            ("dashboard: measles, incidence, 17 districts", "/dashboard/?disease=measles&measure=incidence", {}),
            ("dashboard: Salmonella, states without polygons", "/dashboard/?disease=salmonellosis", {}),
            ("dashboard: htmx fragment, week change", "/dashboard/?disease=influenza&week=2008-W10", htmx),
            ("signal list: open signals, page 1", "/dashboard/signals/", {}),
            (
                "signal list: influenza in Bavaria, all statuses",
                "/dashboard/signals/?disease=influenza&area=DE-BY&status=all",
                {},
            ),
            ("signal list: page 200", "/dashboard/signals/?status=all&page=200", {}),
        ]
        for label, path, headers in pages:
            for _ in range(args.warmup):
                browser.get(path, headers)
            times = []
            size = 0
            for _ in range(args.requests):
                status, body, ms = browser.get(path, headers)
                if status != 200:
                    raise SystemExit(f"{path}: HTTP {status}")
                size = len(body)
                times.append(ms)
            rows.append(
                (
                    label,
                    path,
                    size,
                    statistics.median(times),
                    percentile(times, 0.95),
                    max(times),
                    float(len(times)),
                )
            )
            log(f"{label}: p95 {percentile(times, 0.95):.0f} ms")
        total, sizes = weight(browser, "/")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server_log.close()

    engine = "PostgreSQL" if database.startswith(("postgres", "pgsql")) else "SQLite"
    print("## Dashboard and signal list (100,000 signals)")
    print()
    print("```sh")
    print(f".venv/bin/python bench/bench_dashboard.py --requests {args.requests} --signals {args.signals}")
    print("```")
    print()
    print(
        f"`dhnet demo` (real data: 202 org units, 72,000 counts, detection) in {demo_seconds:.0f} s, then "
        f"{generated['signals']:,} signals in the table ({args.signals:,} generated in {generated['seconds']:.0f} s). "
        f"`dhnet serve` (waitress, 8 threads) on 127.0.0.1, {engine}; one client signed in as the national "
        f"epidemiologist (whole country), {args.warmup} warm-up then {args.requests} sequential requests per page; "
        "latency measured by the client, full response read. Every request also appends its audit record(s)."
    )
    print()
    print("| page | response | median ms | p95 ms | max ms | p95 ≤ 300 ms |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    ok = True
    for label, _path, size, median, p95, worst, _n in rows:
        passed = p95 <= P95_TARGET_MS
        ok = ok and passed
        verdict = "yes" if passed else "NO"
        print(f"| {label} | {size / 1000:.0f} KB | {median:.0f} | {p95:.0f} | {worst:.0f} | {verdict} |")
    print()
    parts = ", ".join(f"{name} {size / 1000:.1f} KB" for name, size in sizes.items())
    print(
        f"First load of the dashboard (home page, influenza map): **{total / 1000:.0f} KB** uncompressed "
        f"({parts}); budget 300 KB: {'met' if total <= BUDGET else 'EXCEEDED'}."
    )
    print()
    print(f"All pages p95 ≤ {P95_TARGET_MS:.0f} ms: **{'yes' if ok else 'no'}**.")


if __name__ == "__main__":
    main()
