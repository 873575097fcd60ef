"""Case services: intake of pseudonymised case reports, counts for detection, the line list, a person's cases."""

from __future__ import annotations

from django.db import transaction

from dhnet.cases.models import Case


def repoint(merged: str, kept: str) -> int:
    """Move the cases of pseudonym ``merged`` to ``kept`` (two persons linked by a reviewer): how many moved."""
    with transaction.atomic():
        return Case.objects.filter(pseudonym=merged).update(pseudonym=kept)
