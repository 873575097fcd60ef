"""The typed configuration: defaults, parsing, refusal of unsafe production settings, errors naming the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dhnet.platform.config import DEV_SECRET_KEY, Config, ConfigError, Database

PROD = {"DHNET_MODE": "prod", "DHNET_SECRET_KEY": "x" * 50, "DHNET_ALLOWED_HOSTS": "dhnet.example.org"}


def test_dev_defaults(tmp_path: Path) -> None:
    config = Config.from_env({}, cwd=tmp_path)
    assert config.mode == "dev"
    assert config.debug
    assert config.secret_key == DEV_SECRET_KEY
    assert config.database.engine == "sqlite"
    assert config.database.name == str(tmp_path / "var" / "dhnet.sqlite3")
    assert "localhost" in config.allowed_hosts
    assert config.session_age == 8 * 3600
    assert config.time_zone == "UTC"
    assert (config.login_max_failures, config.login_window, config.lockout) == (5, 900, 900)


def test_data_dir_moves_the_default_database(tmp_path: Path) -> None:
    config = Config.from_env({"DHNET_DATA_DIR": str(tmp_path / "data")})
    assert config.database.name == str(tmp_path / "data" / "var" / "dhnet.sqlite3")
    config.ensure_dirs()
    assert (tmp_path / "data" / "var").is_dir()


@pytest.mark.parametrize("secret", ["", "   ", DEV_SECRET_KEY])
def test_prod_refuses_missing_or_default_secret(secret: str) -> None:
    with pytest.raises(ConfigError, match="DHNET_SECRET_KEY"):
        Config.from_env({**PROD, "DHNET_SECRET_KEY": secret})


def test_prod_refuses_short_secret() -> None:
    with pytest.raises(ConfigError, match="DHNET_SECRET_KEY: too short"):
        Config.from_env({**PROD, "DHNET_SECRET_KEY": "short"})


def test_prod_requires_allowed_hosts() -> None:
    with pytest.raises(ConfigError, match="DHNET_ALLOWED_HOSTS"):
        Config.from_env({**PROD, "DHNET_ALLOWED_HOSTS": ""})


def test_prod_accepts_a_complete_configuration() -> None:
    config = Config.from_env({**PROD, "DHNET_ALLOWED_HOSTS": "a.example.org, b.example.org"})
    assert config.mode == "prod"
    assert not config.debug
    assert config.allowed_hosts == ("a.example.org", "b.example.org")
    assert "x" * 50 not in repr(config)  # secrets stay out of logs


def test_settings_module_refuses_default_secret_in_prod(tmp_path: Path) -> None:
    """Importing the Django settings in prod mode without a secret fails with a message naming the variable."""
    env = {"PATH": "/usr/bin:/bin", "DHNET_MODE": "prod", "DHNET_ALLOWED_HOSTS": "x.example.org"}
    proc = subprocess.run(
        [sys.executable, "-c", "import dhnet.platform.settings"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "DHNET_SECRET_KEY: required outside dev mode" in proc.stderr


def test_cli_reports_configuration_errors_cleanly(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "DHNET_MODE": "prod", "DHNET_SECRET_KEY": DEV_SECRET_KEY}
    proc = subprocess.run(
        [sys.executable, "-c", _CLI, "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "configuration: DHNET_SECRET_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr


_CLI = "import sys; from dhnet.cli import main; sys.argv[0] = 'dhnet'; main()"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DHNET_MODE": "staging"}, "DHNET_MODE: expected 'dev' or 'prod'"),
        ({"DHNET_SESSION_AGE": "abc"}, "DHNET_SESSION_AGE: expected an integer, got 'abc'"),
        ({"DHNET_SESSION_AGE": "10"}, "DHNET_SESSION_AGE: must be at least 60"),
        ({"DHNET_EMAIL_PORT": "70000"}, "DHNET_EMAIL_PORT: must be between 1 and 65535"),
        ({"DHNET_SESSION_EXPIRE_AT_BROWSER_CLOSE": "maybe"}, "DHNET_SESSION_EXPIRE_AT_BROWSER_CLOSE: expected 1/0"),
        ({"DHNET_TIME_ZONE": "Mars/Olympus"}, "DHNET_TIME_ZONE: unknown time zone"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL: unsupported scheme 'mysql'"),
        ({"DATABASE_URL": "postgres://u:secret@h:5432/"}, "DATABASE_URL: the database name is missing"),
        ({"DATABASE_URL": "postgres://u@h:99999/db"}, "DATABASE_URL: invalid port"),
        ({"DHNET_CSRF_TRUSTED_ORIGINS": "example.org"}, "DHNET_CSRF_TRUSTED_ORIGINS"),
        ({"DHNET_LOGIN_MAX_FAILURES": "0"}, "DHNET_LOGIN_MAX_FAILURES: must be at least 1"),
    ],
)
def test_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        Config.from_env(env)


def test_error_messages_do_not_leak_database_password() -> None:
    with pytest.raises(ConfigError) as info:
        Config.from_env({"DATABASE_URL": "postgres://u:topsecret@h:5432/"})
    assert "topsecret" not in str(info.value)


def test_parsing_of_options() -> None:
    config = Config.from_env(
        {
            "DHNET_SESSION_AGE": "3600",
            "DHNET_SESSION_EXPIRE_AT_BROWSER_CLOSE": "yes",
            "DHNET_TIME_ZONE": "Africa/Nairobi",
            "DHNET_EMAIL_HOST": "smtp.example.org",
            "DHNET_EMAIL_PORT": "587",
            "DHNET_EMAIL_USE_TLS": "1",
            "DHNET_TRUSTED_PROXIES": "1",
            "DHNET_CSRF_TRUSTED_ORIGINS": "https://dhnet.example.org",
        }
    )
    assert config.session_age == 3600
    assert config.session_expire_at_browser_close is True
    assert config.time_zone == "Africa/Nairobi"
    assert (config.email_host, config.email_port, config.email_use_tls) == ("smtp.example.org", 587, True)
    assert config.trusted_proxies == 1
    assert config.csrf_trusted_origins == ("https://dhnet.example.org",)


def test_database_urls(tmp_path: Path) -> None:
    rel = Database.from_url("sqlite:///db/x.sqlite3", base_dir=tmp_path)
    assert rel.name == str(tmp_path / "db" / "x.sqlite3")
    assert Database.from_url("sqlite:////abs/x.sqlite3", base_dir=tmp_path).name == "/abs/x.sqlite3"
    assert Database.from_url("sqlite:///:memory:", base_dir=tmp_path).name == ":memory:"
    pg = Database.from_url("postgres://dh%40user:p%3Ass@db.example.org:6543/dhnet?sslmode=require", base_dir=tmp_path)
    assert (pg.engine, pg.user, pg.password, pg.host, pg.port, pg.name) == (
        "postgresql",
        "dh@user",
        "p:ss",
        "db.example.org",
        "6543",
        "dhnet",
    )
    django = pg.django()
    assert django["ENGINE"] == "django.db.backends.postgresql"
    assert django["OPTIONS"] == {"sslmode": "require"}
    sock = Database.from_url("postgresql://me@%2Fvar%2Frun%2Fpostgresql/dhnet", base_dir=tmp_path)
    assert sock.host == "/var/run/postgresql"
    query_host = Database.from_url("postgres:///dhnet?host=/tmp/pg&port=5433", base_dir=tmp_path)
    assert (query_host.host, query_host.port, query_host.options) == ("/tmp/pg", "5433", ())
    assert "p:ss" not in repr(pg)


def test_django_settings_read_the_config(settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert settings.AUTH_USER_MODEL == "accounts.User"
    assert settings.CONFIG.session_age == settings.SESSION_COOKIE_AGE
    assert settings.CONFIG.session_expire_at_browser_close == settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert settings.CONFIG.login_max_failures == settings.DHNET_LOGIN_MAX_FAILURES


def test_base_url_defaults_and_validation() -> None:
    from dhnet.platform.config import Config, ConfigError

    assert Config.from_env({}).base_url == "http://127.0.0.1:8000"
    prod = {"DHNET_MODE": "prod", "DHNET_SECRET_KEY": "x" * 40, "DHNET_ALLOWED_HOSTS": "surv.example.org"}
    assert Config.from_env(prod).base_url == "https://surv.example.org"
    with_origin = {**prod, "DHNET_CSRF_TRUSTED_ORIGINS": "https://eis.example.org/"}
    assert Config.from_env(with_origin).base_url == "https://eis.example.org"
    assert Config.from_env({**prod, "DHNET_BASE_URL": "https://a.example/"}).base_url == "https://a.example"
    with pytest.raises(ConfigError, match="DHNET_BASE_URL"):
        Config.from_env({"DHNET_BASE_URL": "ftp://x"})
