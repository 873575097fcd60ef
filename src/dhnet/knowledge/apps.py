# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "dhnet.knowledge"
    label = "knowledge"
    verbose_name = "Knowledge repository"
    default_auto_field = "django.db.models.BigAutoField"
