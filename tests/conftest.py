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
    several packages (tests/e2e, tests/network) each launch their own Chromium from it.

    Between its calls the driver marks its event loop as running in this thread (playwright's wait_for_future), so
    Django would take every later database call of this process for one made from async code and refuse it. The
    browser tests run first and the database tests of this process after them are plain synchronous code: Django's
    guard is switched off for the rest of the process (DJANGO_ALLOW_ASYNC_UNSAFE), and restored at the end.
    """
    from playwright.sync_api import sync_playwright

    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as driver:
            yield driver
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


def _is_browser_test(item: pytest.Item) -> bool:
    """A test that drives Debian's chromium against a throwaway ``dhnet serve`` on its own SQLite database."""
    return "playwright_driver" in getattr(item, "fixturenames", ())


def _shares_fixtures(item: pytest.Item) -> bool:
    """Whether the test uses a fixture built once for several tests (module, class or package scope): such tests
    must run in one process, in file order."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return True
    return any(
        defs and defs[-1].scope in ("module", "class", "package") and defs[-1].baseid  # ours, not a plugin's
        for defs in info.name2fixturedefs.values()
    )


#: The PostgreSQL pass of bin/test (DHNET_TEST_PG_PASS=1) repeats what can depend on the database engine. The
#: authorization matrices ask the same question of every role: there it keeps the roles whose answers come from
#: queries (everything, one district's jurisdiction, a country administrator's appointment); schemathesis keeps
#: the role that reaches every operation. The SQLite pass runs all of them.
PG_PASS_MATRIX_ROLES = frozenset({"system_admin", "district_officer", "digital_health_planner"})
PG_PASS_SCHEMA_ROLES = frozenset({"system_admin"})


def _repeated_on_pg(item: pytest.Item) -> bool:
    role = getattr(getattr(item, "callspec", None), "params", {}).get("role")
    if not isinstance(role, str):
        return False
    name = item.path.name
    if name.startswith("test_access"):
        return role not in PG_PASS_MATRIX_ROLES
    if item.path.parent.name == "apischema":
        return role not in PG_PASS_SCHEMA_ROLES
    return False


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (it appends them to the node ids)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group tests for ``pytest -n N --dist loadgroup`` (bin/test runs on every core), browser tests first.

    Tests that share a module fixture form one group per file; all browser tests form one group, so that one worker
    starts Chromium and the demo server for all of them, and it starts first (it is the longest). Other tests are
    handed out one by one. In the PostgreSQL pass, the role repetitions described above are deselected.
    """
    if os.environ.get("DHNET_TEST_PG_PASS") == "1":
        repeated = [item for item in items if _repeated_on_pg(item)]
        if repeated:
            config.hook.pytest_deselected(items=repeated)
            kept = set(map(id, repeated))
            items[:] = [item for item in items if id(item) not in kept]
    for item in items:
        if _is_browser_test(item):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif _shares_fixtures(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


class _BrowserTestsFirst:
    """Browser tests first (one long group: started last, it would finish last); otherwise the order stays. A
    plugin of its own, to order after pytest-django's ordering (a conftest may hold only one hook of a name)."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        items.sort(key=lambda item: not _is_browser_test(item))


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_BrowserTestsFirst(), "dhnet-browser-tests-first")
