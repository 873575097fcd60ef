"""``dhnet atlas``: the registry from the command line — import and export files, generate example registries.

``dhnet atlas import FILE [--format json|csv|dha] [--publish] [--as USERNAME]`` imports all or nothing (a table of
every bad row and exit status 1 otherwise), with a progress bar for long files; ``dhnet atlas export [--format ...]
[-o FILE] [--country XX] [--as USERNAME]`` writes what the actor may see; ``dhnet atlas generate --projects 500
--countries 30 --seed 1 -o FILE [--load]`` writes a generated registry (JSON) and, with ``--load``, stores it with
the fast bulk loader. The actor is the operator (``cli:<os user>``, every permission, audited) unless ``--as``
names a user. Django is imported inside the commands so that ``dhnet --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dhnet.cli import main

FORMATS = ("json", "csv", "dha")


@main.group()
def atlas() -> None:
    """The digital health atlas: import, export, generate registries."""


def _actor(username: str | None) -> Any:
    from dhnet.cli.platform import _django, _operator

    _django()
    if not username:
        return _operator()
    from dhnet.accounts.models import User
    from dhnet.accounts.services import actor_for_user

    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise click.ClickException(f"no active user {username!r}")
    return actor_for_user(user, via="cli", mfa_verified=True)


def _guess(path: str, fmt: str | None) -> str:
    if fmt:
        return fmt
    name = path.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".dha.json"):
        return "dha"
    return "json"


@atlas.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Default: from the file name.")
@click.option("--publish", is_flag=True, help="Store the projects as published (needs each country's administration).")
@click.option("--as", "username", default=None, help="Import as this user (default: the operator).")
def import_file(file: str, fmt: str | None, publish: bool, username: str | None) -> None:
    """Import FILE (JSON, CSV or DHA records): every row checked first, all or nothing; the same file again changes
    nothing."""
    from tqdm import tqdm

    actor = _actor(username)
    from dhnet.atlas import io
    from dhnet.cli.platform import _fail
    from dhnet.platform.errors import ServiceError

    data = Path(file).read_bytes()
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="row", desc="checking and storing", file=sys.stderr, leave=False)
        bar.update(done - bar.n)

    try:
        report = io.import_projects(actor, data, _guess(file, fmt), publish=publish, progress=progress)
    except ServiceError as exc:
        raise _fail(exc) from None
    finally:
        if bar is not None:
            bar.close()
    if not report.ok:
        click.echo(f"nothing imported: {len(report.errors)} problem(s)", err=True)
        click.echo("row\tfield\tproblem", err=True)
        for e in report.errors:
            click.echo(f"{e.row}\t{e.field or '-'}\t{e.message}", err=True)
        sys.exit(1)
    click.echo(
        f"projects: {report.created} created, {report.updated} updated, {report.unchanged} unchanged; "
        f"products: {report.products_created} created, {report.products_updated} updated, "
        f"{report.products_unchanged} unchanged; organisations created: {len(report.organisations_created)}"
    )


@atlas.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True)
@click.option("-o", "--output", default="-", help="File to write (default: standard output).")
@click.option("--country", default=None, help="Only the projects of this country (ISO 3166-1 alpha-2).")
@click.option("--as", "username", default=None, help="Export what this user may see (default: the operator: all).")
def export_file(fmt: str, output: str, country: str | None, username: str | None) -> None:
    """Export the projects (and, in JSON, their products and organisations), sorted: the same registry gives the
    same bytes."""
    actor = _actor(username)
    from dhnet.atlas import io, services

    projects = services.visible_projects(actor)
    if country:
        projects = projects.filter(country=country.strip().upper())
    data = io.export_projects(actor, projects, fmt)
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        Path(output).write_bytes(data)
        click.echo(f"{projects.count()} project(s) written to {output}", err=True)


@atlas.command("generate")
@click.option("--projects", "n_projects", default=500, show_default=True, type=click.IntRange(0, 100_000))
@click.option("--countries", "n_countries", default=30, show_default=True, type=click.IntRange(1, 40))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("-o", "--output", default=None, help="Write the registry (JSON, importable) to this file ('-': stdout).")
@click.option("--load", is_flag=True, help="Store it in the database with the fast bulk loader (published).")
def generate(n_projects: int, n_countries: int, seed: int, output: str | None, load: bool) -> None:
    """A generated example registry: real products, made-up deployments (marked as examples), deterministic."""
    import json

    from dhnet.atlas.generate import generate_registry

    if not output and not load:
        raise click.UsageError("give -o FILE, --load or both")
    registry = generate_registry(n_projects, n_countries, seed)
    if output:
        data = json.dumps(registry, ensure_ascii=False, indent=1) + "\n"
        if output == "-":
            click.echo(data, nl=False)
        else:
            Path(output).write_text(data, encoding="utf-8")
            click.echo(f"{n_projects} project(s) in {n_countries} countries written to {output}", err=True)
    if load:
        actor = _actor(None)
        from dhnet.atlas.generate import load_generated

        counts = load_generated(actor, registry)
        click.echo(
            f"stored: {counts['projects']} project(s), {counts['products']} product(s), "
            f"{counts['organisations']} organisation(s)",
            err=True,
        )
