"""Accounts: users, role assignments, API tokens, login attempts."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models

from dhnet.accounts.roles import Role


class User(AbstractUser):
    """A person or a system account. ``totp_secret`` is set at enrolment, ``totp_confirmed_at`` once verified."""

    totp_secret = models.CharField(max_length=64, blank=True, default="")
    totp_confirmed_at = models.DateTimeField(null=True, blank=True)
    totp_last_step = models.BigIntegerField(default=0, help_text="last accepted TOTP time step (no replay)")

    @property
    def totp_enabled(self) -> bool:
        return bool(self.totp_secret and self.totp_confirmed_at)


class RoleAssignment(models.Model):
    """``user`` holds ``role`` at ``orgunit`` and everything below it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(max_length=32, choices=Role.choices)
    orgunit = models.ForeignKey("orgunits.OrgUnit", on_delete=models.PROTECT, related_name="role_assignments")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (models.UniqueConstraint(fields=["user", "role", "orgunit"], name="role_assignment_unique"),)

    def __str__(self) -> str:
        return f"{self.user_id} {self.role}@{self.orgunit_id}"


class ApiToken(models.Model):
    """A token for a system. The secret is shown once; only its sha256 is stored, found by ``prefix``.

    The full token reads ``dhn_<prefix>_<secret>``; ``scopes`` lists the permissions it may use (intersected with
    the owner's roles at each use).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token {self.prefix} ({self.name})"


class LoginAttempt(models.Model):
    """A failed or successful login, counted for throttling by username and by address."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.CharField(max_length=45, blank=True, db_index=True)
    at = models.DateTimeField(db_index=True)
    succeeded = models.BooleanField(default=False)
    stage = models.CharField(max_length=16, default="password")  # password | totp

    def __str__(self) -> str:
        return f"{self.username}@{self.ip} {'ok' if self.succeeded else 'failed'} {self.at:%Y-%m-%d %H:%M:%S}"
