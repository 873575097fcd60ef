"""Fixtures of the notification tests (imported by ``conftest.py``): diseases, signals, users with e-mail
addresses, and two real servers on loopback: an SMTP server (aiosmtpd) and an HTTP webhook receiver (http.server in
a thread) that verifies signatures.

Time is a parameter of the services (``now=``): tests move a clock instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from dhnet.accounts.models import User
from dhnet.diseases.models import AlertRule, Disease
from dhnet.notifications import transports
from dhnet.orgunits.models import OrgUnit
from dhnet.signals.models import Detection, Signal, SignalEvent

#: A Wednesday; the last complete ISO week is 2024-W23 (Monday 2024-06-03).
T0 = dt.datetime(2024, 6, 12, 9, 0, tzinfo=dt.UTC)
WEEK = dt.date(2024, 6, 3)


@pytest.fixture
def emails(users: dict[str, User]) -> dict[str, User]:
    """The role users, each with an e-mail address ``<role>@example.org``."""
    for user in users.values():
        user.email = f"{user.username}@example.org"
        user.save(update_fields=["email"])
    return users


@pytest.fixture
def diseases(db: Any) -> dict[str, Disease]:
    """Two diseases (updated in place when the catalogue migration seeded them already)."""
    return {
        code: Disease.objects.update_or_create(code=code, defaults={"name": name, "active": True})[0]
        for code, name in (("measles", "Measles"), ("cholera", "Cholera"))
    }


SignalFactory = Callable[..., Signal]


@pytest.fixture
def make_signal(tree: dict[str, OrgUnit], diseases: dict[str, Disease]) -> SignalFactory:
    """Create a detection signal (with its ``created`` timeline entry and the alarm's detection row), or an
    event-based one when ``disease`` is None."""

    def make(
        orgunit: str = "D11",
        disease: str | None = "measles",
        *,
        risk: str = "",
        status: str = "new",
        period: dt.date = WEEK,
        observed: float = 12,
        expected: float = 3.2,
    ) -> Signal:
        unit = tree[orgunit]
        dis = diseases[disease] if disease else None
        signal = Signal.objects.create(
            source="detection" if dis else "event",
            status=status,
            disease=dis,
            orgunit=unit,
            first_period=period,
            last_period=period,
            title=f"{dis.name if dis else 'Event'} above threshold in {unit.name}",
            hazard="" if dis else "unexplained deaths",
            max_observed=observed,
            risk=risk,
        )
        if dis is not None:
            rule, _ = AlertRule.objects.get_or_create(
                disease=dis, name="count", defaults={"kind": "count", "threshold": 5}
            )
            Detection.objects.update_or_create(
                rule=rule,
                orgunit=unit,
                period_start=period,
                defaults={
                    "disease": dis,
                    "observed": observed,
                    "expected": expected,
                    "upperbound": 7,
                    "score": 2.5,
                    "alarm": True,
                },
            )
        SignalEvent.objects.create(signal=signal, actor_username="system", kind="created", to_status=status)
        return signal

    return make


# --- SMTP ---------------------------------------------------------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on (just released by the kernel)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpHandler:
    """Keeps every message received; refuses recipients listed in ``refuse`` (550) or ``defer`` (451)."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        if address in self.defer:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: SmtpHandler

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 and a free port; Django's SMTP backend points at it."""
    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "dhnet@example.org"
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


# --- webhooks -----------------------------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookServer:
    """A receiver on loopback. ``responses`` are answered in turn (then ``default``); each is a status code or
    ``(status, headers)``. ``secret`` is checked like a real receiver does (401 on a bad signature); ``hang`` makes
    the handler wait (until ``release`` or the end of the test) to provoke a client timeout."""

    host: str
    port: int
    secret: str = "s" * 32
    responses: list[int | tuple[int, dict[str, str]]] = field(default_factory=list)
    default: int = 200
    requests: list[Received] = field(default_factory=list)
    hang: threading.Event | None = None
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"


def _handler_for(state: WebhookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            ok = transports.verify(
                state.secret, headers.get("x-dhnet-timestamp", ""), body, headers.get("x-dhnet-signature", "")
            )
            with state.lock:
                state.requests.append(Received(self.path, headers, body, ok))
                answer = state.responses.pop(0) if state.responses else state.default
            if state.hang is not None and state.hang.is_set():
                state.release.wait(10)
            status, extra = answer if isinstance(answer, tuple) else (answer, {})
            if not ok:
                status, extra = 401, {}
            payload = b'{"ok": true}' if 200 <= status < 300 else b'{"error": "no"}'
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
            pass

    return Handler


@pytest.fixture
def webhook_server_factory() -> Iterator[Callable[[], WebhookServer]]:
    """Start receivers on 127.0.0.1 (free ports); all are shut down and closed at the end of the test."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread, WebhookServer]] = []

    def start() -> WebhookServer:
        state = WebhookServer(host="127.0.0.1", port=0)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
        server.daemon_threads = True
        state.port = int(server.server_address[1])
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread, state))
        return state

    yield start
    for server, thread, state in servers:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def webhook_server(webhook_server_factory: Callable[[], WebhookServer]) -> WebhookServer:
    return webhook_server_factory()
