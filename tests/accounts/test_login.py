"""Login with password and TOTP, enrolment, lockout, session settings, argon2."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyotp
import pytest
from django.contrib.auth.hashers import identify_hasher
from django.test import Client

from dhnet.accounts import services
from dhnet.accounts.middleware import MFA_SESSION_KEY
from dhnet.accounts.models import LoginAttempt, User
from dhnet.audit.models import AuditRecord
from dhnet.audit.services import verify
from dhnet.orgunits.models import OrgUnit
from tests.platform.fixtures import login

PASSWORD = "correct horse battery staple"


@pytest.fixture
def person(tree: dict[str, OrgUnit], operator: Any) -> User:
    return services.create_user(operator, "dora", role="district_officer", orgunit_code="D11", password=PASSWORD)[0]


@pytest.fixture
def admin(tree: dict[str, OrgUnit], operator: Any) -> User:
    return services.create_user(operator, "ada", role="system_admin", orgunit_code="DE", password=PASSWORD)[0]


def _post_login(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def _code(user: User, offset: int = 0) -> str:
    user.refresh_from_db()
    totp = pyotp.TOTP(user.totp_secret)
    return totp.generate_otp(totp.timecode(dt.datetime.now(dt.UTC)) + offset)


def test_passwords_are_hashed_with_argon2(person: User) -> None:
    assert identify_hasher(person.password).algorithm == "argon2"


def test_login_page_renders(db: Any) -> None:
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="password"' in response.content
    assert len(response.content) < 4000  # first page load stays small


def test_password_login_without_second_factor(person: User) -> None:
    client = Client()
    response = _post_login(client, "dora", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert b"District 11" in home.content
    assert b"District officer" in home.content
    record = AuditRecord.objects.get(action="accounts.login.succeeded", object_id=str(person.pk))
    assert (record.actor_username, record.actor_role, record.ip) == ("dora", "district_officer@D11", "127.0.0.1")


def test_wrong_password_is_refused_and_audited(person: User) -> None:
    response = _post_login(Client(), "dora", "wrong password!")
    assert response.status_code == 400
    assert b"Invalid username or password" in response.content
    record = AuditRecord.objects.get(action="accounts.login.failed")
    assert record.detail == {"username": "dora", "stage": "password"}
    assert record.ip == "127.0.0.1"


def test_next_is_followed_only_within_the_site(person: User) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"username": "dora", "password": PASSWORD, "next": "/orgunits/"})
    assert response["Location"] == "/orgunits/"
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "dora", "password": PASSWORD, "next": "https://evil.example"}
    )
    assert response["Location"] == "/"


def test_lockout_after_five_failures_per_username(person: User) -> None:
    client = Client()
    for _ in range(5):
        assert _post_login(client, "dora", "wrong password!").status_code == 400
    response = _post_login(client, "dora", PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.content
    locked = AuditRecord.objects.filter(action="accounts.login.locked")
    assert [r.detail["scope"] for r in locked] == ["username", "ip"]
    assert AuditRecord.objects.filter(action="accounts.login.refused").count() == 1
    # From another address the username is still locked.
    assert _post_login(Client(), "dora", PASSWORD, REMOTE_ADDR="10.1.2.3").status_code == 429
    # Fifteen minutes later the lock is over.
    LoginAttempt.objects.update(at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16))
    assert _post_login(Client(), "dora", PASSWORD).status_code == 302
    assert verify().ok


def test_lockout_per_address(person: User) -> None:
    for i in range(5):
        _post_login(Client(), f"nobody{i}", "whatever", REMOTE_ADDR="10.9.9.9")
    assert _post_login(Client(), "dora", PASSWORD, REMOTE_ADDR="10.9.9.9").status_code == 429
    assert _post_login(Client(), "dora", PASSWORD, REMOTE_ADDR="10.9.9.8").status_code == 302


def test_success_resets_the_username_count(person: User) -> None:
    for _ in range(4):
        _post_login(Client(), "dora", "wrong password!", REMOTE_ADDR="10.0.0.1")
    assert _post_login(Client(), "dora", PASSWORD, REMOTE_ADDR="10.0.0.2").status_code == 302
    for _ in range(4):
        _post_login(Client(), "dora", "wrong password!", REMOTE_ADDR="10.0.0.3")
    assert _post_login(Client(), "dora", PASSWORD, REMOTE_ADDR="10.0.0.4").status_code == 302


def test_inactive_user_cannot_log_in(person: User) -> None:
    User.objects.filter(pk=person.pk).update(is_active=False)
    assert _post_login(Client(), "dora", PASSWORD).status_code == 400


def test_admin_must_enrol_before_reaching_anything(admin: User) -> None:
    client = Client()
    response = _post_login(client, "ada", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/totp/enrol/"
    # Not logged in yet: every page sends to login, the API refuses.
    for url in ("/", "/orgunits/", "/audit/"):
        assert client.get(url)["Location"].startswith("/accounts/login/")
    assert client.get("/api/v1/me").status_code == 401
    page = client.get("/accounts/totp/enrol/")
    assert page.status_code == 200
    admin.refresh_from_db()
    assert admin.totp_secret.encode() in page.content
    assert b"otpauth://totp/" in page.content
    assert client.post("/accounts/totp/enrol/", {"code": "000000"}).status_code == 400
    response = client.post("/accounts/totp/enrol/", {"code": _code(admin)})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").json()["mfa_verified"] is True
    admin.refresh_from_db()
    assert admin.totp_enabled
    assert AuditRecord.objects.filter(action="accounts.totp.enrol").exists()


def test_enrolled_admin_passes_the_totp_step(admin: User) -> None:
    services.start_enrolment(admin)
    services.confirm_enrolment(services.operator_actor("cli:test"), admin, _code(admin, -1))
    client = Client()
    response = _post_login(client, "ada", PASSWORD)
    assert response["Location"] == "/accounts/login/totp/"
    assert client.get("/")["Location"].startswith("/accounts/login/")
    response = client.post("/accounts/login/totp/", {"code": "123456"})
    assert response.status_code == 400
    code = _code(admin)
    response = client.post("/accounts/login/totp/", {"code": code})
    assert response.status_code == 302
    assert client.get("/audit/").status_code == 200
    # The same code cannot be replayed.
    other = Client()
    _post_login(other, "ada", PASSWORD)
    assert other.post("/accounts/login/totp/", {"code": code}).status_code == 400


def test_totp_failures_count_towards_lockout(admin: User) -> None:
    services.start_enrolment(admin)
    services.confirm_enrolment(services.operator_actor("cli:test"), admin, _code(admin, -1))
    client = Client()
    _post_login(client, "ada", PASSWORD)
    for _ in range(5):
        client.post("/accounts/login/totp/", {"code": "000000"})
    assert client.post("/accounts/login/totp/", {"code": _code(admin)}).status_code == 429


def test_totp_step_cannot_be_skipped_with_a_stale_pending_session(admin: User) -> None:
    client = Client()
    _post_login(client, "ada", PASSWORD)
    assert client.get("/accounts/login/totp/")["Location"] == "/accounts/login/"  # stage is enrol, not totp


def test_session_without_second_factor_is_ended_when_role_requires_it(person: User, operator: Any) -> None:
    client = login(Client(), person, mfa=False)
    assert client.get("/").status_code == 200
    services.assign_role(operator, person, "national_epidemiologist", OrgUnit.objects.get(code="DE"))
    response = client.get("/")
    assert response.status_code == 302
    assert MFA_SESSION_KEY not in client.session


def test_logout(person: User) -> None:
    client = login(Client(), person, mfa=False)
    assert client.get("/accounts/logout/").status_code == 200
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302
    assert AuditRecord.objects.filter(action="accounts.logout", actor_username="dora").exists()


def test_voluntary_enrolment_by_logged_in_user(person: User) -> None:
    client = login(Client(), person, mfa=False)
    assert client.get("/accounts/totp/enrol/").status_code == 200
    assert client.post("/accounts/totp/enrol/", {"code": _code(person)}).status_code == 302
    assert client.get("/").status_code == 200  # this session passed the factor
    person.refresh_from_db()
    assert person.totp_enabled


def test_session_age_comes_from_config(settings: Any, person: User) -> None:
    settings.SESSION_COOKIE_AGE = 600
    client = Client()
    _post_login(client, "dora", PASSWORD)
    assert client.session.get_expiry_age() == 600
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    client = Client()
    _post_login(client, "dora", PASSWORD)
    assert client.session.get_expire_at_browser_close()
