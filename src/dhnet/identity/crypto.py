"""Encryption of vault entries (AES-256-GCM) and the keyed hashes: pseudonyms and blind indexes (HMAC-SHA256).

Every ciphertext is bound by its associated data to the person it belongs to (``dhnet.identity.v1|<pseudonym>|
<key id>``): a ciphertext copied onto another person's row, or altered in any byte, fails authentication and
raises :class:`VaultIntegrityError` instead of decrypting to someone else's identity.

The secrets come from :class:`dhnet.platform.config.Config` only (``vault_keys``, ``pseudonym_key``); none is ever
written to a database.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from dhnet.platform.config import Config, ConfigError

NONCE_BYTES = 12
AAD_PREFIX = b"dhnet.identity.v1"


class VaultIntegrityError(Exception):
    """A vault entry failed authentication: altered, moved to another row, or encrypted under an unknown key."""


@dataclass(frozen=True)
class Sealed:
    """One encrypted entry: the key id, the nonce and the ciphertext (with its GCM tag)."""

    key_id: str
    nonce: bytes
    ciphertext: bytes


def config() -> Config:
    """The deployment's configuration (the Django settings' ``CONFIG``; tests replace it)."""
    cfg: Config = settings.CONFIG
    return cfg


def keys() -> dict[str, bytes]:
    """The vault keys by id; refuses to work without any (outside dev mode, when none is configured)."""
    configured = config().vault_keys
    if not configured:
        raise ConfigError("DHNET_VAULT_KEYS: required outside dev mode (or DHNET_VAULT_KEY_FILE): the vault has no key")
    return dict(configured)


def newest_key_id() -> str:
    """The id of the key that encrypts new entries (the last configured)."""
    keys()
    return config().vault_keys[-1][0]


def _aad(pseudonym: str, key_id: str) -> bytes:
    return b"|".join((AAD_PREFIX, pseudonym.encode(), key_id.encode()))


def seal(plaintext: bytes, *, pseudonym: str, key_id: str | None = None) -> Sealed:
    """Encrypt ``plaintext`` for the person ``pseudonym`` under ``key_id`` (default: the newest key)."""
    all_keys = keys()
    kid = key_id or newest_key_id()
    nonce = os.urandom(NONCE_BYTES)
    return Sealed(kid, nonce, AESGCM(all_keys[kid]).encrypt(nonce, plaintext, _aad(pseudonym, kid)))


def unseal(sealed: Sealed, *, pseudonym: str) -> bytes:
    """Decrypt an entry of person ``pseudonym``; :class:`VaultIntegrityError` when it does not authenticate."""
    key = keys().get(sealed.key_id)
    if key is None:
        raise VaultIntegrityError(
            f"vault entry of {pseudonym[:12]}…: encrypted under key {sealed.key_id!r}, which is not configured "
            "(DHNET_VAULT_KEYS)"
        )
    try:
        return AESGCM(key).decrypt(bytes(sealed.nonce), bytes(sealed.ciphertext), _aad(pseudonym, sealed.key_id))
    except InvalidTag:
        raise VaultIntegrityError(
            f"vault entry of {pseudonym[:12]}… does not authenticate: the ciphertext was altered or belongs to "
            "another person's row"
        ) from None


def _pseudonym_secret() -> bytes:
    secret = config().pseudonym_key
    if not secret:
        raise ConfigError("DHNET_PSEUDONYM_KEY: required outside dev mode: pseudonyms cannot be computed")
    return secret


def pseudonym(person_key: str) -> str:
    """``HMAC-SHA256(DHNET_PSEUDONYM_KEY, person key)`` as 64 hex characters."""
    return hmac.new(_pseudonym_secret(), b"pseudonym|" + person_key.encode(), hashlib.sha256).hexdigest()


#: The blind indexes computed within :func:`memoised_index` (one registration batch): (kind, value) -> digest,
#: and the secret under the key ``None``. A batch asks for the same index many times (its look-ups, its matching,
#: the rows it writes); the memo lives only as long as the batch, which holds the values anyway.
_memo: ContextVar[dict[tuple[str, str] | None, str | bytes] | None] = ContextVar("blind_index_memo", default=None)


@contextlib.contextmanager
def memoised_index() -> Iterator[None]:
    """Within the block, :func:`blind_index` computes each (kind, value) once and reads the secret once."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def blind_index(kind: str, value: str) -> str:
    """A keyed hash of a normalised value for exact lookups without decryption (domain-separated by ``kind``).

    Derived from the pseudonym secret with a different label, so an index value never equals a pseudonym.
    """
    memo = _memo.get()
    if memo is None:
        return hmac.new(_pseudonym_secret(), f"index|{kind}|{value}".encode(), hashlib.sha256).hexdigest()
    digest = memo.get((kind, value))
    if digest is None:
        secret = memo.get(None)
        if secret is None:
            secret = memo[None] = _pseudonym_secret()
        assert isinstance(secret, bytes)
        digest = memo[(kind, value)] = hmac.new(secret, f"index|{kind}|{value}".encode(), hashlib.sha256).hexdigest()
    assert isinstance(digest, str)
    return digest
