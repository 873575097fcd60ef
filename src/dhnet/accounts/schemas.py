"""API schemas of the accounts context."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema


class RoleOut(Schema):
    role: str
    orgunit: str
    orgunit_name: str


class MeOut(Schema):
    username: str
    via: str
    roles: list[RoleOut]
    scopes: list[str]
    mfa_verified: bool


class TokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    scopes: list[str] = Field(..., min_length=1, max_length=50)
    expires_days: int = Field(90, ge=1, le=366)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    token: str = Field(..., description="the secret, shown this once only")
