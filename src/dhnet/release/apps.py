# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class ReleaseConfig(AppConfig):
    name = "dhnet.release"
    label = "release"
    verbose_name = "Safe release (suppression, differential privacy, k-anonymity)"
    default_auto_field = "django.db.models.BigAutoField"
