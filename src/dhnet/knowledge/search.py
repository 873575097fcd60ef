"""Search of the knowledge repository: full-text, semantic and a hybrid of the two, citing every hit's source.

Full-text
    SQLite: an FTS5 table over ``knowledge_chunk`` (external content, the Porter stemmer), kept in step with the
    chunk table by triggers (migration ``0003_search_fulltext``), ranked with BM25. PostgreSQL: a GIN index on
    ``to_tsvector('english', text)``, ranked with ``ts_rank_cd``. On both, the query's words are OR-ed: a passage
    need not contain every word of a question typed in plain language ("who pays for digital health"), the ranking
    prefers passages with more (and rarer) of them.
Semantic
    The query and every chunk are embedded with all-MiniLM-L6-v2 (:mod:`dhnet.knowledge.embedding`); the chunk
    vectors are read once into memory (refreshed when chunks are added or removed) and compared by brute-force
    cosine similarity, which takes about a millisecond for thousands of chunks.
Hybrid
    The two rankings (each cut at :data:`CANDIDATES`) are fused by a convex combination of their min-max
    normalised scores, half and half (:func:`convex_fusion`). Reciprocal rank fusion (:func:`reciprocal_rank_fusion`,
    ``FUSION = "rrf"``) was the first implementation; on the judged queries (``bench/knowledge/queries.json``,
    written before either was tried) it scored below the convex combination (nDCG@10 0.708 vs 0.719, recall@10
    0.808 vs 0.838 on the strategy texts), because ranks drop how far BM25 puts a passage ahead when it alone holds a
    rare query word the embedding knows poorly ("pseudonymization of health data").

Without the model (not installed, or ``DHNET_SEMANTIC=off``) hybrid and semantic requests are answered by full-text
search, and :attr:`SearchResult.notice` says so. Whatever the mode, only chunks of items the actor may see
(:func:`dhnet.knowledge.services.visible_items`) are ranked at all: drafts never leak, not even as a score.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Count, Max, QuerySet

from dhnet.audit.services import record
from dhnet.knowledge import embedding
from dhnet.knowledge.models import Chunk, Document, Item, ItemKind
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden, Invalid

Mode = Literal["hybrid", "fulltext", "semantic"]
MODES: tuple[str, ...] = ("hybrid", "fulltext", "semantic")
REVIEW = "knowledge:item:review"
PUBLISHED = "published"  # ItemStatus.PUBLISHED

#: Longest query accepted, in characters.
MAX_QUERY_CHARS = 500
#: Most hits per request.
MAX_LIMIT = 100
#: Query words used (after dropping stop words); the rest of a pasted paragraph is ignored.
MAX_TERMS = 32
#: Length of each ranking (full-text, semantic) before fusion.
CANDIDATES = 50
#: The constant of reciprocal rank fusion (Cormack et al. 2009 use 60): larger values flatten the rank discount.
RRF_K = 60
#: How the hybrid ranking fuses the two lists: ``convex`` (normalised scores) or ``rrf`` (reciprocal ranks).
FUSION = "convex"
#: The full-text share of the convex fusion (the semantic list has the rest).
FULLTEXT_WEIGHT = 0.5
#: The SQLite full-text table (an FTS5 external-content table over ``knowledge_chunk``).
FTS_TABLE = "knowledge_chunk_fts"

#: English function words: not searched for on their own and never highlighted (they match almost every passage).
_STOPWORDS_TEXT = """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me
    more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_WORD_RE = re.compile(r"\w+", re.UNICODE)
_SUFFIXES = (
    "izations", "isations", "ization", "isation", "ational", "ations", "ation", "ments", "ment", "ities", "ity",
    "ings", "ing", "ness", "ies", "es", "ed", "ly", "s",
)  # fmt: skip


# --- values -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions of a search. Within one facet any value matches (kind A or B); facets combine with AND."""

    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # "<scheme>:<code>", e.g. "so:1", "cdhi-v1:1.1.1"
    countries: tuple[str, ...] = ()  # ISO 3166-1 alpha-2
    published_from: dt.date | None = None
    published_to: dt.date | None = None

    @property
    def active(self) -> bool:
        return bool(self.kinds or self.tags or self.countries or self.published_from or self.published_to)


