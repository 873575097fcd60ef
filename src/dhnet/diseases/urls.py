from django.urls import path

from dhnet.diseases import views

app_name = "diseases"

urlpatterns = [
    path("", views.disease_list, name="list"),
    path("new/", views.disease_create, name="create"),
    path("<slug:code>/", views.disease_detail, name="detail"),
    path("<slug:code>/edit/", views.disease_edit, name="edit"),
    path("<slug:code>/rules/new/", views.rule_create, name="rule-create"),
    path("<slug:code>/rules/<int:rule_id>/", views.rule_edit, name="rule-edit"),
    path("<slug:code>/rules/<int:rule_id>/delete/", views.rule_delete, name="rule-delete"),
]
