"""``OperationOutcome`` issues, and the error services raise to refuse a request with them.

An :class:`Issue` names the element at fault with a FHIRPath-like ``expression`` (``MeasureReport.group[0]
.population[1].count``, ``Bundle.entry[3].resource.period.start``); :class:`FhirError` carries the issues and the
HTTP status, and is a :class:`dhnet.platform.errors.ServiceError` so that it maps like any other service error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dhnet.platform.errors import ServiceError

Severity = Literal["fatal", "error", "warning", "information"]

#: The R4 ``issue-type`` codes (http://hl7.org/fhir/R4/valueset-issue-type.html).
ISSUE_TYPES = frozenset(
    {
        "invalid",
        "structure",
        "required",
        "value",
        "invariant",
        "security",
        "login",
        "unknown",
        "expired",
        "forbidden",
        "suppressed",
        "processing",
        "not-supported",
        "duplicate",
        "multiple-matches",
        "not-found",
        "deleted",
        "too-long",
        "code-invalid",
        "extension",
        "too-costly",
        "business-rule",
        "conflict",
        "transient",
        "lock-error",
        "no-store",
        "exception",
        "timeout",
        "incomplete",
        "throttled",
        "informational",
    }
)


@dataclass(frozen=True)
class Issue:
    """One ``OperationOutcome.issue``."""

    code: str
    diagnostics: str
    expression: str | None = None
    severity: Severity = "error"

    def __post_init__(self) -> None:
        if self.code not in ISSUE_TYPES:
            raise ValueError(f"unknown issue type {self.code!r}")

    @property
    def is_error(self) -> bool:
        return self.severity in ("fatal", "error")

    def as_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            issue["expression"] = [self.expression]
        return issue

    def message(self) -> str:
        """``expression: diagnostics``, for logs, the audit trail and plain-text errors."""
        return f"{self.expression}: {self.diagnostics}" if self.expression else self.diagnostics


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    """An ``OperationOutcome`` resource (JSON) with ``issues`` (at least one: FHIR requires it)."""
    listed = [i.as_fhir() for i in issues]
    if not listed:
        listed = [Issue("informational", "All OK", severity="information").as_fhir()]
    return {"resourceType": "OperationOutcome", "issue": listed}


def errors(issues: Iterable[Issue]) -> list[Issue]:
    return [i for i in issues if i.is_error]


class FhirError(ServiceError):
    """A refused FHIR request: the status and the issues of its ``OperationOutcome``.

    400: the content cannot be parsed or breaks the FHIR rules; 422: valid FHIR that breaks our profile or
    business rules (unknown disease or org unit, wrong period); 403: outside the actor's permissions or
    jurisdiction; 404, 405, 406, 409, 412, 413, 415 as HTTP says.
    """

    def __init__(self, status: int, issues: Sequence[Issue]) -> None:
        if not issues:
            raise ValueError("a FhirError needs at least one issue")
        super().__init__("; ".join(i.message() for i in issues[:5]) + (" ..." if len(issues) > 5 else ""))
        self.status = status
        self.code = issues[0].code
        self.issues = tuple(issues)

    @classmethod
    def one(cls, status: int, code: str, diagnostics: str, expression: str | None = None) -> FhirError:
        return cls(status, [Issue(code, diagnostics, expression)])

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)
