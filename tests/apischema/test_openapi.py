"""Schemathesis against the platform's OpenAPI documents, in process, on the real database.

Both documents are loaded from the Django WSGI application (``/api/v1/openapi.json``, which includes
``/api/v1/dataValueSets``, and ``/fhir/openapi.json``). Every operation runs with a bounded number of generated
requests (schema-valid and schema-violating ones), as a system administrator and as a district officer (API
tokens), against the tree and users of ``tests/platform/fixtures.py``; each request runs in a savepoint that is
rolled back, so each one sees the same database. Checked: no 5xx, a documented status code, the documented
content type, headers and body.

Not checked: ``negative_data_rejection`` (that schema-violating input is refused) and ``positive_data_acceptance``
(that schema-valid input is accepted): the services check more than a schema can say (400 for valid JSON with a
bad value is right), and several inputs are lenient on purpose (DHIS2 numbers for strings, ISO dates parsed by
pydantic's lax mode).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.apischema.wsgi import APPLICATION, connection_kept

with connection_kept():  # no database access: this module is imported outside tests too (tests/platform/test_access)
    MAIN = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APPLICATION)
    FHIR = schemathesis.openapi.from_wsgi("/fhir/openapi.json", APPLICATION)


ROLES = ["system_admin", "district_officer"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Bounded: about 20 generated requests per operation and role (plus schemathesis's explicit and coverage cases),
#: the same ones on every run; no example database written into the work tree.
BOUNDED = settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def call(case: Any, token: str) -> None:
    """Send ``case`` with the token and validate the answer; roll back whatever the request wrote."""
    with transaction.atomic():
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
        transaction.set_rollback(True)


@pytest.mark.parametrize("role", ROLES)
@MAIN.parametrize()
@BOUNDED
def test_main_api(case: Any, role: str, api_tokens: dict[str, str], in_process: None) -> None:
    call(case, api_tokens[role])


@pytest.mark.parametrize("role", ROLES)
@FHIR.parametrize()
@BOUNDED
def test_fhir_api(case: Any, role: str, api_tokens: dict[str, str], in_process: None) -> None:
    call(case, api_tokens[role])
