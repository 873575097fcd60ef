"""Account services: actors, users and roles, login with lockout, TOTP, API tokens.

Each function that changes or reveals account data takes the acting :class:`Actor` and writes its audit record in
the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import pyotp
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dhnet.accounts.models import ApiToken, LoginAttempt, RoleAssignment, User
from dhnet.accounts.roles import MFA_ROLES, PERMISSIONS, Role, permissions_of
from dhnet.audit import services as audit
from dhnet.orgunits.models import OrgUnit
from dhnet.orgunits.services import require_in_jurisdiction
from dhnet.platform.access import DEFAULT_PURPOSE, Actor, Grant, Via
from dhnet.platform.errors import Forbidden, Invalid, NotFound, Throttled

TOKEN_PREFIX = "dhn"
TOKEN_MAX_DAYS = 366
TOTP_ISSUER = "dhnet"
USER_WRITE = "accounts:user:write"
TOKEN_READ = "accounts:token:read"
TOKEN_WRITE = "accounts:token:write"


# --- actors ---------------------------------------------------------------------------------------------------------


def operator_actor(name: str) -> Actor:
    """The actor of someone running the ``dhnet`` command line: every permission, over every tree (path ``/``).

    Whoever can run the command line against the database is trusted as an operator; the audit trail names them.
    """
    grant = Grant(
        role="operator",
        orgunit_id=0,
        orgunit_code="*",
        orgunit_name="all org units",
        orgunit_path="/",
        permissions=frozenset(PERMISSIONS),
    )
    return Actor.system(name, grants=(grant,))


def grants_of(user: User, scopes: Iterable[str] | None = None) -> tuple[Grant, ...]:
    """The user's role assignments as grants; with ``scopes``, each grant keeps only the scoped permissions."""
    allowed = None if scopes is None else frozenset(scopes)
    grants = []
    for ra in RoleAssignment.objects.filter(user=user).select_related("orgunit").order_by("orgunit__path", "role"):
        perms = permissions_of(ra.role)
        if allowed is not None:
            perms = perms & allowed
        grants.append(
            Grant(
                role=ra.role,
                orgunit_id=ra.orgunit.pk,
                orgunit_code=ra.orgunit.code,
                orgunit_name=ra.orgunit.name,
                orgunit_path=ra.orgunit.path,
                permissions=perms,
            )
        )
    return tuple(grants)


def actor_for_user(
    user: User,
    *,
    via: Via = "session",
    ip: str | None = None,
    purpose: str = DEFAULT_PURPOSE,
    scopes: Iterable[str] | None = None,
    token_id: int | None = None,
    mfa_verified: bool = False,
) -> Actor:
    return Actor(
        user_id=user.pk,
        username=user.get_username(),
        grants=grants_of(user, scopes),
        via=via,
        ip=ip,
        purpose=purpose,
        token_id=token_id,
        mfa_verified=mfa_verified or not mfa_required(user),
    )


def mfa_required(user: User) -> bool:
    """Whether the user's roles demand a TOTP second factor (or the user enrolled voluntarily)."""
    if user.totp_enabled:
        return True
    return RoleAssignment.objects.filter(user=user, role__in=MFA_ROLES).exists()


# --- users and roles ------------------------------------------------------------------------------------------------


def _check_user_write(actor: Actor, orgunit: OrgUnit) -> None:
    if not actor.has(USER_WRITE):
        raise Forbidden(f"requires {USER_WRITE}")
    require_in_jurisdiction(actor, USER_WRITE, orgunit)


