"""Request helpers shared by the contexts: where a request comes from and for what purpose."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

from dhnet.platform.access import DEFAULT_PURPOSE, PURPOSE_RE

PURPOSE_HEADER = "X-Purpose"


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or the ``X-Forwarded-For`` entry added by the last trusted proxy.

    ``DHNET_TRUSTED_PROXIES`` says how many reverse proxies stand in front of the application; entries further
    left in ``X-Forwarded-For`` are client-controlled and ignored.
    """
    proxies = int(getattr(settings, "DHNET_TRUSTED_PROXIES", 0))
    candidate = request.META.get("REMOTE_ADDR")
    if proxies:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            candidate = forwarded[-proxies]
    if not candidate:
        return None
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def request_purpose(request: HttpRequest) -> str:
    """The declared purpose of use (``X-Purpose`` header, e.g. ``outbreak-investigation``), else ``routine``."""
    raw = request.headers.get(PURPOSE_HEADER, "").strip().lower()
    return raw if PURPOSE_RE.match(raw) else DEFAULT_PURPOSE
