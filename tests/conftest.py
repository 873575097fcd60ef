from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (derandomize): CI is reproducible, and a failure found once is
# found again. `HYPOTHESIS_PROFILE=explore` searches afresh (random seeds, the example database) when hunting bugs.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "surveillance"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real surveillance data copied from R's `surveillance` package (see data/surveillance/README.md)."""
    return DATA


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    """One Playwright driver for the whole run: its sync API allows only one at a time, and the browser tests of
    several packages (tests/e2e, tests/network) each launch their own Chromium from it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver
