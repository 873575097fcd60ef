"""Platform commands: ``migrate``, ``serve``, ``createuser``, ``token create``, ``audit verify``, ``orgunits``.

Each works on the database named by ``DATABASE_URL`` (default: ``var/dhnet.sqlite3``). Django is imported inside
the commands so that ``dhnet --help`` stays fast. Changes made here are audited as the operator ``cli:<os user>``.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from dhnet.cli import main


def _django() -> None:
    """Validate the configuration (a clean message instead of a traceback) and set Django up."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dhnet.platform.settings")
    from django.conf import settings

    if not settings.configured:
        from dhnet.platform.config import Config, ConfigError

        try:
            Config.from_env().ensure_dirs()
        except ConfigError as exc:
            raise click.ClickException(f"configuration: {exc}") from None
    import django

    django.setup()


def _operator() -> Any:
    from dhnet.accounts.services import operator_actor

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return operator_actor(f"cli:{who}")


def _fail(exc: Exception) -> click.ClickException:
    from dhnet.platform.errors import ServiceError

    message = exc.message if isinstance(exc, ServiceError) else str(exc)
    return click.ClickException(message)


def _pending_migrations() -> list[str]:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{m.app_label}.{m.name}" for m, _ in plan]


@main.command()
@click.option("-v", "--verbose", is_flag=True, help="List every migration applied.")
def migrate(verbose: bool) -> None:
    """Create or upgrade the database schema (the identity vault's too).

    The vault has its own tables, in its own database when DHNET_VAULT_DATABASE_URL is set.
    """
    _django()
    from django.conf import settings
    from django.core.management import call_command

    from dhnet.identity.routers import ALIAS

    call_command("migrate", interactive=False, verbosity=1 if verbose else 0)
    if ALIAS in settings.DATABASES:  # DHNET_VAULT_DATABASE_URL: the vault's tables live there only
        call_command("migrate", database=ALIAS, interactive=False, verbosity=1 if verbose else 0)
        click.echo("migrate: vault database up to date", err=True)
    click.echo("migrate: database up to date", err=True)


def build_server(host: str, port: int, threads: int) -> Any:
    """A waitress server for the platform's WSGI application (static files are served by WhiteNoise)."""
    from waitress import create_server

    from dhnet.platform.wsgi import application

    return create_server(application, host=host, port=port, threads=threads, ident="dhnet")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Worker threads.")
@click.option("--with-worker", is_flag=True, help="Also run the background job worker (else run `dhnet worker`).")
def serve(host: str, port: int, threads: int, with_worker: bool = False) -> None:
    """Serve the web platform and API with waitress (production-capable; put TLS in front)."""
    _django()
    pending = _pending_migrations()
    if pending:
        raise click.ClickException(f"{len(pending)} migration(s) not applied; run `dhnet migrate` first")
    from django.conf import settings

    server = build_server(host, port, threads)
    if with_worker:  # background jobs (detection after imports, schedules, notifications) in a thread
        from dhnet.jobs.worker import start_in_thread

        start_in_thread()
    mode = "dev" if settings.DEBUG else "prod"
    click.echo(
        f"serve: http://{host}:{server.effective_port}/ ({mode} mode, {threads} threads); Ctrl-C stops", err=True
    )
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


@main.command()
@click.argument("name")
@click.option("--role", required=True, help="Role at the org unit (system_admin, national_epidemiologist, ...).")
@click.option("--orgunit", "orgunit", required=True, help="Code of the org unit where the role applies.")
@click.option("--password", default=None, help="Password (visible in the process list; prefer the prompt).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--no-password", is_flag=True, help="A system account without password (uses API tokens).")
@click.option("--email", default="", help="E-mail address.")
def createuser(
    name: str, role: str, orgunit: str, password: str | None, password_stdin: bool, no_password: bool, email: str
) -> None:
    """Create user NAME (or reuse it) and assign ROLE at ORGUNIT and everything below it."""
    _django()
    from dhnet.accounts import services
    from dhnet.platform.errors import ServiceError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif password is None and not no_password:
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            raise click.UsageError("give --password-stdin, --password or --no-password (no terminal to prompt)")
    try:
        user, created = services.create_user(
            _operator(), name, role=role, orgunit_code=orgunit, password=None if no_password else password, email=email
        )
    except ServiceError as exc:
        raise _fail(exc) from None
    click.echo(f"createuser: {'created' if created else 'updated'} {user.username}: {role} at {orgunit}", err=True)


