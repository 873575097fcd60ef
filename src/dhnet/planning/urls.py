from django.urls import path

from dhnet.planning import views

app_name = "planning"

urlpatterns = [
    path("", views.index, name="index"),
    path("<str:country>/", views.country, name="country"),
    path("<str:country>/targets", views.targets, name="targets"),
    path("<str:country>/roadmap", views.roadmap, name="roadmap"),
    path("<str:country>/roadmap/settings", views.roadmap_settings, name="roadmap-settings"),
    path("<str:country>/roadmap.csv", views.export_csv, name="export-csv"),
    path("<str:country>/roadmap.json", views.export_json, name="export-json"),
    path("<str:country>/items/new", views.item_add, name="item-add"),
    path("<str:country>/items/<int:item_id>/", views.item, name="item"),
    path("<str:country>/items/<int:item_id>/edit", views.item_edit, name="item-edit"),
    path("<str:country>/items/<int:item_id>/need", views.item_need, name="item-need"),
    path("<str:country>/items/<int:item_id>/milestones", views.milestone_add, name="milestone-add"),
    path("<str:country>/milestones/<int:milestone_id>", views.milestone_edit, name="milestone-edit"),
]
