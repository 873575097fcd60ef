"""Errors that services raise and that pages and the API turn into 4xx answers.

Services never return HTTP responses; they raise one of these with a message meant for the caller. The API
answers ``{"detail": message, "code": code}`` with the status; pages show the message.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: a request a service refuses, with the HTTP status it maps to."""

    status = 400
    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(ServiceError):
    """The input is malformed or inconsistent (400)."""


class Forbidden(ServiceError):
    """The actor may not do this (403)."""

    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    """No such object, or not within the actor's jurisdiction (404: existence is not revealed)."""

    status = 404
    code = "not_found"


class Conflict(ServiceError):
    """The object exists already or changed meanwhile (409)."""

    status = 409
    code = "conflict"


class Throttled(ServiceError):
    """Too many attempts; try again later (429)."""

    status = 429
    code = "throttled"


#: SQLSTATEs of a transaction the database aborted because of a concurrent one (deadlock, serialization failure):
#: it stored nothing, and the same request sent again succeeds.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
CONCURRENT_MESSAGE = (
    "a concurrent request held the same records and the database aborted this one; nothing was stored: "
    "send the same request again"
)


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` (a database error) aborted the transaction only because of a concurrent one."""
    cause = exc.__cause__ or exc
    return getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES
