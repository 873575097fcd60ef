"""Full-text search over the chunks: an FTS5 table kept in step by triggers (SQLite), a GIN index (PostgreSQL).

SQLite: ``knowledge_chunk_fts`` is an external-content FTS5 table (the text lives only in ``knowledge_chunk``)
with the Porter stemmer; three triggers mirror inserts, deletes and changes of ``text``, so the index follows every
way chunks are written (the ingest service, cascading deletes, bulk operations). ``dhnet.knowledge.search``
recreates the triggers if a later schema change of the chunk table (which SQLite does by copying the table)
dropped them. PostgreSQL: an expression index on ``to_tsvector('english', text)`` that the search query uses.
"""

from django.db import migrations

SQLITE_CREATE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_chunk_fts USING fts5("
    "text, content='knowledge_chunk', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS knowledge_chunk_fts_ai AFTER INSERT ON knowledge_chunk BEGIN "
    "INSERT INTO knowledge_chunk_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS knowledge_chunk_fts_ad AFTER DELETE ON knowledge_chunk BEGIN "
    "INSERT INTO knowledge_chunk_fts(knowledge_chunk_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS knowledge_chunk_fts_au AFTER UPDATE OF text ON knowledge_chunk BEGIN "
    "INSERT INTO knowledge_chunk_fts(knowledge_chunk_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO knowledge_chunk_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO knowledge_chunk_fts(knowledge_chunk_fts) VALUES ('rebuild')",
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS knowledge_chunk_fts_au",
    "DROP TRIGGER IF EXISTS knowledge_chunk_fts_ad",
    "DROP TRIGGER IF EXISTS knowledge_chunk_fts_ai",
    "DROP TABLE IF EXISTS knowledge_chunk_fts",
)
POSTGRES_CREATE = (
    "CREATE INDEX IF NOT EXISTS knowledge_chunk_fts ON knowledge_chunk USING gin (to_tsvector('english', text))",
)
POSTGRES_DROP = ("DROP INDEX IF EXISTS knowledge_chunk_fts",)


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0002_item_authors_tags")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}),
            _run({"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}),
        ),
    ]
