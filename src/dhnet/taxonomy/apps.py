from django.apps import AppConfig


class TaxonomyConfig(AppConfig):
    name = "dhnet.taxonomy"
    label = "taxonomy"
    verbose_name = "Taxonomies (digital health classifications)"
    default_auto_field = "django.db.models.BigAutoField"
