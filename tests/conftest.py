from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "surveillance"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real surveillance data copied from R's `surveillance` package (see data/surveillance/README.md)."""
    return DATA
