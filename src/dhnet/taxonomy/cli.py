"""``dhnet taxonomy``: export the classifications (codes, names, hierarchy) for scripts and spreadsheets.

Django is imported inside the commands so that ``dhnet --help`` stays fast.
"""

from __future__ import annotations

import csv
import json
import sys

import click

from dhnet.cli import main


@main.group()
def taxonomy() -> None:
    """Classifications: list the schemes or a scheme's concepts."""


def _setup() -> None:
    from dhnet.cli.platform import _django

    _django()


@taxonomy.command("schemes")
def schemes() -> None:
    """The schemes with their number of concepts, version and licence note."""
    _setup()
    from dhnet.taxonomy import services

    for scheme in services.schemes():
        click.echo(f"{scheme.code:<20} {scheme.concepts.count():>4}  {scheme.name} ({scheme.version})")
        click.echo(f"{'':<26}{scheme.licence_note}")


@taxonomy.command("list")
@click.argument("scheme")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of {tag, code, name, parent, level, kind}.")
def list_concepts(scheme: str, as_json: bool) -> None:
    """The concepts of SCHEME (e.g. cdhi-v1, cdhi-2023, hsc, system-category-v1, so) in order, as CSV or JSON."""
    _setup()
    from dhnet.platform.errors import NotFound
    from dhnet.taxonomy import services

    try:
        concepts = list(services.concepts(scheme))
    except NotFound as exc:
        known = ", ".join(s.code for s in services.schemes())
        raise click.ClickException(f"{exc.message} (known: {known})") from None
    rows = [
        {
            "tag": c.tag,
            "code": c.code,
            "name": c.name,
            "parent": c.parent.code if c.parent else None,
            "level": c.level,
            "kind": c.kind,
        }
        for c in concepts
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=["tag", "code", "name", "parent", "level", "kind"])
    writer.writeheader()
    writer.writerows(rows)
