"""FHIR R4 intake: ``/fhir/`` (aggregate ``MeasureReport``s now; case-based resources later).

Layers, from the outside in:

- :mod:`dhnet.fhir.api` and :mod:`dhnet.fhir.urls`: a separate ninja API answering ``application/fhir+json``
  (requests, errors as ``OperationOutcome``, its own OpenAPI document at ``/fhir/openapi.json``);
- :mod:`dhnet.fhir.services`: create / conditional create / read / transaction and batch Bundles, with
  permission, jurisdiction and audit; aggregate counts go through :func:`dhnet.reporting.services.ingest`;
- :mod:`dhnet.fhir.registry`: the resource-type dispatch (one :class:`~dhnet.fhir.registry.ResourceHandler` per
  accepted type; routes and the ``CapabilityStatement`` follow from it);
- :mod:`dhnet.fhir.validation`: generic R4 validation of any resource (``fhir.resources`` R4B models plus the R4
  structure rules they do not enforce), producing :class:`~dhnet.fhir.outcome.Issue`\\ s with FHIRPath-like
  ``expression``\\ s such as ``Bundle.entry[3].resource.group[0].measureScore.value``;
- :mod:`dhnet.fhir.measurereport`: our profile of ``MeasureReport`` for IDSR aggregates (what a sender must
  follow: measures, code systems, org-unit identifiers, periods, counts) and its mapping to count rows.
"""
