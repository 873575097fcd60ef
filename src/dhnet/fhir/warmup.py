"""Ready a serving process for FHIR intake before its first request: imports done, startup heap out of the GC's way.

Two costs otherwise fall on the requests:

* the first Bundle a process validates imports the ``fhir.resources`` R4B modules of every type it meets and
  builds their pydantic validators (about half a second): :func:`warm_up` validates a few generated case reports
  (Patient, Condition, Encounter, lab Observations, Consent) and loads the URL configuration (every context's API
  module) at start instead;
* Python's cyclic garbage collector walks every tracked object of the oldest generation in each full collection,
  and a process holding Django, the API schemas and the R4B model classes has some millions of them; a Bundle of
  a hundred cases allocates enough containers to trigger collections all the time. Measured in process on a
  100-case Bundle: 183 µs of collection per FHIR resource, a quarter of the intake's CPU. :func:`warm_up` ends
  with :func:`gc.freeze`, which moves the objects alive after start-up (modules, classes, settings, URL patterns:
  they live as long as the process) into the permanent generation, which collections no longer traverse; garbage
  made by requests is collected as before (30 µs per resource in the same measurement).

``dhnet serve`` calls it through :mod:`dhnet.platform.wsgi`; nothing in it touches a database.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)

#: Case reports validated at start (every resource type of a case report, a Consent with each).
SAMPLE_CASES = 3


def warm_up(*, freeze: bool = True) -> float:
    """Import and exercise what intake needs, then (``freeze``) freeze the start-up heap; the seconds it took.

    Never raises: a failure to warm up costs the first request its imports, nothing else."""
    started = time.perf_counter()
    try:
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018  (loads every context's URLs and API routers)
        _validate_sample()
    except Exception:  # pragma: no cover - a warm-up never stops a server from starting
        log.exception("FHIR warm-up failed; the first request will import what it needs")
    if freeze:
        gc.collect()
        gc.freeze()
    return time.perf_counter() - started


def _validate_sample() -> None:
    """Validate generated case-report Bundles (no database): imports the R4B models and builds their validators."""
    from dhnet.cases.generate import CaseGenerator
    from dhnet.fhir.validation import validate

    generator = CaseGenerator(1, districts=["WARM-UP"], consent_share=1.0)
    entries = [entry for index in range(SAMPLE_CASES) for entry in generator.bundle(index)["entry"]]
    validate({"resourceType": "Bundle", "type": "transaction", "entry": entries}, expected={"Bundle"})
