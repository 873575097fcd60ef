"""Sending a text message: an HTTP gateway in production, the outbox table in development and tests.

``DHNET_SMS_TRANSPORT`` chooses: ``outbox`` (the default in dev mode: the message is written to
:class:`~dhnet.consent.models.OutboxMessage` and nothing leaves the machine — for development and tests only) or
``http`` (the default outside dev): a ``POST`` of ``{"to": "+49...", "text": "..."}`` as JSON to
``DHNET_SMS_GATEWAY_URL``, with ``Authorization: Bearer $DHNET_SMS_GATEWAY_TOKEN`` when set; any 2xx is sent.
Outside dev mode without a gateway URL, sending fails (and is logged): codes go by e-mail only.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings

from dhnet.consent.models import OutboxMessage
from dhnet.notifications.transports import Outcome, check_url

TIMEOUT = 10.0


class SmsTransport(Protocol):
    def send(self, to: str, text: str) -> Outcome: ...


class OutboxTransport:
    """Writes the message to the outbox table (development and tests: nothing is sent)."""

    def send(self, to: str, text: str) -> Outcome:
        OutboxMessage.objects.create(to=to[:32], body=text)
        return Outcome.delivered()


class HttpGatewayTransport:
    """POSTs the message as JSON to a configurable SMS gateway (no redirects followed, no environment proxies)."""

    def __init__(self, url: str, token: str = "") -> None:
        self.url = url
        self.token = token

    def send(self, to: str, text: str) -> Outcome:
        problem = check_url(self.url) if self.url else "DHNET_SMS_GATEWAY_URL is not set"
        if problem:
            return Outcome.permanent(f"SMS gateway: {problem}")
        parts = urlsplit(self.url)
        headers = {"Content-Type": "application/json", "User-Agent": "dhnet-sms"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"to": to, "text": text}).encode()
        connection: http.client.HTTPConnection
        if parts.scheme.lower() == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=TIMEOUT, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=TIMEOUT)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            status = response.status
            response.read(64 * 1024)
        except (OSError, http.client.HTTPException) as exc:
            return Outcome.temporary(f"SMS gateway: {type(exc).__name__}: {exc}")
        finally:
            connection.close()
        if 200 <= status < 300:
            return Outcome.delivered(status)
        if status == 429 or status >= 500:
            return Outcome.temporary(f"SMS gateway: HTTP {status}", status)
        return Outcome.permanent(f"SMS gateway: HTTP {status}", status)


def transport() -> SmsTransport:
    """The configured transport (see the module documentation)."""
    config = getattr(settings, "CONFIG", None)
    dev = config is None or config.mode == "dev"
    kind = os.environ.get("DHNET_SMS_TRANSPORT", "").strip().lower() or ("outbox" if dev else "http")
    if kind == "outbox":
        return OutboxTransport()
    return HttpGatewayTransport(
        os.environ.get("DHNET_SMS_GATEWAY_URL", "").strip(), os.environ.get("DHNET_SMS_GATEWAY_TOKEN", "")
    )
