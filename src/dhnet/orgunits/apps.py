from django.apps import AppConfig


class OrgUnitsConfig(AppConfig):
    name = "dhnet.orgunits"
    label = "orgunits"
    verbose_name = "Organisation units"
    default_auto_field = "django.db.models.BigAutoField"
