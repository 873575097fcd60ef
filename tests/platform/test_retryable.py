"""A transaction the database aborted because of a concurrent one (deadlock, serialization failure) is answered
409 with Retry-After (nothing was stored; the same request again succeeds), not 500 — on the API and on FHIR."""

from __future__ import annotations

import json

import psycopg.errors
from django.db import OperationalError
from django.test import RequestFactory

from dhnet.fhir.api import _unexpected
from dhnet.platform.api import _operational_error
from dhnet.platform.errors import is_retryable


def _wrapped(cause: Exception) -> OperationalError:
    """A Django database error as Django raises it: the driver's error as its cause."""
    try:
        try:
            raise cause
        except Exception as inner:
            raise OperationalError(str(inner)) from inner
    except OperationalError as exc:
        return exc


def test_deadlocks_and_serialization_failures_are_retryable() -> None:
    assert is_retryable(_wrapped(psycopg.errors.DeadlockDetected("deadlock detected")))
    assert is_retryable(_wrapped(psycopg.errors.SerializationFailure("could not serialize")))
    assert not is_retryable(_wrapped(psycopg.errors.DiskFull("disk full")))
    assert not is_retryable(OperationalError("database is locked"))


def test_api_and_fhir_answer_a_deadlock_with_409_and_retry_after() -> None:
    request = RequestFactory().post("/fhir")
    deadlock = _wrapped(psycopg.errors.DeadlockDetected("deadlock detected"))
    fhir = _unexpected(request, deadlock)
    assert fhir.status_code == 409
    assert fhir["Retry-After"] == "1"
    issue = json.loads(fhir.content)["issue"][0]
    assert issue["code"] == "conflict"
    assert "send the same request again" in issue["diagnostics"]
    api = _operational_error(RequestFactory().get("/api/v1/health"), deadlock)
    assert api.status_code == 409
    assert json.loads(api.content)["code"] == "conflict"
