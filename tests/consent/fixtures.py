"""Fixtures of the consent tests: well-formed pseudonyms, an SMS gateway on loopback (SMTP: tests.notifications)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


def pseudonym(name: str) -> str:
    """A well-formed pseudonym (64 hex) for a test person."""
    return hashlib.sha256(name.encode()).hexdigest()


@pytest.fixture
def person() -> str:
    return pseudonym("person-1")


@dataclass
class SmsGateway:
    """An SMS gateway on loopback: records each POSTed JSON body and answers ``status``."""

    port: int = 0
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/send"


@pytest.fixture
def sms_gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmsGateway]:
    """A real HTTP server on 127.0.0.1 as the SMS gateway; ``DHNET_SMS_TRANSPORT=http`` points at it."""
    state = SmsGateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(json.loads(body))
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("DHNET_SMS_TRANSPORT", "http")
    monkeypatch.setenv("DHNET_SMS_GATEWAY_URL", state.url)
    monkeypatch.setenv("DHNET_SMS_GATEWAY_TOKEN", "gateway-token")
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
