"""Fixtures of the schema tests: the platform's org-unit tree and users, API tokens, in-process requests."""

from __future__ import annotations

import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.accounts.roles import permissions_of
from dhnet.platform.access import Actor
from tests.apischema.wsgi import connection_kept
from tests.platform.fixtures import operator, tree, users  # noqa: F401  (fixtures)

# Hypothesis writes a cache of the constants found in our source (schemathesis reuses them as inputs) below its home
# directory, ``.hypothesis/`` of the work tree by default: these tests keep it in a temporary directory, both while
# schemathesis collects the operations and while they run (the examples database is off: ``database=None``).


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    with tempfile.TemporaryDirectory(prefix="dhnet-hypothesis-") as home:
        set_hypothesis_home_dir(home)
        try:
            return (yield)
        finally:
            set_hypothesis_home_dir(None)


@pytest.fixture(autouse=True)
def hypothesis_home(tmp_path: Path) -> Iterator[None]:
    set_hypothesis_home_dir(tmp_path / "hypothesis")
    try:
        yield
    finally:
        set_hypothesis_home_dir(None)


@pytest.fixture
def api_tokens(users: dict[str, User], operator: Actor) -> dict[str, str]:  # noqa: F811
    """A bearer token with every permission of the role, for each user (``{role: "dhn_..."}``)."""
    tokens = {}
    for role, user in users.items():
        _, raw = accounts.create_token(operator, user, name=f"schema {role}", scopes=sorted(permissions_of(role)))
        tokens[role] = raw
    return tokens


@pytest.fixture
def in_process() -> Iterator[None]:
    """Requests to the WSGI application keep the test's database connection (and so its transaction)."""
    with connection_kept():
        yield