@dataclass(frozen=True)
class Hit:
    """One passage found: what it says, where it is (document, section path, page) and how to open it there."""

    item_public_id: str
    item_title: str
    item_kind: str
    item_status: str
    document_public_id: str
    document: str
    section: str
    page: int
    chunk_id: int
    text: str
    highlighted_html: str
    score: float
    url: str

    def as_json(self) -> dict[str, Any]:
        """The shape of ``dhnet knowledge search --json`` and of the API."""
        return {
            "document": self.document,
            "section": self.section,
            "text": self.text,
            "score": round(self.score, 6),
            "item": self.item_public_id,
            "item_title": self.item_title,
            "document_id": self.document_public_id,
            "page": self.page,
            "chunk": self.chunk_id,
            "url": self.url,
        }


@dataclass(frozen=True)
class SearchResult:
    """The hits, best first, and how they were found (``mode_used`` differs from the request after a fallback)."""

    query: str
    hits: list[Hit]
    mode_requested: str
    mode_used: str
    semantic_available: bool
    notice: str = ""
    filters: SearchFilters = field(default_factory=SearchFilters)


# --- pure parts: query terms, fusion, highlighting -----------------------------------------------------------------


def query_terms(query: str) -> list[str]:
    """The words searched for: lower-cased, without stop words, each once, in order (at most :data:`MAX_TERMS`).

    A query made only of stop words ("who are we") keeps them, so that it still finds something.
    """
    words = [w.lower() for w in _WORD_RE.findall(query) if w.strip("_")]
    words = [w.strip("_") for w in words]
    content = [w for w in words if w not in STOPWORDS]
    chosen = content or words
    return list(dict.fromkeys(chosen))[:MAX_TERMS]


