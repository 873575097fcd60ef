from django.apps import AppConfig


class ReportingConfig(AppConfig):
    name = "dhnet.reporting"
    label = "reporting"
    verbose_name = "Reporting (aggregate intake)"
    default_auto_field = "django.db.models.BigAutoField"
