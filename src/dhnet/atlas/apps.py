# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class AtlasConfig(AppConfig):
    name = "dhnet.atlas"
    label = "atlas"
    verbose_name = "Digital health atlas (registry of products and deployments)"
    default_auto_field = "django.db.models.BigAutoField"
