"""Case-based surveillance: pseudonymised case reports received as FHIR resources (issue 4).

A case (:class:`~dhnet.cases.models.Case`) carries a person's pseudonym, never their identity: the direct
identifiers of the FHIR ``Patient`` go to :mod:`dhnet.identity` at the door. Case counts by onset (else report)
date feed the same detection as aggregate reports through :func:`dhnet.reporting.services.ingest`.
"""