def create_user(
    actor: Actor, username: str, *, role: str, orgunit_code: str, password: str | None = None, email: str = ""
) -> tuple[User, bool]:
    """Create ``username`` (or reuse it) and give it ``role`` at ``orgunit_code``. Returns (user, created).

    Without ``password`` the account cannot log in with a password (a system account using API tokens).
    """
    username = username.strip()
    if not username or len(username) > 150:
        raise Invalid("username: must be 1 to 150 characters")
    if password is not None and len(password) < 12:
        raise Invalid("password: at least 12 characters")
    with transaction.atomic():
        orgunit = OrgUnit.objects.filter(code=orgunit_code).first()
        if orgunit is None:
            raise NotFound(f"orgunit: org unit {orgunit_code!r} not found")
        _check_user_write(actor, orgunit)
        user = User.objects.filter(username=username).first()
        created = user is None
        if user is None:
            user = User(username=username, email=email)
            user.password = make_password(password)  # None gives an unusable password
            user.save()
            audit.record(
                actor,
                "accounts.user.create",
                object_type="accounts.user",
                object_id=user.pk,
                detail={"username": username, "password": password is not None},
                permission=USER_WRITE,
            )
        elif password is not None:
            user.set_password(password)
            user.save(update_fields=["password"])
            audit.record(
                actor,
                "accounts.user.set_password",
                object_type="accounts.user",
                object_id=user.pk,
                permission=USER_WRITE,
            )
        assign_role(actor, user, role, orgunit)
    return user, created


def assign_role(actor: Actor, user: User, role: str, orgunit: OrgUnit) -> RoleAssignment:
    """Give ``user`` the ``role`` at ``orgunit`` (idempotent)."""
    if role not in Role.values:
        raise Invalid(f"role: unknown role {role!r} (one of {', '.join(Role.values)})")
    with transaction.atomic():
        _check_user_write(actor, orgunit)
        assignment, created = RoleAssignment.objects.get_or_create(user=user, role=role, orgunit=orgunit)
        if created:
            audit.record(
                actor,
                "accounts.role.assign",
                object_type="accounts.user",
                object_id=user.pk,
                detail={"role": role, "orgunit": orgunit.code},
                permission=USER_WRITE,
            )
    return assignment


# --- login, throttling and lockout ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    window: dt.timedelta
    lockout: dt.timedelta

    @classmethod
    def from_settings(cls) -> LoginPolicy:
        return cls(
            max_failures=int(settings.DHNET_LOGIN_MAX_FAILURES),
            window=dt.timedelta(seconds=int(settings.DHNET_LOGIN_WINDOW)),
            lockout=dt.timedelta(seconds=int(settings.DHNET_LOCKOUT)),
        )


GENERIC_LOGIN_ERROR = "Invalid username or password."


def _failures(policy: LoginPolicy, now: dt.datetime, *, username: str | None = None, ip: str | None = None) -> list:
    qs = LoginAttempt.objects.filter(succeeded=False, at__gte=now - policy.window)
    if username is not None:
        last_ok = (
            LoginAttempt.objects.filter(username=username, succeeded=True).order_by("-at").values_list("at", flat=True)
        ).first()
        qs = qs.filter(username=username)
        if last_ok is not None:
            qs = qs.filter(at__gt=last_ok)
    else:
        qs = qs.filter(ip=ip or "")
    return list(qs.order_by("-at").values_list("at", flat=True)[: policy.max_failures])


