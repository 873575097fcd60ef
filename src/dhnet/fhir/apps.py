# mypy: disallow-subclassing-any=False
from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "dhnet.fhir"
    label = "fhir"
    verbose_name = "FHIR R4 intake"
    default_auto_field = "django.db.models.BigAutoField"
