"""Who is acting, and what each page or endpoint requires.

:class:`Actor` is the request context every service takes: the user, the roles they hold (each bound to an org unit
and everything below it), the permissions those roles grant (narrowed to a token's scopes for API tokens), where the
request came from and for what purpose. It is a plain value: the accounts context builds it
(``dhnet.accounts.services.actor_for_user``), the audit trail records it, and the org-unit context turns its
grants into a jurisdiction filter.

Every view and API endpoint declares what it requires, with :func:`requires` (a permission named
``scope:resource:action``) or :func:`public`. The declaration is stored on the function (``dhnet_access``) so that
a test walks every URL and endpoint and fails on any that declares nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

PERMISSION_RE = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")
PURPOSE_RE = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,63}$")
DEFAULT_PURPOSE = "routine"

Via = Literal["anonymous", "session", "token", "cli", "system"]


@dataclass(frozen=True)
class Grant:
    """One role held at one org unit (and so at every org unit below it)."""

    role: str
    orgunit_id: int
    orgunit_code: str
    orgunit_name: str
    orgunit_path: str
    permissions: frozenset[str]


@dataclass(frozen=True)
class Actor:
    """The acting user or system, as services see it."""

    user_id: int | None
    username: str
    grants: tuple[Grant, ...] = ()
    via: Via = "anonymous"
    ip: str | None = None
    purpose: str = DEFAULT_PURPOSE
    token_id: int | None = None
    #: True when the session has passed the second factor (or the user needs none).
    mfa_verified: bool = False

    @classmethod
    def anonymous(cls, ip: str | None = None, purpose: str = DEFAULT_PURPOSE) -> Actor:
        return cls(user_id=None, username="anonymous", ip=ip, purpose=purpose)

    @classmethod
    def system(cls, name: str, grants: tuple[Grant, ...] = (), purpose: str = "administration") -> Actor:
        """An operator acting through the command line (``cli:<os user>``) or the platform itself."""
        return cls(user_id=None, username=name, grants=grants, via="cli", purpose=purpose, mfa_verified=True)

    @property
    def is_authenticated(self) -> bool:
        return self.via != "anonymous"

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset().union(*(g.permissions for g in self.grants))

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.role for g in self.grants))

    def has(self, permission: str) -> bool:
        """Whether some role grants ``permission`` somewhere (see :meth:`paths_for` for where)."""
        return any(permission in g.permissions for g in self.grants)

    def paths_for(self, permission: str) -> tuple[str, ...]:
        """The materialised paths of the subtrees where ``permission`` holds, without nested duplicates."""
        paths = sorted({g.orgunit_path for g in self.grants if permission in g.permissions})
        minimal: list[str] = []
        for path in paths:  # sorted, so an ancestor comes before its descendants
            if not any(path.startswith(kept) for kept in minimal):
                minimal.append(path)
        return tuple(minimal)

    def role_label(self, permission: str | None = None) -> str:
        """``role@ORGCODE`` for the grants used (those giving ``permission``, or all), for the audit trail."""
        grants = [g for g in self.grants if permission is None or permission in g.permissions]
        return ",".join(sorted({f"{g.role}@{g.orgunit_code}" for g in grants}))[:255]


@dataclass(frozen=True)
class Access:
    """The declaration attached to a view or endpoint."""

    permission: str | None  # None: public

    @property
    def public(self) -> bool:
        return self.permission is None


F = TypeVar("F", bound=Callable[..., Any])


def request_actor(request: HttpRequest) -> Actor:
    """The actor of a request (set by ``dhnet.accounts.middleware.ActorMiddleware`` or the API token auth)."""
    actor = getattr(request, "actor", None)
    if actor is None:
        return Actor.anonymous()
    return actor


def requires(permission: str) -> Callable[[F], F]:
    """Declare and enforce the permission a page or API endpoint needs.

    Anonymous visitors of a page are sent to the login page (API endpoints authenticate before this runs); an
    authenticated actor without the permission gets 403. Where the permission holds (which org units) is the
    service's business: it filters with the actor's jurisdiction.
    """
    if not PERMISSION_RE.match(permission):
        raise ValueError(f"permission {permission!r} is not named scope:resource:action")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            actor = request_actor(request)
            if not actor.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not actor.has(permission):
                raise PermissionDenied(f"requires {permission}")
            return view(request, *args, **kwargs)

        wrapper.dhnet_access = Access(permission)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """Declare a page or endpoint open to anyone (health check, login)."""
    view.dhnet_access = Access(None)  # type: ignore[attr-defined]
    return view


def access_of(view: Callable[..., Any]) -> Access | None:
    """The declaration of a view, following decorators that use ``functools.wraps``."""
    seen = 0
    current: Any = view
    while current is not None and seen < 20:
        access = getattr(current, "dhnet_access", None)
        if isinstance(access, Access):
            return access
        current = getattr(current, "__wrapped__", None) or getattr(current, "view_class", None)
        seen += 1
    return None
