"""``dhnet knowledge ingest PATH... [--title T] [--tag TAG]...``: one published item per file, idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dhnet.audit.models import AuditRecord
from dhnet.cli import main
from dhnet.knowledge.models import Chunk, Document, Item
from tests.knowledge import helpers

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    paths = []
    for name, data, _ in helpers.well_formed():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["knowledge", "ingest", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_ingest_stores_one_published_item_per_file(files: list[Path]) -> None:
    code, out, err = _run(*map(str, files))
    assert code == 0, err
    assert Item.objects.filter(status="published").count() == len(files)
    assert Document.objects.count() == len(files)
    assert Chunk.objects.count() >= len(files)
    for path in files:
        assert f"{path}: stored as item" in out
    assert f"knowledge ingest: {len(files)} stored, 0 already stored" in err
    record = AuditRecord.objects.filter(action="knowledge.item.publish").first()
    assert record is not None
    assert record.actor_username.startswith("cli:")


def test_ingest_again_stores_nothing_new(files: list[Path]) -> None:
    assert _run(*map(str, files))[0] == 0
    before = (Item.objects.count(), Document.objects.count(), Chunk.objects.count(), AuditRecord.objects.count())
    code, out, err = _run(*map(str, files), str(files[0]))
    assert code == 0
    assert (Item.objects.count(), Document.objects.count(), Chunk.objects.count(), AuditRecord.objects.count()) == (
        before
    )
    assert "already stored" in out
    assert f"0 stored, {len(files) + 1} already stored" in err


def test_title_and_tags(files: list[Path]) -> None:
    code, _, err = _run(str(files[2]), "--title", "Surveillance guide (HTML)", "--tag", "so:1", "--tag", "hsc:1")
    assert code == 0, err
    item = Item.objects.get()
    assert item.title == "Surveillance guide (HTML)"
    assert sorted(c.tag for c in item.tags.all()) == ["hsc:1", "so:1"]


def test_the_document_title_names_the_item(files: list[Path]) -> None:
    assert _run(str(files[3]))[0] == 0
    assert Item.objects.get().title == "Lessons from the pilot"


def test_a_bad_file_refuses_the_whole_batch(files: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "broken.docx"
    bad.write_bytes(b"not a zip")
    code, _, err = _run(str(files[0]), str(bad))
    assert code != 0
    assert "broken.docx: DOCX: not a ZIP archive" in err
    assert not Item.objects.exists()
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tag", "so:9"], "unknown tag 'so:9'"),
        (["--title", "One title"], "--title: names one item"),
    ],
)
def test_bad_options_store_nothing(files: list[Path], args: list[str], message: str) -> None:
    code, _, err = _run(str(files[0]), str(files[1]), *args)
    assert code != 0
    assert message in err
    assert not Item.objects.exists()


def test_a_missing_file(tmp_path: Path) -> None:
    code, _, err = _run(str(tmp_path / "nope.txt"))
    assert code != 0
    assert "nope.txt" in err
