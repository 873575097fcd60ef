"""``dhnet demo``: a demo country loaded from the real data in ``data/surveillance/``, and ``dhnet totp-code``.

The demo country is Germany (``DE``) with its 16 states (``DE-BY`` ...) and, below them, the districts the data
come with, polygons included:

* influenza: the 140 districts of Bavaria and Baden-Württemberg, 2001-2008 (``bavaria_bw_districts.geojson``,
  planar coordinates; population 2001 from the counts file);
* measles: the 17 districts of Weser-Ems in Lower Saxony, 2001-2002 (``weser_ems_districts.geojson``, WGS84);
* hepatitis A: the 12 districts of Berlin, 2001-2006 (``berlin_districts.geojson``, planar);
* Salmonella Newport: the 16 states, 2004-2014, no polygons. Counts are stored at reporting units (units without
  children), so each state gets a child unit "<state> (state level)" (``DE-BY-S``) where its state-wide counts are
  reported.

Everything goes through the services, as the operator ``cli:<os user>``: the org-unit import, the disease
catalogue, the reporting ingest (source ``demo``), the accounts, and detection over every alert rule. The dates
stay as they are (the dashboard opens on the latest week with data of each disease).

Running it again changes nothing: units are matched by code, a count payload already received is recognised by
its checksum, users are kept, and detection runs only when counts changed (or with ``--detect``).

Users: one per role, with a password generated on the first run and kept in ``var/demo-credentials.json``
(readable by the operator only) so that every run prints the same ones. The roles that require a second factor
(system administrator, national epidemiologist) are enrolled with a TOTP secret like any user; the second factor
stays real: sign in with the password, then give the code of an authenticator app holding the printed secret, or
ask the command line for it: ``dhnet totp-code demo-epi``.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import json
import os
import secrets
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from dhnet.cli import main
from dhnet.cli.platform import _django, _fail, _operator

DATA_DIR = Path(__file__).resolve().parents[3] / "data" / "surveillance"
COUNTRY = ("DE", "Germany")
#: (code, name, name in the Salmonella Newport file)
STATES = [
    ("DE-BW", "Baden-Württemberg", "Baden.Wuerttemberg"),
    ("DE-BY", "Bavaria", "Bavaria"),
    ("DE-BE", "Berlin", "Berlin"),
    ("DE-BB", "Brandenburg", "Brandenburg"),
    ("DE-HB", "Bremen", "Bremen"),
    ("DE-HH", "Hamburg", "Hamburg"),
    ("DE-HE", "Hesse", "Hesse"),
    ("DE-NI", "Lower Saxony", "Lower.Saxony"),
    ("DE-MV", "Mecklenburg-Western Pomerania", "Mecklenburg.Vorpommern"),
    ("DE-NW", "North Rhine-Westphalia", "North.Rhine.Westphalia"),
    ("DE-RP", "Rhineland-Palatinate", "Rhineland.Palatinate"),
    ("DE-SL", "Saarland", "Saarland"),
    ("DE-SN", "Saxony", "Saxony"),
    ("DE-ST", "Saxony-Anhalt", "Saxony.Anhalt"),
    ("DE-SH", "Schleswig-Holstein", "Schleswig.Holstein"),
    ("DE-TH", "Thuringia", "Thuringia"),
]

#: Influenza is not in the IDSR seed catalogue (which has influenza-like illness and new subtypes): the demo adds
#: laboratory-confirmed influenza, the condition the German notification data count.
INFLUENZA = {
    "code": "influenza",
    "name": "Influenza (laboratory-confirmed)",
    "icd11": "1E30",
    "icd10": "J10",
    "reporting": "weekly",
    "case_definition": "Acute respiratory illness with laboratory confirmation of a seasonal influenza virus "
    "(notifiable in Germany under the Infection Protection Act).",
}

#: (username, role, org unit, what they show)
USERS = [
    ("demo-admin", "system_admin", "DE", "everything, administration (second factor)"),
    ("demo-epi", "national_epidemiologist", "DE", "the whole country, triage and IHR (second factor)"),
    ("demo-region", "regional_officer", "DE-BY", "Bavaria: its districts and signals"),
    ("demo-district", "district_officer", "09162", "one district: Munich (SK Muenchen)"),
    ("demo-viewer", "viewer", "DE-BE", "Berlin, read only"),
    ("demo-partner", "partner", "DE", "aggregates only: no signals, no alarms"),
    ("demo-knowledge", "knowledge_manager", "DE", "the knowledge repository and the network of networks"),
    ("demo-planner", "digital_health_planner", "DE", "the atlas: Germany's portfolio, needs and their matches"),
    ("demo-expert", "expert_reviewer", "DE", "expert reviews of deployments with the scoring rubric"),
]
SUBSET_PREFIXES = ("091",)  # --subset: Upper Bavaria's districts (23) of the influenza data


@dataclass(frozen=True)
class Dataset:
    disease: str
    file: str
    label: str


DATASETS = [
    Dataset("influenza", "influenza_bavaria_bw_districts_weekly.csv", "influenza, 140 districts, 2001-2008"),
    Dataset("measles", "measles_weser_ems_districts_weekly.csv", "measles, 17 districts of Weser-Ems, 2001-2002"),
    Dataset("hepatitis_a", "hepatitis_a_berlin_districts_weekly.csv", "hepatitis A, 12 districts of Berlin, 2001-2006"),
    Dataset(
        "salmonellosis",
        "salmonella_newport_germany_states_weekly.csv",
        "Salmonella Newport, 16 states, 2004-2014",
    ),
]


def _say(message: str) -> None:
    click.echo(f"demo: {message}", err=True)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _geojson(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# --- org units --------------------------------------------------------------------------------------------------


def influenza_code(series: str) -> str:
    """``8336`` (the file's district key) -> ``08336`` (the 5-digit German district key, AGS)."""
    return series.zfill(5)


def berlin_code(series: str) -> str:
    return f"DE-BE-{series}"


def state_unit_code(state: str) -> str:
    return f"{state}-S"


def org_units(data: Path, *, subset: bool) -> list[dict[str, Any]]:
    """Every demo org unit as a GeoJSON-like feature (``id``, ``name``, ``parent``, ``population``, geometry)."""
    units: list[dict[str, Any]] = [{"id": COUNTRY[0], "name": COUNTRY[1], "parent": None}]
    for code, name, _ in STATES:
        units.append({"id": code, "name": name, "parent": COUNTRY[0]})
        units.append({"id": state_unit_code(code), "name": f"{name} (state level)", "parent": code})
    population: dict[str, int] = {}
    with (data / "influenza_bavaria_bw_districts_weekly.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            population.setdefault(row["series"], int(float(row["population"])))
    for feature in _geojson(data / "bavaria_bw_districts.geojson")["features"]:
        key = str(feature["properties"]["id"])
        code = influenza_code(key)
        if subset and not code.startswith(SUBSET_PREFIXES):
            continue
        units.append(
            {
                "id": code,
                "name": feature["properties"]["name"],
                "parent": "DE-BW" if code.startswith("08") else "DE-BY",
                "population": population.get(key),
                "geometry": feature["geometry"],
            }
        )
    for feature in _geojson(data / "weser_ems_districts.geojson")["features"]:
        props = feature["properties"]
        units.append(
            {
                "id": str(props["id"]),
                "name": props["name"],
                "parent": "DE-NI",
                "population": int(props["population"]) if props.get("population") else None,
                "geometry": feature["geometry"],
            }
        )
    for feature in _geojson(data / "berlin_districts.geojson")["features"]:
        props = feature["properties"]
        units.append(
            {
                "id": berlin_code(str(props["id"])),
                "name": props["name"],
                "parent": "DE-BE",
                "geometry": feature["geometry"],
            }
        )
    return units


def load_org_units(actor: Any, data: Path, *, subset: bool) -> str:
    from dhnet.orgunits import services

    features = [
        {
            "type": "Feature",
            "properties": {k: v for k, v in u.items() if k != "geometry" and v is not None},
            "geometry": u.get("geometry"),
        }
        for u in org_units(data, subset=subset)
    ]
    incoming = services.parse_geojson({"type": "FeatureCollection", "features": features}, services.GeoJsonMapping())
    result = services.import_units(actor, incoming, parent_by="code", source="dhnet demo")
    return result.summary()


# --- diseases and counts ----------------------------------------------------------------------------------------


def ensure_diseases(actor: Any) -> list[str]:
    """The diseases of the demo exist (influenza is added with the catalogue's weekly alert rules)."""
    from dhnet.diseases import catalogue
    from dhnet.diseases import services as diseases
    from dhnet.diseases.models import Disease

    added = []
    if not Disease.objects.filter(code=INFLUENZA["code"]).exists():
        diseases.create_disease(actor, INFLUENZA)
        for rule in catalogue.default_rules(catalogue.WEEKLY):
            diseases.create_rule(actor, INFLUENZA["code"], rule)
        added.append(INFLUENZA["code"])
    missing = [d.disease for d in DATASETS if not Disease.objects.filter(code=d.disease).exists()]
    if missing:
        raise click.ClickException(f"the disease catalogue lacks {', '.join(missing)}; run `dhnet migrate` first")
    return added


def count_rows(dataset: Dataset, data: Path, *, subset: bool) -> list[tuple[str, str, int]]:
    """(org unit code, Monday, cases) of one data file, with the file's series mapped to demo org units."""
    states = {file_name: code for code, _, file_name in STATES}
    rows = []
    for row in _read_csv(data / dataset.file):
        series = row["series"]
        if dataset.disease == "influenza":
            code = influenza_code(series)
            if subset and not code.startswith(SUBSET_PREFIXES):
                continue
        elif dataset.disease == "hepatitis_a":
            code = berlin_code(series)
        elif dataset.disease == "salmonellosis":
            if series not in states:
                raise click.ClickException(f"{dataset.file}: unknown state {series!r}")
            code = state_unit_code(states[series])
        else:
            code = series
        rows.append((code, row["period_start"], int(row["count"])))
    return rows


def load_counts(actor: Any, data: Path, *, subset: bool) -> tuple[int, list[str]]:
    """Ingest every dataset (source ``demo``); returns (counts stored or changed, summary lines)."""
    from dhnet.reporting import services as reporting

    changed = 0
    lines = []
    for dataset in DATASETS:
        cells = count_rows(dataset, data, subset=subset)
        payload = {"file": dataset.file, "disease": dataset.disease, "rows": cells}
        rows = [
            reporting.Row(orgunit=code, disease=dataset.disease, period=period, value=value, ref=f"row {i + 2}")
            for i, (code, period, value) in enumerate(cells)
        ]
        result = reporting.ingest(
            actor,
            "demo",
            rows,
            payload_checksum=reporting.checksum_of(payload),
            detail={"file": dataset.file},
        )
        if not result.duplicate:  # a payload received before reports the first import's figures
            changed += result.imported + result.updated + result.deleted
        state = "already loaded" if result.duplicate else f"{result.imported} new, {result.updated} updated"
        lines.append(f"{dataset.label}: {len(rows)} counts ({state})")
    return changed, lines


# --- case reports -------------------------------------------------------------------------------------------------

#: Case-report Bundles of the demo (generated, seeded: the same every run), full demo and ``--subset``.
DEMO_CASE_BUNDLES = 400
SUBSET_CASE_BUNDLES = 80
#: Report dates of the demo's case reports: the last year of the influenza data, ending before its last weeks, so that
#: the dashboard still opens on influenza (the most recent disease with a map).
CASES_FROM, CASES_TO = dt.date(2008, 1, 7), dt.date(2008, 11, 30)


def demo_case_generator(*, subset: bool) -> Any:
    """The seeded generator of the demo's case reports (the same Bundles every run; tests read persons from it)."""
    from dhnet.cases.generate import CaseGenerator, catalogue_diseases, demo_districts

    aggregate = {d.disease for d in DATASETS}
    diseases = [d for d in catalogue_diseases() if d.code not in aggregate]
    return CaseGenerator(
        2024, districts=demo_districts(subset=subset), diseases=diseases, start=CASES_FROM, end=CASES_TO
    )


def load_cases(actor: Any, *, subset: bool, progress: bool = True) -> tuple[int, str]:
    """Post the demo's FHIR case-report Bundles (:class:`dhnet.cases.generate.CaseGenerator`, seed 2024: persons,
    conditions of the catalogue's diseases, encounters, lab results, some research consents) through the FHIR
    intake, as a reporting system would: identities go to the vault, cases carry pseudonyms, the counts by week
    reach detection. They fall in 2008, the last year of the influenza data; the diseases of the aggregate datasets
    are left out, so that their dashboards stay on the real data. A second run resends the same Bundles and stores
    nothing new. Returns (Condition entries created, summary line)."""
    from tqdm import tqdm

    from dhnet.fhir import services as fhir

    n = SUBSET_CASE_BUNDLES if subset else DEMO_CASE_BUNDLES
    generator = demo_case_generator(subset=subset)
    created = answered = 0
    for i in tqdm(range(n), desc="case reports", unit="bundle", disable=not progress, file=sys.stderr):
        data = generator.bundle(i)
        answer = fhir.bundle(actor, data)
        for sent, got in zip(data.get("entry", []), answer.get("entry", []), strict=False):
            if sent.get("resource", {}).get("resourceType") == "Condition":
                answered += 1
                created += str(got.get("response", {}).get("status", "")).startswith("201")
    state = "already loaded" if created == 0 else f"{created} new"
    return created, f"case reports (FHIR Bundles, pseudonymised at intake): {n} Bundles, {answered} cases ({state})"


# --- users --------------------------------------------------------------------------------------------------------


def load_network_of_networks(actor: Any) -> str:
    """The knowledge repository (the strategy texts, parsed, chunked and indexed, published) and then the
    stakeholders, networks and the roundtable (whose outcome links to a knowledge item). Idempotent."""
    from dhnet.knowledge.demo import load_demo as load_knowledge
    from dhnet.network.demo import load_demo as load_network

    return f"{load_knowledge(actor)}; {load_network(actor)}"


def default_credentials_file() -> Path:
    from django.conf import settings

    return Path(settings.CONFIG.var_dir) / "demo-credentials.json"


def _read_credentials(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("users", {}) if isinstance(data, dict) else {}


def _write_credentials(path: Path, users: dict[str, dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"note": "dhnet demo accounts (local demo only)", "users": users}, fh, indent=2)
    os.replace(tmp, path)


def ensure_users(actor: Any, path: Path) -> list[dict[str, str]]:
    """One user per role; passwords kept in ``path``; TOTP enrolled for the roles needing it."""
    import pyotp

    from dhnet.accounts import services as accounts
    from dhnet.accounts.models import User
    from dhnet.accounts.roles import MFA_ROLES

    stored = _read_credentials(path)
    out = []
    for username, role, orgunit, shows in USERS:
        entry = stored.get(username, {})
        user = User.objects.filter(username=username).first()
        if user is None or "password" not in entry:
            entry["password"] = entry.get("password") or secrets.token_urlsafe(12)
            user, _ = accounts.create_user(actor, username, role=role, orgunit_code=orgunit, password=entry["password"])
        else:
            accounts.create_user(actor, username, role=role, orgunit_code=orgunit)  # the role (idempotent)
        if role in MFA_ROLES and not user.totp_enabled:
            secret = accounts.start_enrolment(user).secret
            # Confirm with the previous time step's code, so that the current code is still unused for a login.
            previous = pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30))
            accounts.confirm_enrolment(actor, user, previous)
            user.refresh_from_db()
        if user.totp_enabled:
            entry["totp_secret"] = user.totp_secret
        else:
            entry.pop("totp_secret", None)
        stored[username] = entry
        out.append({"username": username, "role": role, "orgunit": orgunit, "shows": shows, **entry})
    _write_credentials(path, stored)
    return out


# --- detection ----------------------------------------------------------------------------------------------------


def run_detection(actor: Any, *, window: int) -> str:
    """Detection as the platform runs it: a ``signals.detect`` job of the queue (coalesced with the one the imports
    queued), run here. Every active alert rule over the whole history (``full``: expected values and thresholds
    for every week, so that the epidemic curves show them); the alarms of the last ``window`` weeks of each
    disease become signals."""
    from dhnet.jobs.services import enqueue
    from dhnet.jobs.worker import Worker
    from dhnet.signals.jobs import DEDUPE_KEY, DETECT
    from dhnet.signals.models import DetectionRun

    payload = {"trigger": "demo", "full": True, "window": window, "requested_by": actor.username}
    job, _ = enqueue(DETECT, payload, dedupe_key=DEDUPE_KEY, requested_by=actor.username)
    Worker(kinds=[DETECT], poll=0.1, name="demo").run(once=True)
    job.refresh_from_db()
    if job.status != "done":
        first = job.error.splitlines()[0] if job.error else job.status
        raise click.ClickException(f"detection: job {job.pk} did not finish: {first}")
    run = DetectionRun.objects.get(pk=job.result["run"])
    return f"run {run.pk}: {run.message}"


def _detection_done() -> bool:
    from dhnet.signals.models import DetectionRun, RunStatus

    return bool(DetectionRun.objects.filter(trigger__contains="demo", status=RunStatus.DONE).exists())


# --- the command --------------------------------------------------------------------------------------------------


@main.command()
@click.option("--subset", is_flag=True, help="Load a small part (23 influenza districts of Upper Bavaria); fast.")
@click.option("--detect/--no-detect", default=None, help="Force or skip detection (default: when counts changed).")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=DATA_DIR,
    show_default=False,
    help="The data/surveillance folder (default: the one of this checkout).",
)
@click.option(
    "--window",
    default=26,
    show_default=True,
    type=click.IntRange(1, 520),
    help="Weeks at the end of each disease's data whose alarms become signals.",
)
@click.option("--url", default="http://127.0.0.1:8000/", show_default=True, help="Where the platform is served.")
@click.option(
    "--credentials",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where the demo passwords are kept (default: var/demo-credentials.json).",
)
def demo(subset: bool, detect: bool | None, data_dir: Path, window: int, url: str, credentials: Path | None) -> None:
    """Migrate, load the demo country from the real data in data/surveillance/, create one user per role and
    run detection. Idempotent: a second run changes nothing."""
    _django()
    from django.core.management import call_command

    from dhnet.platform.errors import ServiceError

    started = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    _say("database up to date")
    actor = _operator()
    try:
        _say(f"org units: {load_org_units(actor, data_dir, subset=subset)}")
        added = ensure_diseases(actor)
        if added:
            _say(f"diseases added: {', '.join(added)}")
        changed, lines = load_counts(actor, data_dir, subset=subset)
        for line in lines:
            _say(line)
        new_cases, line = load_cases(actor, subset=subset, progress=sys.stderr.isatty())
        changed += new_cases
        _say(line)
        credentials = credentials or default_credentials_file()
        users = ensure_users(actor, credentials)
        _say(load_network_of_networks(actor))  # after the users: the demo networks have some of them as members
        _say(importlib.import_module("dhnet.atlas.demo").load_demo(actor))  # after the users: demo-planner
        _say(importlib.import_module("dhnet.feedback.demo").load_demo(actor))  # after the atlas: rates its examples
        _say(
            importlib.import_module("dhnet.needs.demo").load_demo(actor)
        )  # after the atlas: demo-planner is DE's admin
        _say(importlib.import_module("dhnet.maturity.demo").load_demo(actor))  # after the atlas: DE's admin
        _say(importlib.import_module("dhnet.planning.demo").load_demo(actor))  # after maturity: DE's phases
        _say(importlib.import_module("dhnet.strategy.demo").load_demo(actor))  # after maturity: derived indicators
        _say(importlib.import_module("dhnet.businesscase.demo").load_demo(actor))  # after the atlas: DE's admin
        if detect or (detect is None and (changed or not _detection_done())):
            t0 = time.monotonic()
            _say("detection over every alert rule (a minute or two for the full data) ...")
            _say(f"detection: {run_detection(actor, window=window)} in {time.monotonic() - t0:.0f} s")
        elif detect is False:
            _say("detection: skipped (--no-detect)")
        else:
            _say("detection: counts unchanged since the last demo run; skipped (--detect forces it)")
    except ServiceError as exc:
        raise _fail(exc) from None
    _say(f"ready in {time.monotonic() - started:.0f} s")
    _print_accounts(users, url, credentials)


