"""The vault's settings (keys from the environment or a file, dev keys refused outside dev mode, pseudonym secret,
thresholds), the ``dhnet vault`` commands, and the vault in a database of its own."""

from __future__ import annotations

import base64
import dataclasses
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from django.conf import settings

from dhnet.cli import main
from dhnet.identity.models import Person
from dhnet.identity.routers import VaultRouter
from dhnet.identity.services import register_person
from dhnet.platform.access import Actor
from dhnet.platform.config import DEV_SECRET_KEY, Config, ConfigError
from tests.identity.helpers import person

ROOT = Path(__file__).resolve().parents[2]
PROD = {"DHNET_MODE": "prod", "DHNET_SECRET_KEY": "x" * 50, "DHNET_ALLOWED_HOSTS": "dhnet.example.org"}
K1 = base64.b64encode(bytes([1]) * 32).decode()
K2 = base64.b64encode(bytes([2]) * 32).decode()


def test_dev_mode_derives_keys_from_the_dev_secret() -> None:
    config = Config.from_env({})
    assert [k for k, _ in config.vault_keys] == ["dev"]
    assert config.pseudonym_key is not None
    assert len(config.vault_keys[0][1]) == 32
    assert config.vault_database is None
    assert config.retention_days is None
    assert (config.match_upper, config.match_lower) == (15.0, 8.0)
    assert "vault_keys" not in repr(config)
    assert DEV_SECRET_KEY not in repr(config)


def test_prod_without_keys_has_none_and_the_vault_refuses() -> None:
    config = Config.from_env(PROD)
    assert config.vault_keys == ()
    assert config.pseudonym_key is None


def test_prod_refuses_the_dev_key_id() -> None:
    with pytest.raises(ConfigError, match="DHNET_VAULT_KEYS: the key id 'dev' is reserved for dev mode"):
        Config.from_env({**PROD, "DHNET_VAULT_KEYS": f"dev:{K1}"})


