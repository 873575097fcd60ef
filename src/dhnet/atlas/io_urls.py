"""The registry's import page and export downloads under ``/atlas/`` (``io_views``)."""

from django.urls import path

from dhnet.atlas import io_views

app_name = "atlas-io"

urlpatterns = [
    path("import/", io_views.import_page, name="import"),
    path("export.<str:fmt>", io_views.export_file, name="export"),
]
