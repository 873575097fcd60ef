"""A permission declaration that also audits refusals, for re-identification (who tried to see whom, and why).

:func:`requires_audited` behaves like :func:`dhnet.platform.access.requires` (the same declaration, so the
access walker and the matrix see it) but records an authenticated actor's refused attempt in the audit trail
before answering 403.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from dhnet.platform.access import Access, request_actor

F = TypeVar("F", bound=Callable[..., Any])


def _asked(request: HttpRequest) -> dict[str, str]:
    """The pseudonym and purpose of a form post or a JSON body (empty strings when absent or unreadable)."""
    data: Any = request.POST
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body[:4096] or b"{}")
        except (ValueError, UnicodeDecodeError):
            data = {}
    if not isinstance(data, dict) and not hasattr(data, "get"):
        data = {}
    return {key: str(data.get(key) or "")[:64] for key in ("pseudonym", "purpose")}


def requires_audited(permission: str, action: str) -> Callable[[F], F]:
    """Require ``permission``; a refusal is audited as ``action`` (with the pseudonym asked for, if any)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            actor = request_actor(request)
            if not actor.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not actor.has(permission):
                from dhnet.identity.services import deny

                asked = _asked(request)
                deny(actor, asked.get("pseudonym", ""), asked.get("purpose", ""), "permission", action=action)
                raise PermissionDenied(f"requires {permission}")
            return view(request, *args, **kwargs)

        wrapper.dhnet_access = Access(permission)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
