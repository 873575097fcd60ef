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


@taxonomy.command("crosswalk")
@click.argument("code")
@click.option("--scheme", default="cdhi-v1", show_default=True, help="The scheme of CODE when CODE is not a tag.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of {tag, name, relation, method, note}.")
def crosswalk(code: str, scheme: str, as_json: bool) -> None:
    """The concepts mapped to CODE in the other edition (CDHI v1 2018 <-> CDISAH 2023).

    CODE is a tag (cdhi-v1:2.7.1, cdhi-2023:3.4.1) or a bare code of --scheme. Each line reads "relation tag name":
    broader means the other concept is broader than CODE. Nothing printed for a concept new in 2023.
    """
    _setup()
    from dhnet.platform.errors import Invalid, NotFound
    from dhnet.taxonomy import services

    scheme_code, bare = services.parse_tag(code) if ":" in code else (services.scheme_code_of(scheme), code)
    try:
        found = services.concept(scheme_code, bare)
        rows = services.mappings_of(found)
    except (NotFound, Invalid) as exc:
        raise click.ClickException(exc.message) from None
    out = [
        {"tag": other.tag, "name": other.name, "relation": relation, "method": m.method, "note": m.note}
        for other, relation, m in rows
    ]
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    click.echo(f"{found.tag} {found.name}")
    if not out:
        click.echo("  (no mapping: new in this edition or not carried over)")
    for row in out:
        note = f"  [{row['note']}]" if row["note"] else ""
        click.echo(f"  {row['relation']:<10} {row['tag']:<18} {row['name']}{note}")
