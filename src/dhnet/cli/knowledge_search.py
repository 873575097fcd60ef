"""``dhnet knowledge search`` and ``dhnet knowledge reindex``, added to the ``knowledge`` group of
:mod:`dhnet.cli.knowledge`.

``dhnet knowledge search "QUERY" [--limit N] --json`` prints a JSON list of hits, best first, each with
``document``, ``section``, ``text`` (the chunk), ``score``, ``item``, ``page`` and ``chunk`` (plus ``item_title``,
``document_id`` and ``url``). It searches what is published, as an anonymous visitor would; ``--unpublished``
searches as the operator (every draft too; audited). Notices (e.g. "semantic search is unavailable") go to stderr so
that the JSON on stdout stays machine-readable.

``dhnet knowledge reindex`` rebuilds the full-text index and embeds the chunks that have no embedding of the current
model (a store ingested without the model), with a progress bar on a terminal.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from dhnet.cli.knowledge import knowledge
from dhnet.cli.platform import _django, _fail, _operator


def _date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=name) from None


@knowledge.command("search")
@click.argument("query")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100), help="Most hits to print.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits (best first).")
@click.option(
    "--mode",
    default="hybrid",
    show_default=True,
    type=click.Choice(["hybrid", "fulltext", "semantic"]),
    help="Ranking: words and meaning (hybrid), words only, meaning only.",
)
@click.option("--kind", "kinds", multiple=True, help="Only items of this kind (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only items with this tag, e.g. so:1 (repeatable: any of them).")
@click.option("--country", "countries", multiple=True, help="Only items about this country, ISO code (repeatable).")
@click.option("--from", "date_from", default=None, help="Published on or after (YYYY-MM-DD).")
@click.option("--to", "date_to", default=None, help="Published on or before (YYYY-MM-DD).")
@click.option("--unpublished", is_flag=True, help="Search as the operator: drafts and archived items too (audited).")
def search_command(
    query: str,
    limit: int,
    as_json: bool,
    mode: str,
    kinds: tuple[str, ...],
    tags: tuple[str, ...],
    countries: tuple[str, ...],
    date_from: str | None,
    date_to: str | None,
    unpublished: bool,
) -> None:
    """Search the repository's passages for QUERY, in plain words; each hit cites document, section and page."""
    filters_from, filters_to = _date(date_from, "--from"), _date(date_to, "--to")
    _django()
    from dhnet.knowledge import search
    from dhnet.platform.access import Actor
    from dhnet.platform.errors import ServiceError

    actor = _operator() if unpublished else Actor.anonymous()
    filters = search.SearchFilters(
        kinds=kinds, tags=tags, countries=countries, published_from=filters_from, published_to=filters_to
    )
    try:
        result = search.search(actor, query, limit=limit, mode=mode, filters=filters)
    except ServiceError as exc:
        raise _fail(exc) from None
    if result.notice:
        click.echo(result.notice, err=True)
    if as_json:
        click.echo(json.dumps([hit.as_json() for hit in result.hits], ensure_ascii=False, indent=2))
        return
    if not result.hits:
        click.echo("nothing found", err=True)
    for rank, hit in enumerate(result.hits, start=1):
        click.echo(f"{rank}. {hit.document} > {hit.section} (page {hit.page})  score {hit.score:.4f}")
        click.echo(f"   {' '.join(hit.text.split())[:300]}")
        click.echo(f"   {hit.url}")


@knowledge.command("reindex")
@click.option("--full", is_flag=True, help="Re-embed every chunk, not only those without an embedding.")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1, 1000), help="Chunks per commit.")
def reindex_command(full: bool, batch_size: int) -> None:
    """Rebuild the full-text index and embed the chunks that have no embedding (stores ingested without the model)."""
    _django()
    from dhnet.knowledge import embedding, search
    from dhnet.knowledge.models import Chunk
    from dhnet.platform.errors import ServiceError

    actor = _operator()
    try:
        if sys.stderr.isatty():
            total = (
                Chunk.objects.count() if full else Chunk.objects.exclude(embedding_model=embedding.MODEL_NAME).count()
            )
            with click.progressbar(length=total, label="embedding", file=sys.stderr) as bar:
                report = search.reindex(actor, batch_size=batch_size, progress=bar.update, full=full)
        else:
            report = search.reindex(actor, batch_size=batch_size, full=full)
    except ServiceError as exc:
        raise _fail(exc) from None
    if report.notice:
        click.echo(report.notice, err=True)
    click.echo(f"knowledge reindex: {report.chunks} chunk(s) in the full-text index, {report.embedded} embedded now")
