"""The API shell (health, docs, JSON errors), pages' assets, and the platform commands."""

from __future__ import annotations

from typing import Any
from unittest import mock

from click.testing import CliRunner
from django.test import Client

from dhnet.accounts.models import RoleAssignment, User
from dhnet.audit.models import AuditRecord
from dhnet.cli import main
from dhnet.cli import platform as cli_platform
from tests.platform.fixtures import login


def test_health_is_public(db: Any) -> None:
    response = Client().get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": "0.1.0"}


def test_openapi_docs(db: Any) -> None:
    client = Client()
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"/static/ninja/swagger-ui-bundle.js" in docs.content  # served locally, no CDN
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/health", "/api/v1/me", "/api/v1/orgunits", "/api/v1/orgunits/{code}", "/api/v1/tokens"} <= set(
        schema["paths"]
    )


def test_unknown_api_path_is_json_404(db: Any) -> None:
    response = Client().get("/api/v1/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "not_found"}


def test_bad_query_parameters_are_4xx(users: dict[str, Any]) -> None:
    client = login(Client(), users["viewer"])
    for query in ("limit=abc", "limit=0", "limit=100000", "offset=-1", "level=x"):
        response = client.get(f"/api/v1/orgunits?{query}")
        assert response.status_code == 422, query
        assert "detail" in response.json()


def test_static_files_are_served(db: Any) -> None:
    response = Client().get("/static/dhnet/site.css")
    assert response.status_code == 200
    assert b"--accent" in b"".join(response.streaming_content)


def test_pages_are_small_and_mobile_ready(users: dict[str, Any]) -> None:
    client = login(Client(), users["district_officer"])
    home = client.get("/")
    assert b'name="viewport"' in home.content
    assert len(home.content) < 8000
    assert b"https://" not in client.get("/accounts/login/").content  # nothing from a CDN


def test_cli_migrate_is_idempotent(db: Any) -> None:
    result = CliRunner().invoke(main, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "database up to date" in result.stderr


def test_cli_createuser(tree: Any) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["createuser", "erin", "--role", "regional_officer", "--orgunit", "R1", "--password-stdin"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    erin = User.objects.get(username="erin")
    assert erin.check_password("a long enough password")
    assert RoleAssignment.objects.filter(user=erin, role="regional_officer", orgunit__code="R1").exists()
    # Again with another role: the user is reused, the role added.
    result = runner.invoke(main, ["createuser", "erin", "--role", "viewer", "--orgunit", "DE", "--no-password"])
    assert result.exit_code == 0, result.output
    assert "updated erin" in result.stderr
    assert erin.role_assignments.count() == 2
    assert AuditRecord.objects.filter(action="accounts.role.assign").count() == 2
    for args, message in [
        (["--role", "king", "--orgunit", "R1"], "role: unknown role 'king'"),
        (["--role", "viewer", "--orgunit", "ZZ"], "org unit 'ZZ' not found"),
        (["--role", "viewer", "--orgunit", "R1", "--password", "short"], "password: at least 12 characters"),
    ]:
        result = runner.invoke(
            main, ["createuser", "frank", *args, *([] if "--password" in args else ["--no-password"])]
        )
        assert result.exit_code == 1, args
        assert message in result.stderr
    result = runner.invoke(main, ["createuser", "gina", "--role", "viewer", "--orgunit", "R1"], input="")
    assert result.exit_code == 2  # no terminal to prompt, no password option


def test_serve_builds_a_waitress_server(db: Any) -> None:
    server = cli_platform.build_server("127.0.0.1", 0, 2)
    try:
        assert int(server.effective_port) > 0
    finally:
        server.close()


def test_serve_refuses_unapplied_migrations(db: Any) -> None:
    with mock.patch.object(cli_platform, "_pending_migrations", return_value=["audit.0003_new"]):
        result = CliRunner().invoke(main, ["serve", "--port", "0"])
    assert result.exit_code == 1
    assert "run `dhnet migrate` first" in result.stderr


def test_serve_runs_until_interrupted(db: Any) -> None:
    fake = mock.Mock(effective_port=1234)
    fake.run.side_effect = KeyboardInterrupt
    with mock.patch.object(cli_platform, "build_server", return_value=fake):
        result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "1234"])
    assert result.exit_code == 0, result.output
    assert "serve: http://0.0.0.0:1234/" in result.stderr
    fake.close.assert_called_once()