def locked_until(username: str, ip: str | None, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the lock on ``username`` or on ``ip`` ends, or None when neither is locked."""
    policy = LoginPolicy.from_settings()
    now = now or timezone.now()
    ends = []
    for kwargs in ({"username": username}, {"ip": ip}):
        if "ip" in kwargs and not ip:
            continue
        times = _failures(policy, now, **kwargs)
        if len(times) >= policy.max_failures and times[0] + policy.lockout > now:
            ends.append(times[0] + policy.lockout)
    return max(ends) if ends else None


def _refuse_if_locked(actor: Actor, username: str) -> None:
    until = locked_until(username, actor.ip)
    if until is not None:
        with transaction.atomic():
            audit.record(
                actor, "accounts.login.refused", object_type="accounts.user", detail={"username": username[:150]}
            )
        minutes = max(1, int((until - timezone.now()).total_seconds() // 60) + 1)
        raise Throttled(f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.")


def _record_failure(actor: Actor, username: str, stage: str) -> None:
    """Count a failure (committed even though the login fails) and lock when the threshold is reached."""
    policy = LoginPolicy.from_settings()
    now = timezone.now()
    with transaction.atomic():
        LoginAttempt.objects.create(username=username[:150], ip=actor.ip or "", at=now, stage=stage)
        audit.record(
            actor,
            "accounts.login.failed",
            object_type="accounts.user",
            detail={"username": username[:150], "stage": stage},
        )
        for scope, kwargs in (("username", {"username": username[:150]}), ("ip", {"ip": actor.ip})):
            if scope == "ip" and not actor.ip:
                continue
            if len(_failures(policy, now, **kwargs)) == policy.max_failures:
                audit.record(
                    actor,
                    "accounts.login.locked",
                    object_type="accounts.user",
                    detail={
                        "username": username[:150],
                        "scope": scope,
                        "minutes": int(policy.lockout.total_seconds() // 60),
                    },
                )


def check_password_login(actor: Actor, username: str, password: str) -> User:
    """First login step: the password. Raises :class:`Throttled` when locked, :class:`Invalid` when wrong."""
    username = username.strip()
    _refuse_if_locked(actor, username)
    user = User.objects.filter(username=username).first()
    if user is None:
        make_password(password)  # spend the same time as for a real account
        ok = False
    else:
        ok = user.is_active and user.check_password(password)
    if not ok:
        _record_failure(actor, username, "password")
        raise Invalid(GENERIC_LOGIN_ERROR)
    assert user is not None
    return user


def check_totp_login(actor: Actor, user: User, code: str) -> None:
    """Second login step for an enrolled user; failures count towards the same lockout."""
    _refuse_if_locked(actor, user.username)
    if not verify_totp(user, code):
        _record_failure(actor, user.username, "totp")
        raise Invalid("Invalid or expired code.")


def complete_login(actor: Actor, user: User) -> None:
    """Both factors passed (or none needed): reset the username's failure count and audit the login."""
    with transaction.atomic():
        LoginAttempt.objects.create(username=user.username, ip=actor.ip or "", at=timezone.now(), succeeded=True)
        user.last_login = timezone.now()
        user.save(update_fields=["last_login"])
        audit.record(actor, "accounts.login.succeeded", object_type="accounts.user", object_id=user.pk)


def record_logout(actor: Actor) -> None:
    with transaction.atomic():
        audit.record(actor, "accounts.logout", object_type="accounts.user", object_id=actor.user_id or "")


# --- TOTP -------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str


def start_enrolment(user: User) -> Enrolment:
    """A (pending) TOTP secret for ``user`` and its ``otpauth://`` provisioning URI."""
    if user.totp_enabled:
        raise Invalid("A second factor is already set up for this account.")
    with transaction.atomic():
        if not user.totp_secret:
            user.totp_secret = pyotp.random_base32()
            user.save(update_fields=["totp_secret"])
    uri = pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)
    return Enrolment(secret=user.totp_secret, uri=uri)


def verify_totp(user: User, code: str, *, now: dt.datetime | None = None) -> bool:
    """Check a 6-digit code (one step of clock drift either way); a code is accepted once only."""
    code = "".join(code.split())
    if not user.totp_secret or len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(user.totp_secret)
    moment = now or timezone.now()
    step = totp.timecode(moment)
    for candidate in (step, step - 1, step + 1):
        if candidate <= user.totp_last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            updated = User.objects.filter(pk=user.pk, totp_last_step__lt=candidate).update(totp_last_step=candidate)
            if updated:
                user.totp_last_step = candidate
                return True
    return False


def confirm_enrolment(actor: Actor, user: User, code: str) -> None:
    """Enable the pending secret once the user shows a valid code from their authenticator."""
    if user.totp_enabled:
        raise Invalid("A second factor is already set up for this account.")
    if not user.totp_secret:
        raise Invalid("Start the enrolment first.")
    with transaction.atomic():
        if not verify_totp(user, code):
            raise Invalid("Invalid or expired code.")
        user.totp_confirmed_at = timezone.now()
        user.save(update_fields=["totp_confirmed_at"])
        audit.record(actor, "accounts.totp.enrol", object_type="accounts.user", object_id=user.pk)