def fts5_query(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression OR-ing the terms, each quoted (so no user text is ever FTS5 syntax)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def tsquery(terms: Sequence[str]) -> str:
    """A PostgreSQL ``to_tsquery`` text OR-ing the terms (letters and digits only: never tsquery syntax)."""
    safe = [re.sub(r"[^\w]", "", t) for t in terms]
    return " | ".join(t for t in safe if t)


def reciprocal_rank_fusion(rankings: Iterable[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse rankings of ids (best first) into one: score = sum over rankings of ``1 / (k + rank)``, rank from 1.

    Ties keep the order of first appearance (the first ranking's order wins), so the result is deterministic.
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    order = {key: i for i, key in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def _min_max(ranking: Sequence[tuple[int, float]]) -> dict[int, float]:
    if not ranking:
        return {}
    values = [score for _, score in ranking]
    low, high = min(values), max(values)
    if high - low < 1e-12:
        return {key: 1.0 for key, _ in ranking}
    return {key: (score - low) / (high - low) for key, score in ranking}


def convex_fusion(
    fulltext: Sequence[tuple[int, float]], semantic: Sequence[tuple[int, float]], weight: float = FULLTEXT_WEIGHT
) -> list[tuple[int, float]]:
    """Fuse two scored rankings: ``weight * ft + (1 - weight) * sem`` of their min-max normalised scores.

    Unlike rank fusion this keeps how far apart the scores are: a passage that alone contains a rare query word
    (BM25 far ahead of the rest) stays first even when the embedding, which knows the word poorly, ranks it lower.
    A passage missing from one list scores 0 there. Ties keep the order of first appearance.
    """
    ft, sem = _min_max(fulltext), _min_max(semantic)
    keys = list(dict.fromkeys([k for k, _ in fulltext] + [k for k, _ in semantic]))
    order = {key: i for i, key in enumerate(keys)}
    scores = {k: weight * ft.get(k, 0.0) + (1.0 - weight) * sem.get(k, 0.0) for k in keys}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def fuse(fulltext: Sequence[tuple[int, float]], semantic: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """The hybrid ranking by :data:`FUSION`."""
    if FUSION == "rrf":
        return reciprocal_rank_fusion([[k for k, _ in fulltext], [k for k, _ in semantic]])
    return convex_fusion(fulltext, semantic, FULLTEXT_WEIGHT)


def stem(word: str) -> str:
    """A crude English stem for highlighting (``pseudonymization`` and ``pseudonymisation`` -> ``pseudonym``)."""
    w = word.lower()
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


def _matcher(query: str) -> Callable[[str], bool]:
    stems = {stem(t) for t in query_terms(query) if t not in STOPWORDS}

    def matches(word: str) -> bool:
        if not stems or word.lower() in STOPWORDS:
            return False
        s = stem(word)
        return s in stems or any(len(q) >= 5 and word.lower().startswith(q) for q in stems)

    return matches


def highlight(text: str, query: str) -> str:
    """``text`` as HTML with the query's words (and their inflections) in ``<mark>``; everything else escaped."""
    matches = _matcher(query)
    out: list[str] = []
    pos = 0
    for m in _WORD_RE.finditer(text):
        if matches(m.group()):
            out.append(html.escape(text[pos : m.start()]))
            out.append(f"<mark>{html.escape(m.group())}</mark>")
            pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def document_url(document_public_id: str, chunk_id: int, query: str) -> str:
    """The document page scrolled to the chunk, with the chunk and the query's words marked there."""
    params = urlencode({"chunk": chunk_id, "q": query})
    return f"/knowledge/documents/{document_public_id}/?{params}#chunk-{chunk_id}"


# --- which items a search may rank -----------------------------------------------------------------------------------


def _visible_items(actor: Actor) -> QuerySet[Item]:
    from dhnet.knowledge.services import visible_items

    return visible_items(actor)


def clean_filters(filters: SearchFilters) -> SearchFilters:
    """``filters`` checked and normalised; an unknown kind, tag or country is :class:`Invalid` naming it."""
    for kind in filters.kinds:
        if kind not in ItemKind.values:
            raise Invalid(f"kind: unknown kind {kind!r} (one of {', '.join(ItemKind.values)})")
    countries = []
    for raw in filters.countries:
        code = str(raw).strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", code):
            raise Invalid(f"country: {str(raw)[:20]!r} is not an ISO 3166-1 alpha-2 country code")
        countries.append(code)
    if filters.published_from and filters.published_to and filters.published_from > filters.published_to:
        raise Invalid("published_from: after published_to")
    tags = tuple(t.strip() for t in filters.tags if t.strip())
    return SearchFilters(
        kinds=tuple(dict.fromkeys(filters.kinds)),
        tags=tuple(dict.fromkeys(tags)),
        countries=tuple(dict.fromkeys(countries)),
        published_from=filters.published_from,
        published_to=filters.published_to,
    )


def allowed_items(actor: Actor, filters: SearchFilters) -> QuerySet[Item]:
    """The items whose chunks a search by ``actor`` may rank: visible to them and within ``filters``."""
    items = _visible_items(actor)
    if filters.kinds:
        items = items.filter(kind__in=filters.kinds)
    if filters.published_from:
        items = items.filter(published_on__gte=filters.published_from)
    if filters.published_to:
        items = items.filter(published_on__lte=filters.published_to)
    if filters.tags:
        from dhnet.taxonomy.services import resolve_tags

        concepts = list(resolve_tags(list(filters.tags)))
        tagged = Item.tags.through.objects.filter(concept__in=concepts).values("item_id")
        items = items.filter(pk__in=tagged)
    if filters.countries:
        wanted = set(filters.countries)
        ids = [pk for pk, countries in items.values_list("pk", "countries") if wanted & set(countries or ())]
        items = items.filter(pk__in=ids)
    return items


# --- full-text ------------------------------------------------------------------------------------------------------


def fulltext_ranking(terms: Sequence[str], items: QuerySet[Item], n: int = CANDIDATES) -> list[tuple[int, float]]:
    """The ``n`` best chunks of ``items`` for ``terms`` by full-text rank: ``(chunk id, score)``, best first."""
    if not terms:
        return []
    try:
        sub_sql, sub_params = items.values("pk").query.sql_with_params()
    except EmptyResultSet:  # e.g. a country filter no item matches
        return []
    if connection.vendor == "sqlite":
        sql = (
            f"SELECT c.id, -bm25({FTS_TABLE}) FROM {FTS_TABLE} "
            f"JOIN knowledge_chunk c ON c.id = {FTS_TABLE}.rowid "
            "JOIN knowledge_document d ON d.id = c.document_id "
            f"WHERE {FTS_TABLE} MATCH %s AND d.item_id IN ({sub_sql}) "
            f"ORDER BY bm25({FTS_TABLE}), c.id LIMIT %s"
        )
        params: list[Any] = [fts5_query(terms), *sub_params, n]
    elif connection.vendor == "postgresql":
        text = tsquery(terms)
        if not text:
            return []
        sql = (
            "SELECT c.id, ts_rank_cd(to_tsvector('english', c.text), q, 1) AS rank "
            "FROM knowledge_chunk c JOIN knowledge_document d ON d.id = c.document_id, "
            "to_tsquery('english', %s) q "
            f"WHERE to_tsvector('english', c.text) @@ q AND d.item_id IN ({sub_sql}) "
            "ORDER BY rank DESC, c.id LIMIT %s"
        )
        params = [text, *sub_params, n]
    else:  # pragma: no cover - the platform runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"full-text search on {connection.vendor}")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(pk), float(score)) for pk, score in cursor.fetchall()]


# --- semantic -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Vectors:
    """One consistent snapshot of the stored vectors: chunk ids, their items' ids and the matrix, row by row."""

    key: tuple[Any, ...] | None
    chunk_ids: np.ndarray
    item_ids: np.ndarray
    matrix: np.ndarray


_EMPTY = _Vectors(
    None,
    np.zeros(0, dtype=np.int64),
    np.zeros(0, dtype=np.int64),
    np.zeros((0, embedding.DIMENSION), dtype=np.float32),
)


class _VectorCache:
    """The stored chunk vectors of the current model, in memory, reloaded when chunks were added or removed.

    Every chunk's vector is kept (not only published ones): which of them a search may rank is decided per request
    from the items the actor may see, so a change of an item's status takes effect at once. Readers get an immutable
    snapshot, so a reload by one server thread never mixes rows under another's search.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot = _EMPTY

    @staticmethod
    def _state() -> tuple[Any, ...]:
        agg = Chunk.objects.filter(embedding_model=embedding.MODEL_NAME).aggregate(n=Count("id"), top=Max("id"))
        return (connection.alias, connection.settings_dict.get("NAME"), agg["n"], agg["top"])

    def invalidate(self) -> None:
        with self._lock:
            self._snapshot = _EMPTY

    def current(self) -> _Vectors:
        key = self._state()
        snapshot = self._snapshot
        if key == snapshot.key:
            return snapshot
        with self._lock:
            rows = list(
                Chunk.objects.filter(embedding_model=embedding.MODEL_NAME)
                .order_by("id")
                .values_list("id", "document__item_id", "embedding")
            )
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            items = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
            matrix = np.zeros((len(rows), embedding.DIMENSION), dtype=np.float32)
            for i, row in enumerate(rows):
                matrix[i] = embedding.from_bytes(row[2])
            snapshot = _Vectors(key, ids, items, matrix)
            self._snapshot = snapshot
        return snapshot


_vectors = _VectorCache()


def semantic_ranking(query: str, items: QuerySet[Item], n: int = CANDIDATES) -> list[tuple[int, float]]:
    """The ``n`` chunks of ``items`` closest in meaning to ``query``: ``(chunk id, cosine)``, best first.

    Raises :class:`dhnet.knowledge.embedding.EmbeddingUnavailable` when the model cannot run.
    """
    vector = embedding.embed([query])[0]
    cache = _vectors.current()
    if not len(cache.chunk_ids):
        return []
    allowed = np.fromiter(items.values_list("pk", flat=True), dtype=np.int64)
    mask = np.isin(cache.item_ids, allowed)
    candidates = np.flatnonzero(mask)
    if not len(candidates):
        return []
    scores = cache.matrix[candidates] @ vector
    top = min(n, len(candidates))
    best = np.argpartition(-scores, top - 1)[:top]
    best = best[np.lexsort((cache.chunk_ids[candidates[best]], -scores[best]))]
    return [(int(cache.chunk_ids[candidates[i]]), float(scores[i])) for i in best]


# --- the search service ---------------------------------------------------------------------------------------------


def _fallback_notice(reason: str) -> str:
    return f"Semantic search is unavailable ({reason}); these results come from full-text search only."


def search(
    actor: Actor,
    query: str,
    *,
    limit: int = 10,
    mode: str = "hybrid",
    filters: SearchFilters | None = None,
) -> SearchResult:
    """The passages best answering ``query`` among the items ``actor`` may see, best first, each citing its source.

    ``mode``: ``hybrid`` (default), ``fulltext`` or ``semantic``; hybrid and semantic fall back to full-text when the
    model cannot run here (``notice`` says so). Reading unpublished items' passages is audited
    (``knowledge.search.read``); searching what is public is not.
    """
    text = (query or "").strip()
    if not text:
        raise Invalid("q: enter one or more words to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise Invalid(f"q: at most {MAX_QUERY_CHARS} characters")
    if mode not in MODES:
        raise Invalid(f"mode: unknown mode {mode!r} (one of {', '.join(MODES)})")
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit: between 1 and {MAX_LIMIT}")
    clean = clean_filters(filters or SearchFilters())
    terms = query_terms(text)
    items = allowed_items(actor, clean)

    reason = embedding.unavailable_reason()
    mode_used = mode
    notice = ""
    semantic: list[tuple[int, float]] = []
    if mode in ("hybrid", "semantic"):
        if reason is None:
            try:
                semantic = semantic_ranking(text, items, max(CANDIDATES, limit))
            except embedding.EmbeddingUnavailable as exc:
                reason = str(exc)
        if reason is not None:
            mode_used, notice = "fulltext", _fallback_notice(reason)
    fulltext = fulltext_ranking(terms, items, max(CANDIDATES, limit)) if mode_used in ("hybrid", "fulltext") else []

    if mode_used == "hybrid":
        ranked = fuse(fulltext, semantic)[:limit]
    elif mode_used == "semantic":
        ranked = semantic[:limit]
    else:
        ranked = fulltext[:limit]

    hits = _hits(ranked, text)
    unpublished = sorted({h.item_public_id for h in hits if h.item_status != PUBLISHED})
    if unpublished:
        with transaction.atomic():
            record(
                actor,
                "knowledge.search.read",
                object_type="knowledge.item",
                detail={"query": text[:200], "mode": mode_used, "unpublished_items": unpublished},
                permission=REVIEW if actor.has(REVIEW) else None,
            )
    return SearchResult(
        query=text,
        hits=hits,
        mode_requested=mode,
        mode_used=mode_used,
        semantic_available=reason is None,
        notice=notice,
        filters=clean,
    )


def _hits(ranked: Sequence[tuple[int, float]], query: str) -> list[Hit]:
    related = Chunk.objects.select_related("section", "document__item").defer("embedding", "document__text")
    chunks = related.in_bulk([pk for pk, _ in ranked])  # without the vectors and whole document texts
    hits = []
    for pk, score in ranked:
        chunk = chunks.get(pk)
        if chunk is None:  # deleted between ranking and reading
            continue
        document: Document = chunk.document
        item: Item = document.item
        hits.append(
            Hit(
                item_public_id=str(item.public_id),
                item_title=item.title,
                item_kind=item.kind,
                item_status=item.status,
                document_public_id=str(document.public_id),
                document=document.title or document.filename,
                section=chunk.section.path or chunk.section.heading,
                page=chunk.page,
                chunk_id=chunk.pk,
                text=chunk.text,
                highlighted_html=highlight(chunk.text, query),
                score=score,
                url=document_url(str(document.public_id), chunk.pk, query),
            )
        )
    return hits


# --- indexing ---------------------------------------------------------------------------------------------------------


def index_document(document: Document) -> int:
    """Make a freshly stored document's chunks searchable; the ingest service calls it in its transaction.

    The full-text index follows the chunk table by itself (SQLite triggers, PostgreSQL expression index); this adds
    the chunks' embeddings when the model is available (otherwise ``dhnet knowledge reindex`` does it later).
    Returns the number of chunks embedded.
    """
    ensure_fulltext_index()
    if not embedding.available():
        return 0
    chunks = list(document.chunks.exclude(embedding_model=embedding.MODEL_NAME).order_by("ordinal"))
    try:
        return _embed_chunks(chunks)
    except embedding.EmbeddingUnavailable:
        return 0


def ensure_fulltext_index() -> bool:
    """Recreate the SQLite full-text table's triggers if they are gone; True when they had to be (and were) rebuilt.

    SQLite changes a table's schema by copying it, which drops its triggers: a later migration of the chunk table
    would silently stop the index from following new chunks. The statements are migration 0003's own.
    """
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'knowledge_chunk' "
            "AND name LIKE 'knowledge_chunk_fts_%'"
        )
        if cursor.fetchone()[0] == 3:
            return False
        migration = importlib.import_module("dhnet.knowledge.migrations.0003_search_fulltext")
        for statement in migration.SQLITE_CREATE:
            cursor.execute(statement)
    return True


def _embed_chunks(chunks: Sequence[Chunk]) -> int:
    if not chunks:
        return 0
    vectors = embedding.embed([c.text for c in chunks])
    for chunk, vector in zip(chunks, vectors, strict=True):
        chunk.embedding = embedding.to_bytes(vector)
        chunk.embedding_model = embedding.MODEL_NAME
    Chunk.objects.bulk_update(chunks, ["embedding", "embedding_model"], batch_size=500)
    _vectors.invalidate()
    return len(chunks)


@dataclass(frozen=True)
class ReindexReport:
    chunks: int  # chunks in the store
    embedded: int  # chunks given an embedding now
    semantic_available: bool
    notice: str = ""


def reindex(
    actor: Actor, *, batch_size: int = 64, progress: Callable[[int], None] | None = None, full: bool = False
) -> ReindexReport:
    """Rebuild the full-text index and embed every chunk that has no embedding of the current model.

    For stores ingested without the model (or with another one). ``full`` re-embeds every chunk. Works in batches,
    each committed with its own audit record, so an interrupted run keeps what it did and a rerun continues;
    ``progress`` is called with the number of chunks done after each batch. Requires ``knowledge:item:review``.
    """
    if not actor.has(REVIEW):
        raise Forbidden("reindexing the knowledge repository requires knowledge:item:review")
    if not 1 <= batch_size <= 1000:
        raise Invalid("batch_size: between 1 and 1000")
    with transaction.atomic():
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
        total = Chunk.objects.count()
        record(
            actor,
            "knowledge.search.reindex",
            object_type="knowledge.chunk",
            detail={"chunks": total},
            permission=REVIEW,
        )
    reason = embedding.unavailable_reason()
    if reason is not None:
        return ReindexReport(total, 0, False, f"embeddings not computed: {reason}")
    todo = Chunk.objects.all() if full else Chunk.objects.exclude(embedding_model=embedding.MODEL_NAME)
    ids = list(todo.order_by("id").values_list("id", flat=True))
    done = 0
    for start in range(0, len(ids), batch_size):
        batch_ids = ids[start : start + batch_size]
        with transaction.atomic():
            chunks = list(Chunk.objects.filter(id__in=batch_ids).order_by("id"))
            try:
                done += _embed_chunks(chunks)
            except embedding.EmbeddingUnavailable as exc:
                return ReindexReport(total, done, False, f"embeddings stopped: {exc}")
            record(
                actor,
                "knowledge.chunk.embed",
                object_type="knowledge.chunk",
                detail={
                    "first": batch_ids[0],
                    "last": batch_ids[-1],
                    "count": len(chunks),
                    "model": embedding.MODEL_NAME,
                },
                permission=REVIEW,
            )
        if progress is not None:
            progress(len(chunks))
    return ReindexReport(total, done, True)
