"""Attach the acting :class:`~dhnet.platform.access.Actor` to every request (``request.actor``)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from dhnet.accounts import services
from dhnet.accounts.roles import MFA_ROLES
from dhnet.platform.access import Actor
from dhnet.platform.http import client_ip, request_purpose

#: Session key: True once the session passed the TOTP step, False when logged in without one.
MFA_SESSION_KEY = "dhnet_mfa"


class ActorMiddleware:
    """Build the actor from the session user; end sessions that lack a second factor their roles now require.

    (A role demanding TOTP may be granted while a session is open; that session is logged out so that the user
    passes the second factor first.) API token requests replace ``request.actor`` in the token authenticator.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        ip = client_ip(request)
        purpose = request_purpose(request)
        actor = Actor.anonymous(ip=ip, purpose=purpose)
        user = request.user
        if user.is_authenticated:
            verified = bool(request.session.get(MFA_SESSION_KEY))
            candidate = services.actor_for_user(user, ip=ip, purpose=purpose, mfa_verified=verified)
            needs_mfa = user.totp_enabled or any(g.role in MFA_ROLES for g in candidate.grants)
            if needs_mfa and not verified:
                logout(request)
            else:
                actor = candidate
        request.actor = actor
        return self.get_response(request)
