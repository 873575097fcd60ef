"""API schemas of the notifications context."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Schema
from pydantic import Field

SeverityName = Literal["any", "low", "moderate", "high", "very_high"]
ChannelName = Literal["email", "webhook"]
FrequencyName = Literal["immediate", "daily"]


class SubscriptionIn(Schema):
    orgunit: str = Field(..., min_length=1, max_length=64, description="code of the area: it and everything below it")
    disease: str = Field("", max_length=64, description="disease code; empty: every disease and event reports")
    min_severity: SeverityName = Field("any", description="'any' new signal, or the least assessed risk")
    channel: ChannelName = "email"
    frequency: FrequencyName = Field("immediate", description="'daily': in the daily digest (e-mail only)")
    webhook_url: str = Field("", max_length=2000, description="http(s) URL receiving signed POSTs (webhook only)")
    webhook_secret: str = Field(
        "", max_length=128, description="HMAC key, 16 to 128 characters; empty: generated and returned once"
    )
    max_attempts: int = Field(6, ge=1, le=10, description="attempts per delivery before it fails")


class SubscriptionPatch(Schema):
    min_severity: SeverityName | None = None
    frequency: FrequencyName | None = None
    active: bool | None = None
    webhook_url: str | None = Field(None, max_length=2000)
    max_attempts: int | None = Field(None, ge=1, le=10)


class SubscriptionOut(Schema):
    id: int
    orgunit: str
    orgunit_name: str
    disease: str | None
    min_severity: str
    channel: str
    frequency: str
    webhook_url: str | None
    max_attempts: int
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SubscriptionCreated(SubscriptionOut):
    webhook_secret: str | None = Field(description="the webhook's HMAC key: shown this once")


class SecretIn(Schema):
    webhook_secret: str = Field("", max_length=128, description="the new key; empty: generated")


class SecretOut(Schema):
    id: int
    webhook_secret: str


class DeliveryOut(Schema):
    id: int
    kind: str
    subscription: int | None
    signal: int | None
    event: str
    channel: str
    recipient: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    last_status_code: int | None
    last_error: str
    created_at: dt.datetime
