"""API tokens: created once-visible, stored hashed, scoped, expiring, revocable; Bearer and DHIS2 ApiToken."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from click.testing import CliRunner
from django.test import Client

from dhnet.accounts import services
from dhnet.accounts.models import ApiToken, User
from dhnet.audit.models import AuditRecord
from dhnet.cli import main
from dhnet.platform.errors import Forbidden, Invalid
from tests.platform.fixtures import actor_of, login


def _post(client: Client, body: Any) -> Any:
    return client.post("/api/v1/tokens", data=json.dumps(body), content_type="application/json")


def test_create_list_revoke_through_the_api(users: dict[str, User]) -> None:
    officer = users["district_officer"]
    client = login(Client(), officer)
    response = _post(client, {"name": "laptop sync", "scopes": ["orgunits:orgunit:read"], "expires_days": 7})
    assert response.status_code == 201
    created = response.json()
    raw = created["token"]
    assert raw.startswith(f"dhn_{created['prefix']}_")
    stored = ApiToken.objects.get(pk=created["id"])
    assert stored.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in json.dumps(list(ApiToken.objects.values()), default=str)  # only the hash is stored
    assert stored.expires_at - stored.created_at == pytest.approx(dt.timedelta(days=7), abs=dt.timedelta(seconds=5))
    listed = client.get("/api/v1/tokens").json()
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0]
    # Use it, then revoke it.
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert bearer.get("/api/v1/orgunits/D11").status_code == 200
    assert client.delete(f"/api/v1/tokens/{created['id']}").status_code == 204
    assert bearer.get("/api/v1/orgunits/D11").status_code == 401
    actions = list(AuditRecord.objects.values_list("action", flat=True))
    assert "accounts.token.create" in actions
    assert "accounts.token.revoke" in actions
    assert raw not in json.dumps(list(AuditRecord.objects.values("detail")))


def test_dhis2_apitoken_scheme(users: dict[str, User]) -> None:
    officer = users["district_officer"]
    _, raw = services.create_token(actor_of(officer), officer, name="dhis2", scopes=["accounts:profile:read"])
    me = Client(HTTP_AUTHORIZATION=f"ApiToken {raw}").get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["via"] == "token"
    assert me.json()["scopes"] == ["accounts:profile:read"]


def test_token_scopes_limit_what_it_can_do(users: dict[str, User]) -> None:
    officer = users["district_officer"]
    _, raw = services.create_token(actor_of(officer), officer, name="x", scopes=["accounts:profile:read"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/orgunits").status_code == 403
    assert _post(client, {"name": "y", "scopes": ["accounts:profile:read"]}).status_code == 403


def test_scopes_beyond_the_roles_are_refused(users: dict[str, User]) -> None:
    client = login(Client(), users["district_officer"])
    response = _post(client, {"name": "x", "scopes": ["audit:record:read"]})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "scopes: not granted to district_officer by their roles: audit:record:read",
        "code": "invalid",
    }
    response = _post(client, {"name": "x", "scopes": ["no:such:thing"]})
    assert response.status_code == 400
    assert "unknown permission" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "", "scopes": ["accounts:profile:read"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": "accounts:profile:read"},
        {"name": "x", "scopes": ["accounts:profile:read"], "expires_days": 0},
        {"name": "x", "scopes": ["accounts:profile:read"], "expires_days": 10000},
        {"name": "x" * 101, "scopes": ["accounts:profile:read"]},
    ],
)
def test_bad_input_is_4xx_json(users: dict[str, User], body: Any) -> None:
    response = _post(login(Client(), users["district_officer"]), body)
    assert 400 <= response.status_code < 500
    assert "detail" in response.json()


def test_malformed_json_is_400(users: dict[str, User]) -> None:
    client = login(Client(), users["district_officer"])
    response = client.post("/api/v1/tokens", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()
    assert client.delete("/api/v1/tokens/notanumber").status_code in (404, 422)


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Bearer dhn_x_y", "Basic dXNlcjpwYXNz", "Bearer dhn_000000000000_" + "a" * 43, "Token abc"],
)
def test_bad_tokens_are_401(db: Any, header: str) -> None:
    assert Client(HTTP_AUTHORIZATION=header).get("/api/v1/me").status_code == 401


def test_expired_and_inactive(users: dict[str, User]) -> None:
    officer = users["district_officer"]
    token, raw = services.create_token(actor_of(officer), officer, name="x", scopes=["accounts:profile:read"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/me").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert client.get("/api/v1/me").status_code == 401
    ApiToken.objects.filter(pk=token.pk).update(expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    User.objects.filter(pk=officer.pk).update(is_active=False)
    assert client.get("/api/v1/me").status_code == 401


def test_cannot_create_tokens_for_others(users: dict[str, User]) -> None:
    with pytest.raises(Forbidden):
        services.create_token(
            actor_of(users["system_admin"]), users["viewer"], name="x", scopes=["accounts:profile:read"]
        )
    with pytest.raises(Forbidden):  # the viewer role has no accounts:token:write
        services.create_token(actor_of(users["viewer"]), users["viewer"], name="x", scopes=["accounts:profile:read"])
    with pytest.raises(Invalid):
        services.create_token(
            actor_of(users["partner"]), users["partner"], name="x", scopes=["orgunits:orgunit:read"], expires_days=0
        )


def test_cli_token_create_prints_the_token_once(users: dict[str, User]) -> None:
    result = CliRunner().invoke(
        main,
        [
            "token",
            "create",
            "--user",
            "partner",
            "--scopes",
            "orgunits:orgunit:read,accounts:profile:read",
            "--expires-days",
            "30",
        ],
    )
    assert result.exit_code == 0, result.output
    raw = result.stdout.strip()
    assert raw.startswith("dhn_")
    assert "store it now" in result.stderr
    me = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/me").json()
    assert me["username"] == "partner"
    assert me["scopes"] == ["accounts:profile:read", "orgunits:orgunit:read"]
    record = AuditRecord.objects.get(action="accounts.token.create")
    assert record.actor_username == "cli:" + record.actor_username.split(":", 1)[1]
    assert record.via == "cli"


def test_cli_token_create_errors(users: dict[str, User]) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["token", "create", "--user", "nobody", "--scopes", "accounts:profile:read"])
    assert result.exit_code == 1
    assert "no account named 'nobody'" in result.stderr
    result = runner.invoke(main, ["token", "create", "--user", "partner", "--scopes", "audit:record:read"])
    assert result.exit_code == 1
    assert "not granted to partner" in result.stderr
