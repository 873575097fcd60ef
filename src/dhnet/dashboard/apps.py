# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dhnet.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
