"""Consent and the person's rights: consent records per person and purpose, ``permits``, FHIR ``Consent`` intake,
the right of access (one-time code, export, access log) and ``GET /fhir/AuditEvent``."""
