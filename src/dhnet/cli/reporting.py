"""``dhnet import counts FILE.csv`` and ``dhnet import dhis2 FILE.json``: aggregate counts from files.

Both go through the same service as the web form and the API (:func:`dhnet.reporting.services.ingest`): the file
is validated whole, then stored in one transaction or not at all; importing the same file again stores nothing
twice. They act as the operator ``cli:<os user>`` (every permission). Progress goes to standard error; the summary
is printed as one JSON object on standard output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from dhnet.cli import main
from dhnet.cli.platform import _django, _operator


@main.group("import")
def import_group() -> None:
    """Import aggregate counts (CSV or DHIS2 JSON) into the database."""


def _progress(label: str) -> Any:
    def report(done: int, total: int) -> None:
        click.echo(f"import: {label}: wrote {done}/{total} values", err=True)

    return report


def _rejected(path: Path, exc: Any) -> click.ClickException:
    lines = [str(e) for e in exc.errors[:50]]
    more = f"\n  ... and {exc.total - len(lines)} more" if exc.total > len(lines) else ""
    listing = "\n  ".join(lines)
    return click.ClickException(f"{path}: rejected, nothing stored ({exc.total} problems):\n  {listing}{more}")


def _done(path: Path, summary: dict[str, Any]) -> None:
    what = (
        "dry run" if summary.get("dry_run") else "duplicate, nothing stored" if summary.get("duplicate") else "stored"
    )
    click.echo(
        f"import: {path.name}: {what}: {summary.get('imported', 0)} new, {summary.get('updated', 0)} changed, "
        f"{summary.get('ignored', 0)} unchanged, {summary.get('deleted', 0)} deleted",
        err=True,
    )
    click.echo(json.dumps(summary, sort_keys=True, default=str))


@import_group.command("counts")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and count only; store nothing.")
def import_counts(path: Path, dry_run: bool) -> None:
    """Import FILE.csv with columns orgunit,disease,period_start,cases[,deaths].

    period_start is the Monday of the ISO week (2024-01-29) or the week (2024-W05); the first of the month for
    monthly diseases. Rows are numbered as lines (the header is row 1).
    """
    _django()
    from dhnet.platform.errors import ServiceError
    from dhnet.reporting import services

    data = path.read_bytes()
    click.echo(f"import: {path.name}: validating {len(data)} bytes", err=True)
    try:
        result = services.import_csv(
            _operator(), data, filename=path.name, dry_run=dry_run, progress=_progress(path.name)
        )
    except services.BatchRejected as exc:
        raise _rejected(path, exc) from None
    except ServiceError as exc:
        raise click.ClickException(f"{path}: {exc.message}") from None
    _done(path, result.as_dict())


@import_group.command("dhis2")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and count only; store nothing.")
@click.option("--id-scheme", type=click.Choice(["uid", "code"]), default="uid", show_default=True)
@click.option("--data-element-id-scheme", type=click.Choice(["uid", "code"]), default=None)
@click.option("--org-unit-id-scheme", type=click.Choice(["uid", "code"]), default=None)
@click.option(
    "--strategy",
    type=click.Choice(["CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE"]),
    default="CREATE_AND_UPDATE",
    show_default=True,
)
def import_dhis2(
    path: Path,
    dry_run: bool,
    id_scheme: str,
    data_element_id_scheme: str | None,
    org_unit_id_scheme: str | None,
    strategy: str,
) -> None:
    """Import FILE.json, a DHIS2 data value set (as POST /api/dataValueSets takes it)."""
    _django()
    from dhnet.platform.errors import ServiceError
    from dhnet.reporting import dhis2

    raw = path.read_bytes()
    params = {"idScheme": id_scheme, "dryRun": "true" if dry_run else "false", "importStrategy": strategy}
    if data_element_id_scheme:
        params["dataElementIdScheme"] = data_element_id_scheme
    if org_unit_id_scheme:
        params["orgUnitIdScheme"] = org_unit_id_scheme
    try:
        options = dhis2.parse_options(params)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"{path}: not valid JSON: {exc}") from None
        click.echo(f"import: {path.name}: validating {len(body.get('dataValues') or [])} data values", err=True)
        summary = dhis2.import_data_value_set(_operator(), body, options, checksum=dhis2.checksum(options, raw))
    except dhis2.Dhis2Rejected as exc:
        conflicts = exc.summary.conflicts[:50]
        listing = "\n  ".join(f"{c['value']} (dataValues {c['indexes'][:10]})" for c in conflicts)
        raise click.ClickException(f"{path}: {exc.summary.description}\n  {listing}") from None
    except ServiceError as exc:
        raise click.ClickException(f"{path}: {exc.message}") from None
    body_out = summary.as_json()
    _done(
        path,
        {
            **body_out["importCount"],
            "status": summary.status,
            "description": summary.description,
            "dry_run": dry_run,
            "duplicate": summary.duplicate,
            "batch_id": summary.batch_id,
        },
    )
    sys.stdout.flush()
