"""Pages exploring the registry under ``/atlas/``: search, the map, country portfolios (``views_explore``).

The registry's own pages (products, projects, review, import and export) are in ``dhnet.atlas.urls``.
"""

from django.urls import path

from dhnet.atlas import views_explore

app_name = "atlas-explore"

urlpatterns = [
    path("", views_explore.search_page, name="search"),
    path("map/", views_explore.map_page, name="map"),
    path("countries/<str:country>/", views_explore.country_page, name="country"),
]
