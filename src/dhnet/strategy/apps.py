# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class StrategyConfig(AppConfig):
    name = "dhnet.strategy"
    label = "strategy"
    verbose_name = "Global strategy on digital health: framework and monitoring"
    default_auto_field = "django.db.models.BigAutoField"
