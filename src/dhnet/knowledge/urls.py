"""Pages of the knowledge repository under ``/knowledge/`` (the search page is ``search_views``')."""

from django.urls import path

from dhnet.knowledge import search_views, views

app_name = "knowledge"

urlpatterns = [
    path("", views.home, name="home"),
    path("search", search_views.search_page, name="search"),
    path("items/new/", views.item_create, name="item-create"),
    path("items/<str:item_id>/", views.item_detail, name="item"),
    path("items/<str:item_id>/edit/", views.item_edit, name="item-edit"),
    path("items/<str:item_id>/upload/", views.item_upload, name="item-upload"),
    path("items/<str:item_id>/submit/", views.item_submit, name="item-submit"),
    path("items/<str:item_id>/review/", views.item_review, name="item-review"),
    path("items/<str:item_id>/archive/", views.item_archive, name="item-archive"),
    path("review/", views.review_queue, name="review-queue"),
    path("documents/<str:document_id>/", views.document_detail, name="document"),
]