def test_keys_from_the_environment_or_a_file(tmp_path: Path) -> None:
    config = Config.from_env({**PROD, "DHNET_VAULT_KEYS": f"k1:{K1},k2:{K2}", "DHNET_PSEUDONYM_KEY": "p" * 40})
    assert [k for k, _ in config.vault_keys] == ["k1", "k2"]
    assert config.pseudonym_key == b"p" * 40
    key_file = tmp_path / "vault.keys"
    key_file.write_text(f"# rotated 2026-11\nk1:{K1}\nk2:{K2}\n")
    from_file = Config.from_env({**PROD, "DHNET_VAULT_KEY_FILE": str(key_file)})
    assert from_file.vault_keys == config.vault_keys
    with pytest.raises(ConfigError, match="DHNET_VAULT_KEY_FILE: cannot read"):
        Config.from_env({**PROD, "DHNET_VAULT_KEY_FILE": str(tmp_path / "missing")})
    key_file.write_text("garbage\n")
    with pytest.raises(ConfigError, match="DHNET_VAULT_KEY_FILE: key 1 must be written id:base64key"):
        Config.from_env({**PROD, "DHNET_VAULT_KEY_FILE": str(key_file)})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DHNET_PSEUDONYM_KEY": "short"}, "DHNET_PSEUDONYM_KEY: too short"),
        ({"DHNET_RETENTION_DAYS": "0"}, "DHNET_RETENTION_DAYS: must be at least 1"),
        ({"DHNET_RETENTION_DAYS": "a year"}, "DHNET_RETENTION_DAYS: expected an integer"),
        ({"DHNET_MATCH_UPPER": "high"}, "DHNET_MATCH_UPPER: expected a number"),
        ({"DHNET_MATCH_LOWER": "nan"}, "DHNET_MATCH_LOWER: expected a finite number"),
        ({"DHNET_MATCH_UPPER": "5", "DHNET_MATCH_LOWER": "9"}, "DHNET_MATCH_LOWER: must not exceed"),
        ({"DHNET_VAULT_DATABASE_URL": "mysql://x/y"}, "DHNET_VAULT_DATABASE_URL: unsupported scheme"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_env(env)


def test_router_sends_only_the_vault_to_the_vault_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    router = VaultRouter()
    assert router.db_for_write(Person) is None
    assert router.allow_migrate("default", "identity") is None
    # the router reads the declared aliases only (no connection is made): declare one for this test
    monkeypatch.setattr(settings, "DATABASES", {**settings.DATABASES, "vault": settings.DATABASES["default"]})
    assert router.db_for_read(Person) == "vault"
    assert router.allow_migrate("vault", "identity") is True
    assert router.allow_migrate("default", "identity") is False
    assert router.allow_migrate("vault", "cases") is False


# --- commands -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_vault_commands(tree: Any, operator: Actor) -> None:
    saved = settings.CONFIG
    try:
        settings.CONFIG = dataclasses.replace(saved, vault_keys=(("k1", bytes([1]) * 32),), retention_days=30)
        for i in range(3):
            register_person(operator, person(f"F{i}", "G", nid=f"N{i}", phones=(), emails=()), source="a")
        settings.CONFIG = dataclasses.replace(
            settings.CONFIG, vault_keys=(("k1", bytes([1]) * 32), ("k2", bytes([2]) * 32))
        )
        runner = CliRunner()
        status = runner.invoke(main, ["vault", "status"])
        assert status.exit_code == 0, status.output
        assert "under k1: 3  <- run `dhnet vault rotate-key`" in status.output
        assert "retention:      30 days" in status.output
        rotate = runner.invoke(main, ["vault", "rotate-key", "--batch", "2"])
        assert rotate.exit_code == 0, rotate.output
        assert "re-encrypted 3 entries" in rotate.output
        assert runner.invoke(main, ["vault", "rotate-key", "--no-progress"]).output.strip() == "re-encrypted 0 entries"
        assert set(Person.objects.values_list("key_id", flat=True)) == {"k2"}
        purge = runner.invoke(main, ["vault", "purge"])
        assert purge.output.strip() == "purged 0 vault entries"
        settings.CONFIG = dataclasses.replace(settings.CONFIG, vault_keys=())
        refused = runner.invoke(main, ["vault", "status"])
        assert refused.exit_code == 1
        assert "configuration: DHNET_VAULT_KEYS: required outside dev mode" in refused.output
    finally:
        settings.CONFIG = saved


SCRIPT = """
import os, django
django.setup()
from dhnet.accounts.services import operator_actor
from dhnet.orgunits.services import create_unit
from dhnet.identity.services import PersonIdentity, register_person, reidentify
op = operator_actor("cli:test")
create_unit(op, code="C", name="C", parent_code=None)
reg = register_person(op, PersonIdentity(family="Vault", given="Only", orgunit_code="C"), source="t")
print(reg.pseudonym)
"""


def test_the_vault_in_its_own_database(tmp_path: Path) -> None:
    """DHNET_VAULT_DATABASE_URL: the vault's tables and rows live there only; the main database has neither."""
    main_db, vault_db = tmp_path / "main.sqlite3", tmp_path / "vault.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DHNET_", "DATABASE_URL"))},
        "DATABASE_URL": f"sqlite:///{main_db}",
        "DHNET_VAULT_DATABASE_URL": f"sqlite:///{vault_db}",
        "DJANGO_SETTINGS_MODULE": "dhnet.platform.settings",
    }
    dhnet = [sys.executable, "-c", "from dhnet.cli import main; main()"]
    proc = subprocess.run([*dhnet, "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "vault database up to date" in proc.stderr  # `dhnet migrate` covers the vault's own database too
    proc = subprocess.run([*dhnet, "vault", "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]  # and its own command is idempotent
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pseudonym = proc.stdout.strip().splitlines()[-1]
    with sqlite3.connect(vault_db) as vault, sqlite3.connect(main_db) as main_con:
        assert vault.execute("select pseudonym from identity_person").fetchall() == [(pseudonym,)]
        main_tables = {r[0] for r in main_con.execute("select name from sqlite_master where type='table'")}
        vault_tables = {r[0] for r in vault.execute("select name from sqlite_master where type='table'")}
        # the audit trail (main database) names the person by pseudonym only
        assert main_con.execute("select count(*) from audit_auditsubject where subject=?", (pseudonym,)).fetchone() == (
            1,
        )
    assert "identity_person" not in main_tables
    assert "audit_auditrecord" not in vault_tables
    status = subprocess.run([*dhnet, "vault", "status"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert "database:       vault" in status.stdout
    assert "persons:        1" in status.stdout


def test_deploy_check_flags_missing_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from dhnet.identity.checks import vault_secrets

    assert vault_secrets() == []
    monkeypatch.setattr(settings, "CONFIG", dataclasses.replace(settings.CONFIG, vault_keys=(), pseudonym_key=None))
    assert [e.id for e in vault_secrets()] == ["identity.E001", "identity.E002"]
