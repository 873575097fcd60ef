"""Fixtures of the consent tests: well-formed pseudonyms (the SMTP server comes from tests.notifications)."""

from __future__ import annotations

import hashlib

import pytest


def pseudonym(name: str) -> str:
    """A well-formed pseudonym (64 hex) for a test person."""
    return hashlib.sha256(name.encode()).hexdigest()


@pytest.fixture
def person() -> str:
    return pseudonym("person-1")