def _print_accounts(users: Iterable[dict[str, str]], url: str, credentials: Path) -> None:
    out = sys.stdout
    out.write(f"\nThe demo is ready. Open {url} and sign in as one of these users:\n\n")
    width = max(len(u["username"]) for u in users)
    for u in users:
        out.write(
            f"  {u['username']:<{width}}  password {u['password']}  {u['role']} at {u['orgunit']}: {u['shows']}\n"
        )
    totp = [u for u in users if u.get("totp_secret")]
    if totp:
        out.write(
            "\nSecond factor (TOTP) for "
            + ", ".join(u["username"] for u in totp)
            + ": after the password the platform asks for a 6-digit code. Add the secret to an authenticator app,\n"
            "or print the current code on this machine (each code works once; a new one every 30 s):\n\n"
        )
        for u in totp:
            out.write(
                f"  {u['username']:<{width}}  secret {u['totp_secret']}   .venv/bin/dhnet totp-code {u['username']}\n"
            )
    out.write(
        "\nThe dashboard opens on influenza in its latest week with data (2008); pick measles (Weser-Ems), "
        "hepatitis A (Berlin) or Salmonella Newport (states) in the filters.\n"
        f"Passwords are kept in {credentials} (readable by you only).\n"
    )
    out.flush()


@main.command("totp-code")
@click.argument("username")
def totp_code(username: str) -> None:
    """Print the current TOTP code of USERNAME (operator only: reads the secret from the database)."""
    _django()
    import pyotp

    from dhnet.accounts.models import User

    user = User.objects.filter(username=username).first()
    if user is None:
        raise click.ClickException(f"no account named {username!r}")
    if not user.totp_enabled:
        raise click.ClickException(f"{username} has no second factor set up")
    from django.db import transaction

    from dhnet.audit import services as audit

    with transaction.atomic():
        audit.record(_operator(), "cli.totp.read", object_type="accounts.user", object_id=user.pk)
    totp = pyotp.TOTP(user.totp_secret)
    click.echo(totp.now())
    left = totp.interval - int(time.time()) % totp.interval
    click.echo(f"totp-code: valid for {left} more second(s); each code is accepted once", err=True)


__all__ = ["demo", "totp_code"]
