# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "dhnet.planning"
    label = "planning"
    verbose_name = "Maturity gaps, roadmaps and milestones"
    default_auto_field = "django.db.models.BigAutoField"
