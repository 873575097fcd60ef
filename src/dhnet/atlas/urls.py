"""The registry's record pages under ``/atlas/`` (``views``); search, map and portfolios are in ``explore_urls``."""

from django.urls import path

from dhnet.atlas import views

app_name = "atlas"

urlpatterns = [
    path("products/", views.product_list, name="products"),
    path("products/new/", views.product_create, name="product-create"),
    path("products/<str:ref>/", views.product_detail, name="product"),
    path("products/<str:ref>/edit/", views.product_edit, name="product-edit"),
    path("products/<str:ref>/delete/", views.product_delete, name="product-delete"),
    path("products/<str:ref>/history/", views.product_history, name="product-history"),
    path("products/<str:ref>/diff/", views.product_diff, name="product-diff"),
    path("projects/new/", views.project_create, name="project-create"),
    path("projects/<str:pid>/", views.project_detail, name="project"),
    path("projects/<str:pid>/edit/", views.project_edit, name="project-edit"),
    path("projects/<str:pid>/workflow/", views.project_workflow, name="project-workflow"),
    path("projects/<str:pid>/team/", views.project_team, name="project-team"),
    path("projects/<str:pid>/history/", views.project_history, name="project-history"),
    path("projects/<str:pid>/diff/", views.project_diff, name="project-diff"),
    path("review/", views.review, name="review"),
    path("mine/", views.mine, name="mine"),
    path("admins/", views.country_admins, name="country-admins"),
]
