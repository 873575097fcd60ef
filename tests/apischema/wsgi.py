"""The Django WSGI application, called in process by the schema tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

APPLICATION = get_wsgi_application()


@contextmanager
def connection_kept() -> Iterator[None]:
    """Requests to :data:`APPLICATION` keep the caller's database connection, as with Django's test client.

    Django closes old connections when a request starts and ends; in a test that would end the test's transaction
    (and, on PostgreSQL, the connection), and where the database is not allowed (loading the schema while tests are
    collected or imported) merely looking at the connection fails. Django's test client disconnects the same handler
    while it sends a request.
    """
    signals = (request_started, request_finished)
    for signal in signals:
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in signals:
            signal.connect(close_old_connections)
