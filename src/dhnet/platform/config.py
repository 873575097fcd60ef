"""The platform's typed configuration, read once from the environment.

Every deployment setting lives in :class:`Config`; ``dhnet.platform.settings`` (the Django settings module) reads
nothing but this object. Errors name the environment variable at fault, so that an operator can fix a deployment
from the message alone.

Variables (all optional in dev mode):

=====================================  ===============================================================
``DHNET_MODE``                         ``dev`` (default) or ``prod``
``DHNET_SECRET_KEY``                   Django's signing key; required (and not the dev default) outside dev
``DATABASE_URL``                       ``sqlite:///relative.sqlite3``, ``sqlite:////abs/path``, or
                                       ``postgres://user:password@host:port/name?sslmode=require``
``DHNET_DATA_DIR``                     base directory of ``var/`` (default: the working directory)
``DHNET_ALLOWED_HOSTS``                comma-separated host names; required in prod
``DHNET_CSRF_TRUSTED_ORIGINS``         comma-separated origins (``https://dhnet.example.org``)
``DHNET_SESSION_AGE``                  session lifetime in seconds (default 28800 = 8 h)
``DHNET_SESSION_EXPIRE_AT_BROWSER_CLOSE``  ``1``/``0`` (default 0)
``DHNET_TIME_ZONE``                    IANA time zone used for display (default ``UTC``)
``DHNET_EMAIL_HOST`` / ``_PORT`` / ``_USER`` / ``_PASSWORD`` / ``_USE_TLS`` / ``_FROM``   SMTP for notifications
``DHNET_LOGIN_MAX_FAILURES``           failed logins tolerated per username and per IP (default 5)
``DHNET_LOGIN_WINDOW``                 window in seconds in which failures are counted (default 900)
``DHNET_LOCKOUT``                      lock duration in seconds (default 900)
``DHNET_TRUSTED_PROXIES``              number of reverse proxies whose ``X-Forwarded-For`` is trusted (default 0)
``DHNET_STATIC_ROOT``                  target of ``collectstatic`` for a fronting web server (default: none; the
                                       application serves its static files itself)
``DHNET_VAULT_KEYS``                   identity-vault AES-256 keys ``id:base64key,...`` (the last is the newest,
                                       used for new entries); required outside dev mode (or the key file)
``DHNET_VAULT_KEY_FILE``               a file holding the same list (one ``id:base64key`` per line or comma-separated)
``DHNET_VAULT_DATABASE_URL``           a separate database for the identity vault (default: the main database)
``DHNET_PSEUDONYM_KEY``                secret of the keyed pseudonyms (HMAC-SHA256, at least 32 characters);
                                       required outside dev mode; never stored in a database
``DHNET_NATIONAL_ID_SYSTEM``           the FHIR identifier system of the national person identifier
``DHNET_RETENTION_DAYS``               days after a person's last report when their vault entry is purged
                                       (default: empty, no purge)
``DHNET_MATCH_UPPER`` / ``_LOWER``     person-matching score thresholds: link at or above the upper one, queue
                                       for review between the two (defaults 15 and 8, in log2 units)
``DHNET_FEEDBACK_MIN_RATINGS``         visible ratings a deployment needs before its averages are shown (default 5)
=====================================  ===============================================================
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

#: The signing key used when none is configured. Accepted in dev mode only.
DEV_SECRET_KEY = "dhnet-dev-insecure-secret-key-do-not-use-in-production"

Mode = Literal["dev", "prod"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


@dataclass(frozen=True)
class Database:
    """A parsed ``DATABASE_URL``."""

    engine: Literal["sqlite", "postgresql"]
    name: str
    user: str = ""
    password: str = field(default="", repr=False)
    host: str = ""
    port: str = ""
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_url(cls, url: str, *, base_dir: Path, variable: str = "DATABASE_URL") -> Database:
        """Parse ``sqlite:///path`` or ``postgres://user:password@host:port/name?option=value``.

        A relative SQLite path is taken relative to ``base_dir``; a PostgreSQL host may be a unix-socket
        directory, percent-encoded (``postgres://u@%2Fvar%2Frun%2Fpostgresql/db``) or given as ``?host=``.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "sqlite":
            raw = url[len("sqlite://") :]
            if not raw.startswith("/") or raw == "/":
                raise ConfigError(
                    f"{variable}: expected sqlite:///relative/path or sqlite:////absolute/path, got {url!r}"
                )
            path = raw[1:]
            if path == ":memory:":
                return cls(engine="sqlite", name=":memory:")
            file = Path(unquote(path))
            if not file.is_absolute():
                file = base_dir / file
            return cls(engine="sqlite", name=str(file))
        if scheme in {"postgres", "postgresql", "pgsql"}:
            name = unquote(parts.path.lstrip("/"))
            if not name:
                raise ConfigError(f"{variable}: the database name is missing in {_redact(url)!r}")
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            host = unquote(parts.hostname or "") if parts.netloc else ""
            if "%2f" in parts.netloc.lower():  # a socket directory: hostname lower-cases and mangles it
                host = unquote(parts.netloc.rsplit("@", 1)[-1])
            host = query.pop("host", host)
            try:
                port = str(parts.port) if parts.port else query.pop("port", "")
            except ValueError as exc:
                raise ConfigError(f"{variable}: invalid port in {_redact(url)!r}") from exc
            return cls(
                engine="postgresql",
                name=name,
                user=unquote(parts.username or ""),
                password=unquote(parts.password or ""),
                host=host,
                port=port,
                options=tuple(sorted(query.items())),
            )
        raise ConfigError(f"{variable}: unsupported scheme {scheme!r} (use sqlite:// or postgres://)")

    def django(self) -> dict[str, Any]:
        """The entry for Django's ``DATABASES['default']``."""
        if self.engine == "sqlite":
            return {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": self.name,
                # Writers queue up instead of failing; IMMEDIATE takes the write lock when a transaction starts,
                # so that read-then-write sequences (the audit chain head) serialise.
                "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            }
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": self.name,
            "USER": self.user,
            "PASSWORD": self.password,
            "HOST": self.host,
            "PORT": self.port,
            "OPTIONS": dict(self.options),
            "CONN_HEALTH_CHECKS": True,
        }


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


@dataclass(frozen=True)
class Config:
    """Everything a deployment can set. Build it with :meth:`from_env`."""

    mode: Mode
    secret_key: str = field(repr=False)
    data_dir: Path
    database: Database
    allowed_hosts: tuple[str, ...]
    csrf_trusted_origins: tuple[str, ...] = ()
    session_age: int = 8 * 3600
    session_expire_at_browser_close: bool = False
    time_zone: str = "UTC"
    email_host: str = "localhost"
    email_port: int = 25
    email_user: str = ""
    email_password: str = field(default="", repr=False)
    email_use_tls: bool = False
    email_from: str = "dhnet@localhost"
    login_max_failures: int = 5
    login_window: int = 900
    lockout: int = 900
    trusted_proxies: int = 0
    static_root: Path | None = None
    #: The public address of this deployment, for links in e-mails and webhooks (DHNET_BASE_URL).
    base_url: str = "http://127.0.0.1:8000"
    #: Identity-vault keys ``(key id, 32-byte key)``, oldest first; the last encrypts new entries. In dev mode
    #: without configured keys, one key (``dev``) derived from the dev secret; empty outside dev mode when unset
    #: (the vault then refuses to work, naming DHNET_VAULT_KEYS).
    vault_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    #: The secret of the pseudonyms (DHNET_PSEUDONYM_KEY); derived from the dev secret in dev mode, None when unset.
    pseudonym_key: bytes | None = field(default=None, repr=False)
    #: A separate database for the identity vault (DHNET_VAULT_DATABASE_URL), or None: the main database.
    vault_database: Database | None = None
    #: The FHIR identifier system of the national person identifier (DHNET_NATIONAL_ID_SYSTEM).
    national_id_system: str = "urn:oid:2.16.840.1.113883.4.1"
    #: Days after a person's last report when their vault entry is purged (DHNET_RETENTION_DAYS); None: never.
    retention_days: int | None = None
    #: Person-matching thresholds (log2 likelihood-ratio scores): link at/above upper, review between.
    match_upper: float = 15.0
    match_lower: float = 8.0
    #: Visible ratings a deployment needs before its per-dimension averages are shown (DHNET_FEEDBACK_MIN_RATINGS).
    feedback_min_ratings: int = 5

    @property
    def debug(self) -> bool:
        return self.mode == "dev"

    @property
    def var_dir(self) -> Path:
        """Where the platform keeps its files (the default SQLite database, uploads)."""
        return self.data_dir / "var"

    def ensure_dirs(self) -> None:
        """Create ``var/`` and the SQLite database's directory (called by the CLI and the WSGI entry point)."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        if self.database.engine == "sqlite" and self.database.name != ":memory:":
            Path(self.database.name).parent.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, cwd: Path | None = None) -> Config:
        """Read and validate the configuration; raises :class:`ConfigError` naming the variable at fault."""
        env = os.environ if environ is None else environ
        mode = env.get("DHNET_MODE", "dev").strip().lower() or "dev"
        if mode not in ("dev", "prod"):
            raise ConfigError(f"DHNET_MODE: expected 'dev' or 'prod', got {mode!r}")

        secret = env.get("DHNET_SECRET_KEY", "").strip()
        if mode != "dev":
            if not secret:
                raise ConfigError(
                    "DHNET_SECRET_KEY: required outside dev mode; set it to a long random value, e.g. "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`"
                )
            if secret == DEV_SECRET_KEY:
                raise ConfigError("DHNET_SECRET_KEY: the built-in development key is refused outside dev mode")
            if len(secret) < 32:
                raise ConfigError("DHNET_SECRET_KEY: too short outside dev mode (at least 32 characters)")
        secret = secret or DEV_SECRET_KEY

        data_dir_raw = env.get("DHNET_DATA_DIR", "").strip()
        data_dir = Path(data_dir_raw) if data_dir_raw else (cwd or Path.cwd())
        if not data_dir.is_absolute():
            data_dir = (cwd or Path.cwd()) / data_dir

        url = env.get("DATABASE_URL", "").strip() or f"sqlite:///{data_dir / 'var' / 'dhnet.sqlite3'}"
        database = Database.from_url(url, base_dir=data_dir)

        hosts = _csv(env.get("DHNET_ALLOWED_HOSTS", ""))
        if not hosts:
            if mode != "dev":
                raise ConfigError("DHNET_ALLOWED_HOSTS: required outside dev mode (comma-separated host names)")
            hosts = ("localhost", "127.0.0.1", "[::1]", "testserver")
        origins = _csv(env.get("DHNET_CSRF_TRUSTED_ORIGINS", ""))
        for origin in origins:
            if not origin.startswith(("http://", "https://")):
                raise ConfigError(f"DHNET_CSRF_TRUSTED_ORIGINS: {origin!r} must start with http:// or https://")

        time_zone = env.get("DHNET_TIME_ZONE", "UTC").strip() or "UTC"
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"DHNET_TIME_ZONE: unknown time zone {time_zone!r}") from exc

        static_root_raw = env.get("DHNET_STATIC_ROOT", "").strip()
        base_url = env.get("DHNET_BASE_URL", "").strip().rstrip("/")
        if base_url and not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"DHNET_BASE_URL: {base_url!r} must start with http:// or https://")
        if not base_url:  # outside dev mode: the first trusted origin, else https:// on the first allowed host
            if mode == "dev":
                base_url = "http://127.0.0.1:8000"
            else:
                base_url = origins[0].rstrip("/") if origins else f"https://{hosts[0].lstrip('.')}"
        return cls(
            mode=mode,  # type: ignore[arg-type]  # validated above
            secret_key=secret,
            data_dir=data_dir,
            database=database,
            allowed_hosts=hosts,
            csrf_trusted_origins=origins,
            session_age=_int(env, "DHNET_SESSION_AGE", 8 * 3600, minimum=60),
            session_expire_at_browser_close=_bool(env, "DHNET_SESSION_EXPIRE_AT_BROWSER_CLOSE", False),
            time_zone=time_zone,
            email_host=env.get("DHNET_EMAIL_HOST", "localhost").strip() or "localhost",
            email_port=_int(env, "DHNET_EMAIL_PORT", 25, minimum=1, maximum=65535),
            email_user=env.get("DHNET_EMAIL_USER", ""),
            email_password=env.get("DHNET_EMAIL_PASSWORD", ""),
            email_use_tls=_bool(env, "DHNET_EMAIL_USE_TLS", False),
            email_from=env.get("DHNET_EMAIL_FROM", "dhnet@localhost").strip() or "dhnet@localhost",
            login_max_failures=_int(env, "DHNET_LOGIN_MAX_FAILURES", 5, minimum=1),
            login_window=_int(env, "DHNET_LOGIN_WINDOW", 900, minimum=1),
            lockout=_int(env, "DHNET_LOCKOUT", 900, minimum=1),
            trusted_proxies=_int(env, "DHNET_TRUSTED_PROXIES", 0, minimum=0, maximum=10),
            static_root=Path(static_root_raw) if static_root_raw else None,
            base_url=base_url,
            feedback_min_ratings=_int(env, "DHNET_FEEDBACK_MIN_RATINGS", 5, minimum=1, maximum=1000),
            **_identity_settings(env, mode=mode, secret=secret, data_dir=data_dir),
        )


#: Label of the key derived from the dev secret in dev mode.
DEV_VAULT_KEY_ID = "dev"


def _identity_settings(env: Mapping[str, str], *, mode: str, secret: str, data_dir: Path) -> dict[str, Any]:
    """The identity vault's settings (keys, pseudonym secret, vault database, retention, matching thresholds)."""
    raw_keys = env.get("DHNET_VAULT_KEYS", "").strip()
    key_file = env.get("DHNET_VAULT_KEY_FILE", "").strip()
    variable = "DHNET_VAULT_KEYS"
    if not raw_keys and key_file:
        variable = "DHNET_VAULT_KEY_FILE"
        try:
            raw_keys = Path(key_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"DHNET_VAULT_KEY_FILE: cannot read {key_file!r}: {exc.strerror}") from None
    keys = parse_vault_keys(raw_keys, variable=variable)
    if not keys and mode == "dev":
        keys = ((DEV_VAULT_KEY_ID, hmac.new(secret.encode(), b"dhnet-vault-dev-key", hashlib.sha256).digest()),)
    elif any(key_id == DEV_VAULT_KEY_ID for key_id, _ in keys) and mode != "dev":
        raise ConfigError(f"{variable}: the key id {DEV_VAULT_KEY_ID!r} is reserved for dev mode")

    pseudonym_raw = env.get("DHNET_PSEUDONYM_KEY", "").strip()
    pseudonym_key: bytes | None = None
    if pseudonym_raw:
        if len(pseudonym_raw) < 32:
            raise ConfigError("DHNET_PSEUDONYM_KEY: too short (at least 32 characters)")
        pseudonym_key = pseudonym_raw.encode()
    elif mode == "dev":
        pseudonym_key = hmac.new(secret.encode(), b"dhnet-pseudonym-dev-key", hashlib.sha256).digest()

    vault_url = env.get("DHNET_VAULT_DATABASE_URL", "").strip()
    vault_database = (
        Database.from_url(vault_url, base_dir=data_dir, variable="DHNET_VAULT_DATABASE_URL") if vault_url else None
    )
    national = env.get("DHNET_NATIONAL_ID_SYSTEM", "").strip() or "urn:oid:2.16.840.1.113883.4.1"
    retention_raw = env.get("DHNET_RETENTION_DAYS", "").strip()
    retention = _int(env, "DHNET_RETENTION_DAYS", 0, minimum=1) if retention_raw else None
    upper = _float(env, "DHNET_MATCH_UPPER", 15.0)
    lower = _float(env, "DHNET_MATCH_LOWER", 8.0)
    if lower > upper:
        raise ConfigError(f"DHNET_MATCH_LOWER: must not exceed DHNET_MATCH_UPPER ({lower} > {upper})")
    return {
        "vault_keys": keys,
        "pseudonym_key": pseudonym_key,
        "vault_database": vault_database,
        "national_id_system": national,
        "retention_days": retention,
        "match_upper": upper,
        "match_lower": lower,
    }


def parse_vault_keys(raw: str, *, variable: str = "DHNET_VAULT_KEYS") -> tuple[tuple[str, bytes], ...]:
    """Parse ``id:base64key`` items (comma- or newline-separated; ``#`` comments) into 32-byte AES keys."""
    keys: list[tuple[str, bytes]] = []
    items = [item.strip() for line in raw.splitlines() for item in line.split("#", 1)[0].split(",")]
    for position, item in enumerate((i for i in items if i), start=1):
        key_id, sep, encoded = item.partition(":")
        key_id = key_id.strip()
        if not sep or not key_id or not encoded.strip():
            raise ConfigError(f"{variable}: key {position} must be written id:base64key")
        if len(key_id) > 32 or not key_id.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ConfigError(f"{variable}: key id {key_id!r} must be 1-32 letters, digits, '-', '_' or '.'")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{variable}: key {key_id!r} is not valid base64") from None
        if len(key) != 32:
            raise ConfigError(f"{variable}: key {key_id!r} must be 32 bytes (AES-256), got {len(key)}")
        if any(existing == key_id for existing, _ in keys):
            raise ConfigError(f"{variable}: key id {key_id!r} appears twice")
        keys.append((key_id, key))
    return tuple(keys)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{name}: expected a finite number, got {raw!r}")
    return value


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError(f"{name}: must be {bounds}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}: expected 1/0, true/false, yes/no or on/off, got {raw!r}")
