from django.apps import AppConfig


class DiseasesConfig(AppConfig):
    name = "dhnet.diseases"
    label = "diseases"
    verbose_name = "Diseases and alert rules"
    default_auto_field = "django.db.models.BigAutoField"
