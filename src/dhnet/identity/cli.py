"""``dhnet vault``: the identity vault's operator commands (status, key rotation, retention purge, migrations of a
separate vault database). Django is imported inside the commands so that ``dhnet --help`` stays fast."""

from __future__ import annotations

import sys

import click

from dhnet.cli import main


@main.group()
def vault() -> None:
    """The identity vault: status, key rotation, retention purge."""


def _setup() -> object:
    from dhnet.cli.platform import _django, _operator

    _django()
    return _operator()


def _config_error(exc: Exception) -> click.ClickException:
    return click.ClickException(f"configuration: {exc}")


@vault.command("status")
def status() -> None:
    """Keys configured, entries per key, persons, open reviews, retention."""
    _setup()
    from dhnet.identity.services import vault_status
    from dhnet.platform.config import ConfigError

    try:
        st = vault_status()
    except ConfigError as exc:
        raise _config_error(exc) from None
    click.echo(f"database:       {st.database}")
    click.echo(f"keys:           {', '.join(st.keys)} (newest: {st.newest})")
    click.echo(f"persons:        {st.persons} (+{st.merged} linked into others)")
    for key_id, count in st.by_key.items():
        mark = "" if key_id == st.newest else "  <- run `dhnet vault rotate-key`"
        click.echo(f"  under {key_id}: {count}{mark}")
    click.echo(f"open reviews:   {st.open_reviews}")
    retention = f"{st.retention_days} days" if st.retention_days else "none (DHNET_RETENTION_DAYS unset)"
    click.echo(f"retention:      {retention}")


@vault.command("rotate-key")
@click.option("--batch", default=200, show_default=True, type=click.IntRange(1, 10_000), help="Entries per commit.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def rotate_key(batch: int, no_progress: bool) -> None:
    """Re-encrypt every entry under the newest key of DHNET_VAULT_KEYS (resumable; a second run does nothing)."""
    operator = _setup()
    from tqdm import tqdm

    from dhnet.identity.crypto import VaultIntegrityError
    from dhnet.identity.services import rotate_keys
    from dhnet.platform.config import ConfigError

    bar = tqdm(total=0, unit="entry", disable=no_progress, file=sys.stderr, dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        count = rotate_keys(operator, batch=batch, progress=progress)  # type: ignore[arg-type]
    except ConfigError as exc:
        raise _config_error(exc) from None
    except VaultIntegrityError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bar.close()
    click.echo(f"re-encrypted {count} entries")


@vault.command("purge")
def purge() -> None:
    """Delete the vault entries past DHNET_RETENTION_DAYS now (the daily job does it too)."""
    operator = _setup()
    from dhnet.identity.services import purge_expired

    count = purge_expired(actor=operator)  # type: ignore[arg-type]
    click.echo(f"purged {count} vault entries")


@vault.command("migrate")
def migrate() -> None:
    """Create or upgrade the vault's tables in its own database (DHNET_VAULT_DATABASE_URL)."""
    _setup()
    from django.conf import settings
    from django.core.management import call_command

    from dhnet.identity.routers import ALIAS

    if ALIAS not in settings.DATABASES:
        click.echo("no separate vault database (DHNET_VAULT_DATABASE_URL unset): `dhnet migrate` covers the vault")
        return
    call_command("migrate", database=ALIAS, verbosity=0, skip_checks=True)
    click.echo("vault database up to date")
