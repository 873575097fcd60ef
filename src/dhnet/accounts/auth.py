"""Authentication of API requests: API tokens (``Authorization: Bearer`` / ``ApiToken``) and sessions."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import APIKeyHeader, SessionAuth

from dhnet.accounts.services import authenticate_token
from dhnet.platform.access import Actor, request_actor
from dhnet.platform.http import client_ip, request_purpose

SCHEMES = ("bearer", "apitoken")  # ApiToken: what DHIS2 clients send


class TokenAuth(APIKeyHeader):
    """``Authorization: Bearer dhn_...`` or, as DHIS2 clients send it, ``Authorization: ApiToken dhn_...``."""

    param_name = "Authorization"
    openapi_description = "An API token: `Authorization: Bearer dhn_...` (or `ApiToken dhn_...`, as DHIS2 sends)."

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        if not key:
            return None
        scheme, _, value = key.strip().partition(" ")
        if scheme.lower() not in SCHEMES or not value.strip():
            return None
        actor = authenticate_token(value.strip(), ip=client_ip(request), purpose=request_purpose(request))
        if actor is not None:
            request.actor = actor
        return actor


class SessionActorAuth(SessionAuth):
    """A logged-in browser session (CSRF-checked for unsafe methods)."""

    def authenticate(self, request: HttpRequest, key: Any) -> Actor | None:
        actor = request_actor(request)
        return actor if actor.via == "session" else None
