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


def _is_browser_test(item: pytest.Item) -> bool:
    """A test that drives Debian's chromium against a throwaway ``dhnet serve`` on its own SQLite database."""
    return "playwright_driver" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (it appends them to the node ids)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the browser tests, and group tests for ``pytest -n N --dist loadgroup`` (bin/test runs on every core).

    Each test file is one group (module fixtures are built once, and tests of a file may build on each other); all
    browser tests are one group, so that one worker starts Chromium and the demo server for all of them.
    """
    for item in items:
        browser = _is_browser_test(item)
        if browser:
            item.add_marker(pytest.mark.browser)
        item.add_marker(pytest.mark.xdist_group("browser" if browser else item.nodeid.split("::", 1)[0]))
