"""Browser tests: Debian's chromium driven by Playwright against ``dhnet serve`` in a subprocess.

The server runs on 127.0.0.1 on a free port, on its own SQLite database in a temporary folder, loaded with
``dhnet demo --subset``. Chromium is Debian's (``/usr/bin/chromium``; ``bin/e2e`` installs it when missing): the
tests never download a browser (no ``playwright install``).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DHNET = [sys.executable, "-c", "from dhnet.cli import main; main()"]


@dataclass
class Mailbox:
    """What the SMTP receiver on loopback got (the platform's mail goes there)."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def wait_for(self, recipient: str, timeout: float = 20.0) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self.messages):
                if recipient in str(message["To"]):
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no mail to {recipient} within {timeout} s")


@dataclass
class Server:
    url: str
    env: dict[str, str]
    users: dict[str, dict[str, str]]
    mailbox: Mailbox

    def dhnet(self, *args: str) -> str:
        done = subprocess.run([*DHNET, *args], env=self.env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout


def wait_until_serving(url: str, proc: subprocess.Popen[Any], log_path: Path, timeout: float = 60) -> None:
    """Wait until ``dhnet serve`` at ``url`` answers its health check; fail with its log if it exits or times out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"dhnet serve did not start: {log_path.read_text()}")
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_chromium() -> None:
    """Skip without Debian's chromium, or fail where it must be there (bin/test and bin/e2e install it)."""
    if not CHROMIUM.exists():
        if os.environ.get("DHNET_E2E_REQUIRED"):
            pytest.fail("Debian's chromium is not installed at /usr/bin/chromium")
        pytest.skip("Debian's chromium is not installed: run bin/e2e (it installs it)")


@contextlib.contextmanager
def throwaway_site(home: Path, setup: str) -> Iterator[str]:
    """A module's own ``dhnet serve`` on a free port of 127.0.0.1 and a fresh SQLite database in ``home``:
    ``dhnet migrate``, then the Python script ``setup`` (it calls ``django.setup()`` itself), then the server;
    yields its URL and stops it at the end. Fails the test with the output of a step that fails."""
    require_chromium()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DHNET_", "DATABASE_URL", "DJANGO_"))},
        "DHNET_DATA_DIR": str(home),
        "DATABASE_URL": f"sqlite:///{home / 'e2e.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "dhnet.platform.settings",
    }
    for command in ([*DHNET, "migrate"], [DHNET[0], "-c", setup]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)
        assert done.returncode == 0, done.stderr
    port = _free_port()
    log_path = home / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*DHNET, "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(url, proc, log_path)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def launched_chromium(playwright_driver: Any) -> Iterator[Any]:
    """Debian's chromium, launched by Playwright (never a downloaded browser), closed at the end."""
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not CHROMIUM.exists():
        if os.environ.get("DHNET_E2E_REQUIRED"):  # bin/test and bin/e2e install it: its absence is a failure there
            pytest.fail("Debian's chromium is not installed at /usr/bin/chromium")
        pytest.skip("Debian's chromium is not installed: run bin/e2e (it installs it)")
    from aiosmtpd.controller import Controller

    home = tmp_path_factory.mktemp("e2e")
    mailbox = Mailbox()
    smtp_port = _free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port, ready_timeout=10)
    smtp.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DHNET_", "DATABASE_URL", "DJANGO_"))},
        "DHNET_DATA_DIR": str(home),
        "DATABASE_URL": f"sqlite:///{home / 'e2e.sqlite3'}",
        "DHNET_EMAIL_HOST": "127.0.0.1",
        "DHNET_EMAIL_PORT": str(smtp_port),
    }
    credentials = home / "credentials.json"
    done = subprocess.run(
        [*DHNET, "demo", "--subset", "--credentials", str(credentials)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    port = _free_port()
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen(
        [*DHNET, "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "4"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, proc, home / "serve.log")
        users = json.loads(credentials.read_text())["users"]
        yield Server(url, env, users, mailbox)
    finally:
        smtp.stop()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def browser(server: Server, playwright_driver: Any) -> Iterator[Any]:
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
