"""Login (password, then TOTP), TOTP enrolment and logout pages.

A user is logged in (``django.contrib.auth.login``) only once every required factor has passed; between the
steps the session holds a short-lived *pending* marker, which reaches nothing but the next step's page.
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from dhnet.accounts import services
from dhnet.accounts.forms import CodeForm, LoginForm
from dhnet.accounts.middleware import MFA_SESSION_KEY
from dhnet.accounts.models import User
from dhnet.platform.access import public, request_actor
from dhnet.platform.errors import ServiceError

PENDING_KEY = "dhnet_pending"
PENDING_SECONDS = 600


def _next_url(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("platform:home")


def _pending(request: HttpRequest, stage: str) -> User | None:
    data: dict[str, Any] | None = request.session.get(PENDING_KEY)
    if not data or data.get("stage") != stage or time.time() - float(data.get("since", 0)) > PENDING_SECONDS:
        return None
    return User.objects.filter(pk=data.get("user"), is_active=True).first()


def _finish(request: HttpRequest, user: User, *, mfa: bool, next_url: str) -> HttpResponseRedirect:
    anonymous = request_actor(request)
    actor = services.actor_for_user(user, ip=anonymous.ip, purpose=anonymous.purpose, mfa_verified=mfa)
    services.complete_login(actor, user)
    request.session.pop(PENDING_KEY, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[MFA_SESSION_KEY] = mfa
    return redirect(next_url)


@public
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request, request.POST.get("next") or request.GET.get("next"))
    if request_actor(request).is_authenticated:
        return redirect(next_url)
    form = LoginForm(request.POST or None)
    error = ""
    status = 200
    if request.method == "POST" and form.is_valid():
        actor = request_actor(request)
        try:
            user = services.check_password_login(actor, form.cleaned_data["username"], form.cleaned_data["password"])
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            if not services.mfa_required(user):
                return _finish(request, user, mfa=False, next_url=next_url)
            request.session.cycle_key()
            stage = "totp" if user.totp_enabled else "enrol"
            request.session[PENDING_KEY] = {"user": user.pk, "stage": stage, "since": time.time(), "next": next_url}
            return redirect("accounts:login-totp" if stage == "totp" else "accounts:totp-enrol")
    elif request.method == "POST":
        error, status = "Enter your username and password.", 400
    return render(request, "accounts/login.html", {"form": form, "error": error, "next": next_url}, status=status)


@public
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def login_totp_view(request: HttpRequest) -> HttpResponse:
    user = _pending(request, "totp")
    if user is None:
        return redirect("accounts:login")
    form = CodeForm(request.POST or None)
    error, status = "", 200
    if request.method == "POST" and form.is_valid():
        try:
            services.check_totp_login(request_actor(request), user, form.cleaned_data["code"])
        except ServiceError as exc:
            error, status = exc.message, exc.status
            if exc.status == 429:
                request.session.pop(PENDING_KEY, None)
        else:
            return _finish(request, user, mfa=True, next_url=request.session[PENDING_KEY].get("next", "/"))
    elif request.method == "POST":
        error, status = "Enter the 6-digit code from your authenticator app.", 400
    return render(request, "accounts/login_totp.html", {"form": form, "error": error}, status=status)


@public
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def totp_enrol_view(request: HttpRequest) -> HttpResponse:
    """Set up the second factor: during login (required by the role) or later, by a logged-in user."""
    actor = request_actor(request)
    logged_in = actor.is_authenticated and actor.user_id is not None
    user = User.objects.get(pk=actor.user_id) if logged_in else _pending(request, "enrol")
    if user is None:
        return redirect("accounts:login")
    if user.totp_enabled:
        return redirect("platform:home")
    error, status = "", 200
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.confirm_enrolment(actor, user, form.cleaned_data["code"])
        except ServiceError as exc:
            error, status = exc.message, exc.status
        else:
            if logged_in:
                request.session[MFA_SESSION_KEY] = True
                return redirect("platform:home")
            return _finish(request, user, mfa=True, next_url=request.session[PENDING_KEY].get("next", "/"))
    elif request.method == "POST":
        error, status = "Enter the 6-digit code from your authenticator app.", 400
    enrolment = services.start_enrolment(user)
    return render(
        request,
        "accounts/totp_enrol.html",
        {"form": form, "error": error, "secret": enrolment.secret, "uri": enrolment.uri, "required": not logged_in},
        status=status,
    )


@public
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    if request.method == "POST":
        if actor.is_authenticated:
            services.record_logout(actor)
        logout(request)
        return redirect("accounts:login")
    return render(request, "accounts/logout.html", {})
