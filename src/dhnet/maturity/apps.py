# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class MaturityConfig(AppConfig):
    name = "dhnet.maturity"
    label = "maturity"
    verbose_name = "Digital health maturity monitor (GDHM-style assessments)"
    default_auto_field = "django.db.models.BigAutoField"
