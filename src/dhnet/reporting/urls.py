from django.urls import path

from dhnet.reporting import views

app_name = "reporting"

urlpatterns = [
    path("", views.home, name="home"),
    path("form/", views.form_select, name="form-select"),
    path("form/<str:code>/<str:week>/", views.weekly_form, name="form"),
    path("upload/", views.upload, name="upload"),
    path("upload/<str:checksum>/", views.upload_preview, name="upload-preview"),
    path("completeness/", views.completeness, name="completeness"),
    path("mappings/", views.mappings, name="mappings"),
    path("mappings/new/", views.mapping_create, name="mapping-create"),
    path("mappings/<int:mapping_id>/delete/", views.mapping_delete, name="mapping-delete"),
    path("settings/", views.settings_view, name="settings"),
    path("settings/update/", views.settings_update, name="settings-update"),
]
