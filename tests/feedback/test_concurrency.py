"""Concurrent writes on PostgreSQL: the same person rating a deployment from two tabs at once stores one rating, and
an invitation redeemed by more people at once than it allows verifies exactly ``max_uses`` of them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.feedback import services
from dhnet.feedback.models import RaterInvitation, Rating, Verification
from dhnet.platform.access import Actor
from dhnet.platform.errors import Forbidden
from tests.feedback.helpers import SCORES, make_world, new_rater
from tests.platform.fixtures import actor_of

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="the SQLite test database is in memory with a shared cache (table locks); SQLite serialises writers",
    ),
]


def _race(n: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    results: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(work(i))
        except BaseException as exc:  # collected for the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


def test_concurrent_first_ratings_by_one_person_store_one(users: dict[str, User], operator: Actor) -> None:
    make_world(operator, users)
    team = actor_of(users["partner"])
    results, errors = _race(4, lambda i: services.rate(team, "DE-AAAAAA", SCORES))
    assert not errors, errors
    assert sum(1 for r in results if r.created) == 1
    assert Rating.objects.count() == 1
    assert AuditRecord.objects.filter(action="feedback.rating.create").count() == 1
    assert not AuditRecord.objects.filter(action="feedback.rating.update").exists()  # the same values: no edit


def test_an_invitation_is_never_used_beyond_its_maximum(users: dict[str, User], operator: Actor) -> None:
    make_world(operator, users)
    code = services.issue_invitation(
        actor_of(users["partner"]), "DE-AAAAAA", {"label": "three", "audience": "health_worker", "max_uses": 3}
    ).code
    raters = [new_rater(operator, f"racer{i}")[1] for i in range(6)]
    results, errors = _race(6, lambda i: services.redeem(raters[i], code))
    assert len(results) == 3
    assert len(errors) == 3
    assert all(isinstance(e, Forbidden) and "used up (3 of 3 uses)" in e.message for e in errors), errors
    assert Verification.objects.count() == 3
    assert RaterInvitation.objects.get().uses == 3
