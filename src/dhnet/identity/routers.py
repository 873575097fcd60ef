"""Routes the identity vault's tables to the ``vault`` database alias when one is configured.

``DHNET_VAULT_DATABASE_URL`` set: the settings declare ``DATABASES["vault"]``; the vault's models are read,
written and migrated there only, and nothing else is migrated there. Unset: this router has no opinion and
everything stays in ``default``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

APP_LABEL = "identity"
ALIAS = "vault"


def vault_alias() -> str:
    """The database alias holding the vault (``vault`` when configured, else ``default``)."""
    return ALIAS if ALIAS in settings.DATABASES else "default"


class VaultRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if model._meta.app_label == APP_LABEL and ALIAS in settings.DATABASES:  # type: ignore[attr-defined]
            return ALIAS
        return None

    db_for_write = db_for_read

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        if ALIAS not in settings.DATABASES:
            return None
        if app_label == APP_LABEL:
            return db == ALIAS
        return db != ALIAS
