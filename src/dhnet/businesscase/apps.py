# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class BusinessCaseConfig(AppConfig):
    name = "dhnet.businesscase"
    label = "businesscase"
    verbose_name = "Business cases of digital health investments"
    default_auto_field = "django.db.models.BigAutoField"