# --- API tokens -----------------------------------------------------------------------------------------------------


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def parse_token(raw: str) -> tuple[str, str] | None:
    """``dhn_<prefix>_<secret>`` -> (prefix, full token), or None when malformed."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 12 or len(parts[2]) < 32:
        return None
    return parts[1], raw.strip()


def create_token(
    actor: Actor, owner: User, *, name: str, scopes: Iterable[str], expires_days: int = 90
) -> tuple[ApiToken, str]:
    """Create a token for ``owner``; returns it and the secret (shown once, stored only as sha256).

    Through the API an actor creates tokens for themselves only; the scopes must be permissions the owner's roles
    grant (and, for an actor itself using a token, that token's scopes).
    """
    if not actor.has(TOKEN_WRITE):
        raise Forbidden(f"requires {TOKEN_WRITE}")
    if actor.via != "cli" and actor.user_id != owner.pk:
        raise Forbidden("tokens are created for one's own account")
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid("name: must be 1 to 100 characters")
    scope_list = sorted({s.strip() for s in scopes if s.strip()})
    if not scope_list:
        raise Invalid("scopes: at least one permission")
    unknown = [s for s in scope_list if s not in PERMISSIONS]
    if unknown:
        raise Invalid(f"scopes: unknown permission(s) {', '.join(unknown)}")
    if isinstance(expires_days, bool) or not 1 <= expires_days <= TOKEN_MAX_DAYS:
        raise Invalid(f"expires_days: between 1 and {TOKEN_MAX_DAYS}")
    held = frozenset().union(*(g.permissions for g in grants_of(owner)))
    if actor.via == "token":
        held &= actor.permissions
    beyond = [s for s in scope_list if s not in held]
    if beyond:
        raise Invalid(f"scopes: not granted to {owner.username} by their roles: {', '.join(beyond)}")
    prefix = secrets.token_hex(6)
    raw = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=owner,
            name=name,
            prefix=prefix,
            digest=_digest(raw),
            scopes=scope_list,
            expires_at=timezone.now() + dt.timedelta(days=expires_days),
        )
        audit.record(
            actor,
            "accounts.token.create",
            object_type="accounts.token",
            object_id=token.pk,
            detail={"owner": owner.username, "prefix": prefix, "scopes": scope_list, "expires_days": expires_days},
            permission=TOKEN_WRITE,
        )
    return token, raw


def list_tokens(actor: Actor) -> list[ApiToken]:
    """The actor's own tokens (never the secrets)."""
    if not actor.has(TOKEN_READ):
        raise Forbidden(f"requires {TOKEN_READ}")
    with transaction.atomic():
        tokens = list(ApiToken.objects.filter(user_id=actor.user_id).order_by("-created_at", "-id"))
        audit.record(
            actor,
            "accounts.token.list",
            object_type="accounts.token",
            detail={"count": len(tokens)},
            permission=TOKEN_READ,
        )
    return tokens


def revoke_token(actor: Actor, token_id: int) -> ApiToken:
    """Revoke one of the actor's own tokens (another user's token is not found)."""
    if not actor.has(TOKEN_WRITE):
        raise Forbidden(f"requires {TOKEN_WRITE}")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user_id=actor.user_id).first()
        if token is None:
            raise NotFound(f"token {token_id} not found")
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record(
                actor, "accounts.token.revoke", object_type="accounts.token", object_id=token.pk, permission=TOKEN_WRITE
            )
    return token


def authenticate_token(raw: str, *, ip: str | None = None, purpose: str = DEFAULT_PURPOSE) -> Actor | None:
    """The actor for a presented token, or None when it is malformed, unknown, revoked or expired."""
    parsed = parse_token(raw)
    if parsed is None:
        return None
    prefix, full = parsed
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.digest, _digest(full)):
        return None
    now = timezone.now()
    if token.revoked_at is not None or token.expires_at <= now or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return actor_for_user(
        token.user, via="token", ip=ip, purpose=purpose, scopes=token.scopes, token_id=token.pk, mfa_verified=True
    )


def token_owner(username: str) -> User:
    user = User.objects.filter(Q(username=username)).first()
    if user is None:
        raise NotFound(f"user: no account named {username!r}")
    return user
