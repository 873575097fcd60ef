"""Sending: e-mail through Django's e-mail backend (SMTP, configured from ``DHNET_EMAIL_*``) and signed webhooks.

Each send returns an :class:`Outcome`: delivered, or failed and whether trying again may help. Nothing here touches
the database; :mod:`dhnet.notifications.services` records the outcome.

Webhook signature scheme (what a receiver verifies)
----------------------------------------------------
Every attempt is a ``POST`` of ``Content-Type: application/json`` with the headers

- ``X-Dhnet-Delivery``: the delivery id (the same on every retry: receivers use it to drop duplicates);
- ``X-Dhnet-Timestamp``: the attempt's time, whole seconds since the Unix epoch (new on every retry);
- ``X-Dhnet-Signature``: ``sha256=`` followed by the lower-case hex HMAC-SHA256, keyed with the subscription's
  secret (its UTF-8 bytes), of the *signed content*: the timestamp's decimal digits, one ``.`` (0x2E), then the raw
  request body bytes exactly as received::

      signed = f"{timestamp}.".encode() + body
      expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()

A receiver compares ``expected`` with the header in constant time (``hmac.compare_digest``) and rejects a timestamp
more than 5 minutes from its own clock; together with the delivery id this defeats replays.

Webhook answers: 2xx is delivered; 429 and 5xx, timeouts and connection errors are retried; any other 4xx is a
permanent failure. Redirects are never followed to another origin: a 307/308 to the same scheme, host and port is
followed (at most 3 times, the same signed POST); any other redirect is a permanent failure. Only ``http`` and
``https`` URLs are accepted; HTTPS certificates are verified; environment proxies are not used.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from dhnet import __version__

WEBHOOK_TIMEOUT = 10.0  # seconds, connect and each read
SMTP_TIMEOUT = 30.0
MAX_REDIRECTS = 3
MAX_RESPONSE_BYTES = 64 * 1024
ALLOWED_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Outcome:
    """The result of one attempt."""

    ok: bool
    retry: bool = False
    status_code: int | None = None
    error: str = ""

    @classmethod
    def delivered(cls, status_code: int | None = None) -> Outcome:
        return cls(ok=True, status_code=status_code)

    @classmethod
    def temporary(cls, error: str, status_code: int | None = None) -> Outcome:
        return cls(ok=False, retry=True, status_code=status_code, error=error[:2000])

    @classmethod
    def permanent(cls, error: str, status_code: int | None = None) -> Outcome:
        return cls(ok=False, retry=False, status_code=status_code, error=error[:2000])


# --- e-mail ---------------------------------------------------------------------------------------------------------


def send_email(to: str, subject: str, body: str, *, delivery_id: int) -> Outcome:
    """Send one plain-text message through the configured backend (``EMAIL_HOST``/``EMAIL_PORT``/... settings)."""
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"X-Dhnet-Delivery": str(delivery_id), "Auto-Submitted": "auto-generated"},
    )
    try:
        connection = get_connection(fail_silently=False, timeout=SMTP_TIMEOUT)
        message.connection = connection
        sent = message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        text = "; ".join(f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items())
        if all(code >= 500 for code in codes):
            return Outcome.permanent(f"recipient refused: {text}", codes[0] if codes else None)
        return Outcome.temporary(f"recipient deferred: {text}", codes[0] if codes else None)
    except smtplib.SMTPResponseException as exc:
        error = f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}"
        if 500 <= exc.smtp_code < 600:
            return Outcome.permanent(error, exc.smtp_code)
        return Outcome.temporary(error, exc.smtp_code)
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome.temporary(f"SMTP: {type(exc).__name__}: {exc}")
    if not sent:
        return Outcome.temporary("SMTP: the backend sent nothing")
    return Outcome.delivered()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# --- webhooks -------------------------------------------------------------------------------------------------------


def check_url(url: str) -> str | None:
    """Why ``url`` cannot be a webhook target, or None when it can (http/https with a host, no credentials)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return "only http:// and https:// URLs are allowed"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username or parts.password:
        return "credentials in the URL are not allowed (use the signature to authenticate)"
    if port == 0:
        return "port 0 is not allowed"
    if any(ch.isspace() for ch in url):
        return "the URL contains white space"
    return None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Dhnet-Signature`` value for ``body`` sent at ``timestamp`` (see the module documentation)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Check a signature as a receiver does (constant-time comparison); for tests and receiver examples."""
    if not timestamp.isdigit():
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def post_webhook(url: str, body: bytes, *, secret: str, delivery_id: int, timestamp: int) -> Outcome:
    """POST ``body`` signed with ``secret`` to ``url``; never follows a redirect to another origin."""
    problem = check_url(url)
    if problem:
        return Outcome.permanent(f"webhook URL refused: {problem}")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"dhnet-webhook/{__version__}",
        "X-Dhnet-Delivery": str(delivery_id),
        "X-Dhnet-Timestamp": str(timestamp),
        "X-Dhnet-Signature": sign(secret, timestamp, body),
    }
    origin = _origin(url)
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            status, location = _post_once(current, body, headers)
        except TimeoutError as exc:
            return Outcome.temporary(f"timeout after {WEBHOOK_TIMEOUT:g}s: {exc}")
        except ssl.SSLError as exc:
            return Outcome.temporary(f"TLS: {exc}")
        except (OSError, http.client.HTTPException) as exc:
            return Outcome.temporary(f"connection: {type(exc).__name__}: {exc}")
        if 200 <= status < 300:
            return Outcome.delivered(status)
        if 300 <= status < 400:
            if status not in (307, 308) or not location:
                why = "redirect not followed (only 307/308 to the same origin)"
                return Outcome.permanent(f"HTTP {status}: {why}", status)
            target = urljoin(current, location)
            if check_url(target) is not None or _origin(target) != origin:
                return Outcome.permanent(f"HTTP {status}: redirect to another host refused ({target[:200]})", status)
            current = target
            continue
        if status == 429 or status >= 500:
            return Outcome.temporary(f"HTTP {status}", status)
        return Outcome.permanent(f"HTTP {status}", status)
    return Outcome.permanent(f"more than {MAX_REDIRECTS} redirects")


def _post_once(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    connection: http.client.HTTPConnection
    if parts.scheme.lower() == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=WEBHOOK_TIMEOUT, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=WEBHOOK_TIMEOUT)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return response.status, response.getheader("Location", "") or ""
    finally:
        connection.close()
