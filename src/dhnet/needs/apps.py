# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class NeedsConfig(AppConfig):
    name = "dhnet.needs"
    label = "needs"
    verbose_name = "Country needs linked to digital health solutions"
    default_auto_field = "django.db.models.BigAutoField"
