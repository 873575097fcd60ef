"""Template context: the actor, for the navigation of the base template."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from dhnet.platform.access import request_actor


def actor(request: HttpRequest) -> dict[str, Any]:
    current = request_actor(request)
    return {"actor": current, "can_audit": current.has("audit:record:read")}
