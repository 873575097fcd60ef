from django.urls import path

from dhnet.cases import views

app_name = "cases"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("export.csv", views.case_export, name="export"),
    path("<str:case_id>/", views.case_detail, name="detail"),
]
