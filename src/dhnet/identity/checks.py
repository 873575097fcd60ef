"""A deployment check (``manage.py check --deploy``): the vault has its keys and the pseudonyms their secret.

Without them the vault refuses to work at the first registration; the check says so before the first patient
arrives.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register


@register(Tags.security, deploy=True)
def vault_secrets(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    config = settings.CONFIG
    errors: list[CheckMessage] = []
    if not config.vault_keys:
        errors.append(
            Error(
                "the identity vault has no key", hint="set DHNET_VAULT_KEYS or DHNET_VAULT_KEY_FILE", id="identity.E001"
            )
        )
    if not config.pseudonym_key:
        errors.append(Error("pseudonyms have no secret", hint="set DHNET_PSEUDONYM_KEY", id="identity.E002"))
    return errors