@main.group()
def token() -> None:
    """API tokens for systems."""


@token.command("create")
@click.option("--user", "username", required=True, help="Owner of the token.")
@click.option("--scopes", required=True, help="Comma-separated permissions, e.g. surveillance:report:write.")
@click.option("--expires-days", default=90, show_default=True, type=click.IntRange(1, 366))
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
def token_create(username: str, scopes: str, expires_days: int, name: str) -> None:
    """Create a token and print it once (stdout); only its hash is stored."""
    _django()
    from dhnet.accounts import services
    from dhnet.platform.errors import ServiceError

    try:
        owner = services.token_owner(username)
        tok, raw = services.create_token(
            _operator(), owner, name=name, scopes=scopes.split(","), expires_days=expires_days
        )
    except ServiceError as exc:
        raise _fail(exc) from None
    click.echo(raw)
    click.echo(
        f"token: {tok.prefix} for {owner.username}, scopes {','.join(tok.scopes)}, expires {tok.expires_at:%Y-%m-%d}; "
        "store it now, it is not shown again",
        err=True,
    )


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 naming every altered, inserted or deleted record."""
    _django()
    from dhnet.audit.services import verify

    report = verify()
    if report.ok:
        click.echo(f"audit: chain intact, {report.count} records, head {report.head_hash}")
        return
    for problem in report.problems:
        click.echo(f"audit: {problem.message}", err=True)
    click.echo(f"audit: chain BROKEN ({len(report.problems)} problem(s) in {report.count} records)", err=True)
    sys.exit(1)


@main.group()
def orgunits() -> None:
    """The org-unit hierarchy."""


@orgunits.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--parent", default=None, help="Code of the parent (none: a root such as the country).")
@click.option("--population", default=None, type=click.IntRange(0))
def orgunits_add(code: str, name: str, parent: str | None, population: int | None) -> None:
    """Add one org unit CODE named NAME."""
    _django()
    from dhnet.orgunits import services
    from dhnet.platform.errors import ServiceError

    try:
        unit = services.create_unit(_operator(), code=code, name=name, parent_code=parent, population=population)
    except ServiceError as exc:
        raise _fail(exc) from None
    click.echo(f"orgunits: added {unit.code} ({unit.name}) at level {unit.level}", err=True)


@orgunits.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["geojson", "dhis2"]), default="geojson", show_default=True)
@click.option("--parent", default=None, help="Code of the parent for units whose file names none.")
@click.option("--code-property", default="id", show_default=True, help="GeoJSON property holding the code.")
@click.option("--name-property", default="name", show_default=True, help="GeoJSON property holding the name.")
@click.option("--parent-property", default="parent", show_default=True, help="GeoJSON property naming the parent.")
@click.option("--population-property", default="population", show_default=True)
def orgunits_import(
    path: Path,
    fmt: str,
    parent: str | None,
    code_property: str,
    name_property: str,
    parent_property: str,
    population_property: str,
) -> None:
    """Import (create or update) org units from a GeoJSON FeatureCollection or DHIS2 organisationUnits JSON."""
    _django()
    from dhnet.orgunits import services
    from dhnet.platform.errors import ServiceError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path}: not readable JSON: {exc}") from None
    try:
        if fmt == "geojson":
            mapping = services.GeoJsonMapping(
                code=code_property, name=name_property, parent=parent_property, population=population_property
            )
            incoming = services.parse_geojson(data, mapping)
            result = services.import_units(
                _operator(), incoming, parent_by="code", default_parent=parent, source=path.name
            )
        else:
            incoming = services.parse_dhis2(data)
            result = services.import_units(
                _operator(), incoming, parent_by="uid", default_parent=parent, source=path.name
            )
    except ServiceError as exc:
        raise click.ClickException(f"{path}: {exc.message}") from None
    click.echo(f"orgunits: {path.name}: {result.summary()}", err=True)
