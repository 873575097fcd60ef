"""``/api/dataValueSets``: the DHIS2 import at the path DHIS2 clients post to (included under ``api/`` before the
platform's JSON 404 for unknown API paths)."""

from django.urls import path

from dhnet.reporting import views

app_name = "dhis2"

urlpatterns = [
    path("dataValueSets", views.data_value_sets, name="data-value-sets"),
    path("dataValueSets.json", views.data_value_sets, name="data-value-sets-json"),
    path("<int:version>/dataValueSets", views.data_value_sets, name="data-value-sets-versioned"),
    path("<int:version>/dataValueSets.json", views.data_value_sets, name="data-value-sets-versioned-json"),
]
