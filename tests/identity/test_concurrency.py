"""Concurrent registrations of the same national identifier (two facilities sending the same person at once)
store one person: the unique blind index makes the loser retry and find the winner."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from dhnet.identity.models import BlindIndex, Person
from dhnet.identity.services import register_person
from dhnet.platform.access import Actor
from tests.identity.helpers import person


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="the SQLite test database is in memory with a shared cache (table locks); SQLite serialises writers",
)
def test_concurrent_registrations_store_one_person(tree: Any, operator: Actor) -> None:
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                identity = person(nid="NG-777", phones=(f"+234 803 555 01{i:02d}",), emails=())
                results.append(register_person(operator, identity, source=f"facility-{i}").pseudonym)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == 4
    assert len(set(results)) == 1
    assert Person.objects.count() == 1
    assert BlindIndex.objects.filter(kind="nid").count() == 1
    assert BlindIndex.objects.filter(kind="phone").count() == 4  # every facility's phone number was kept


@pytest.mark.django_db
def test_a_registration_losing_every_retry_is_a_conflict_to_retry(
    tree: Any, operator: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Persons of one batch registered by concurrent requests at each of the three attempts: a Conflict (the API
    answers 409, the client retries), not an IntegrityError (a 500); nothing is stored."""
    from django.db import IntegrityError

    from dhnet.identity import services
    from dhnet.platform.errors import Conflict

    attempts: list[int] = []

    def lose(self: Any, identities: Any) -> Any:
        attempts.append(len(identities))
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(services._Batch, "register", lose)
    with pytest.raises(Conflict, match="registered by a concurrent request meanwhile: retry"):
        services.register_persons(operator, [person(nid="NG-778")], source="facility-1")
    assert attempts == [1, 1, 1]
    assert not Person.objects.exists()
