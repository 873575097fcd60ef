"""``dhnet knowledge``: the knowledge repository from the command line.

``dhnet knowledge ingest PATH... [--title T] [--tag TAG]...`` stores each file as one published item (as the
operator ``cli:<os user>``, audited), parsed into sections and chunks and indexed for search; a file stored before
(the same bytes) is skipped, so running it again stores nothing new. Search commands (``dhnet knowledge search``)
are defined in :mod:`dhnet.cli.knowledge_search` on the :data:`knowledge` group exposed here.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from dhnet.cli import main
from dhnet.cli.platform import _django, _fail, _operator

#: Modules that add commands to the ``knowledge`` group (imported when the group is used).
EXTENSIONS = ("dhnet.cli.knowledge_search",)

KINDS = ("good_practice", "lesson_learned", "guideline", "business_case", "evaluation")


@main.group()
def knowledge() -> None:
    """The knowledge repository: ingest documents, search them."""


@knowledge.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str))
@click.option("--title", default=None, help="Title of the item (one file only; default: the document's title).")
@click.option("--tag", "tags", multiple=True, help="Tag <scheme>:<code>, e.g. so:1 or cdhi-v1:1.1.1 (repeatable).")
@click.option(
    "--kind", default="guideline", show_default=True, type=click.Choice(KINDS), help="What kind of item each file is."
)
@click.option("--licence", default="", help="Licence of the documents (SPDX id, e.g. CC-BY-NC-SA-3.0-IGO).")
def ingest(paths: tuple[str, ...], title: str | None, tags: tuple[str, ...], kind: str, licence: str) -> None:
    """Store each file (PDF, DOCX, HTML, Markdown, text) as a published item, parsed, chunked and indexed."""
    _django()
    from dhnet.knowledge import services
    from dhnet.platform.errors import ServiceError

    lines: list[str] = []

    def report(done: services.Ingested) -> None:
        state = "stored" if done.created else "already stored"
        chunks = done.document.chunks.count()
        sections = done.document.sections.count()
        lines.append(
            f"{done.path}: {state} as item {done.item.public_id} ({done.item.title!r}), document "
            f"{done.document.public_id}: {done.document.pages} page(s), {sections} section(s), {chunks} chunk(s)"
        )

    actor = _operator()
    try:
        if sys.stderr.isatty() and len(paths) > 1:
            with click.progressbar(length=len(paths), label="ingesting", file=sys.stderr) as bar:

                def step(done: Any) -> None:
                    report(done)
                    bar.update(1)

                results = services.ingest_files(
                    actor, paths, title=title, tags=tags, kind=kind, licence=licence, progress=step
                )
        else:
            results = services.ingest_files(
                actor, paths, title=title, tags=tags, kind=kind, licence=licence, progress=report
            )
    except ServiceError as exc:
        raise _fail(exc) from None
    for line in lines:
        click.echo(line)
    stored = sum(1 for r in results if r.created)
    click.echo(f"knowledge ingest: {stored} stored, {len(results) - stored} already stored", err=True)


for _module in EXTENSIONS:
    if importlib.util.find_spec(_module) is not None:
        importlib.import_module(_module)
