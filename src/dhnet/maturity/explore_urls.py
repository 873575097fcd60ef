"""Public pages of where countries stand, under ``/maturity/`` (``views_profile``): profiles, the comparison and its
downloads, WHO regions, the map of phases. The assessment workflow's pages are in ``dhnet.maturity.urls``."""

from django.urls import path

from dhnet.maturity import views_profile

app_name = "maturity-explore"

urlpatterns = [
    path("countries/<str:country>/", views_profile.profile_page, name="country"),
    path("compare/", views_profile.compare_page, name="compare"),
    path("compare.csv", views_profile.compare_csv, name="compare-csv"),
    path("compare.json", views_profile.compare_json, name="compare-json"),
    path("regions/<str:region>/", views_profile.region_page, name="region"),
    path("map/", views_profile.map_page, name="map"),
]
