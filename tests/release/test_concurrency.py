"""Concurrent publications of one dataset: one stored version and one budget spend, never more.

A transactional test (real commits, one connection per thread): the dataset row lock serialises the budget check
and the version number on PostgreSQL; SQLite serialises writers with its database lock.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import OperationalError, connections

from dhnet.diseases.models import Disease
from dhnet.orgunits.models import OrgUnit
from dhnet.platform.access import Actor
from dhnet.release import services
from dhnet.release.models import BudgetSpend, Publication
from tests.release.helpers import MONDAY, add_case
from tests.release.test_services import spec


@pytest.mark.django_db(transaction=True)
def test_concurrent_publications_store_one_version_and_spend_once(operator: Actor, tree: dict[str, OrgUnit]) -> None:
    # Its own disease: a transactional test may run after another one flushed the catalogue.
    Disease.objects.get_or_create(code="release-flu", defaults={"name": "Release test influenza"})
    for n in range(30):
        add_case(n, ("D11", "D12", "D21")[n % 3], disease="release-flu", onset=MONDAY)
    services.create_dataset(
        operator, spec(disease="release-flu", slug="race", method="dp", epsilon_budget=0.5, epsilon_per_release=0.5)
    )
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        try:
            barrier.wait()
            for _attempt in range(50):
                try:
                    publication, created = services.publish(operator, "race")
                except OperationalError as exc:
                    # SQLite's in-memory test database (shared cache) fails at once where a database file waits
                    # for the lock (busy timeout); the client retries, which is what this race is about.
                    if "locked" not in str(exc):
                        raise
                    time.sleep(0.05)
                    continue
                results.append((publication.pk, created))
                break
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 4
    assert len({pk for pk, _ in results}) == 1  # everyone got the same noisy table
    assert sum(created for _, created in results) == 1
    assert Publication.objects.count() == 1
    assert BudgetSpend.objects.count() == 1
    assert services.spent(Publication.objects.get().dataset) == pytest.approx(0.5)
