"""WSGI entry point (``dhnet serve`` runs it with waitress; any WSGI server can)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dhnet.platform.settings")

from dhnet.fhir.warmup import warm_up
from dhnet.platform.config import Config

Config.from_env().ensure_dirs()
application = get_wsgi_application()
warm_up()  # before the first request: FHIR intake imports done, the start-up heap frozen for the GC
