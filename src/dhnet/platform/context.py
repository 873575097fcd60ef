"""Template context: the actor and what the navigation of the base template may offer them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from dhnet.accounts.roles import Role
from dhnet.platform.access import request_actor

_ROLE_LABELS = dict(Role.choices)


def actor(request: HttpRequest) -> dict[str, Any]:
    current = request_actor(request)
    held = [f"{_ROLE_LABELS.get(g.role, g.role)}, {g.orgunit_name}" for g in current.grants]
    return {
        "actor": current,
        "actor_roles": "; ".join(dict.fromkeys(held)),
        "can_audit": current.has("audit:record:read"),
        "can_signals": current.has("surveillance:signal:read"),
        "can_report": current.has("surveillance:report:write") or current.has("surveillance:aggregate:read"),
        "can_diseases": current.has("diseases:disease:read"),
        "can_jobs": current.has("surveillance:run:write"),
        "can_cases": current.has("surveillance:report:read"),
        "can_consent": current.has("consent:consent:read"),
        "can_release": current.has("release:dataset:read"),
        "can_matches": current.has("identity:match:write"),
        "can_reidentify": current.has("identity:person:read"),
    }
