"""Pages of the consent context: ``/consent/...`` for staff, ``/my-data/...`` for the person (right of access)."""

from django.urls import path

from dhnet.consent import views

app_name = "consent"

urlpatterns = [
    path("consent/", views.decisions_view, name="decisions"),
    path("consent/record/", views.record_view, name="record"),
    path("consent/person/<str:pseudonym>/", views.person_view, name="person"),
    path("my-data/", views.access_start_view, name="access"),
    path("my-data/code/", views.access_code_view, name="access-code"),
    path("my-data/record/", views.access_record_view, name="access-record"),
    path("my-data/download/", views.access_download_view, name="access-download"),
    path("my-data/consent/", views.access_consent_view, name="access-consent"),
    path("my-data/end/", views.access_end_view, name="access-end"),
]
